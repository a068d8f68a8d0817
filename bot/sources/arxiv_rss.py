"""arXiv's daily listing by RSS (`kind: arxiv_rss`): the papers announced in some categories.

`GET rss.arxiv.org/rss/cs.LG+stat.ML` answers the latest listing of those categories: one item
per announced paper, its announce type (`new`, `cross`, `replace`, `replace-cross`), and the
day the listing is dated in the channel's `<pubDate>` (see `arxiv_calendar` for the schedule).
The feed only ever shows the latest listing, so `fetch(day)` compares the two days:

- `day` is not a digest day (weekend, configured holiday): [] without any request, since
  arXiv lists nothing that day and `expects_papers(day)` is False.
- the feed is dated `day`: its papers, of the configured announce types (possibly none: the
  pipeline decides whether an empty digest day is suspicious).
- the feed is dated before `day`: `StaleError`, the listing of `day` is not out yet.
- the feed is dated after `day` (a past day, e.g. a missed run or `lookback_days`): catch-up
  through the API (`arxiv_query.search_api`) with `(cat:A OR cat:B) AND submittedDate:[window]`
  for that day's submission window. The API window gives the day's NEW submissions, including
  those cross-listed into these categories, by submission date; it does not give that day's
  replacements (nor cross-lists of older papers), which the RSS listing would have had.
- the feed has no date and no items: [] on a digest day (the pipeline calls that an unexpected
  empty day); with items but no date, nothing says which day they are: `ParseError`.

Parsing is the pure `arxiv_feed.parse_rss`; all requests go through the shared "arxiv" pace.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from bot.errors import ParseError, StaleError
from bot.http import Http, Pace
from bot.models import Paper
from bot.sources.arxiv_calendar import (
    ANNOUNCE_TIME,
    ARXIV_TZ,
    Holidays,
    api_date_range,
    is_digest_day,
    submission_window,
)
from bot.sources.arxiv_feed import RssBatch, parse_rss
from bot.sources.arxiv_query import (
    DEFAULT_API_BASE_URL,
    MAX_TOTAL_RESULTS,
    PACE_GROUP,
    search_api,
)
from bot.sources.base import BaseUrl, Source, SourceSettings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://rss.arxiv.org"
CATCHUP_PAGE_SIZE = 200  # `max_results` of each catch-up API request
FEED_REUSE_SECONDS = 600.0  # a run asks for several days; the feed is read once per run

AnnounceType = Literal["new", "cross", "replace", "replace-cross"]

# An arXiv category: an archive (cs, math, hep-th, cond-mat, q-bio...) and, for most, a
# subject class after a dot (cs.LG, math.AP, stat.ML, cond-mat.str-el, physics.optics).
_CATEGORY = re.compile(r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]+(?:-[A-Za-z]+)*)?")


def _default_announce_types() -> list[AnnounceType]:
    return ["new", "cross"]  # new papers, and papers of other categories cross-listed here


class ArxivRssSettings(SourceSettings):
    """`sources: - kind: arxiv_rss` in bot.yaml."""

    kind: Literal["arxiv_rss"]
    categories: list[str] = Field(min_length=1)  # e.g. [cs.LG, stat.ML]: one combined feed
    base_url: BaseUrl = DEFAULT_BASE_URL
    api_base_url: BaseUrl = DEFAULT_API_BASE_URL  # for catching up on past days
    announce_types: list[AnnounceType] = Field(default_factory=_default_announce_types)
    holidays: Holidays = Field(default_factory=list)  # weekdays without an arXiv listing
    min_interval: float = Field(default=3.0, ge=0)  # s between arXiv requests (>= 3 on arXiv)
    max_catchup_results: int = Field(default=2000, ge=1, le=MAX_TOTAL_RESULTS)

    @field_validator("categories")
    @classmethod
    def _arxiv_categories(cls, value: list[str]) -> list[str]:
        cleaned = [c.strip() for c in value]
        bad = [c for c in cleaned if not _CATEGORY.fullmatch(c)]
        if bad:
            raise ValueError(
                f"not an arXiv category: {', '.join(repr(c) for c in bad)} "
                "(expected names like cs.LG, math.AP, hep-th, stat.ML; one per list item)"
            )
        return list(dict.fromkeys(cleaned))

    @property
    def feed_path(self) -> str:
        return "/rss/" + "+".join(self.categories)


class ArxivRss(Source):
    """Fetches one digest day's arXiv listing of some categories: the RSS feed, or the API
    for a day the feed has moved past."""

    kind: ClassVar[str] = "arxiv_rss"
    Settings: ClassVar[type[SourceSettings]] = ArxivRssSettings
    settings: ArxivRssSettings

    def __init__(self, settings: SourceSettings, http: Http) -> None:
        if not isinstance(settings, ArxivRssSettings):
            raise TypeError(f"ArxivRss needs ArxivRssSettings, got {type(settings).__name__}")
        super().__init__(settings, http)
        self._cached: tuple[float, RssBatch, str] | None = None

    @property
    def _pace(self) -> Pace:
        return Pace(PACE_GROUP, self.settings.min_interval)

    def expects_papers(self, day: date) -> bool:
        """arXiv lists papers on weekdays that are not configured holidays."""
        return is_digest_day(day, self.settings.holidays)

    def fetch(self, day: date) -> list[Paper]:
        """The papers of the listing dated `day` (see the module docstring for each case)."""
        if not self.expects_papers(day):
            return []  # no listing on this day: nothing to ask arXiv
        batch, feed_url = self._feed()
        if batch.day is None:
            if batch.papers:
                raise ParseError(
                    "the feed has items but no <pubDate>: cannot tell which day they were listed",
                    url=feed_url,
                    hint="arXiv may have changed its feed format",
                )
            return []
        if batch.day == day:
            return [replace(p, source=self.kind) for p in batch.papers]
        if batch.day < day:
            raise StaleError(
                f"feed still shows the {batch.day} listing",
                url=feed_url,
                hint=f"arXiv announces the {day} listing at {ANNOUNCE_TIME:%H:%M} "
                f"{ARXIV_TZ.key} the evening before; the day is fetched again on the next run",
            )
        return self._catch_up(day, shown=batch.day)

    def probe(self) -> str:
        """The feed itself (one request), parsed: its date and item count."""
        batch, url = self._feed()
        shown = f"listing of {batch.day}" if batch.day else "no listing date"
        return f"{url}: feed readable, {shown}, {len(batch.papers)} item(s) kept"

    def _feed(self) -> tuple[RssBatch, str]:
        """The parsed feed, fetched at most once per FEED_REUSE_SECONDS: one run asks for
        several days (look-back, catch-up) and the feed is the same for all of them."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < FEED_REUSE_SECONDS:
            return self._cached[1], self._cached[2]
        url = self.settings.base_url + self.settings.feed_path
        response = self.http.get(url, pace=self._pace)
        try:
            batch = parse_rss(
                response.content, announce_types=frozenset(self.settings.announce_types)
            )
        except ParseError as exc:
            exc.url = exc.url or response.url
            raise
        self._cached = (now, batch, response.url)
        return batch, response.url

    def _catch_up(self, day: date, *, shown: date) -> list[Paper]:
        categories = " OR ".join(f"cat:{c}" for c in self.settings.categories)
        window = api_date_range(submission_window(day, self.settings.holidays))
        log.info(
            "%s: the feed shows %s; reading %s's submissions from the API",
            self.name,
            shown,
            day,
        )
        papers = search_api(
            self.http,
            self.settings.api_base_url,
            f"({categories}) AND {window}",
            page_size=min(CATCHUP_PAGE_SIZE, self.settings.max_catchup_results),
            max_results=self.settings.max_catchup_results,
            pace=self._pace,
            name=self.name,
        )
        return [replace(p, day=day, source=self.kind) for p in papers]
