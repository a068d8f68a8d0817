"""Total deadlines for fetching: one request, one (source, day), one run.

Timeouts only catch silence: a server that sends one byte every few seconds never trips them.
A `Deadline` is a point on the monotonic clock; `within(deadline)` makes it the current one
for the code it wraps (a context variable, so each thread and each nested scope sees its own),
and nested deadlines keep the EARLIER one: a request inside a day inside a run stops at
whichever comes first, and its error names that one. Everything that can wait while fetching
asks it: bot.http before each attempt, before each backoff, Retry-After or pacing wait (a wait
that would pass it fails now rather than sleeping first), and while reading an answer;
bot.http_transport caps every socket connect, read and write with what remains.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from bot.errors import FetchError


@dataclass(frozen=True)
class Deadline:
    """`what` must be done by `at` (time.monotonic()); `key` is the setting that set it."""

    at: float
    key: str  # "http.day_deadline"
    seconds: float  # as configured, for the message
    what: str  # "this day's fetch"
    hint: str

    @classmethod
    def after(cls, seconds: float, key: str, what: str, hint: str) -> Deadline:
        return cls(time.monotonic() + seconds, key, seconds, what, hint)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self, url: str | None) -> FetchError:
        return self._error(f"{self.what} took longer than", url)

    def wait_error(self, wait: float, why: str, url: str | None) -> FetchError:
        return self._error(f"waiting {wait:.0f} s {why} would pass", url)

    def _error(self, text: str, url: str | None) -> FetchError:
        # Not retried within the run: the time is spent. The day is still owed and the next
        # run fetches it again, like any failed fetch.
        return FetchError(
            f"gave up: {text} {self.key} ({self.seconds:g} s)",
            url=url,
            retryable=False,
            hint=self.hint,
        )


_CURRENT: ContextVar[Deadline | None] = ContextVar("digestbot_deadline", default=None)


def current() -> Deadline | None:
    """The deadline in force here, if any."""
    return _CURRENT.get()


@contextmanager
def within(deadline: Deadline) -> Iterator[Deadline]:
    """Make `deadline` current, unless an earlier one already is; yield the one in force."""
    outer = _CURRENT.get()
    effective = outer if outer is not None and outer.at <= deadline.at else deadline
    token = _CURRENT.set(effective)
    try:
        yield effective
    finally:
        _CURRENT.reset(token)


def capped(timeout: float | None) -> float | None:
    """`timeout` (seconds of silence allowed) shortened to what the current deadline leaves;
    raises TimeoutError once it has passed."""
    deadline = _CURRENT.get()
    if deadline is None:
        return timeout
    left = deadline.remaining()
    if left <= 0:
        raise TimeoutError(f"{deadline.key} passed")
    return left if timeout is None else min(timeout, left)
