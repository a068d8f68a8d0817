"""`digestbot feedback`: votes given on the command line, listed, exported; and the export
format that `digestbot replay --feedback` reads back.

A command line vote is `+ID` (more like this), `-ID` (less like this) or `~ID` (forget this
paper: every voter's vote on it for that profile is withdrawn, Slack clickers' included: the
profile's owner editing it means the paper, not only their own click). IDs are taken in every
form a profile's `papers:` accepts (`models.split_arxiv_id`: bare, versioned, `arXiv:`,
arxiv.org/abs|pdf URLs) and stored canonical. The voter is `cli:<login name>`, the day today in
the bot's time zone (the day a digest is counted by).

A voted paper must be known, or scoring could not use it: a stored paper, a cached example
paper, else one arXiv API lookup for all the missing ids, through the same client and address
gate as example papers (relevance/examples.py). A command is ALL OR NOTHING: an id found nowhere
stops it before anything is written; otherwise the looked-up papers are cached and every vote is
recorded in one transaction.

The export format is one JSON object per line, exactly
`{"day": "YYYY-MM-DD", "profile": "<id>", "id": "<paper id>", "vote": 1|-1}` (day: the day the
vote was given), sorted by day, profile, paper and vote; `read_export` validates each line with
pydantic and names FILE:line and the field of a bad one.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import ConfigError, ConfigErrors, DigestbotError
from bot.http import Http
from bot.models import Paper, split_arxiv_id
from bot.relevance.examples import find_examples
from bot.relevance.votes import Vote, net
from bot.state.store import Store

SIGNS = {"+": 1, "-": -1, "~": 0}  # 0: withdraw
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
TITLE_WIDTH = 60


class FeedbackError(DigestbotError):
    """A vote the command cannot take (a malformed token, an unknown paper or profile): exit 2,
    nothing recorded."""


@dataclass(frozen=True)
class Wish:
    """One vote token of the command line: `+2401.12345` -> ("2401.12345", 1)."""

    token: str
    paper_id: str
    value: int  # +1, -1, or 0 to withdraw


def is_vote_token(token: str) -> bool:
    """`+ID`, `-ID` or `~ID` with an arXiv id in any accepted form (so that `-2401.12345v2` is
    taken as a vote, not as options -2 -4 ... -v)."""
    return token[:1] in SIGNS and split_arxiv_id(token[1:]) is not None


def parse_wishes(tokens: Sequence[str]) -> list[Wish]:
    """The tokens as votes; a malformed one is a FeedbackError naming it. When a paper is named
    twice, the last token counts (`+X ~X` withdraws X)."""
    bad = [t for t in tokens if not is_vote_token(t)]
    if bad:
        raise FeedbackError(
            f"not a vote: {', '.join(repr(t) for t in bad)}: nothing was recorded",
            hint="write +ID (more like this), -ID (less like this) or ~ID (withdraw), with an "
            "arXiv id such as 2401.12345, arXiv:2401.12345v2 or https://arxiv.org/abs/2401.12345",
        )
    last: dict[str, Wish] = {}
    for token in tokens:
        parsed = split_arxiv_id(token[1:])
        assert parsed is not None  # checked above
        wish = Wish(token, parsed[0], SIGNS[token[0]])
        last.pop(wish.paper_id, None)  # keep the order of the last mentions
        last[wish.paper_id] = wish
    return list(last.values())


def cli_voter() -> str:
    """`cli:<login name>` of whoever runs the command (getpass.getuser: $LOGNAME, $USER, ...,
    then the password database); `cli:uid<N>` where a container has no name for the user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no variable and no passwd entry for this uid
        return f"cli:uid{os.getuid()}"


def profile_ids(profiles_dir: Path) -> list[str]:
    """The ids of the installed profiles (their file names without .yaml / .yml), sorted."""
    return sorted({p.stem for s in ("*.yaml", "*.yml") for p in profiles_dir.glob(s)})


def installed_profile(profiles_dir: Path, profile_id: str) -> Path:
    """The file of installed profile `profile_id`; a FeedbackError listing the known ones."""
    for suffix in (".yaml", ".yml"):
        path = profiles_dir / f"{profile_id}{suffix}"
        if path.is_file():
            return path
    known = profile_ids(profiles_dir)
    raise FeedbackError(
        f"no profile {profile_id!r} in {profiles_dir}: nothing was recorded",
        hint=("known profiles: " + ", ".join(known))
        if known
        else "no profiles installed yet: `digestbot profile new NAME` makes one",
    )


@dataclass(frozen=True)
class Outcome:
    """What one wish did."""

    wish: Wish
    title: str
    changed: bool  # a vote: new or different; a withdrawal: something removed
    removed: int = 0  # votes withdrawn

    def line(self, profile_id: str) -> str:
        pid = self.wish.paper_id
        if self.wish.value == 0:
            if not self.removed:
                return f"~  {pid} {short(self.title)}: no vote on it for {profile_id}"
            gone = f"{self.removed} vote(s) withdrawn"
            return f"~  {pid} {short(self.title)}: {gone} for {profile_id}"
        sign = "+1" if self.wish.value > 0 else "-1"
        same = "" if self.changed else " (already so: unchanged)"
        return f"{sign} {pid} {short(self.title)} for {profile_id}{same}"


def short(title: str) -> str:
    """A title in quotes, cut to TITLE_WIDTH characters."""
    text = " ".join(title.split()) or "(no title)"
    if len(text) > TITLE_WIDTH:
        text = text[: TITLE_WIDTH - 1].rstrip() + "…"
    return repr(text)


def record_feedback(
    store: Store,
    http: Http | None,
    api_url: str,
    profile_id: str,
    wishes: Sequence[Wish],
    voter: str,
    day: date,
) -> list[Outcome]:
    """Record `wishes` for `profile_id`, all or nothing (module docstring). Papers the state
    does not know are asked of the arXiv API once (not when `http` is None)."""
    known: dict[str, Paper] = {}
    missing: list[str] = []
    for w in wishes:
        paper = store.get_paper(w.paper_id) or store.corpus.example(w.paper_id)
        if paper is not None:
            known[w.paper_id] = paper
        elif w.value != 0:  # a withdrawal needs no paper: the vote is what goes
            missing.append(w.paper_id)
    # The store is not handed over: nothing may be cached before every id is known.
    fetched = find_examples(None, http, api_url, missing) if missing and http else {}
    unknown = [pid for pid in missing if pid not in fetched]
    if unknown:
        where = "in the state or on arXiv" if http is not None else "in the state"
        raise FeedbackError(
            f"unknown paper(s) {', '.join(unknown)}: not found {where}: nothing was recorded",
            hint="check the id(s) (a typo?); a paper must exist on arXiv to be voted on",
        )
    if fetched:
        store.cache_examples(list(fetched.values()))
    known.update(fetched)
    votes = [
        Vote(profile_id, w.paper_id, w.value, voter, "cli", day) for w in wishes if w.value != 0
    ]
    withdrawals = [(profile_id, w.paper_id) for w in wishes if w.value == 0]
    changed, removed = store.votes.apply(votes, withdrawals)
    changes = iter(changed)
    removals = iter(removed)
    outcomes = []
    for w in wishes:
        title = known[w.paper_id].title if w.paper_id in known else ""
        if w.value == 0:
            n = next(removals)
            outcomes.append(Outcome(w, title, n > 0, n))
        else:
            outcomes.append(Outcome(w, title, next(changes)))
    return outcomes


# --------------------------------------------------------------------------- --list


def list_lines(store: Store, profile_id: str) -> list[str]:
    """The profile's votes (paper, title, +/-, who, from where, day), then the totals."""
    votes = store.votes.of_profile(profile_id)
    if not votes:
        return [f"no votes for {profile_id} yet"]
    lines = [f"votes for {profile_id} (oldest first):"]
    for v in votes:
        paper = store.get_paper(v.paper_id) or store.corpus.example(v.paper_id)
        title = short(paper.title) if paper is not None else "(not in the state)"
        sign = "+1" if v.value > 0 else "-1"
        lines.append(f"  {sign}  {v.paper_id}  {title}  by {v.voter} via {v.origin} on {v.day}")
    up = sum(v.value > 0 for v in votes)
    summed = net(votes)
    liked = sum(s > 0 for s in summed.values())
    voters = len({v.voter for v in votes})
    lines.append(
        f"{len(votes)} vote(s): {up} 👍, {len(votes) - up} 👎 from {voters} voter(s); "
        f"net: {liked} paper(s) liked, {len(summed) - liked} disliked"
    )
    return lines


# --------------------------------------------------------------------------- export format


class ExportedVote(BaseModel):
    """One line of the export format."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    day: date
    profile: str = Field(min_length=1)
    id: str
    vote: Literal[1, -1]

    @field_validator("day", mode="before")
    @classmethod
    def _iso_day(cls, value: object) -> object:
        # Only the text YYYY-MM-DD: pydantic's lax dates would also take a timestamp number or
        # a datetime at midnight, which no export writes.
        if isinstance(value, str) and _DAY.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass  # 2025-02-30: said below
        if isinstance(value, date):
            return value
        raise ValueError("a day is written YYYY-MM-DD")

    @field_validator("vote", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        if isinstance(value, bool):  # JSON true is not the number 1
            raise ValueError("a vote is 1 or -1")
        return value

    @field_validator("id")
    @classmethod
    def _arxiv_id(cls, value: str) -> str:
        parsed = split_arxiv_id(value)
        if parsed is None:
            raise ValueError("not an arXiv id (like 2401.01234)")
        return parsed[0]

    def line(self) -> str:
        row = {"day": self.day.isoformat(), "profile": self.profile, "id": self.id}
        return json.dumps({**row, "vote": self.vote}, ensure_ascii=False)


def export_rows(votes: Iterable[Vote]) -> list[ExportedVote]:
    """Every vote in the export format, sorted by day, profile, paper and vote."""
    rows = [
        ExportedVote(day=v.day, profile=v.profile_id, id=v.paper_id, vote=1 if v.value > 0 else -1)
        for v in votes
    ]
    return sorted(rows, key=lambda r: (r.day, r.profile, r.id, r.vote))


def write_export(rows: Sequence[ExportedVote], out: IO[str]) -> None:
    for row in rows:
        out.write(row.line() + "\n")


def read_export(path: Path) -> list[ExportedVote]:
    """The votes of an export file; every bad line is a ConfigError naming FILE:line and the
    field (all of them reported). Blank lines are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", file=str(path)) from exc
    rows: list[ExportedVote] = []
    errors: list[ConfigError] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(ConfigError(f"not JSON: {exc.msg}", file=str(path), line=n))
            continue
        try:
            rows.append(ExportedVote.model_validate(data))
        except ValidationError as exc:
            errors.extend(_line_errors(exc, path, n))
    if errors:
        raise ConfigErrors(errors)
    return rows


_HINT = 'each line: {"day": "YYYY-MM-DD", "profile": "<id>", "id": "<paper id>", "vote": 1|-1}'


def _line_errors(exc: ValidationError, path: Path, line: int) -> list[ConfigError]:
    errors = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or None
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ") + f", got {err.get('input')!r}"
        if field is None:  # not an object at all
            msg = f"{msg} (each line is one JSON object)"
        errors.append(ConfigError(msg, file=str(path), line=line, field=field, hint=_HINT))
    return errors


def votes_by_profile(rows: Iterable[ExportedVote]) -> dict[str, list[Vote]]:
    """Export rows as Votes per profile (voter and origin: `file`), for replay."""
    out: dict[str, list[Vote]] = {}
    for n, r in enumerate(rows):
        # Each line is one vote: a distinct voter keeps two equal lines two votes when netted.
        vote = Vote(r.profile, r.id, r.vote, f"file:{n}", "file", r.day)
        out.setdefault(r.profile, []).append(vote)
    return out


def net_before(votes: Mapping[str, Sequence[Vote]], day: date) -> dict[str, dict[str, int]]:
    """Per profile, the net votes given before `day` (a vote of day D counts from D+1 on)."""
    nets = {pid: net(v for v in vs if v.day < day) for pid, vs in votes.items()}
    return {pid: n for pid, n in nets.items() if n}
