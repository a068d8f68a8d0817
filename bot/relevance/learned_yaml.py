"""`digestbot profile learned`: a profile's net votes as the `papers:` / `not_like:` lines of its
YAML file, printed to paste or (`--write`) merged into the file.

Votes stay in the state either way; the file is the person's own and is written only when
asked. The merge is a ruamel round trip: the file is first checked as `digestbot check` checks
it (a broken file is refused with file, line and field, and left untouched), then re-dumped
with the indentation that reproduces it byte for byte (a file no setting reproduces is refused
rather than reformatted), the new ids appended as the template writes them (double-quoted,
canonical), written through a temporary file and a rename, and checked again (a failure puts
the old bytes back). A paper voted against what the file says (liked but in `not_like:`, or
the reverse) moves to the list the votes say: the reader saw the paper, the file may be older.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from bot.config import arxiv_id_entry, load_profile
from bot.errors import ConfigError, DigestbotError
from bot.models import Profile
from bot.state.store import Store

KEYS = {1: "papers", -1: "not_like"}  # the list a net vote belongs in
# Indentation settings tried until one reproduces the file: (mapping, sequence, offset).
_LAYOUTS = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 4, 0), (2, 3, 1), (4, 6, 4))


@dataclass(frozen=True)
class Learned:
    """One paper the votes say something about."""

    paper_id: str
    value: int  # the sign of its net vote
    title: str


def net_votes(store: Store, profile_id: str) -> list[Learned]:
    """The profile's net votes with the papers' titles, liked first, then by id."""
    out = []
    for pid, value in store.votes.net(profile_id).items():
        paper = store.get_paper(pid) or store.corpus.example(pid)
        out.append(Learned(pid, value, " ".join(paper.title.split()) if paper else ""))
    return sorted(out, key=lambda x: (-x.value, x.paper_id))


@dataclass(frozen=True)
class Plan:
    """What the votes add to each list, and the papers they move from the other one."""

    add: dict[str, list[Learned]]  # key -> new entries
    move: dict[str, list[Learned]]  # key it leaves -> entries

    @property
    def empty(self) -> bool:
        return not any(self.add.values())


def plan(profile: Profile, votes: list[Learned]) -> Plan:
    have = {"papers": set(profile.examples), "not_like": set(profile.not_like)}
    add: dict[str, list[Learned]] = {"papers": [], "not_like": []}
    move: dict[str, list[Learned]] = {"papers": [], "not_like": []}
    for v in votes:
        key, other = KEYS[v.value], KEYS[-v.value]
        if v.paper_id in have[key]:
            continue
        add[key].append(v)
        if v.paper_id in have[other]:
            move[other].append(v)
    return Plan(add, move)


def learned_text(path: Path, notifiers: Mapping[str, BaseModel], votes: list[Learned]) -> list[str]:
    """The lines to paste: each list as it would read with the votes merged (in the file's own
    style, flow or block), the new entries commented with their titles."""
    profile = load_profile(path, notifiers)  # a broken file: its errors, exit 2
    todo = plan(profile, votes)
    if todo.empty:
        return [f"# nothing to add: {path} already lists every paper voted on ({len(votes)})"]
    data = _round_trip_yaml().load(path.read_text(encoding="utf-8"))
    liked, disliked = len(todo.add["papers"]), len(todo.add["not_like"])
    lines = [
        f"# votes on {profile.id}: {liked} liked and {disliked} disliked paper(s) not in {path};",
        "# put these lines in its place (or run `digestbot profile learned "
        f"{profile.id} --write`):",
    ]
    for key, current in (("papers", profile.examples), ("not_like", profile.not_like)):
        if not todo.add[key] and not todo.move[key]:
            continue
        leaving = {v.paper_id for v in todo.move[key]}
        kept = [pid for pid in current if pid not in leaving]
        new = todo.add[key]
        block = isinstance(data.get(key), CommentedSeq) and not data[key].fa.flow_style()
        if block and (kept or new):
            lines.append(f"{key}:")
            lines.extend(f'  - "{pid}"' for pid in kept)
            lines.extend(f'  - "{v.paper_id}"  # {v.title}' for v in new)
        else:
            listed = ", ".join(_quoted(p) for p in [*kept, *(v.paper_id for v in new)])
            lines.append(f"{key}: [{listed}]")
            lines.extend(f"#   {v.paper_id}: {v.title}" for v in new)
        lines.extend(
            f"#   {v.paper_id} leaves {key}: (voted {'👍' if v.value > 0 else '👎'})"
            for v in todo.move[key]
        )
    return lines


def merge_learned(
    path: Path, notifiers: Mapping[str, BaseModel], votes: list[Learned]
) -> list[str]:
    """Merge the votes into the file (module docstring); the lines saying what was done."""
    profile = load_profile(path, notifiers)  # refuse a broken file before touching it
    todo = plan(profile, votes)
    if todo.empty:
        return [f"{path}: nothing to write: it already lists every paper voted on"]
    original = path.read_text(encoding="utf-8")
    yaml, data = _reproducing(path, original)
    lines: list[str] = []
    for key in ("papers", "not_like"):
        leaving = {v.paper_id for v in todo.move[key]}
        if leaving:
            seq = data[key]
            for i in reversed(range(len(seq))):
                if arxiv_id_entry(seq[i]) in leaving:
                    del seq[i]
            lines.extend(f"- {v.paper_id} removed from {key}:" for v in todo.move[key])
        new = todo.add[key]
        if not new:
            continue
        seq = data.get(key)
        if not isinstance(seq, CommentedSeq):  # absent, or `papers:` with nothing after it
            seq = CommentedSeq()
            seq.fa.set_flow_style()  # as the template writes lists: papers: ["2002.04745"]
            data[key] = seq  # a new key goes at the end, after the file's own keys
        for v in new:
            seq.append(DoubleQuotedScalarString(v.paper_id))
        sign = "+" if key == "papers" else "-"
        lines.extend(f"{sign} {v.paper_id} {_title(v)} added to {key}:" for v in new)
    out = io.StringIO()
    yaml.dump(data, out)
    _replace(path, out.getvalue())
    try:
        checked = load_profile(path, notifiers)  # as `digestbot check` does
    except Exception:
        _replace(path, original)
        raise
    lines.append(
        f"{path}: ok (written and checked: {len(checked.examples)} example paper(s), "
        f"{len(checked.not_like)} counter-example(s)); the votes stay in the state"
    )
    return lines


def _title(v: Learned) -> str:
    return repr(v.title) if v.title else "(title unknown)"


def _quoted(pid: str) -> str:
    return f'"{pid}"'


def _round_trip_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True  # keep each value's quotes as written
    yaml.width = 4096  # never re-wrap a long line
    return yaml


def _reproducing(path: Path, text: str) -> tuple[YAML, Any]:
    """A round-trip YAML whose dump of the unchanged file is the file itself, and the data."""
    for mapping, sequence, offset in _LAYOUTS:
        yaml = _round_trip_yaml()
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        data = yaml.load(text)
        out = io.StringIO()
        yaml.dump(data, out)
        if out.getvalue() == text and isinstance(data, CommentedMap):
            return yaml, data
    raise ConfigError(
        "cannot merge into this file without changing its layout (spacing, indentation, line "
        "breaks): nothing was written",
        file=str(path),
        hint="run without --write and paste the printed lines yourself",
    )


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in its folder and a rename: a failure
    leaves the old file whole."""
    tmp = None
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise DigestbotError(
            f"cannot write {path}: {exc.strerror or exc}: the file is unchanged",
            hint="check the folder's permissions and free space, or paste the lines printed "
            "without --write",
        ) from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
