"""arXiv's announcement calendar: which days have a listing, and which submissions are in it.

The model (pure, no I/O; every time is computed in America/New_York with zoneinfo, so the
switches to and from daylight saving time are handled, and returned in UTC):

- arXiv announces Sunday to Thursday at 20:00 US Eastern. Each announcement is the listing
  DATED the next day: the RSS `<pubDate>` of Thursday's feed reads "Thu, ... 00:00:00 -0400"
  and was announced on Wednesday at 20:00. So the *digest days* (the days a listing is dated)
  are Monday to Friday, minus the configured `holidays`: a holiday is a weekday with no listing.
- The submissions in the listing of digest day D are those received between the cutoff of
  the previous digest day and the cutoff of D, where `cutoff(D)` is 14:00 America/New_York on
  the last weekday (Monday to Friday) strictly before D. D = Tuesday: Monday 14:00; D = Monday:
  Friday 14:00. Submissions of a holiday's window roll into the next digest day's listing.

The approximation: the real schedule has exceptions this model does not know about. Around
holidays arXiv may move the deadline or announce on unusual days; the cutoff is the nominal
14:00, while arXiv counts the submission's final time stamp; a window is given to the minute
and both ends are inclusive in the API, so a paper submitted in the very minute of a cutoff can
fall in two windows (papers seen before are skipped, so that costs nothing). Replacements and
cross-lists are announced by the listing, not by their submission date. Configure `holidays`
from arXiv's published schedule (https://info.arxiv.org/help/availability.html).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator

ARXIV_TZ = ZoneInfo("America/New_York")
CUTOFF_TIME = time(14, 0)  # submission deadline, America/New_York
ANNOUNCE_TIME = time(20, 0)  # the listing of the next day is announced at this time

_SATURDAY = 5


def is_digest_day(d: date, holidays: Collection[date] = ()) -> bool:
    """Whether arXiv has a listing dated `d`: a weekday that is not a configured holiday."""
    return d.weekday() < _SATURDAY and d not in holidays


def previous_digest_day(d: date, holidays: Collection[date] = ()) -> date:
    """The last digest day strictly before `d` (whatever `d` itself is)."""
    day = d - timedelta(days=1)
    while not is_digest_day(day, holidays):
        day -= timedelta(days=1)
    return day


def cutoff(d: date) -> datetime:
    """The submission deadline of the listing dated `d`, in UTC: 14:00 America/New_York on
    the last weekday strictly before `d`. Holidays do not move it (see the module docstring)."""
    day = d - timedelta(days=1)
    while day.weekday() >= _SATURDAY:
        day -= timedelta(days=1)
    return datetime.combine(day, CUTOFF_TIME, tzinfo=ARXIV_TZ).astimezone(UTC)


def submission_window(d: date, holidays: Collection[date] = ()) -> tuple[datetime, datetime]:
    """(start, end) in UTC of the submissions listed on digest day `d`.

    Raises ValueError if `d` is not a digest day: it has no listing, so no window."""
    if not is_digest_day(d, holidays):
        raise ValueError(f"{d.isoformat()} is not an arXiv digest day (weekend or holiday)")
    return cutoff(previous_digest_day(d, holidays)), cutoff(d)


def api_date_range(window: tuple[datetime, datetime]) -> str:
    """The arXiv API clause for a window: `submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]`, in GMT.

    Naive datetimes are refused: the API reads these numbers as GMT, so the zone must be known.
    """
    start, end = window
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("api_date_range needs timezone-aware datetimes")
    fmt = "%Y%m%d%H%M"
    return f"submittedDate:[{start.astimezone(UTC):{fmt}} TO {end.astimezone(UTC):{fmt}}]"


def _iso_dates(value: object) -> object:
    """YAML gives `2026-12-25` as a date, `"2026-12-25"` as a string: accept both, and only
    those (a datetime, a number or a malformed string stays an error)."""
    if not isinstance(value, list):
        return value
    days: list[object] = []
    for item in value:
        if isinstance(item, str):
            try:
                days.append(date.fromisoformat(item.strip()))
            except ValueError as exc:
                raise ValueError(f"expected a date like 2026-12-25, got {item!r}") from exc
        elif isinstance(item, datetime):
            raise ValueError(f"expected a date without a time, got {item.isoformat()!r}")
        else:
            days.append(item)
    return days


# `holidays:` in the settings of the arXiv sources: weekdays on which arXiv announces nothing.
Holidays = Annotated[list[date], BeforeValidator(_iso_dates)]
