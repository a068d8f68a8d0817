"""A source's troubles in the state file: one incident per stretch of trouble (failed, stale or
unexpectedly empty fetches), opened at the first bad fetch, refreshed while it lasts, closed at
the first good one, and marked once the operator was told. `Store.incidents` is the instance;
bot/health.py decides when to call it, `status` reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.state.backend import Db


@dataclass(frozen=True)
class Incident:
    """A source's open or closed trouble."""

    id: int
    source: str
    kind: str
    day: date
    message: str
    opened_at: str
    last_seen_at: str
    closed_at: str | None
    notified_at: str | None


_COLUMNS = "id, source, kind, day, message, opened_at, last_seen_at, closed_at, notified_at"


class Incidents:
    """Reads and writes of the `incidents` table, in the store's transactions."""

    def __init__(
        self,
        db: Db,
        transaction: Callable[[], AbstractContextManager[None]],
        writable: Callable[[], None],
    ) -> None:
        self._db = db
        self._transaction = transaction
        self._writable = writable  # raises on a read-only (dry-run) store

    def open(self, source: str) -> Incident | None:
        """The incident of `source` still going on, if any."""
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM incidents WHERE source = ? AND closed_at IS NULL"
            " ORDER BY id DESC LIMIT 1",
            (source,),
        ).fetchone()
        return _incident(row) if row else None

    def last(self, source: str) -> Incident | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM incidents WHERE source = ? ORDER BY id DESC LIMIT 1",
            (source,),
        ).fetchone()
        return _incident(row) if row else None

    def note(self, source: str, kind: str, day: date, message: str) -> Incident:
        """Open an incident for `source`, or refresh the open one (same trouble, still going)."""
        self._writable()
        now = _now()
        with self._transaction():
            current = self.open(source)
            if current is None:
                self._db.execute(
                    "INSERT INTO incidents (source, kind, day, message, opened_at,"
                    " last_seen_at) VALUES (?,?,?,?,?,?)",
                    (source, kind, day.isoformat(), message, now, now),
                )
            else:
                self._db.execute(
                    "UPDATE incidents SET last_seen_at = ?, kind = ?, message = ? WHERE id = ?",
                    (now, kind, message, current.id),
                )
        incident = self.open(source)
        assert incident is not None
        return incident

    def close(self, incident: Incident) -> None:
        self._set(incident, "closed_at")

    def mark_notified(self, incident: Incident) -> None:
        self._set(incident, "notified_at")

    def _set(self, incident: Incident, column: str) -> None:
        self._writable()
        with self._transaction():
            self._db.execute(
                f"UPDATE incidents SET {column} = ? WHERE id = ?", (_now(), incident.id)
            )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _incident(row: tuple[object, ...]) -> Incident:
    iid, source, kind, day, message, opened, seen, closed, notified = row
    return Incident(
        id=int(str(iid)),
        source=str(source),
        kind=str(kind),
        day=date.fromisoformat(str(day)),
        message=str(message),
        opened_at=str(opened),
        last_seen_at=str(seen),
        closed_at=str(closed) if closed else None,
        notified_at=str(notified) if notified else None,
    )
