"""arXiv's announcement calendar: digest days, holidays, submission windows across DST changes.

The expected windows are worked out by hand from the model in `bot.sources.arxiv_calendar`:
the listing dated D holds what was submitted between 14:00 America/New_York on the weekday
before the previous digest day and 14:00 on the weekday before D. 14:00 is 18:00 UTC under
daylight saving time (EDT, UTC-4) and 19:00 UTC in winter (EST, UTC-5). In 2026 the US clocks
go forward on Sunday 8 March and back on Sunday 1 November.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.sources.arxiv_calendar import (
    api_date_range,
    cutoff,
    is_digest_day,
    previous_digest_day,
    submission_window,
)

THANKSGIVING = date(2026, 11, 26)  # a Thursday, configured as a holiday below
MEMORIAL_DAY = date(2026, 5, 25)  # a Monday


def utc(y: int, m: int, d: int, h: int) -> datetime:
    return datetime(y, m, d, h, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "holidays", "expected"),
    [
        (date(2026, 9, 21), (), True),  # Monday
        (date(2026, 9, 22), (), True),  # Tuesday
        (date(2026, 9, 25), (), True),  # Friday
        (date(2026, 9, 26), (), False),  # Saturday
        (date(2026, 9, 27), (), False),  # Sunday
        (THANKSGIVING, (THANKSGIVING,), False),  # a holiday in the middle of the week
        (THANKSGIVING, (), True),  # ... only when configured
        (date(2026, 11, 27), (THANKSGIVING,), True),  # the day after it
    ],
)
def test_is_digest_day(day: date, holidays: tuple[date, ...], expected: bool) -> None:
    assert is_digest_day(day, holidays) is expected


@pytest.mark.parametrize(
    ("day", "holidays", "previous"),
    [
        (date(2026, 9, 22), (), date(2026, 9, 21)),  # Tuesday -> Monday
        (date(2026, 9, 21), (), date(2026, 9, 18)),  # Monday -> Friday
        (date(2026, 9, 26), (), date(2026, 9, 25)),  # Saturday -> Friday
        (date(2026, 9, 27), (), date(2026, 9, 25)),  # Sunday -> Friday
        (date(2026, 11, 27), (THANKSGIVING,), date(2026, 11, 25)),  # skips the holiday
        (date(2026, 5, 26), (MEMORIAL_DAY,), date(2026, 5, 22)),  # Tuesday after a holiday
    ],
)
def test_previous_digest_day(day: date, holidays: tuple[date, ...], previous: date) -> None:
    assert previous_digest_day(day, holidays) == previous


@pytest.mark.parametrize(
    ("day", "holidays", "window"),
    [
        # An ordinary week in September (EDT): Monday's listing has Thursday 14:00 to Friday
        # 14:00; Tuesday's, Friday 14:00 to Monday 14:00 (the weekend included).
        (date(2026, 9, 21), (), (utc(2026, 9, 17, 18), utc(2026, 9, 18, 18))),
        (date(2026, 9, 22), (), (utc(2026, 9, 18, 18), utc(2026, 9, 21, 18))),
        (date(2026, 9, 23), (), (utc(2026, 9, 21, 18), utc(2026, 9, 22, 18))),
        (date(2026, 9, 24), (), (utc(2026, 9, 22, 18), utc(2026, 9, 23, 18))),
        (date(2026, 9, 25), (), (utc(2026, 9, 23, 18), utc(2026, 9, 24, 18))),
        # Thanksgiving (Thursday) has no listing: Friday's takes Tuesday 14:00 to Thursday
        # 14:00, two days of submissions. Wednesday's is unchanged. (EST: 19:00 UTC.)
        (date(2026, 11, 25), (THANKSGIVING,), (utc(2026, 11, 23, 19), utc(2026, 11, 24, 19))),
        (date(2026, 11, 27), (THANKSGIVING,), (utc(2026, 11, 24, 19), utc(2026, 11, 26, 19))),
        # A Monday holiday: Tuesday's listing takes Thursday 14:00 to Monday 14:00.
        (date(2026, 5, 26), (MEMORIAL_DAY,), (utc(2026, 5, 21, 18), utc(2026, 5, 25, 18))),
        # Clocks go forward on Sunday 8 March 2026: Monday's window is all EST, Tuesday's
        # starts in EST (19:00 UTC) and ends in EDT (18:00 UTC), Wednesday's is all EDT.
        (date(2026, 3, 9), (), (utc(2026, 3, 5, 19), utc(2026, 3, 6, 19))),
        (date(2026, 3, 10), (), (utc(2026, 3, 6, 19), utc(2026, 3, 9, 18))),
        (date(2026, 3, 11), (), (utc(2026, 3, 9, 18), utc(2026, 3, 10, 18))),
        # Clocks go back on Sunday 1 November 2026: the other way round.
        (date(2026, 11, 2), (), (utc(2026, 10, 29, 18), utc(2026, 10, 30, 18))),
        (date(2026, 11, 3), (), (utc(2026, 10, 30, 18), utc(2026, 11, 2, 19))),
        (date(2026, 11, 4), (), (utc(2026, 11, 2, 19), utc(2026, 11, 3, 19))),
    ],
)
def test_submission_window(
    day: date, holidays: tuple[date, ...], window: tuple[datetime, datetime]
) -> None:
    start, end = submission_window(day, holidays)

    assert (start, end) == window
    assert start.tzinfo is UTC and end.tzinfo is UTC


def test_consecutive_windows_tile_the_week_without_gaps() -> None:
    # Every submission between two cutoffs belongs to exactly one listing.
    day = date(2026, 2, 2)  # across the March DST change and a holiday
    holidays = (date(2026, 2, 16),)
    previous_end: datetime | None = None
    while day < date(2026, 4, 1):
        if is_digest_day(day, holidays):
            start, end = submission_window(day, holidays)
            assert start < end
            if previous_end is not None:
                assert start == previous_end
            previous_end = end
        day += timedelta(days=1)


@pytest.mark.parametrize("day", [date(2026, 9, 26), date(2026, 9, 27), THANKSGIVING])
def test_a_day_without_listing_has_no_window(day: date) -> None:
    with pytest.raises(ValueError, match="is not an arXiv digest day"):
        submission_window(day, (THANKSGIVING,))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 9, 21), utc(2026, 9, 18, 18)),  # Monday: Friday 14:00 EDT
        (date(2026, 3, 9), utc(2026, 3, 6, 19)),  # Monday after the change: Friday, still EST
        (date(2026, 3, 10), utc(2026, 3, 9, 18)),  # Tuesday: Monday 14:00, now EDT
    ],
)
def test_cutoff(day: date, expected: datetime) -> None:
    assert cutoff(day) == expected


@pytest.mark.parametrize(
    ("day", "clause"),
    [
        (date(2026, 9, 23), "submittedDate:[202609211800 TO 202609221800]"),
        (date(2026, 3, 10), "submittedDate:[202603061900 TO 202603091800]"),
        (date(2026, 11, 3), "submittedDate:[202610301800 TO 202611021900]"),
    ],
)
def test_api_date_range_is_in_gmt(day: date, clause: str) -> None:
    assert api_date_range(submission_window(day)) == clause


def test_api_date_range_converts_other_zones_and_refuses_naive_times() -> None:
    eastern = datetime(2026, 9, 22, 14, 0, tzinfo=ZoneInfo("America/New_York"))
    tokyo = datetime(2026, 9, 24, 3, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert api_date_range((eastern, tokyo)) == "submittedDate:[202609221800 TO 202609231800]"
    with pytest.raises(ValueError, match="timezone-aware"):
        api_date_range((datetime(2026, 9, 22, 18, 0), utc(2026, 9, 23, 18)))
