"""Which worker fetches a (source, digest day): the `fetch_claims` table.

Several workers on one PostgreSQL state run the same schedule, so each firing would fetch
every source N times. Instead a worker fetches a (source, day) only after claiming it: one
`INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`, which PostgreSQL runs atomically
(a second claimer waits for the first's row, then sees its lease), so exactly one wins. A claim
row rather than an advisory lock, because a lock lasts only as long as its connection and
transaction, while a claim must last from the fetch through scoring to the record step (a pool
hands out connections per statement), and must say *when* the day was last done.

A claim is free to take when its lease ran out (its worker died mid-fetch: another takes over
after `FETCH_LEASE`) and the day was not fetched since this firing (`done_at`, written by the
record transaction that stored the fetch: `Store.record`). "This firing" is the latest
scheduled firing of the source (bot/pipeline.py): sources list more papers later in the day, so
each firing fetches today's day again, but once, whichever worker does it; a `once` by hand
counts as part of the latest firing.

On SQLite the one worker (the lock) fetches everything, as before: every claim is granted and
nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from bot.state.backend import Db

# Longer than a (source, day) fetch takes (seconds; a catch-up day of arXiv at 3 s a request,
# a minute or two) and its scoring and recording; shorter than a day's firings are apart. A
# claim that outlives a slow fetch only lets a second worker fetch the day too: the record
# step stores each paper, and queues each delivery, once.
FETCH_LEASE = timedelta(minutes=15)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


class FetchClaims:
    """Claims on (source, day) fetches for one worker."""

    def __init__(self, db: Db, worker: str) -> None:
        self._db = db
        self.worker = worker
        self.lease = FETCH_LEASE

    def claim(self, source: str, day: date, firing: datetime, now: datetime | None = None) -> bool:
        """Whether this worker fetches `source` for `day` now: True once it holds the claim;
        False while another worker holds it, or when the day was fetched since `firing`."""
        if not self._db.dialect.shared:
            return True
        now = now or datetime.now(UTC)
        row = self._db.execute(
            "INSERT INTO fetch_claims (source, day, claimed_by, lease_until) VALUES (?,?,?,?)"
            " ON CONFLICT (source, day) DO UPDATE SET claimed_by = excluded.claimed_by,"
            " lease_until = excluded.lease_until, done_at = NULL"
            " WHERE fetch_claims.lease_until < ?"
            " AND (fetch_claims.done_at IS NULL OR fetch_claims.done_at < ?)"
            " RETURNING claimed_by",
            (
                source,
                day.isoformat(),
                self.worker,
                _stamp(now + self.lease),
                _stamp(now),
                _stamp(firing),
            ),
        ).fetchone()
        return row is not None

    def done(self, fetched: Iterable[tuple[str, date]], now: datetime) -> None:
        """Inside the record transaction: the claims this worker holds on `fetched` are done
        (as of `now`) and released."""
        if not self._db.dialect.shared:
            return
        self._db.executemany(
            "UPDATE fetch_claims SET done_at = ?, lease_until = ?"
            " WHERE source = ? AND day = ? AND claimed_by = ?",
            [
                (_stamp(now), _stamp(now), source, day.isoformat(), self.worker)
                for source, day in dict.fromkeys(fetched)
            ],
        )
