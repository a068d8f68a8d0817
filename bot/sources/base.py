"""What every source is: settings with a cron schedule, and `fetch(day) -> [Paper]`.

A source owns one kind of upstream (HF Daily Papers, arXiv RSS, ...). It does its I/O through
the shared `Http` client and hands the bytes to pure parse functions in its own module, so
parsing is tested on recorded payloads without a network. `fetch` either returns the papers of
that digest day (possibly none) or raises `FetchError`: a failure is never an empty day.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Annotated, ClassVar
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from bot.http import Http
from bot.models import Paper
from bot.schema import Strict

_DOW_NAMES = "mon, tue, wed, thu, fri, sat, sun"
MAX_CATCHUP_DAYS = 60  # how far back `catchup_days` may reach
_CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")


class WallClockCron(CronTrigger):  # type: ignore[misc]  # APScheduler 3 is untyped
    """A CronTrigger that fires once per wall-clock time. APScheduler 3's own fires twice when
    the clocks go back (2026-11-01 01:30 New York is 01:30 EDT, then 01:30 EST again); the
    repeat is skipped here when the first one was due. In the hour skipped in spring it fires
    once, at the same instant an hour later by the clock (02:30 "EST" = 03:30 EDT), as
    APScheduler does."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        fire: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        while fire is not None and previous_fire_time is not None:
            # In UTC: aware datetimes sharing a tzinfo compare by wall time, ignoring `fold`.
            first = _first_occurrence(fire).astimezone(UTC)
            repeated = first < fire.astimezone(UTC) and previous_fire_time.astimezone(UTC) >= first
            if not repeated:
                break
            fire = super().get_next_fire_time(fire, fire)  # the repeated hour: already fired
        return fire


def _first_occurrence(moment: datetime) -> datetime:
    """The earlier of the two instants a wall-clock time names when the clocks go back (the
    moment itself when its wall time is not ambiguous)."""
    return moment.replace(fold=0).replace(tzinfo=None).replace(tzinfo=moment.tzinfo)


def cron_trigger(expression: str, timezone: str | tzinfo) -> CronTrigger:
    """The APScheduler trigger of a `schedule`: standard 5-field cron, or 6 fields with a
    leading seconds field (for sub-minute schedules, e.g. a test daemon)."""
    fields = expression.split()
    if len(fields) == 6:
        return WallClockCron(
            second=fields[0], **dict(zip(_CRON_FIELDS, fields[1:], strict=True)), timezone=timezone
        )
    return WallClockCron.from_crontab(expression, timezone=timezone)


def latest_fire(trigger: CronTrigger, before: datetime, horizon: timedelta) -> datetime | None:
    """The trigger's latest firing at or before `before`, if any within `horizon`. Looks back a
    minute, then twice as far each time: a schedule of every few seconds is not stepped
    through for days (it took `health` 30 s and more), one of once a week takes a dozen
    lookups."""
    window = timedelta(minutes=1)
    while True:
        window = min(window, horizon)
        fire = trigger.get_next_fire_time(None, before - window)
        if fire is not None and fire <= before:
            latest: datetime = fire
            while (fire := trigger.get_next_fire_time(fire, fire)) is not None and fire <= before:
                latest = fire
            return latest
        if window >= horizon:
            return None
        window *= 2


def http_base_url(value: str) -> str:
    """An http(s) URL with a host and no query or fragment, without its trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL with a host, got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"expected a base URL without query or fragment, got {value!r}")
    return value.strip().rstrip("/")


BaseUrl = Annotated[str, AfterValidator(http_base_url)]  # every source's `base_url` settings


class SourceSettings(Strict):
    """Keys every source has in bot.yaml's `sources:` list."""

    kind: str
    name: str | None = None  # defaults to the kind; must be unique when a kind is used twice
    # standard 5-field cron (or 6 with leading seconds), evaluated in `timezone`
    schedule: str = "0 9 * * mon-fri"
    # Also fetch this many days before the digest day: a day's list keeps growing after the
    # scheduled run, and papers seen before are skipped anyway.
    lookback_days: int = Field(default=1, ge=0, le=14)
    # After downtime or failures, fetch the missed days back to this many days ago.
    catchup_days: int = Field(default=14, ge=0, le=MAX_CATCHUP_DAYS)

    @property
    def label(self) -> str:
        return self.name or self.kind

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str, info: ValidationInfo) -> str:
        fields = value.split()
        if len(fields) not in (5, 6):
            raise ValueError(
                f"expected 5 cron fields (minute hour day month day-of-week), got {len(fields)}"
            )
        dow = fields[-1]
        # APScheduler counts weekdays from Monday = 0 while cron counts from Sunday = 0: a
        # number here would silently shift the schedule by a day, so only names are accepted.
        if any(ch.isdigit() for ch in dow):
            raise ValueError(f"use day names ({_DOW_NAMES}) in the day-of-week field, not numbers")
        tz = (info.context or {}).get("timezone", "UTC")
        try:
            cron_trigger(value, tz)
        except ValueError as exc:
            if "-" in dow and "sun-" in dow.lower():
                # APScheduler's week runs mon..sun, so a range can't start on Sunday.
                raise ValueError(
                    f"day-of-week range {dow!r} wraps the week: write it as "
                    f"{dow.lower().replace('sun-', 'sun,mon-')!r}"
                ) from exc
            raise ValueError(f"invalid cron expression: {exc}") from exc
        return value


class Source(ABC):
    """One configured source. Subclasses set `kind` and `Settings` and implement `fetch`."""

    kind: ClassVar[str]
    Settings: ClassVar[type[SourceSettings]]

    def __init__(self, settings: SourceSettings, http: Http) -> None:
        self.settings = settings
        self.http = http

    @property
    def name(self) -> str:
        return self.settings.label

    @abstractmethod
    def fetch(self, day: date) -> list[Paper]:
        """The papers this source lists for digest `day`, each with `day` set to the day it
        was announced. Raises FetchError on failure, StaleError when the source still shows
        an older batch than `day`."""

    def expects_papers(self, day: date) -> bool:
        """Whether an empty answer for `day` would be unexpected (the source's calendar).
        The default: every day. arXiv announces nothing on Saturdays, Sundays and holidays."""
        return True

    def probe(self) -> str | None:
        """`digestbot check --live`: one cheap request proving the upstream answers like
        itself. Returns what was proven (one line), raises FetchError, or None when this
        source has no live check. `self.http` is the caller's (check --live: no retries)."""
        return None
