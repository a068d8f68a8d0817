"""YAML -> validated settings and profiles; every error names file, line and field.

Two kinds of file: `bot.yaml` (global settings, the sources, the notifiers' settings) and one
YAML file per interest profile in the profiles folder. Both are read with ruamel's round-trip
loader, which is safe (it never builds arbitrary Python objects) and keeps the line of every key,
so a pydantic error on `sources.0.schedule` can be reported as `bot.yaml:7: sources[0].schedule`.
A profile is first read through libyaml's C parser (bot/yaml_fast.py, five times faster, no
lines): when that gives a valid profile it is the one the round-trip reading would give, and
anything else (an error to report, a text it cannot judge) is read the round-trip way.
Nested aliases (a "billion laughs") and absurd nesting are refused before anything expands
them (bot/yaml_budget.py).

Which source kinds and notifier keys exist comes from the registries (`bot.sources.SOURCES`,
`bot.notifiers.NOTIFIERS`): adding one never changes this module.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarstring import ScalarString

from bot import yaml_fast
from bot.errors import ConfigError, ConfigErrors
from bot.http import HttpSettings
from bot.models import Profile, ZoteroLibrary, split_arxiv_id
from bot.notifiers import NOTIFIERS
from bot.schema import Strict, one_line
from bot.sources import SOURCES
from bot.sources.base import BaseUrl, SourceSettings
from bot.state.backend import PostgresState, StateTarget, is_url, url_problem
from bot.web.settings import WebSettings
from bot.yaml_budget import check_budget, may_break_budget

DEFAULT_CONFIG = "config/bot.yaml"
CONFIG_ENV = "DIGESTBOT_CONFIG"

# A plain (unquoted) scalar like 20:00 or 1:30:00 is a base-60 integer in YAML 1.1 (PyYAML reads
# `20:00` as 1200) and a string in YAML 1.2. Either way it is rarely what the author meant, so it
# is refused with a hint to quote it rather than silently read one way.
_CATEGORY = re.compile(r"[a-z][a-z-]*(\.[A-Za-z-]+)?")  # cs.LG, hep-th, math.AP, q-bio.NC
_SEXAGESIMAL = re.compile(r"[-+]?\d+(?::[0-5]?\d)+(?:\.\d*)?")
_NEW_STYLE_ID = re.compile(r"\d{4}\.\d{4,5}")  # 2401.01234: what an unquoted id looks like
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
POSTGRES_LOCAL = "../data/digestbot-postgresql"  # where `<this>.heartbeat` goes


def _notifier_fields() -> dict[str, Any]:
    return {name: (cls.Settings | None, None) for name, cls in NOTIFIERS.items()}


class ArxivApiSettings(Strict):
    """`arxiv_api:` in bot.yaml: the arXiv API used to look up profiles' example papers."""

    base_url: BaseUrl = "https://export.arxiv.org"  # http(s) only, like every source's


class _BotSettingsBase(Strict):
    timezone: str = "UTC"
    state: str = "../data/digestbot.sqlite3"  # a SQLite file, or postgresql://user@host:5432/db
    state_password_env: str | None = None  # the variable holding a PostgreSQL state's password
    # Seconds a worker's claim on a message's deliveries lasts (bot/state/outbox.py).
    delivery_lease: float = Field(default=600, ge=1, le=86400)
    profiles: str = "profiles/"
    sources: list[dict[str, Any]] = Field(default_factory=list)
    http: HttpSettings = HttpSettings()
    operator: dict[str, Any] = Field(default_factory=dict)  # where source incidents are told
    arxiv_api: ArxivApiSettings = ArxivApiSettings()  # where example papers are looked up
    web: WebSettings | None = None  # the web page (bot/web/settings.py)

    @field_validator("state")
    @classmethod
    def _state_url(cls, value: str) -> str:
        problem = url_problem(value) if is_url(value) else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("state_password_env")
    @classmethod
    def _password_env(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not is_url(str(info.data.get("state", ""))):
            raise ValueError(
                "only a PostgreSQL state (state: postgresql://...) has a password; a SQLite "
                "file has none"
            )
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(f"not an environment variable's name: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
            ) from exc
        return value


# The notifier keys (slack: ..., later email: ...) come from the registry.
BotSettingsModel = create_model("BotSettingsModel", __base__=_BotSettingsBase, **_notifier_fields())


@dataclass(frozen=True)
class Settings:
    """The validated bot.yaml, with paths resolved against the file's folder."""

    path: Path
    timezone: str
    state_path: Path  # the SQLite file; for a PostgreSQL state, where its local files go
    profiles_dir: Path
    sources: tuple[SourceSettings, ...]
    http: HttpSettings
    notifiers: Mapping[str, BaseModel]  # notifier name -> its settings, only those configured
    operator: tuple[str, ...] = ()  # destinations ("slack:#ops") told about source incidents
    arxiv_api_url: str = "https://export.arxiv.org"
    web: WebSettings | None = None  # `web:`: the web page and the vote links in emails
    state_url: str | None = None  # `state: postgresql://...` (no password in it), else None
    state_password_env: str | None = None
    delivery_lease: float = 600  # seconds: how long a worker's claim on a message lasts

    @property
    def state(self) -> StateTarget:
        """What `state:` names: the SQLite file, or the PostgreSQL database."""
        if self.state_url is not None:
            return PostgresState(self.state_url, self.state_password_env)
        return self.state_path

    def state_exists(self) -> bool:
        """False while a SQLite state file has not been created yet (no run so far)."""
        return self.state_url is not None or self.state_path.exists()


# --------------------------------------------------------------------------- YAML with lines


def _load_yaml(path: Path, text: str | None = None) -> Any:
    """Read one YAML file safely, keeping line numbers. Raises ConfigError. `text`: the file's
    contents as given (a draft not written yet: the web editor), instead of reading `path`."""
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read: {exc.strerror or exc}",
            file=str(path),
            hint="check the path (--config or DIGESTBOT_CONFIG)",
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", file=str(path)) from exc
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True  # so that an unquoted 20:00 can be told from a quoted one
    try:
        # On the events, before anything (composer, walk, pydantic) expands an alias; a text
        # that cannot break a budget is not parsed twice (a third of a profile's load).
        if may_break_budget(text):
            check_budget(yaml.parse(io.StringIO(text)), str(path))
        data = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            f"invalid YAML: {problem}",
            file=str(path),
            line=line,
            hint="check indentation, and quote values containing ': ' or starting with #, @ or *",
        ) from exc
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=str(path)) from exc
    _check_plain_scalars(data, data, path, ())
    return data


def _check_plain_scalars(root: Any, node: Any, path: Path, loc: tuple[str | int, ...]) -> None:
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            _check_plain_scalars(root, value, path, (*loc, key))
    elif isinstance(node, CommentedSeq):
        for i, value in enumerate(node):
            _check_plain_scalars(root, value, path, (*loc, i))
    elif (
        isinstance(node, str)
        and not isinstance(node, ScalarString)
        and _SEXAGESIMAL.fullmatch(node)
    ):
        raise ConfigError(
            f"unquoted {node} is ambiguous in YAML (a base-60 number to some readers)",
            file=str(path),
            line=_line_of(root, loc),
            field=_dotted(loc),
            hint=f"quote it: '{node}'",
        )


def _line_of(data: Any, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the deepest part of `loc` that exists in `data`."""
    line: int | None = None
    node = data
    for part in loc:
        if isinstance(node, CommentedMap):
            if part not in node:  # a missing key: the line of the mapping that lacks it
                return int(node.lc.line) + 1
            line = int(node.lc.key(part)[0]) + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = int(node.lc.item(part)[0]) + 1
            node = node[part]
        else:
            return line
    if line is None and isinstance(node, (CommentedMap, CommentedSeq)):
        return int(node.lc.line) + 1
    return line


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _pydantic_errors(
    exc: ValidationError, data: Any, path: Path, prefix: tuple[str | int, ...] = ()
) -> list[ConfigError]:
    errors = []
    for err in exc.errors():
        loc = tuple(
            p
            for p in (*prefix, *err["loc"])
            if not (isinstance(p, str) and p.startswith("function-"))
        )
        kind = err["type"]
        if kind == "extra_forbidden":
            msg, hint = "unknown key", "check its spelling against the README's list of keys"
        elif kind == "missing":
            msg, hint = "required key is missing", None
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            hint = (err.get("ctx") or {}).get("hint")  # a PydanticCustomError's own hint
            if got is None and kind.endswith("_type"):
                msg += " (the value is empty)"
                hint = 'a value starting with # is a YAML comment: quote it, e.g. "#papers"'
            elif kind.endswith("_type") and not isinstance(got, (dict, list)):
                msg += f", got {got!r}"
                if isinstance(got, (int, float, bool)) and "string" in err["msg"]:
                    hint = f'quote it to make it text: "{got}"'
        errors.append(
            ConfigError(
                msg, file=str(path), line=_line_of(data, loc), field=_dotted(loc), hint=hint
            )
        )
    return errors


def _load_mapping(path: Path, text: str | None = None) -> CommentedMap:
    data = _load_yaml(path, text)
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ConfigError("expected a mapping of keys to values at the top", file=str(path), line=1)
    return data


# --------------------------------------------------------------------------- bot.yaml


def config_path(explicit: str | None) -> Path:
    """--config, else $DIGESTBOT_CONFIG, else config/bot.yaml."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_settings(path: Path) -> Settings:
    """Read and validate bot.yaml. Raises ConfigErrors listing every problem found."""
    data = _load_mapping(path)
    try:
        model = BotSettingsModel.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigErrors(_pydantic_errors(exc, data, path)) from exc

    errors: list[ConfigError] = []
    sources: list[SourceSettings] = []
    names: set[str] = set()
    for i, raw in enumerate(model.sources):
        loc: tuple[str | int, ...] = ("sources", i)
        kind = raw.get("kind") if isinstance(raw, Mapping) else None
        if kind not in SOURCES:
            errors.append(
                ConfigError(
                    f"unknown source kind {kind!r}" if kind else "source without a kind",
                    file=str(path),
                    line=_line_of(data, (*loc, "kind")),
                    field=_dotted((*loc, "kind")),
                    hint="known kinds: " + ", ".join(sorted(SOURCES)),
                )
            )
            continue
        try:
            settings = SOURCES[kind].Settings.model_validate(
                dict(raw), context={"timezone": model.timezone}
            )
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, data, path, loc))
            continue
        if settings.label in names:
            errors.append(
                ConfigError(
                    f"two sources are named {settings.label!r}",
                    file=str(path),
                    line=_line_of(data, loc),
                    field=_dotted(loc),
                    hint="give one of them a distinct `name:`",
                )
            )
        names.add(settings.label)
        sources.append(settings)
    notifiers = {
        name: getattr(model, name) for name in NOTIFIERS if getattr(model, name) is not None
    }
    try:
        operator = _destinations(model.operator, notifiers)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, data, path, ("operator",)))
    if errors:
        raise ConfigErrors(errors)

    base = path.parent
    return Settings(
        path=path,
        timezone=model.timezone,
        # A PostgreSQL state's local file (the heartbeat) goes where the default SQLite file
        # would be.
        state_path=(base / (POSTGRES_LOCAL if is_url(model.state) else model.state)).resolve(),
        state_url=model.state if is_url(model.state) else None,
        state_password_env=model.state_password_env,
        delivery_lease=model.delivery_lease,
        profiles_dir=(base / model.profiles).resolve(),
        sources=tuple(sources),
        http=model.http,
        notifiers=notifiers,
        operator=operator,
        arxiv_api_url=model.arxiv_api.base_url.rstrip("/"),
        web=model.web,
    )


# --------------------------------------------------------------------------- profiles


@functools.cache  # one model for every profile: building it costs as much as validating one
def _notify_model() -> type[BaseModel]:
    # Not Optional: an absent key defaults to None, but an explicit empty value (`slack: #x`,
    # where # starts a comment) is an error rather than a silently unsent profile.
    fields: dict[str, Any] = {name: (cls.Target, None) for name, cls in NOTIFIERS.items()}
    model: type[BaseModel] = create_model("Notify", __base__=Strict, **fields)
    return model


def _destinations(
    raw: Mapping[str, Any], notifiers: Mapping[str, BaseModel] | None = None
) -> tuple[str, ...]:
    """A `notify:` (or `operator:`) mapping as "notifier:target" strings. Raises
    ValidationError with locations relative to the mapping. `notifiers` (bot.yaml's settings
    by notifier, when known) lets a target type refuse what its settings cannot serve (a
    person next to a Slack webhook)."""
    return tuple(_addressed(raw, notifiers))


def _addressed(
    raw: Mapping[str, Any], notifiers: Mapping[str, BaseModel] | None = None
) -> dict[str, str]:
    """A `notify:` (or `operator:`) mapping as {"notifier:key": the target as written}: the key
    is where it goes (`Notifier.key`), the target may also say how to address it."""
    notify = _notify_model().model_validate(dict(raw), context={"settings": notifiers or {}})
    return {
        f"{name}:{cls.key(target)}": target
        for name, cls in NOTIFIERS.items()
        for target in cls.targets(getattr(notify, name))
    }


def _typed_arxiv_id(value: object) -> object:
    """An entry of `papers:` / `not_like:`: an unquoted new-style id (2002.04745) is a float to
    YAML, but ruamel's round-trip loader keeps how it was written (a ScalarFloat's width, dot
    position and leading zeros), so an id typed whole is taken as the text typed; a number
    whose text is not one (2401.1, perhaps 2401.10 with its zero lost) is refused, saying why."""
    if not isinstance(value, float):
        return value  # text is checked as an id next; anything else is a type error
    typed = _typed_text(value)
    if typed is not None and _NEW_STYLE_ID.fullmatch(typed):
        return typed
    read = (
        f"the unquoted {typed} as a number"
        if typed is not None
        else f"this unquoted value as the number {value!r}"
    )
    raise PydanticCustomError(
        "arxiv_id_number",
        f"YAML reads {read}, and as written it is not an arXiv id "
        "(4 digits, a dot, 4 or 5 digits; a number loses its trailing zeros, so 2401.10000 "
        "may have become 2401.1 on its way here)",
        {"hint": 'quote arXiv ids: "2401.01234"'},
    )


def _typed_text(value: float) -> str | None:
    """The text a plain decimal float was written as (`0704.0001`), from what ruamel's
    ScalarFloat keeps of it: its width, the position of its dot and its leading zeros; None for
    one written otherwise (a sign, an exponent, an underscore) or a float without that record."""
    if not isinstance(value, ScalarFloat):
        return None
    width, dot, zeros = (getattr(value, a, None) for a in ("_width", "_prec", "_m_lead0"))
    plain = not any(getattr(value, a, None) for a in ("_m_sign", "_exp", "_underscore"))
    if not (plain and isinstance(width, int) and isinstance(dot, int) and isinstance(zeros, int)):
        return None
    if dot < 0 or width <= dot:
        return None
    text = "0" * zeros + f"{value:.{width - dot - 1}f}"
    return text if len(text) == width else None  # else it was written some other way (2_002.1)


ArxivIdEntry = Annotated[str, BeforeValidator(_typed_arxiv_id)]


def arxiv_id_entry(value: object) -> str | None:
    """The canonical id an entry of `papers:` / `not_like:` (as ruamel's round-trip loader read
    it: text or an unquoted number) stands for, else None (`profile learned --write`)."""
    try:
        typed = _typed_arxiv_id(value)
    except PydanticCustomError:
        return None
    parsed = split_arxiv_id(typed) if isinstance(typed, str) else None
    return parsed[0] if parsed else None


class ZoteroModel(Strict):
    """`library: zotero:` of a profile (bot/relevance/library.py reads it at run time)."""

    user: int = Field(gt=0)  # the numeric user ID (zotero.org/settings/keys)
    collection: str | None = Field(None, min_length=1)  # a collection's name; none: all
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    base_url: BaseUrl = "https://api.zotero.org"


class LibraryModel(Strict):
    """`library:` of a profile: where its example papers also come from."""

    bibtex: str | None = Field(None, min_length=1)  # a .bib file, relative to the profile
    zotero: ZoteroModel | None = None


class ProfileModel(Strict):
    """The keys of a profile file. See config/profiles/*.yaml for a commented example."""

    name: str = Field(min_length=1)
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    min_score: float = Field(0.98, ge=0, le=1)  # a percentile (bot/relevance/scoring.py)
    max_per_digest: int = Field(10, ge=1, le=500)
    categories: list[str] = Field(default_factory=list)  # only papers in one of these
    category_boost: dict[str, float] = Field(default_factory=dict)  # added to the score
    papers: list[ArxivIdEntry] = Field(default_factory=list)  # example papers, by arXiv id
    not_like: list[ArxivIdEntry] = Field(default_factory=list)  # counter-examples, by arXiv id
    authors: list[str] = Field(default_factory=list)  # followed authors
    upvote_weight: float = Field(default=0.0, ge=0, le=1)
    notify: dict[str, Any] = Field(default_factory=dict)
    library: LibraryModel | None = None  # example papers from a BibTeX file or Zotero

    _name = field_validator("name")(one_line)

    @field_validator("papers", "not_like")
    @classmethod
    def _arxiv_ids(cls, values: list[str]) -> list[str]:
        ids = []
        for value in values:
            parsed = split_arxiv_id(value)
            if parsed is None:
                raise ValueError(
                    f"{value!r} is not an arXiv id (like 2401.01234, arXiv:2401.01234v2 or "
                    "hep-th/9901001)"
                )
            ids.append(parsed[0])
        return ids

    @field_validator("authors")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("entries must not be blank")
        return [" ".join(v.split()) for v in values]

    @field_validator("categories")
    @classmethod
    def _arxiv_categories(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _CATEGORY.fullmatch(value):
                raise ValueError(f"{value!r} is not an arXiv category like cs.LG or hep-th")
        return values

    @field_validator("category_boost")
    @classmethod
    def _boosts(cls, values: dict[str, float]) -> dict[str, float]:
        for key, boost in values.items():
            if not _CATEGORY.fullmatch(key):
                raise ValueError(f"{key!r} is not an arXiv category like cs.LG or hep-th")
            if not -1.0 <= boost <= 1.0:
                raise ValueError(f"the boost for {key} must be between -1 and 1")
        return values

    @field_validator("keywords", "exclude")
    @classmethod
    def _no_blank(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("entries must not be blank")
        return [v.strip() for v in values]


def load_profile(
    path: Path, notifiers: Mapping[str, BaseModel] | None = None, *, text: str | None = None
) -> Profile:
    """Read and validate one profile file. Raises ConfigErrors. `notifiers`: bot.yaml's
    notifier settings, when known (`Settings.notifiers`), to check destinations against.
    `text`: the file's contents as given instead of as on disk (a draft in the web editor)."""
    if text is None:
        # A file that cannot be read: _load_yaml tries again and says why.
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = path.read_text(encoding="utf-8")
    fast = _plain_profile(path, notifiers, text) if text is not None else None
    return fast if fast is not None else _round_trip_profile(path, notifiers, text)


def _plain_profile(
    path: Path, notifiers: Mapping[str, BaseModel] | None, text: str
) -> Profile | None:
    """The profile read through the C parser (bot/yaml_fast.py), five times faster than the
    round-trip loader; None unless that reading gives a profile that validates. Anything else
    (a problem to report with its line, a text the plain reading cannot judge) is for
    `_round_trip_profile` to decide: an answer from here is always the one it would give."""
    data = yaml_fast.plain_data(text)
    if not isinstance(data, dict) or _any_sexagesimal(data):
        return None
    try:
        return _profile(data, path, notifiers)
    except Exception:  # whatever it is, the round-trip reading reports (or raises) it
        return None


def _round_trip_profile(
    path: Path, notifiers: Mapping[str, BaseModel] | None, text: str | None = None
) -> Profile:
    """The profile read with ruamel's round-trip loader, which keeps lines: the reference
    reading, and the one that reports a problem with its file, line and field."""
    return _profile(_load_mapping(path, text), path, notifiers)


def _any_sexagesimal(node: Any) -> bool:
    """True when a value in `node` looks like 20:00: whether it was quoted (fine) or not
    (refused by `_check_plain_scalars`) is for the round-trip reading to tell."""
    if isinstance(node, dict):
        return any(_any_sexagesimal(value) for value in node.values())
    if isinstance(node, list):
        return any(_any_sexagesimal(value) for value in node)
    return isinstance(node, str) and _SEXAGESIMAL.fullmatch(node) is not None


def _profile(
    data: Mapping[str, Any], path: Path, notifiers: Mapping[str, BaseModel] | None
) -> Profile:
    """The profile a file's top-level mapping describes (round-trip or plain data: `data` only
    locates errors, which only the round-trip reading can). Raises ConfigErrors."""
    try:
        model = ProfileModel.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigErrors(_pydantic_errors(exc, data, path)) from exc
    try:
        addressed = _addressed(model.notify, notifiers)
    except ValidationError as exc:
        raise ConfigErrors(_pydantic_errors(exc, data, path, ("notify",))) from exc
    if (
        not model.description.strip()
        and not model.keywords
        and not model.papers
        and not (model.authors)
        and not (model.library and (model.library.bibtex or model.library.zotero))
    ):
        raise ConfigErrors(
            [
                ConfigError(
                    "a profile needs a description, keywords, example papers or authors",
                    file=str(path),
                    line=1,
                    field="description",
                )
            ]
        )
    profile = Profile(
        id=path.stem,
        name=model.name,
        description=model.description,
        keywords=tuple(model.keywords),
        exclude=tuple(model.exclude),
        min_score=model.min_score,
        max_per_digest=model.max_per_digest,
        categories=tuple(model.categories),
        category_boost=dict(model.category_boost),
        examples=tuple(dict.fromkeys(model.papers)),
        not_like=tuple(dict.fromkeys(model.not_like)),
        authors=tuple(model.authors),
        upvote_weight=model.upvote_weight,
        destinations=tuple(addressed),
        path=str(path),
        addressees={
            dest: target for dest, target in addressed.items() if dest.split(":", 1)[1] != target
        },
    )
    return _with_library(profile, model.library, data, path)


def _with_library(profile: Profile, library: LibraryModel | None, data: Any, path: Path) -> Profile:
    """`profile` with its library's examples: the BibTeX file read now (a file that cannot be
    read is this profile's error, naming the .bib file's line), Zotero noted for the run."""
    if library is None:
        return profile
    if library.zotero is not None:
        z = library.zotero
        profile = replace(
            profile,
            zotero=ZoteroLibrary(z.user, z.collection, z.api_key_env, z.base_url.rstrip("/")),
        )
    if library.bibtex is None:
        return profile
    # Imported here: bibtexparser and the relevance modules (numpy, scipy) are slow to import,
    # and every command reads the config, `digestbot health` (the Docker HEALTHCHECK) included.
    from bot.relevance.library import LibraryError, read_bibtex, with_library

    bib = Path(os.path.normpath(path.parent / library.bibtex))
    try:
        found = read_bibtex(bib)
    except LibraryError as exc:
        raise ConfigErrors(
            [
                ConfigError(
                    f"cannot use the library: {exc}",
                    file=str(path),
                    line=_line_of(data, ("library", "bibtex")),
                    field="library.bibtex",
                    hint=exc.hint,
                )
            ]
        ) from exc
    return with_library(profile, found, str(bib))


# path -> (the file's text, the profile it loaded as): a daemon re-reads the profiles folder on
# every run, and parsing YAML with line numbers costs milliseconds a file (two minutes for an
# institution's 10,000 profiles); an unchanged text is not parsed again.
ProfileCache = dict[str, tuple[str, Profile]]


def load_profiles(
    folder: Path,
    notifiers: Mapping[str, BaseModel] | None = None,
    cache: ProfileCache | None = None,
) -> tuple[list[Profile], list[ConfigError]]:
    """Every *.yaml / *.yml in `folder`, sorted by name. Broken files are returned as errors
    so the others keep working. `notifiers` as for `load_profile`. With `cache` (kept by the
    caller for as long as `notifiers` are the same), a file whose text is unchanged since it
    last loaded is not parsed again; one that reads a BibTeX file always is."""
    profiles: list[Profile] = []
    errors: list[ConfigError] = []
    if not folder.is_dir():
        errors.append(
            ConfigError(
                "profiles folder not found",
                file=str(folder),
                hint="create it, or point `profiles:` in bot.yaml at it",
            )
        )
        return profiles, errors
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    for file in files:
        text = _cached_text(file) if cache is not None else None
        hit = cache.get(str(file)) if cache is not None and text is not None else None
        if hit is not None and hit[0] == text:
            profiles.append(hit[1])
            continue
        try:
            profile = load_profile(file, notifiers, text=text)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
        except ConfigError as exc:
            errors.append(exc)
        else:
            profiles.append(profile)
            # A profile that reads a BibTeX file depends on more than its own text.
            if cache is not None and text is not None and "bibtex" not in text:
                cache[str(file)] = (text, profile)
    if cache is not None:  # a removed file's profile is not kept
        for gone in set(cache) - {str(f) for f in files}:
            del cache[gone]
    return profiles, errors


def _cached_text(file: Path) -> str | None:
    """The file's text for the profile cache; None when it cannot be read as UTF-8 text
    (load_profile then reads it again and reports why)."""
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
