"""bioRxiv and medRxiv (`kind: biorxiv`): the preprints a server posted, from api.biorxiv.org.

`GET {base_url}/details/{server}/{from}/{to}/{cursor}/json` answers one page of the records
posted in an interval of days:

    {"messages": [{"status": "ok", "interval": "...", "cursor": 0, "count": 100, "total": "231"}],
     "collection": [{"doi": "10.1101/456574", "title": ..., "authors": "Naka, A.; Shababo, B.",
                     "date": "2018-10-30", "version": "1", "category": "neuroscience",
                     "abstract": ..., "published": "10.7554/eLife.43696" or "NA", ...}]}

- Digest day D lists the preprints posted on D-1: bioRxiv posts through the US day, so the day
  before is the last complete one when a morning run comes (like arXiv's listing dated D, which
  holds the submissions of D-1). A look-back day picks up what was posted late.
- Pages: the next cursor is the cursor plus the `count` the answer reports (never plus a page
  size: the API has served pages of 100 and of 30, and a cursor out of step silently skips
  records), until `total` is reached. An empty page before `total` is a failure (it would
  never end), as is every answer whose `messages[0].status` is not `ok`: bioRxiv reports its
  errors inside HTTP 200, and a failure is never an empty day.
- Ids: `doi:10.1101/...` without version (`identity.doi_id`), so a new version of a paper
  already seen is not new; the version is kept. Authors are one `;`-separated string upstream.
  A record whose `published` names a journal DOI keeps it (`extras["published_doi"]`) and is
  known by it too (an alias: the journal feed's item for it is the same paper).
- `categories` (optional) keeps the records of those categories (as bioRxiv names them,
  case-insensitive, `_` for a space); the rest are left out.

`parse_details` is pure (bytes in, one page out); `Biorxiv.fetch` does the I/O.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from bot.errors import FetchError, ParseError
from bot.http import Http
from bot.identity import ALIASES, doi_id, normalize_doi
from bot.models import Paper, fold_whitespace
from bot.sources.base import BaseUrl, Source, SourceSettings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.biorxiv.org"
HOSTS = {"biorxiv": "https://www.biorxiv.org", "medrxiv": "https://www.medrxiv.org"}
Server = Literal["biorxiv", "medrxiv"]


class BiorxivSettings(SourceSettings):
    """`sources: - kind: biorxiv` in bot.yaml."""

    kind: Literal["biorxiv"]
    server: Server = "biorxiv"
    categories: list[str] = Field(default_factory=list)  # empty: every category
    base_url: BaseUrl = DEFAULT_BASE_URL
    max_pages: int = Field(default=100, ge=1, le=1000)  # bounds the requests of one day

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        if any(not c.strip() for c in value):
            raise ValueError("entries must not be blank")
        return list(dict.fromkeys(_category_key(c) for c in value))


@dataclass(frozen=True)
class DetailsPage:
    """One page of `/details`: where it starts, how many records it says it holds, the total
    the interval has, and the papers read from its records (all categories)."""

    cursor: int
    count: int
    total: int
    papers: list[Paper] = field(default_factory=list)


class Biorxiv(Source):
    """Fetches the preprints bioRxiv or medRxiv posted the day before each digest day."""

    kind: ClassVar[str] = "biorxiv"
    Settings: ClassVar[type[SourceSettings]] = BiorxivSettings
    settings: BiorxivSettings

    def __init__(self, settings: SourceSettings, http: Http) -> None:
        if not isinstance(settings, BiorxivSettings):
            raise TypeError(f"Biorxiv needs BiorxivSettings, got {type(settings).__name__}")
        super().__init__(settings, http)

    def expects_papers(self, day: date) -> bool:
        """bioRxiv and medRxiv post every day; with a category filter, a day without a paper
        of those categories is normal."""
        return not self.settings.categories

    def fetch(self, day: date) -> list[Paper]:
        """The preprints posted on the day before `day` (of the configured categories), each
        listed on `day`. Raises FetchError (ParseError) on a failure or an error answer."""
        posted = day - timedelta(days=1)
        papers: dict[str, Paper] = {}
        cursor = 0
        for _ in range(self.settings.max_pages):
            page = self._page(posted, cursor)
            for paper in page.papers:
                kept = papers.get(paper.id)
                if kept is None or _version(paper) > _version(kept):
                    papers[paper.id] = paper  # two versions posted the same day: the latest
            cursor = page.cursor + page.count
            if cursor >= page.total:
                break
            if page.count <= 0:
                raise ParseError(
                    f"bioRxiv answered an empty page at cursor {page.cursor} of {page.total}",
                    url=self._url(posted, page.cursor),
                    hint="bioRxiv may be updating; the day is fetched again on the next run",
                )
        else:
            log.warning(
                "%s: %s still had records after max_pages=%d; raise max_pages to get the rest",
                self.name,
                posted.isoformat(),
                self.settings.max_pages,
            )
        wanted = self.settings.categories
        return [
            replace(p, day=day)
            for p in papers.values()
            if not wanted or any(_category_key(c) in wanted for c in p.categories)
        ]

    def probe(self) -> str:
        """The first page of yesterday's records (UTC): the API answers with status ok."""
        posted = datetime.now(UTC).date() - timedelta(days=1)
        page = self._page(posted, 0)
        return (
            f"{self._url(posted, 0)}: status ok, {page.total} {self.settings.server} record(s) "
            f"posted on {posted}"
        )

    def _url(self, posted: date, cursor: int) -> str:
        day = posted.isoformat()
        return f"{self.settings.base_url}/details/{self.settings.server}/{day}/{day}/{cursor}/json"

    def _page(self, posted: date, cursor: int) -> DetailsPage:
        response = self.http.get(self._url(posted, cursor))
        try:
            page = parse_details(response.content, server=self.settings.server)
        except FetchError as exc:
            exc.url = exc.url or response.url
            raise
        if page.cursor != cursor:
            raise ParseError(
                f"asked for cursor {cursor}, bioRxiv answered the page at cursor {page.cursor}",
                url=response.url,
                hint="check the source's base_url in bot.yaml: it should serve api.biorxiv.org",
            )
        return page


def parse_details(content: bytes, *, server: str = "biorxiv") -> DetailsPage:
    """One `/details` answer. Raises FetchError (not retryable) when bioRxiv reports an error
    status, ParseError when the answer is not a readable page. A record that cannot be read
    (no DOI or title) is skipped with a warning; if none can be, ParseError."""
    head = content[:200].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise ParseError(
            "bioRxiv answered an HTML page, not JSON",
            hint="bioRxiv (or a proxy in between) may be down or in maintenance; "
            "the day is fetched again on the next run",
        )
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:
        shown = content[:60].decode("utf-8", errors="replace")
        raise ParseError(
            f"bioRxiv did not answer JSON ({type(exc).__name__}); it began {shown!r}",
            hint="the answer was cut short or garbled; the day is fetched again on the next run",
        ) from exc
    messages = data.get("messages") if isinstance(data, dict) else None
    message = messages[0] if isinstance(messages, list) and messages else None
    if not isinstance(message, dict):
        raise ParseError("bioRxiv's answer has no messages[0]: not a /details page")
    status = message.get("status")
    if status != "ok":
        raise FetchError(
            f"bioRxiv answered status {str(status)[:200]!r}",
            retryable=False,
            hint="bioRxiv reports errors (and intervals it has nothing for) this way; "
            "the day is fetched again on the next run",
        )
    collection = data.get("collection")
    if not isinstance(collection, list):
        raise ParseError("bioRxiv's answer has no collection list")
    cursor = _count(message.get("cursor"), "cursor")
    total = _count(message.get("total"), "total")
    count = _count(message.get("count", len(collection)), "count")
    papers: list[Paper] = []
    for index, record in enumerate(collection):
        paper = _paper(record, server)
        if paper is None:
            log.warning("%s: skipping record %d: no DOI or title (%.120r)", server, index, record)
        else:
            papers.append(paper)
    if collection and not papers:
        raise ParseError(
            f"none of the {len(collection)} bioRxiv records has a DOI and a title",
            hint="bioRxiv may have changed its format",
        )
    return DetailsPage(cursor=cursor, count=count, total=total, papers=papers)


def split_authors(text: str) -> tuple[str, ...]:
    """Names from bioRxiv's `authors`: "Naka, A.; Shababo, B.; Adesnik, H."."""
    return tuple(name for part in text.split(";") if (name := fold_whitespace(part)))


def _paper(record: Any, server: str) -> Paper | None:
    if not isinstance(record, dict):
        return None
    doi = normalize_doi(_text(record.get("doi")))
    title = fold_whitespace(_text(record.get("title")))
    if doi is None or not title:
        return None
    version = _text(record.get("version")).strip()
    published = normalize_doi(_text(record.get("published")))  # "NA" until published
    category = fold_whitespace(_text(record.get("category")))
    host = HOSTS.get(_text(record.get("server")).strip().lower(), HOSTS.get(server, ""))
    extras: dict[str, Any] = {
        "doi": doi,
        "published_doi": published,
        "license": _text(record.get("license")).strip(),
        "type": fold_whitespace(_text(record.get("type"))),
    }
    if published is not None:
        extras[ALIASES] = [doi_id(published)]
    return Paper(
        id=doi_id(doi) or f"doi:{doi}",
        title=title,
        abstract=fold_whitespace(_text(record.get("abstract"))),
        authors=split_authors(_text(record.get("authors"))),
        url=f"{host}/content/{doi}" + (f"v{version}" if version.isdigit() else ""),
        categories=(category,) if category else (),
        published=_iso_date(record.get("date")),
        version=f"v{version}" if version.isdigit() else None,
        extras={key: value for key, value in extras.items() if value},
    )


def _version(paper: Paper) -> int:
    digits = (paper.version or "").lstrip("v")
    return int(digits) if digits.isdigit() and len(digits) < 6 else 0


def _category_key(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def _count(value: object, what: str) -> int:
    """A count of messages[0] (an int, or a numeric string: the API sends both)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        value = int(value.strip())
    if not isinstance(value, int) or value < 0:
        raise ParseError(f"bioRxiv's messages[0].{what} is not a count: {str(value)[:40]!r}")
    return value


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _iso_date(value: object) -> str:
    try:
        return date.fromisoformat(_text(value).strip()[:10]).isoformat()
    except ValueError:
        return ""
