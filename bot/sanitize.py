"""Making a source's papers safe to store and to show: the one step every batch goes through.

The pipeline passes each source's batch for a digest day through `clean_batch` before anything
else reads it, so every source (and every source added later) gets the same guarantees, whatever
its upstream sends:

- text is valid Unicode that encodes as UTF-8: a lone surrogate (JSON can carry `"\\ud800"`;
  SQLite, Slack and email all refuse it) is replaced by U+FFFD;
- titles and author names carry no bidi controls (U+202E makes "fdp.exe" show as "exe.pdf"),
  zero-width or control characters: they make a name read differently from what it is, a known
  spoofing trick. Other text (abstract, extras) loses bidi and control characters too, but keeps
  its zero-width joiners, which Persian, Indic scripts and emoji need;
- every field has a length cap (`TEXT_LIMITS`...): a longer value is cut, ending in "…";
  numbers in extras are bounded (a 5000-digit count cannot even be written as JSON);
- a paper's digest day is within the days its fetch covers: a paper listed as of 1999, or
  9999-12-31, is digested under the day it was fetched for, never a day of its own;
- a paper that cannot be kept (no id or title left, an id longer than any real one) is dropped.

Each change is one warning naming the source, the digest day, the paper and the field: the paper
is kept whenever possible, and the operator knows what was changed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from bot.models import Paper, fold_whitespace
from bot.render import truncate

log = logging.getLogger(__name__)

# Field caps, in characters. Real values are far below them: arXiv caps abstracts at 1,920
# characters and the longest titles are about 300; the largest collaborations (ATLAS, CMS) list
# about 3,000 authors.
ID_LIMIT = 300  # longer is no real id: the paper is dropped (a cut id would be another paper)
TEXT_LIMITS = {
    "title": 1000,
    "abstract": 20_000,
    "published": 40,
    "version": 20,
}
AUTHOR_LIMIT = 300  # per name
MAX_AUTHORS = 5000
CATEGORY_LIMIT = 100  # per category
MAX_CATEGORIES = 100
URL_LIMIT = 2000  # longer: dropped, since a cut URL is a broken link
EXTRA_TEXT_LIMIT = 5000  # per string in extras (ai_summary, comment, organization...)
MAX_EXTRA_ITEMS = 200  # per list or mapping in extras (ai_keywords...)
MAX_EXTRA_DEPTH = 5
MAX_COUNT = 10**15  # beyond any real count, and exact as a JSON number everywhere

_SURROGATE = re.compile("[\ud800-\udfff]")
# Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), the marks LRM, RLM and
# ALM, and control characters (C0 but tab, line feed and carriage return; DEL; C1).
_BIDI_AND_CONTROL = (
    "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
)
# Zero-width space, non-joiner and joiner, word joiner, and the BOM (zero-width no-break space).
_ZERO_WIDTH = "\u200b-\u200d\u2060\ufeff"
_IN_NAMES = re.compile(f"[{_BIDI_AND_CONTROL}{_ZERO_WIDTH}]")
_IN_TEXT = re.compile(f"[{_BIDI_AND_CONTROL}]")


def clean_batch(papers: Iterable[Paper], *, source: str, day: date, first_day: date) -> list[Paper]:
    """`papers` of `source`'s fetch for digest `day`, made safe (see the module docstring).
    A paper's own day is kept when it is within `first_day`..`day` (the days the fetch
    covers), else it becomes `day`. Papers that cannot be kept are left out."""
    cleaned: list[Paper] = []
    for paper in papers:
        notes = _Notes(source, day)
        kept = _clean(paper, notes, day, first_day)
        notes.log()
        if kept is not None:
            cleaned.append(kept)
    return cleaned


class _Notes:
    """What was changed in one paper: logged as one warning per field."""

    def __init__(self, source: str, day: date) -> None:
        self.where = f"{source} {day.isoformat()}"
        self.paper = "?"
        self.lines: list[tuple[str, str]] = []

    def add(self, field: str, what: str) -> None:
        self.lines.append((field, what))

    def log(self) -> None:
        for field, what in self.lines:
            log.warning("%s: paper %s: %s: %s", self.where, self.paper, field, what)


def _clean(paper: Paper, notes: _Notes, day: date, first_day: date) -> Paper | None:
    pid = _valid(paper.id, "id", notes)
    notes.paper = pid[:80]
    if not pid.strip():
        notes.add("id", "empty: paper skipped")
        return None
    if len(pid) > ID_LIMIT:
        notes.add("id", f"{len(pid)} characters, longer than any real id: paper skipped")
        return None
    title = _name(paper.title, "title", TEXT_LIMITS["title"], notes)
    if not title:
        notes.add("title", "empty once invisible characters are removed: paper skipped")
        return None
    return replace(
        paper,
        id=pid,
        title=title,
        abstract=_text(paper.abstract, "abstract", TEXT_LIMITS["abstract"], notes),
        authors=_names(paper.authors, notes),
        url=_url(paper.url, notes),
        categories=_categories(paper.categories, notes),
        published=_text(paper.published, "published", TEXT_LIMITS["published"], notes),
        day=_day(paper.day, day, first_day, notes),
        version=(
            _text(paper.version, "version", TEXT_LIMITS["version"], notes)
            if paper.version
            else paper.version
        ),
        extras=_extras(paper.extras, notes),
    )


def _valid(text: str, field: str, notes: _Notes) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (a warning says how many)."""
    fixed, count = _SURROGATE.subn("\ufffd", text)
    if count:
        what = (
            "1 invalid character (a lone surrogate)"
            if count == 1
            else (f"{count} invalid characters (lone surrogates)")
        )
        notes.add(field, f"{what} replaced by U+FFFD")
    return fixed


def _strip(text: str, pattern: re.Pattern[str], field: str, notes: _Notes) -> str:
    stripped, count = pattern.subn("", text)
    if count:
        notes.add(field, f"{count} invisible or control character{'s' * (count > 1)} removed")
    return stripped


def _cap(text: str, limit: int, field: str, notes: _Notes) -> str:
    if len(text) > limit:
        notes.add(field, f"{len(text)} characters, cut to {limit}")
    return truncate(text, limit)


def _name(text: str, field: str, limit: int, notes: _Notes) -> str:
    """A title or an author name: valid, without invisible characters, folded, capped."""
    text = _strip(_valid(text, field, notes), _IN_NAMES, field, notes)
    return _cap(fold_whitespace(text), limit, field, notes)


def _text(text: str, field: str, limit: int, notes: _Notes) -> str:
    """Other text: valid, without bidi and control characters, capped."""
    return _cap(_strip(_valid(text, field, notes), _IN_TEXT, field, notes), limit, field, notes)


def _names(authors: Sequence[str], notes: _Notes) -> tuple[str, ...]:
    if len(authors) > MAX_AUTHORS:
        notes.add("authors", f"{len(authors)} names, the first {MAX_AUTHORS} kept")
    names = (_name(a, "authors", AUTHOR_LIMIT, notes) for a in authors[:MAX_AUTHORS])
    return tuple(name for name in names if name)


def _categories(categories: Sequence[str], notes: _Notes) -> tuple[str, ...]:
    if len(categories) > MAX_CATEGORIES:
        notes.add("categories", f"{len(categories)} categories, the first {MAX_CATEGORIES} kept")
    cleaned = (_name(c, "categories", CATEGORY_LIMIT, notes) for c in categories[:MAX_CATEGORIES])
    return tuple(dict.fromkeys(c for c in cleaned if c))


def _url(url: str, notes: _Notes) -> str:
    url = _strip(_valid(url, "url", notes), _IN_NAMES, "url", notes).strip()
    if len(url) > URL_LIMIT:
        notes.add("url", f"{len(url)} characters: dropped (a cut link would be broken)")
        return ""
    return url


def _day(own: date | None, day: date, first_day: date, notes: _Notes) -> date:
    if own is None or first_day <= own <= day:
        return own or day
    notes.add(
        "day",
        f"listed on {own.isoformat()}, outside the days this fetch covers "
        f"({first_day.isoformat()} to {day.isoformat()}); digested under {day.isoformat()}",
    )
    return day


def _extras(extras: Mapping[str, Any], notes: _Notes) -> dict[str, Any]:
    cleaned = _value(dict(extras), "extras", notes, 0)
    return cleaned if isinstance(cleaned, dict) else {}


_DROP = object()  # a value left out of extras


def _value(value: Any, field: str, notes: _Notes, depth: int) -> Any:
    """One value of extras (JSON-like), cleaned; _DROP when it cannot be kept."""
    if isinstance(value, str):
        return _text(value, field, EXTRA_TEXT_LIMIT, notes)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_COUNT:
            notes.add(field, "a number beyond any real count: skipped")
            return _DROP
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            notes.add(field, f"{value!r}: skipped")
            return _DROP
        return value
    if isinstance(value, (list, tuple, dict)) and depth >= MAX_EXTRA_DEPTH:
        notes.add(field, f"nested deeper than {MAX_EXTRA_DEPTH}: skipped")
        return _DROP
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_EXTRA_ITEMS:
            notes.add(field, f"{len(value)} items, the first {MAX_EXTRA_ITEMS} kept")
        items = (_value(v, field, notes, depth + 1) for v in value[:MAX_EXTRA_ITEMS])
        return [v for v in items if v is not _DROP]
    if isinstance(value, dict):
        if len(value) > MAX_EXTRA_ITEMS:
            notes.add(field, f"{len(value)} keys, the first {MAX_EXTRA_ITEMS} kept")
        kept: dict[str, Any] = {}
        for key, item in list(value.items())[:MAX_EXTRA_ITEMS]:
            name = _text(str(key), field, 100, notes)
            cleaned = _value(item, name if depth == 0 else field, notes, depth + 1)
            if cleaned is not _DROP:
                kept[name] = cleaned
        return kept
    notes.add(field, f"a {type(value).__name__}, not JSON: skipped")
    return _DROP
