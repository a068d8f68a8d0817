"""A saved arXiv search (`kind: arxiv_query`): the papers of one digest day matching a query.

This module owns the arXiv API (`GET export.arxiv.org/api/query`): `search_api` pages through
the results of one `search_query`, newest submission first, and is also what the `arxiv_rss`
source uses to catch up on a past day. `ArxivQuery.fetch(day)` asks for
`(<query>) AND submittedDate:[<window>]`, where the window is the submissions of that digest
day's listing (see `arxiv_calendar`), and labels every paper with `day`.

The API's answers are parsed by the pure `arxiv_feed.parse_atom`. arXiv answers a malformed
query with HTTP 400 and an Atom feed whose one entry is titled "Error": `Http` does not retry a
400, and this module reads arXiv's message from the body the `FetchError` carries, so the user
sees "arXiv API error: ..." rather than "HTTP 400". All requests go through the shared "arxiv"
pace: one at a time, at least `min_interval` (and for arXiv hosts never less than 3 s) apart.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from bot.errors import FetchError, ParseError
from bot.http import Http, Pace
from bot.models import Paper
from bot.sources.arxiv_calendar import (
    Holidays,
    api_date_range,
    is_digest_day,
    submission_window,
)
from bot.sources.arxiv_feed import AtomPage, parse_atom
from bot.sources.base import BaseUrl, Source, SourceSettings

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://export.arxiv.org"
API_PATH = "/api/query"
PACE_GROUP = "arxiv"  # the group Http forces on arXiv hosts: RSS and API requests share it
MAX_PAGE_SIZE = 2000  # arXiv's limit on max_results per request
MAX_TOTAL_RESULTS = 30000  # arXiv's limit on the results reachable by paging one query


class ArxivQuerySettings(SourceSettings):
    """`sources: - kind: arxiv_query` in bot.yaml."""

    kind: Literal["arxiv_query"]
    # arXiv search syntax, e.g. 'abs:"retrieval augmented" AND cat:cs.IR'. The day's
    # submission window is added to it: `(<query>) AND submittedDate:[...]`.
    query: str = Field(min_length=1)
    base_url: BaseUrl = DEFAULT_API_BASE_URL
    page_size: int = Field(default=200, ge=1, le=MAX_PAGE_SIZE)  # `max_results` per request
    max_results: int = Field(default=2000, ge=1, le=MAX_TOTAL_RESULTS)  # per digest day
    holidays: Holidays = Field(default_factory=list)  # weekdays without an arXiv listing
    min_interval: float = Field(default=3.0, ge=0)  # seconds between arXiv requests (>= 3 on arXiv)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank")
        return value.strip()


class ArxivQuery(Source):
    """Fetches the papers submitted in one digest day's window that match a saved query."""

    kind: ClassVar[str] = "arxiv_query"
    Settings: ClassVar[type[SourceSettings]] = ArxivQuerySettings
    settings: ArxivQuerySettings

    def __init__(self, settings: SourceSettings, http: Http) -> None:
        if not isinstance(settings, ArxivQuerySettings):
            raise TypeError(f"ArxivQuery needs ArxivQuerySettings, got {type(settings).__name__}")
        super().__init__(settings, http)

    def expects_papers(self, day: date) -> bool:
        """Never: a saved query may match nothing on any day, so an empty day is normal."""
        return False

    def fetch(self, day: date) -> list[Paper]:
        """The matching papers submitted for digest `day`'s listing, newest first, labelled
        `day`. A weekend or holiday has no listing: [] without a request."""
        holidays = self.settings.holidays
        if not is_digest_day(day, holidays):
            return []
        window = api_date_range(submission_window(day, holidays))
        papers = search_api(
            self.http,
            self.settings.base_url,
            f"({self.settings.query}) AND {window}",
            page_size=self.settings.page_size,
            max_results=self.settings.max_results,
            pace=Pace(PACE_GROUP, self.settings.min_interval),
            name=self.name,
        )
        return [replace(p, day=day, source=self.kind) for p in papers]

    def probe(self) -> str:
        """The saved query, one result: arXiv answers, and accepts the query's syntax."""
        url = self.settings.base_url + API_PATH
        params: dict[str, str | int] = {"search_query": self.settings.query, "max_results": 1}
        pace = Pace(PACE_GROUP, self.settings.min_interval)
        page, _ = _get_page(self.http, url, params, pace)
        total = "unknown" if page.total is None else str(page.total)
        return f"{url}: the query is accepted ({total} result(s) in all)"


def search_api(
    http: Http,
    base_url: str,
    search_query: str,
    *,
    page_size: int,
    max_results: int,
    pace: Pace,
    name: str = "arxiv",
) -> list[Paper]:
    """All results of `search_query`, newest submission first, paged `page_size` at a time
    until arXiv's totalResults (or, when it gives none, a short or empty page) or
    `max_results`. Papers have no day or source. Raises FetchError (arXiv's message for a
    malformed query; an empty page before totalResults, asked again, still empty) or
    ParseError."""
    url = base_url + API_PATH
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    papers: dict[str, Paper] = {}
    start = 0
    total: int | None = None
    while start < max_results:
        size = min(page_size, max_results - start)
        params: dict[str, str | int] = {
            "search_query": search_query,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
            "start": start,
            "max_results": size,
        }
        page = _get_full_page(http, url, params, pace, total, name)
        # The highest count given stands: arXiv's flaky empty page may say 0 results.
        total = page.total if total is None else max(total, page.total or 0)
        if not page.papers:
            break  # totalResults reached (or not given): the end
        for paper in page.papers:
            papers.setdefault(paper.id, paper)
        start += len(page.papers)
        if (total is not None and start >= total) or (total is None and len(page.papers) < size):
            break
    else:
        if total is not None and total > max_results:
            log.warning(
                "%s: the query has %d results; only the newest %d were read "
                "(raise max_results to read more)",
                name,
                total,
                max_results,
            )
    return list(papers.values())[:max_results]


def _get_full_page(
    http: Http,
    url: str,
    params: dict[str, str | int],
    pace: Pace,
    total: int | None,
    name: str,
) -> AtomPage:
    """The page at `params["start"]`. arXiv's API now and then answers an empty page in the
    middle of a result set; its manual says to ask again. So an empty page before `total`
    (the count an earlier page gave, or this one's) is asked for again, as often as `Http`
    retries and waiting as long, and still empty it is a FetchError: the day fails and is
    fetched again on the next run, never cut short as if it had ended."""
    start = int(params["start"])
    attempts = http.settings.retries + 1
    for attempt in range(1, attempts + 1):
        page, page_url = _get_page(http, url, params, pace)
        expected = max(total or 0, page.total or 0)
        if page.papers or start >= expected:
            return page
        if attempt < attempts:
            # The wait is the pace's: at least the backoff after the empty answer.
            wait = http.settings.backoff * 2 ** (attempt - 1)
            pace = Pace(pace.group, max(pace.interval, wait))
            log.info(
                "%s: arXiv answered an empty page at start=%d of %d results; retry %d/%d in %.1fs",
                name,
                start,
                expected,
                attempt,
                attempts - 1,
                pace.interval,
            )
    raise FetchError(
        f"arXiv answered an empty page at start={start} of {expected} results, "
        f"{attempts} times in a row",
        url=page_url,
        hint="arXiv's API sometimes answers an empty page in the middle of a result set; "
        "the day is fetched again on the next run",
    )


def _get_page(
    http: Http, url: str, params: dict[str, str | int], pace: Pace
) -> tuple[AtomPage, str]:
    """One page of results and the URL that answered it."""
    try:
        response = http.get(url, params, pace=pace)
    except FetchError as exc:
        if exc.body and exc.status is not None and 400 <= exc.status < 500:
            _raise_api_message(exc)
        raise
    try:
        return parse_atom(response.content, url=response.url), response.url
    except ParseError as exc:
        exc.url = exc.url or response.url
        raise


def _raise_api_message(error: FetchError) -> None:
    """If a 4xx answer's body is arXiv's error feed, raise its message instead of "HTTP 400"."""
    assert error.body is not None
    try:
        parse_atom(error.body, url=error.url)
    except ParseError:
        return  # not a feed (an HTML error page...): the plain HTTP error stands
    except FetchError as api_error:
        api_error.status = error.status
        raise api_error from error
