"""The fetch history in the state file: one row per source fetch for a digest day (its outcome,
paper count, health and batch fingerprint), written in the run's one transaction
(`Store.record`). From it the pipeline knows which days to fetch again and what a stale repeat
looks like, the daemon what it missed, and `status` when each source last worked.
`Store.fetches` is the instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.state.backend import Db

# Healths after which the day is done; any other is fetched again by the next run.
DONE_HEALTHS = frozenset({"ok", "expected_empty"})
# A day still owed but older than the source's `catchup_days` window when a run came: it was
# not fetched, and a warning said so. Its outcome is `failed`, so a run whose window reaches it
# (`once --date` a later day, or a larger `catchup_days`) fetches it.
SKIPPED = "skipped"


@dataclass(frozen=True)
class FetchOutcome:
    """One source's result for one digest day, written with the run's papers."""

    source: str
    day: date
    papers: int
    error: str | None = None
    health: str = "ok"  # ok | expected_empty | unexpected_empty | stale | failed | skipped
    fingerprint: str | None = None

    @property
    def done(self) -> bool:
        return self.error is None and self.health in DONE_HEALTHS


class FetchLog:
    """Reads and writes of the `fetches` table (writes inside the store's transaction)."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def add(self, fetches: Sequence[FetchOutcome], now: str) -> None:
        self._db.executemany(
            "INSERT INTO fetches (source, day, at, outcome, papers, error, health,"
            " fingerprint) VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    f.source,
                    f.day.isoformat(),
                    now,
                    "ok" if f.done else "failed",
                    f.papers,
                    f.error,
                    f.health,
                    f.fingerprint,
                )
                for f in fetches
            ],
        )

    def last_ok_day(self, source: str) -> date | None:
        """The latest digest day `source` was fetched completely for."""
        row = self._db.execute(
            "SELECT max(day) FROM fetches WHERE source = ? AND outcome = 'ok'", (source,)
        ).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def last_run_at(self, source: str) -> datetime | None:
        """When `source` was last fetched (any outcome): the daemon's catch-up compares it
        with the schedule."""
        row = self._db.execute("SELECT max(at) FROM fetches WHERE source = ?", (source,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def last_fingerprint(self, source: str, before: date) -> str | None:
        """The batch fingerprint of the latest good fetch of `source` for a day before
        `before` (to recognise a stale repeat)."""
        row = self._db.execute(
            "SELECT fingerprint FROM fetches WHERE source = ? AND day < ? AND outcome = 'ok'"
            " AND fingerprint IS NOT NULL ORDER BY day DESC, id DESC LIMIT 1",
            (source, before.isoformat()),
        ).fetchone()
        return str(row[0]) if row else None

    def has_history(self) -> bool:
        """Whether any fetch was ever recorded (a fresh install has none)."""
        return self._db.execute("SELECT 1 FROM fetches LIMIT 1").fetchone() is not None

    def days_to_retry(self, source: str, before: date, window_days: int) -> list[date]:
        """Days in the window before `before` whose latest fetch of `source` failed."""
        start = (before - timedelta(days=window_days)).isoformat()
        rows = self._db.execute(
            """SELECT day, outcome FROM fetches f
               WHERE source = ? AND day >= ? AND day < ?
                 AND id = (SELECT max(id) FROM fetches g WHERE g.source = f.source
                           AND g.day = f.day)
               ORDER BY day""",
            (source, start, before.isoformat()),
        )
        return [date.fromisoformat(day) for day, outcome in rows if outcome == "failed"]

    def owed_before(self, source: str, before: date) -> list[date]:
        """Days before `before` whose latest fetch of `source` failed and that were not noted
        as skipped yet."""
        rows = self._db.execute(
            """SELECT day FROM fetches f
               WHERE source = ? AND day < ? AND outcome = 'failed' AND health != ?
                 AND id = (SELECT max(id) FROM fetches g WHERE g.source = f.source
                           AND g.day = f.day)
               ORDER BY day""",
            (source, before.isoformat(), SKIPPED),
        )
        return [date.fromisoformat(day) for (day,) in rows]

    def skipped_days(self, source: str) -> list[date]:
        """Days `source` still owes that catch-up skipped (their latest row says so)."""
        rows = self._db.execute(
            """SELECT day FROM fetches f
               WHERE source = ? AND health = ?
                 AND id = (SELECT max(id) FROM fetches g WHERE g.source = f.source
                           AND g.day = f.day)
               ORDER BY day""",
            (source, SKIPPED),
        )
        return [date.fromisoformat(day) for (day,) in rows]
