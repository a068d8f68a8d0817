"""An archive of past listings, one file per day, read into `Paper`s (pure: no network).

`digestbot replay` runs the bot over such a folder. Each file is one digest day, named
`YYYY-MM-DD.<ext>`; the date in the name is the day of every paper in it:

- `.jsonl` or `.jsonl.gz`: one JSON object a line with `id`, `title`, `summary` (or
  `abstract`), `authors` (a list of names) and `categories` (a list); `abs` is used as the link
  when present. This is the format of `../shared/bench/daily_arxiv/days` (the
  daily-arXiv-ai-enhanced data). Blank lines are skipped; a line that is not such an object
  stops the read with an error naming the file and the line.
- `.json`: a recorded answer of Hugging Face's `/api/daily_papers` (read by `hf_daily.parse_api`,
  so ids are exactly what a live run would store).
- `.xml`: a recorded arXiv RSS feed (read by `arxiv_feed.parse_rss`). Every announce type is
  kept (`new`, `cross`, `replace`, `replace-cross`), as in the `.jsonl` listings, which also
  carry replacements: a replaced paper seen on an earlier day of the replay is skipped as
  already seen, like in a live run; one the archive never showed before is new to the bot.

Ids: an arXiv id loses its version (`2503.11731v2` is paper `2503.11731`, version kept as
metadata); in `.jsonl` files an id that is not an arXiv id is kept as given. Titles and
abstracts have their line wraps folded. A paper listed twice on one day is one paper.

Files of other kinds are ignored with a warning; two files for one day (`d.jsonl` and
`d.jsonl.gz`) are an error, since which one is meant cannot be guessed.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from bot.errors import DigestbotError, ParseError
from bot.models import Paper, fold_whitespace, split_arxiv_id
from bot.sources.arxiv_feed import ANNOUNCE_TYPES, parse_rss
from bot.sources.hf_daily import parse_api

log = logging.getLogger(__name__)

EXTENSIONS = (".jsonl.gz", ".jsonl", ".json", ".xml")
SOURCE = "archive"  # `Paper.source` of papers read from .jsonl files
_DAY_FILE = re.compile(r"(?P<day>\d{4}-\d{2}-\d{2})(?P<ext>\.jsonl\.gz|\.jsonl|\.json|\.xml)")
_FORMATS_HINT = "archive files are YYYY-MM-DD.jsonl, .jsonl.gz, .json (HF API) or .xml (arXiv RSS)"


class ArchiveError(DigestbotError):
    """An archive file cannot be read; the message names the file (and line)."""

    def __reduce__(self) -> tuple[type[ArchiveError], tuple[str, str | None]]:
        # Raised in replay's worker processes too: keep the hint across pickling.
        return (type(self), (str(self), self.hint))


def day_files(folder: Path) -> dict[date, Path]:
    """Every day file of `folder`, by day. Raises ArchiveError for a missing folder, a bad
    date in a file name, or a day given by two files."""
    if not folder.is_dir():
        raise ArchiveError(f"{folder}: archive folder not found", hint=_FORMATS_HINT)
    found: dict[date, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        m = _DAY_FILE.fullmatch(path.name)
        if m is None:
            log.warning("archive: ignoring %s (not a YYYY-MM-DD day file of a known kind)", path)
            continue
        try:
            day = date.fromisoformat(m.group("day"))
        except ValueError as exc:
            raise ArchiveError(
                f"{path}: {m.group('day')} is not a date", hint=_FORMATS_HINT
            ) from exc
        if day in found:
            raise ArchiveError(
                f"{day} is given twice: {found[day].name} and {path.name}",
                hint="keep one file per day in the archive folder",
            )
        found[day] = path
    return found


def days(
    folder: Path, first: date | None = None, last: date | None = None
) -> Iterator[tuple[date, list[Paper]]]:
    """(day, papers) for each day file of `folder` from `first` to `last` (inclusive, either
    open), oldest first. Each file is read only when its turn comes."""
    files = day_files(folder)
    for day in sorted(files):
        if (first is None or day >= first) and (last is None or day <= last):
            yield day, read_day(files[day], day)


def read_day(path: Path, day: date) -> list[Paper]:
    """The papers of one day file, each with `day` set to `day`, one per id (first listing
    first, later listings of the same id merged in)."""
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz")):
        papers = _read_jsonl(path, day)
    else:
        content = _read_bytes(path)
        try:
            if name.endswith(".json"):
                papers = parse_api(content)
            else:
                papers = parse_rss(content, announce_types=ANNOUNCE_TYPES).papers
        except ParseError as exc:
            raise ArchiveError(f"{path}: {exc}", hint=exc.hint or _FORMATS_HINT) from exc
        papers = [replace(p, day=day, source=p.source or "arxiv_rss") for p in papers]
    unique: dict[str, Paper] = {}
    for paper in papers:
        known = unique.get(paper.id)
        unique[paper.id] = known.merged_with(paper) if known else paper
    return list(unique.values())


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _read_jsonl(path: Path, day: date) -> list[Paper]:
    raw = _read_bytes(path)
    if path.name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"{path}: not a readable gzip file ({exc})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArchiveError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    papers = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            papers.append(_jsonl_paper(line, day, f"{path}:{number}"))
    return papers


def _jsonl_paper(line: str, day: date, where: str) -> Paper:
    try:
        item = json.loads(line)
    except ValueError as exc:
        raise ArchiveError(
            f"{where}: not a JSON object ({exc})",
            hint="each line of a .jsonl day file is one JSON object; blank lines are skipped",
        ) from exc
    if not isinstance(item, dict):
        raise ArchiveError(f"{where}: expected a JSON object, found {type(item).__name__}")
    raw_id = item.get("id")
    title = item.get("title")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ArchiveError(f"{where}: id: missing or not a string")
    if not isinstance(title, str) or not title.strip():
        raise ArchiveError(f"{where}: title: missing or not a string")
    abstract = item.get("summary", item.get("abstract"))
    if abstract is None:
        abstract = ""
    if not isinstance(abstract, str):
        raise ArchiveError(f"{where}: summary: expected a string")
    authors = _strings(item, "authors", where)
    categories = _strings(item, "categories", where)
    arxiv = split_arxiv_id(raw_id)
    pid, version = arxiv if arxiv else (raw_id.strip(), None)
    url = item.get("abs")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        url = f"https://arxiv.org/abs/{pid}" if arxiv else ""
    return Paper(
        id=pid,
        title=fold_whitespace(title),
        abstract=fold_whitespace(abstract),
        authors=tuple(fold_whitespace(a) for a in authors if a.strip()),
        url=url,
        categories=tuple(c.strip() for c in categories if c.strip()),
        day=day,
        source=SOURCE,
        version=version,
    )


def _strings(item: dict[str, Any], key: str, where: str) -> list[str]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ArchiveError(f"{where}: {key}: expected a list of strings")
    return value
