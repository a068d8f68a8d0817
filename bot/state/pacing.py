"""Pacing shared by the workers of a PostgreSQL state: the `pacing` table.

A paced destination (a Slack channel: 1 post per second; arXiv: 3 s per request) is paced in
each process (bot/notifiers/slack_client.py `Pace`, bot/http.py `Pace`): one request of a key
at a time, the next starting `interval` after the previous one ended. With several workers the
pace must hold across them too, so each paced request also takes the key's slot here:

    BEGIN; SELECT next_at FROM pacing WHERE key = .. FOR UPDATE   (the other workers queue)
           wait until next_at; the request
           UPDATE pacing SET next_at = now + interval; COMMIT

The row lock keeps one request of a key at a time across workers, and `next_at` the interval
between the end of one and the start of the next, as the in-process pace does. Times are the
database server's clock, so workers on machines whose clocks differ still keep the pace.
SQLite has one worker: its pacing stays in-process (`Store.pacing` is None there).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from bot.state.backend import Db

_NOW = "extract(epoch from clock_timestamp())"


class SharedPacing:
    """Slots in the `pacing` table (PostgreSQL only)."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @contextlib.contextmanager
    def slot(
        self, key: str, interval: float, wait: Callable[[float], None] = time.sleep
    ) -> Iterator[None]:
        """Hold `key`'s slot: wait for any other worker's request of `key` to end and for
        `interval` seconds after it, then run the body; its end starts the next interval
        (also when it failed)."""
        failure: BaseException | None = None
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO pacing (key, next_at) VALUES (?, 0) ON CONFLICT DO NOTHING", (key,)
            )
            (left,) = self._db.execute(
                f"SELECT next_at - {_NOW} FROM pacing WHERE key = ? FOR UPDATE", (key,)
            ).fetchone()
            if left > 0:
                wait(float(left))
            try:
                yield
            except BaseException as exc:  # the slot was used all the same: record its end
                failure = exc
            self._db.execute(
                f"UPDATE pacing SET next_at = {_NOW} + ? WHERE key = ?", (interval, key)
            )
        if failure is not None:
            raise failure
