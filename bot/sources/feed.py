"""Any journal's or preprint server's RSS 1.0/2.0 or Atom feed (`kind: feed`).

The feed is read with feedparser (formats, dates, HTML sanitising), but only after defusedxml
has parsed the same bytes with document type declarations, entities and external references
forbidden: feedparser's own XML reader would accept a DTD and expand internal entities (a
"billion laughs"), so a feed carrying any of them is refused unread, a clear failure of that
source. An HTML page instead of a feed, or XML cut short, is a failure too.

Each item becomes a paper:

- id: an arXiv DOI (`10.48550/arXiv.X`) or an arxiv.org link is the arXiv id X, so the same
  paper from arXiv and a feed is one paper; else the item's DOI (`dc:identifier`, with or
  without `info:doi/` or `doi:`; `prism:doi`; a doi.org link) as `doi:<doi>`; else
  `feed:<name>:<link>`. An item with none of them is skipped with a warning. A DOI that is not
  the id (an arXiv paper's journal DOI) is an alias (bot/identity.py).
- title and abstract with HTML stripped (an empty abstract is fine: the title is scored);
  authors from `dc:creator`/`author`, one comma-separated string in real feeds, split into
  names ("Last, I." pairs kept together); the item's subjects in `extras["subjects"]`.
- its date (published, else updated; UTC), else the feed's own date.

A feed lists its latest items, whatever day it is asked for. `fetch(day)` returns the items
dated `day`, so an item dated before the days a run fetches (the days since the feed's last
good fetch, and `lookback_days`) is not new. A feed whose newest date is more than
`stale_after_days` before the day is stale (bot/health.py); an empty day is normal (a weekly
journal). The feed is read once per run however many days the run asks for.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import feedparser  # type: ignore[import-untyped]
from pydantic import AfterValidator, Field, field_validator

from bot.errors import ParseError, StaleError
from bot.http import Http
from bot.identity import ALIASES, doi_id
from bot.models import Paper, fold_whitespace, split_arxiv_id
from bot.sources.arxiv_feed import split_authors as split_and_names
from bot.sources.base import Source, SourceSettings
from bot.sources.xml_safe import Voice, safe_root

log = logging.getLogger(__name__)

_FEED_VOICE = Voice(
    what="the feed",
    why_refused="refused unread (a feed needs none, and they can expand without bound)",
    html_hint="the site may be down, or the url is a web page: check the feed's url in "
    "bot.yaml (the day is fetched again on the next run)",
    refused_hint="check the feed's url in bot.yaml; if it is right, the publisher's feed "
    "cannot be read safely",
    garbled_hint="the answer was cut short or garbled; the day is fetched again on the next run",
)

FEED_REUSE_SECONDS = 600.0  # a run asks for several days; the feed is read once per run
DC = "{http://purl.org/dc/elements/1.1/}"
ATOM = "{http://www.w3.org/2005/Atom}"
_INITIALS = re.compile(r"(?:[A-Z][a-z]?\.?[\s-]*)+")  # "N.", "P.-L.", "R. J.", "JF"


def _feed_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL with a host, got {value!r}")
    return value.strip()


FeedUrl = Annotated[str, AfterValidator(_feed_url)]


class FeedSettings(SourceSettings):
    """`sources: - kind: feed` in bot.yaml."""

    kind: Literal["feed"]
    name: str = Field(min_length=1)  # names the source in status and digests, and in ids
    url: FeedUrl
    stale_after_days: int = Field(default=14, ge=1, le=366)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError(
                f"{value!r}: use letters, digits, '.', '_' and '-' (it is part of paper ids)"
            )
        return value


@dataclass(frozen=True)
class FeedBatch:
    """A parsed feed: its papers (each with its `day`), and the newest date it shows."""

    papers: list[Paper] = field(default_factory=list)
    newest: date | None = None


class Feed(Source):
    """Fetches one RSS or Atom feed and lists its items by the day they are dated."""

    kind: ClassVar[str] = "feed"
    Settings: ClassVar[type[SourceSettings]] = FeedSettings
    settings: FeedSettings

    def __init__(self, settings: SourceSettings, http: Http) -> None:
        if not isinstance(settings, FeedSettings):
            raise TypeError(f"Feed needs FeedSettings, got {type(settings).__name__}")
        super().__init__(settings, http)
        self._cached: tuple[float, FeedBatch] | None = None

    def expects_papers(self, day: date) -> bool:
        """A journal publishes on its own days: an empty day is normal (staleness is judged by
        `stale_after_days` instead)."""
        return False

    def fetch(self, day: date) -> list[Paper]:
        """The feed's items dated `day`. Raises StaleError when its newest date is more than
        `stale_after_days` before `day`, FetchError (ParseError) when it cannot be read."""
        batch = self._feed()
        if batch.newest is not None and (day - batch.newest).days > self.settings.stale_after_days:
            raise StaleError(
                f"the feed's newest item is dated {batch.newest}, "
                f"{(day - batch.newest).days} days before {day}",
                url=self.settings.url,
                hint=f"the feed has not changed for more than stale_after_days "
                f"({self.settings.stale_after_days}): check its url in bot.yaml, or raise "
                "stale_after_days for a journal that publishes less often",
            )
        return [p for p in batch.papers if p.day == day]

    def probe(self) -> str:
        """The feed, fetched and parsed: its item count and newest date."""
        batch = self._feed(fresh=True)
        newest = f"newest dated {batch.newest}" if batch.newest else "no dates"
        return f"{self.settings.url}: feed readable, {len(batch.papers)} item(s), {newest}"

    def _feed(self, *, fresh: bool = False) -> FeedBatch:
        now = time.monotonic()
        if not fresh and self._cached is not None and now - self._cached[0] < FEED_REUSE_SECONDS:
            return self._cached[1]
        response = self.http.get(self.settings.url)
        try:
            batch = parse_feed(response.content, name=self.settings.label)
        except ParseError as exc:
            exc.url = exc.url or response.url
            raise
        self._cached = (now, batch)
        return batch


def parse_feed(content: bytes, *, name: str) -> FeedBatch:
    """The papers of one feed (see the module docstring). Raises ParseError when the bytes are
    not a feed, or declare a DTD or entities."""
    root = safe_root(content, _FEED_VOICE)
    if _local(root.tag) not in ("rss", "RDF", "feed"):
        raise ParseError(
            f"expected an RSS or Atom feed, found <{_local(root.tag)}>",
            hint="check the feed's url in bot.yaml",
        )
    items = [e for e in root.iter() if _local(e.tag) in ("item", "entry")]
    parsed = feedparser.parse(content, sanitize_html=True, resolve_relative_uris=False)
    entries = list(parsed.entries)
    if len(items) != len(entries):  # never seen; then only what feedparser read is used
        log.warning("feed %s: %d items but feedparser read %d", name, len(items), len(entries))
        items = []
    feed_day = _feed_date(parsed.feed)
    papers: dict[str, Paper] = {}
    newest = feed_day
    for index, entry in enumerate(entries):
        element = items[index] if items else None
        paper = _paper(entry, element, name=name, feed_day=feed_day)
        if paper is None:
            log.warning("feed %s: skipping item %d: no title, or no id, DOI or link", name, index)
            continue
        papers.setdefault(paper.id, paper)
        if paper.day is not None and (newest is None or paper.day > newest):
            newest = paper.day
    if entries and not papers:
        raise ParseError(
            f"none of the feed's {len(entries)} items has a title and an id, DOI or link",
            hint="check the feed's url in bot.yaml",
        )
    return FeedBatch(papers=list(papers.values()), newest=newest)


def split_creators(text: str) -> tuple[str, ...]:
    """Author names from one `dc:creator` string: "A B, C D and E F" (names separated by
    commas), "Last, I., Other, J. K." (pairs of a surname and initials, kept together), or
    "Last, I.; Other, J." (names separated by semicolons)."""
    parts = [fold_whitespace(p) for p in text.split(";" if ";" in text else ",")]
    parts = [p for p in parts if p]
    if ";" in text:
        return tuple(parts)
    if len(parts) % 2 == 0 and parts:
        initials = parts[1::2]
        if all(_INITIALS.fullmatch(p) for p in initials):
            return tuple(f"{parts[i]}, {parts[i + 1]}" for i in range(0, len(parts), 2))
    return tuple(n for p in parts for n in split_and_names(p))


def _paper(
    entry: Any, element: ET.Element | None, *, name: str, feed_day: date | None
) -> Paper | None:
    title = _plain(entry.get("title", ""))
    link = fold_whitespace(entry.get("link", "") or "")
    if not title:
        return None
    candidates = [*_identifiers(element), entry.get("id", ""), entry.get("dc_identifier", "")]
    candidates += [entry.get("prism_doi", ""), link]
    candidates += [ln.get("href", "") for ln in entry.get("links", []) if isinstance(ln, dict)]
    candidates = [fold_whitespace(c) for c in candidates if isinstance(c, str) and c.strip()]
    arxiv = next((p for c in candidates if "arxiv" in c.lower() and (p := _arxiv(c))), None)
    dois = list(dict.fromkeys(pid for c in candidates if (pid := doi_id(c))))
    # An arXiv DOI is the arXiv id (not a "doi:" id): the paper arXiv knows.
    arxiv = arxiv or next((d for d in dois if not d.startswith("doi:")), None)
    paper_id = arxiv or next(iter(dois), None) or (f"feed:{name}:{link}" if link else None)
    if paper_id is None:
        return None
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    day = _utc_date(when) or feed_day
    authors = [
        n
        for author in entry.get("authors", [])
        if isinstance(author, dict)
        for n in split_creators(author.get("name", "") or "")
    ]
    subjects = [
        fold_whitespace(t.get("term", "")) for t in entry.get("tags", []) if isinstance(t, dict)
    ]
    aliases = sorted(set(dois) - {paper_id})
    extras: dict[str, Any] = {"feed": name, "subjects": [s for s in subjects if s]}
    if aliases:
        extras[ALIASES] = aliases
    return Paper(
        id=paper_id,
        title=title,
        abstract=_plain(entry.get("summary", "") or ""),
        authors=tuple(dict.fromkeys(authors)),
        url=link or (f"https://arxiv.org/abs/{arxiv}" if arxiv else ""),
        published=day.isoformat() if day else "",
        day=day,
        extras={k: v for k, v in extras.items() if v},
    )


def _identifiers(element: ET.Element | None) -> list[str]:
    """Every identifier the item carries in the XML itself: all its `dc:identifier`s
    (feedparser keeps only the last one; Science lists the DOI first), any `*:doi`, and Atom
    link hrefs."""
    if element is None:
        return []
    found = [e.text or "" for e in element if e.tag == f"{DC}identifier"]
    found += [e.text or "" for e in element if _local(e.tag).lower() == "doi"]
    found += [e.get("href", "") for e in element if e.tag == f"{ATOM}link"]
    return found


def _arxiv(text: str) -> str | None:
    parsed = split_arxiv_id(text.split("?", 1)[0])
    return parsed[0] if parsed else None


def _feed_date(feed: Any) -> date | None:
    """The feed's own date: its updated/published date, else PRISM's publicationDate."""
    day = _utc_date(feed.get("updated_parsed") or feed.get("published_parsed"))
    if day is not None:
        return day
    try:
        return date.fromisoformat(str(feed.get("prism_publicationdate", "")).strip()[:10])
    except ValueError:
        return None


def _utc_date(value: object) -> date | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC).date()
    except (OverflowError, ValueError, OSError):
        return None


class _Text(HTMLParser):
    """The text of an HTML fragment, tags dropped, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "br", "div", "li"):
            self.parts.append(" ")


def _plain(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return fold_whitespace("".join(parser.parts))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
