"""Reading arXiv's two XML formats into `Paper`s: the RSS listing and the API's Atom feed.

Pure functions, no I/O, shared by the `arxiv_rss` and `arxiv_query` sources and tested on
recorded payloads:

- `parse_rss` reads `rss.arxiv.org/rss/<categories>` (the format arXiv introduced in 2024):
  one `<item>` per announced paper, its announce type (`new`, `cross`, `replace`,
  `replace-cross`) in `<arxiv:announce_type>`, the abstract after "Abstract:" in
  `<description>`, the authors comma-separated in `<dc:creator>`, and the listing's date in the
  channel's `<pubDate>`.
- `parse_atom` reads `export.arxiv.org/api/query`: the current format (2025+: https ids, bare
  `opensearch:` elements, unwrapped text) and the older one (2016: `ArXiv Query:` title,
  per-element `xmlns`, hard-wrapped titles and summaries). arXiv answers a bad query with a
  feed whose one entry is titled "Error": that becomes a `FetchError` naming arXiv's message,
  never a paper called "Error".

XML is parsed by bot/sources/xml_safe.py (defusedxml; document type declarations, entities and
external references forbidden: arXiv sends none, so a payload with them is refused before it is
expanded or read); every XML error is one `ParseError`, in arXiv's words. LaTeX in titles and
abstracts (`\\textbf{...}`, `$x$`) is kept as text: it is what arXiv sends.
"""

from __future__ import annotations

import email.utils
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from bot.errors import FetchError, ParseError
from bot.models import Paper, fold_whitespace, split_arxiv_id
from bot.sources.xml_safe import Voice, safe_root

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
ARXIV = "{http://arxiv.org/schemas/atom}"
DC = "{http://purl.org/dc/elements/1.1/}"

ANNOUNCE_TYPES = frozenset({"new", "cross", "replace", "replace-cross"})
ABS_URL = "https://arxiv.org/abs/"
QUERY_HINT = (
    "check the query in bot.yaml against arXiv's search syntax "
    "(https://info.arxiv.org/help/api/user-manual.html#query_details)"
)

_ANNOUNCE_IN_TEXT = re.compile(r"Announce Type:\s*(?P<type>[a-z-]+)")
_VERSION_IN_TEXT = re.compile(r"arXiv:\S+?(?P<version>v\d+)\b")
_AUTHOR_SEPARATORS = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
_ARXIV_VOICE = Voice(
    what="arXiv's answer",
    why_refused="arXiv sends none, so it was refused unread",
    html_hint="arXiv (or a proxy in between) answered with a web page, often during "
    "maintenance; the day is fetched again on the next run",
    refused_hint="something other than arXiv answered: check the source's base_url in bot.yaml",
    garbled_hint="the answer was cut short or garbled on the way; "
    "the day is fetched again on the next run",
)


@dataclass(frozen=True)
class RssBatch:
    """One RSS listing: the day it is dated (the channel `<pubDate>`'s own date, i.e. the
    US Eastern date), the days the feed says it is not updated, and its papers."""

    day: date | None
    skip_days: frozenset[str] = frozenset()
    papers: list[Paper] = field(default_factory=list)


@dataclass(frozen=True)
class AtomPage:
    """One page of API results: `total` (opensearch:totalResults, None if absent), the
    0-based index of its first entry, the page size arXiv applied, and its papers."""

    total: int | None
    start: int
    per_page: int
    papers: list[Paper] = field(default_factory=list)


# -- RSS -----------------------------------------------------------------------------------


def parse_rss(content: bytes, *, announce_types: frozenset[str] = ANNOUNCE_TYPES) -> RssBatch:
    """The listing in one arXiv RSS feed, keeping the items whose announce type is in
    `announce_types`. Items without an announce type (older feeds) are kept. Papers have
    `day` set to the listing's day and `source` left for the caller to set."""
    root = _xml_root(content, "the arXiv RSS feed")
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise ParseError(
            f"expected an RSS feed (<rss><channel>), found <{_local(root.tag)}>",
            hint="check the source's base_url in bot.yaml: it should serve rss.arxiv.org's feed",
        )
    items = channel.findall("item")
    day = _rss_date(channel.findtext("pubDate"), "channel")
    if day is None and items:  # no channel date: the items carry the same one
        day = _rss_date(items[0].findtext("pubDate"), "item")
    skip_days = frozenset(
        text for d in channel.findall("skipDays/day") if (text := (d.text or "").strip())
    )
    papers: dict[str, Paper] = {}
    unreadable = 0
    for index, item in enumerate(items):
        paper = _rss_paper(item, day)
        if paper is None:
            unreadable += 1
            log.warning("arxiv rss: skipping item %d: no arXiv id or title", index)
            continue
        announce = paper.extras.get("announce_type")
        if announce is not None and announce not in announce_types:
            continue
        papers.setdefault(paper.id, paper)
    if items and unreadable == len(items):
        raise ParseError(
            f"none of the {len(items)} RSS items has an arXiv id and a title",
            hint="arXiv may have changed its feed format",
        )
    return RssBatch(day=day, skip_days=skip_days, papers=list(papers.values()))


def split_authors(text: str) -> list[str]:
    """Names from a `dc:creator` text: "A, B and C", "A, B, and C" or "A and B"."""
    return [name for part in _AUTHOR_SEPARATORS.split(text) if (name := fold_whitespace(part))]


def _rss_paper(item: ET.Element, day: date | None) -> Paper | None:
    # The guid (`oai:arXiv.org:2604.21935v1`) carries the version; the link is the fallback.
    parsed = next(
        (
            found
            for raw in (item.findtext("guid"), item.findtext("link"))
            if raw and (found := split_arxiv_id(raw))
        ),
        None,
    )
    title = fold_whitespace(item.findtext("title") or "")
    if parsed is None or not title:
        return None
    arxiv_id, version = parsed
    description = item.findtext("description") or ""
    head, marker, abstract = description.partition("Abstract:")
    if not marker:
        head, abstract = "", description
    if version is None and (m := _VERSION_IN_TEXT.search(head)):
        version = m.group("version")
    announce = (item.findtext(f"{ARXIV}announce_type") or "").strip().lower()
    if not announce and (m := _ANNOUNCE_IN_TEXT.search(head)):
        announce = m.group("type")
    authors = [
        name
        for creator in item.findall(f"{DC}creator")
        for name in split_authors(creator.text or "")
    ]
    extras = {
        "announce_type": announce,
        "doi": _text(item, f"{ARXIV}DOI", f"{ARXIV}doi"),
        "journal_ref": _text(item, f"{ARXIV}journal_reference", f"{ARXIV}journal_ref"),
    }
    return Paper(
        id=arxiv_id,
        title=title,
        abstract=fold_whitespace(abstract),
        authors=tuple(authors),
        url=ABS_URL + arxiv_id,
        categories=_unique(c.text or "" for c in item.findall("category")),
        day=day,
        version=version,
        extras={key: value for key, value in extras.items() if value},
    )


def _rss_date(text: str | None, where: str) -> date | None:
    """The date of an RFC 822 `<pubDate>` as written, in its own offset (arXiv's Eastern date)."""
    if not text or not text.strip():
        return None
    try:
        return email.utils.parsedate_to_datetime(text.strip()).date()
    except (TypeError, ValueError) as exc:
        raise ParseError(f"unreadable {where} <pubDate> {text.strip()[:60]!r}") from exc


# -- Atom (the API) ------------------------------------------------------------------------


def parse_atom(content: bytes, *, url: str | None = None) -> AtomPage:
    """One page of `export.arxiv.org/api/query` results. Papers have `day` None and `source`
    empty: the caller sets both. Raises FetchError (not retryable) with arXiv's own message
    when the feed is arXiv's error feed, and ParseError when it is not a readable feed."""
    root = _xml_root(content, "the arXiv API answer", url=url)
    if root.tag != f"{ATOM}feed":
        raise ParseError(
            f"expected an Atom feed (<feed>), found <{_local(root.tag)}>",
            url=url,
            hint="check the source's base_url in bot.yaml: it should serve export.arxiv.org",
        )
    entries = root.findall(f"{ATOM}entry")
    _raise_api_error(entries, url)
    papers: dict[str, Paper] = {}
    for index, entry in enumerate(entries):
        paper = _atom_paper(entry)
        if paper is None:
            log.warning("arxiv api: skipping entry %d: no arXiv id or title", index)
        else:
            papers.setdefault(paper.id, paper)
    if entries and not papers:
        raise ParseError(
            f"none of the {len(entries)} API entries has an arXiv id and a title",
            url=url,
            hint="arXiv may have changed its API format",
        )
    start = _int(root.findtext(f"{OPENSEARCH}startIndex"))
    per_page = _int(root.findtext(f"{OPENSEARCH}itemsPerPage"))
    return AtomPage(
        total=_int(root.findtext(f"{OPENSEARCH}totalResults")),
        start=start or 0,
        per_page=per_page if per_page is not None else len(entries),
        papers=list(papers.values()),
    )


def _raise_api_error(entries: list[ET.Element], url: str | None) -> None:
    """arXiv's error feed: an entry titled "Error" whose id is `.../api/errors#...`, not a
    paper. (A real paper titled "Error" has an arXiv id, so it is not mistaken for one.)"""
    for entry in entries:
        raw_id = (entry.findtext(f"{ATOM}id") or "").strip()
        title = fold_whitespace(entry.findtext(f"{ATOM}title") or "")
        if title == "Error" and split_arxiv_id(raw_id) is None:
            message = fold_whitespace(entry.findtext(f"{ATOM}summary") or "") or raw_id
            raise FetchError(
                f"arXiv API error: {message}", url=url, retryable=False, hint=QUERY_HINT
            )


def _atom_paper(entry: ET.Element) -> Paper | None:
    parsed = split_arxiv_id((entry.findtext(f"{ATOM}id") or "").strip())
    title = fold_whitespace(entry.findtext(f"{ATOM}title") or "")
    if parsed is None or not title:
        return None
    arxiv_id, version = parsed
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [c.get("term", "") for c in entry.findall(f"{ATOM}category")]
    extras = {
        "doi": _text(entry, f"{ARXIV}doi", f"{ARXIV}DOI"),
        "comment": _text(entry, f"{ARXIV}comment"),
        "journal_ref": _text(entry, f"{ARXIV}journal_ref", f"{ARXIV}journal_reference"),
    }
    return Paper(
        id=arxiv_id,
        title=title,
        abstract=fold_whitespace(entry.findtext(f"{ATOM}summary") or ""),
        authors=tuple(
            name
            for author in entry.findall(f"{ATOM}author")
            if (name := fold_whitespace(author.findtext(f"{ATOM}name") or ""))
        ),
        url=ABS_URL + arxiv_id,
        categories=_unique(terms),
        published=_iso_date(entry.findtext(f"{ATOM}published")),
        version=version,
        extras={key: value for key, value in extras.items() if value},
    )


# -- shared --------------------------------------------------------------------------------


def _xml_root(content: bytes, what: str, *, url: str | None = None) -> ET.Element:
    """The root element, parsed safely (bot/sources/xml_safe.py); every failure one ParseError."""
    return safe_root(content, replace(_ARXIV_VOICE, what=what), url=url)


def _text(element: ET.Element, *tags: str) -> str:
    """The folded text of the first of `tags` present under `element`, else ""."""
    for tag in tags:
        text = element.findtext(tag)
        if text and text.strip():
            return fold_whitespace(text)
    return ""


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def _iso_date(text: str | None) -> str:
    try:
        return date.fromisoformat((text or "").strip()[:10]).isoformat()
    except ValueError:
        return ""


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
