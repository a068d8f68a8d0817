"""Hugging Face Daily Papers (`kind: hf_daily`): the papers listed on huggingface.co/papers.

This module owns everything specific to that upstream: its settings, the paginated JSON API
(`GET /api/daily_papers?date=...&limit=...&p=...`), the fallback to the HTML page
(`GET /papers?date=...`, whose papers sit as JSON in the `data-props` attribute of the
`data-target="DailyPapers"` element), and the mapping of one daily-papers item to a `Paper`.

`parse_api` and `parse_page` are pure (bytes in, papers out) so they are tested on recorded
payloads; `HfDaily.fetch` does the I/O through the shared `Http` client. The day a paper belongs
to is the day it was listed on Daily Papers (`submittedOnDailyAt`), not its arXiv date.

One bad item never costs the day: an item that cannot be read (no id or title, an id that is not
valid Unicode, anything unforeseen) is skipped, and an absurd count (negative, or thousands of
digits, which Python would refuse to read at all) is left out, each with a warning naming the
source, the day and the field. The pipeline then makes every paper safe (bot/sanitize.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import date
from html.parser import HTMLParser
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field

from bot.errors import FetchError, ParseError
from bot.http import Http
from bot.models import Paper, canonical_id, fold_whitespace, split_arxiv_id
from bot.render import safe_http_url
from bot.sources.base import BaseUrl, Source, SourceSettings
from bot.sources.xml_safe import first_line

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://huggingface.co"
API_PATH = "/api/daily_papers"
PAGE_PATH = "/papers"
PAGE_TARGET = "DailyPapers"  # data-target of the element whose data-props hold the day's list


class HfDailySettings(SourceSettings):
    """`sources: - kind: hf_daily` in bot.yaml."""

    kind: Literal["hf_daily"]
    base_url: BaseUrl = DEFAULT_BASE_URL
    page_size: int = Field(default=100, ge=1, le=100)  # `limit` of each API request
    max_pages: int = Field(default=20, ge=1, le=100)  # bounds the requests of one day
    # Read the HTML page when the API answers an error status or something unreadable.
    fallback_to_page: bool = True


class HfDaily(Source):
    """Fetches one digest day of Hugging Face Daily Papers: the API, else the HTML page."""

    kind: ClassVar[str] = "hf_daily"
    Settings: ClassVar[type[SourceSettings]] = HfDailySettings
    settings: HfDailySettings

    def __init__(self, settings: SourceSettings, http: Http) -> None:
        if not isinstance(settings, HfDailySettings):
            raise TypeError(f"HfDaily needs HfDailySettings, got {type(settings).__name__}")
        super().__init__(settings, http)

    def expects_papers(self, day: date) -> bool:
        """Daily Papers are curated on weekdays; an empty weekend is normal."""
        return day.weekday() < 5

    def fetch(self, day: date) -> list[Paper]:
        """The papers listed for `day`. An empty day is []; a failure raises FetchError."""
        api_url = self.settings.base_url + API_PATH
        try:
            return self._fetch_api(api_url, day)
        except FetchError as api_error:
            # An unreachable host, a timeout or an oversized body will not be cured by asking
            # the same host for another URL; an HTTP error status or an unreadable answer may
            # be specific to the API, so the page gets a chance.
            may_fall_back = isinstance(api_error, ParseError) or api_error.status is not None
            if not self.settings.fallback_to_page or api_error.unreachable or not may_fall_back:
                raise
            page_url = self.settings.base_url + PAGE_PATH
            log.warning(
                "%s: API failed for %s (%s); falling back to %s",
                self.name,
                day.isoformat(),
                api_error,
                page_url,
            )
            try:
                return self._fetch_page(page_url, day)
            except FetchError as page_error:
                raise FetchError(
                    f"API: {api_error}; page: {page_error}",
                    url=api_url,
                    status=api_error.status,
                    retryable=api_error.retryable or page_error.retryable,
                    unreachable=page_error.unreachable,
                    hint=api_error.hint
                    or page_error.hint
                    or "Hugging Face may be down or have changed its format; "
                    "the day is fetched again on the next run",
                ) from page_error

    def probe(self) -> str:
        """One API request for the latest list, one item: the API answers a JSON list."""
        url = self.settings.base_url + API_PATH
        response = self.http.get(url, {"limit": 1})
        try:
            _json_list(response.content, "the daily papers API")
        except ParseError as exc:
            exc.url = exc.url or response.url
            raise
        return f"{response.url}: HTTP {response.status}, the daily papers API answered"

    def _fetch_api(self, url: str, day: date) -> list[Paper]:
        size = self.settings.page_size
        papers: dict[str, Paper] = {}
        for page in range(self.settings.max_pages):
            params: dict[str, str | int] = {"date": day.isoformat(), "limit": size, "p": page}
            response = self.http.get(url, params)
            try:
                items = _json_list(response.content, "the daily papers API")
                found = _papers_from_items(
                    items, base_url=self.settings.base_url, context=self._context(day)
                )
            except ParseError as exc:
                exc.url = exc.url or response.url
                raise
            added = [p for p in found if p.id not in papers]
            papers.update((p.id, p) for p in added)
            # A short page is the last one. A full page that adds nothing new means the API
            # ignores `p` (it would repeat forever), so that ends the day too.
            if len(items) < size or not added:
                break
        else:
            log.warning(
                "%s: %s still had full pages after max_pages=%d; raise max_pages to get the rest",
                self.name,
                day.isoformat(),
                self.settings.max_pages,
            )
        return list(papers.values())

    def _context(self, day: date) -> str:
        """How this fetch's warnings begin: the source and the digest day."""
        return f"{self.name} {day.isoformat()}"

    def _fetch_page(self, url: str, day: date) -> list[Paper]:
        response = self.http.get(url, {"date": day.isoformat()})
        try:
            return parse_page(
                response.content, base_url=self.settings.base_url, context=self._context(day)
            )
        except ParseError as exc:
            exc.url = exc.url or response.url
            raise


def parse_api(
    content: bytes, *, base_url: str = DEFAULT_BASE_URL, context: str = "hf_daily"
) -> list[Paper]:
    """Papers from one `/api/daily_papers` answer (a JSON array of daily-papers items).
    A malformed item, or field, is skipped with a warning beginning with `context`."""
    items = _json_list(content, "the daily papers API")
    return _papers_from_items(items, base_url=base_url, context=context)


def parse_page(
    content: bytes, *, base_url: str = DEFAULT_BASE_URL, context: str = "hf_daily"
) -> list[Paper]:
    """Papers from the `/papers?date=...` HTML page (2024 and current schemas)."""
    finder = _PropsFinder(PAGE_TARGET)
    finder.feed(content.decode("utf-8", errors="replace"))
    finder.close()
    if finder.props is None:
        raise ParseError(
            f'no element with data-target="{PAGE_TARGET}" and data-props in the page',
            hint="Hugging Face may have changed its page; the API is the primary source",
        )
    try:
        props = _json(finder.props)
    except _NOT_JSON as exc:
        raise ParseError(
            f"data-props of the {PAGE_TARGET} element is not JSON ({_why(exc)})"
        ) from exc
    if not isinstance(props, dict):
        raise ParseError(f"data-props of the page: expected a JSON object, found {_kind(props)}")
    items = props.get("dailyPapers")
    if not isinstance(items, list):
        raise ParseError(
            f"data-props of the page: expected a dailyPapers list, found {_kind(items)}"
        )
    # The 2024 page's items carry no submittedOnDailyAt: the page's own date is their day.
    return _papers_from_items(
        items, base_url=base_url, page_day=_iso_date(props.get("date")), context=context
    )


class _PropsFinder(HTMLParser):
    """Keeps the (unescaped) `data-props` of the first element with the given `data-target`."""

    def __init__(self, target: str) -> None:
        super().__init__(convert_charrefs=True)
        self.target = target
        self.props: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.props is not None:
            return
        values = dict(attrs)
        if values.get("data-target") == self.target and values.get("data-props") is not None:
            self.props = values["data-props"]


class _BigNumber:
    """A JSON integer too long to be any count (Python refuses to read 4300 digits or more:
    one such number would make the whole answer unreadable). Read as this, then skipped."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _int(text: str) -> int | _BigNumber:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= 18 else _BigNumber(digits)


# JSONDecodeError and UnicodeDecodeError are ValueErrors; a deeply nested answer is too deep
# for Python's reader (RecursionError): each is an unreadable answer.
_NOT_JSON = (ValueError, RecursionError)


def _json(text: str | bytes) -> Any:
    return json.loads(text, parse_int=_int)


def _why(exc: Exception) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else first_line(exc)


def _json_list(content: bytes, what: str) -> list[Any]:
    try:
        data = _json(content)
    except _NOT_JSON as exc:
        raise ParseError(
            f"{what} did not answer JSON ({_why(exc)}); "
            f"it began {content[:60].decode('utf-8', errors='replace')!r}"
        ) from exc
    if not isinstance(data, list):
        raise ParseError(f"{what}: expected a JSON list of papers, found {_kind(data)}")
    return data


def _papers_from_items(
    items: list[Any], *, base_url: str, page_day: date | None = None, context: str = "hf_daily"
) -> list[Paper]:
    papers: list[Paper] = []
    for index, item in enumerate(items):
        try:
            paper = _paper(item, base_url=base_url, page_day=page_day, context=context)
        except _BadField as exc:
            log.warning("%s: skipping item %d: %s: %s", context, index, exc.field, exc)
            continue
        except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
            # An item nobody foresaw: the item is skipped, never the day.
            log.warning(
                "%s: skipping item %d: %s: %s", context, index, type(exc).__name__, _why(exc)
            )
            continue
        if paper is None:
            log.warning(
                "%s: skipping item %d: no paper, id or title (%.120r)", context, index, item
            )
        else:
            papers.append(paper)
    if items and not papers:
        raise ParseError(
            f"none of the {len(items)} daily papers items has a paper id and title",
            hint="Hugging Face may have changed its format",
        )
    return papers


class _BadField(ValueError):
    """An item's field that makes the item unusable: the item is skipped, naming the field."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(why)
        self.field = field


def _paper(item: Any, *, base_url: str, page_day: date | None, context: str) -> Paper | None:
    """One daily-papers item as a Paper, or None if it lacks a paper, an id or a title.
    Raises _BadField for an id that is not valid Unicode (it could not even go in a URL)."""
    if not isinstance(item, dict):
        return None
    paper = item.get("paper")
    if not isinstance(paper, dict):
        return None
    raw_id = _text(paper.get("id"))
    title = fold_whitespace(_text(item.get("title")) or _text(paper.get("title")))
    if not raw_id or not title:
        return None
    if not raw_id.isascii() and any("\ud800" <= ch <= "\udfff" for ch in raw_id):
        raise _BadField("paper.id", "not valid Unicode (a lone surrogate)")
    arxiv = split_arxiv_id(raw_id)
    hf_url = f"{base_url}/papers/{quote(raw_id)}"
    published = _iso_date(paper.get("publishedAt"))
    paper_id = canonical_id(raw_id, "hf")
    return Paper(
        id=paper_id,
        title=title,
        abstract=fold_whitespace(_text(paper.get("summary")) or _text(item.get("summary"))),
        authors=tuple(
            name
            for author in _list(paper.get("authors"))
            if isinstance(author, dict) and (name := fold_whitespace(_text(author.get("name"))))
        ),
        url=f"https://arxiv.org/abs/{arxiv[0]}" if arxiv else hf_url,
        published=published.isoformat() if published else "",
        day=_iso_date(paper.get("submittedOnDailyAt")) or page_day,
        source="hf_daily",
        version=arxiv[1] if arxiv else None,
        extras=_extras(item, paper, hf_url, f"{context}: paper {paper_id[:80]}"),
    )


def _extras(
    item: Mapping[str, Any], paper: Mapping[str, Any], hf_url: str, where: str
) -> dict[str, Any]:
    keywords = [fold_whitespace(k) for k in _list(paper.get("ai_keywords")) if isinstance(k, str)]
    organization = item.get("organization") or paper.get("organization")
    org_name = (
        _text(organization.get("fullname")) or _text(organization.get("name"))
        if isinstance(organization, dict)
        else ""
    )
    candidates: dict[str, Any] = {
        "upvotes": _count(paper.get("upvotes"), "upvotes", where),
        "ai_summary": fold_whitespace(_text(paper.get("ai_summary"))),
        "ai_keywords": [k for k in keywords if k],
        "github_repo": safe_http_url(paper.get("githubRepo")),
        "github_stars": _count(paper.get("githubStars"), "githubStars", where),
        "project_page": safe_http_url(paper.get("projectPage")),
        "hf_url": safe_http_url(hf_url),
        "num_comments": _count(item.get("numComments"), "numComments", where),
        "organization": org_name.strip(),
    }
    return {key: value for key, value in candidates.items() if value not in (None, "", [])}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _count(value: object, field: str, where: str) -> int | None:
    """A count (upvotes, stars...), or None; an absurd one is skipped with a warning."""
    if isinstance(value, _BigNumber):
        log.warning("%s: %s: a number of %d digits, skipped", where, field, value.digits)
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if value < 0:
        log.warning("%s: %s: %d is not a count, skipped", where, field, value)
        return None
    return value


def _iso_date(value: object) -> date | None:
    """The date part of an ISO timestamp such as "2026-07-31T00:00:00.000Z"."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _kind(value: object) -> str:
    """How a parsed JSON value is named in an error message."""
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(k) for k in value)[:5])
        return f"a JSON object with keys {keys}" if keys else "an empty JSON object"
    if value is None:
        return "null"
    if isinstance(value, list):
        return f"a JSON list of {len(value)}"
    if isinstance(value, str):
        return f"a JSON string ({value[:60]!r})"
    return f"a JSON {'boolean' if isinstance(value, bool) else 'number'} ({value!r})"
