"""The workers of a state: who they are and their heartbeats, in the `workers` table.

Each process that writes the state is a worker, named `host:pid:random` (the random part tells
apart two processes that got the same pid: in two containers, or one after the other). On a
PostgreSQL state the daemon writes its row when it starts ("started"), after each good run
("run ok": the heartbeat bot/state/heartbeat.py judges) and when it stops ("stopped"), and
beats it every `BEAT_EVERY` from a thread of its own, also while a long run goes on; a `once`
writes "started" and, after a good run, "run ok". `status` lists the workers whose last beat
is within `ALIVE_WITHIN` and names those that stopped beating; `health` judges the worker of its
own host (in a container: its own daemon). Rows unheard of for `FORGET_AFTER` are deleted.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.state.backend import Db

BEAT_EVERY = timedelta(seconds=60)
ALIVE_WITHIN = 3 * BEAT_EVERY  # three beats missed: the worker is gone (or hangs)
FORGET_AFTER = timedelta(days=7)
EVENTS = ("started", "run ok", "stopped")


def new_worker_id() -> str:
    """host:pid:random, unique among the workers of a state."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Worker:
    id: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime
    ok_at: datetime  # the latest start or good run
    event: str  # the latest of EVENTS
    summary: str

    def alive(self, now: datetime) -> bool:
        return self.event != "stopped" and now - self.beat_at <= ALIVE_WITHIN


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


class Workers:
    """Queries and writes of the `workers` table."""

    def __init__(
        self, db: Db, transaction: Callable[[], AbstractContextManager[None]], worker: str
    ) -> None:
        self._db = db
        self._transaction = transaction
        self.worker = worker

    def note(self, event: str, summary: str = "", now: datetime | None = None) -> None:
        """This worker's `event` ("started", "run ok" or "stopped"), which is also a beat."""
        if event not in EVENTS:
            raise ValueError(f"unknown worker event {event!r}")
        at = _iso(now or datetime.now(UTC))
        host, pid, _ = self.worker.rsplit(":", 2)
        ok = "excluded.ok_at" if event != "stopped" else "workers.ok_at"
        with self._transaction():
            self._db.execute(
                "INSERT INTO workers (id, host, pid, started_at, beat_at, ok_at, event, summary)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET"
                f" beat_at = excluded.beat_at, ok_at = {ok}, event = excluded.event,"
                " summary = excluded.summary",
                (self.worker, host, int(pid), at, at, at, event, summary),
            )
            self._db.execute(
                "DELETE FROM workers WHERE beat_at < ?",
                (_iso((now or datetime.now(UTC)) - FORGET_AFTER),),
            )

    def beat(self, now: datetime | None = None) -> None:
        """A sign of life, between events."""
        self._db.execute(
            "UPDATE workers SET beat_at = ? WHERE id = ?",
            (_iso(now or datetime.now(UTC)), self.worker),
        )

    def all(self) -> list[Worker]:
        """Every worker heard of in the last `FORGET_AFTER`, latest beat first."""
        rows = self._db.execute(
            "SELECT id, host, pid, started_at, beat_at, ok_at, event, summary FROM workers"
            " ORDER BY beat_at DESC, id"
        )
        return [
            Worker(
                str(wid),
                str(host),
                int(pid),
                datetime.fromisoformat(started),
                datetime.fromisoformat(beat),
                datetime.fromisoformat(ok),
                str(event),
                str(summary),
            )
            for wid, host, pid, started, beat, ok, event, summary in rows
        ]
