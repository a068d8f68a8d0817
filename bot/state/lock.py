"""One writer per state file: an advisory lock next to it (`<state>.lock`).

The daemon holds it for its whole life and `digestbot once` for its run, so a second daemon or
a `once` started by hand (or by a forgotten cron line) refuses to start instead of fetching and
sending the same digests twice. The lock is `flock(2)` on an open file: the kernel releases it
when the process dies, even by SIGKILL, so a crash never leaves a stale lock behind. The file
keeps the holder's pid and command for the refusal message; its presence alone means nothing.
Read-only commands (`status`, `preview`, `--dry-run`) do not take it.

A PostgreSQL state (`PostgresLock`) is locked the same way by a session advisory lock in that
database, held on a connection of its own: the server releases it when the connection ends,
process death included, and the holder's `application_name` names it in the refusal. Since
issue 17 no command takes it: workers sharing one database claim the work instead (fetches,
deliveries: bot/state/fetch_claims.py, outbox.py), records are serialised by a transaction's
advisory lock and migrations by their own. The class is kept, unused, for now.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.errors import StateError
from bot.state.backend import PostgresState, StateTarget, read_password, translate

log = logging.getLogger(__name__)


class StateLock:
    """`with StateLock(state_path): ...` or `acquire()` / `release()`."""

    def __init__(self, state_path: Path) -> None:
        self.path = state_path.with_name(state_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise StateError naming the process that holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateError(
                f"cannot create lock file {self.path}: {exc}",
                hint="check that the state folder is writable (`state:` in bot.yaml)",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise StateError(
                f"another digestbot is already using {self.path.with_suffix('')}"
                + (f" ({holder})" if holder else ""),
                hint="only one daemon or `digestbot once` may run against a state file; "
                "stop the other one, or give this one its own `state:`",
            ) from None
        # Who holds it, for the message above; written after locking so it is never torn.
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()}: {' '.join(_command())}\n".encode())
        except OSError as exc:
            # Only that message reads it: a full disk must not stop the lock itself (the state's
            # own writes report the disk, with what to do).
            log.debug("could not note the holder in %s: %s", self.path, exc)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


_ADVISORY_KEY = 0x64696766  # "digf": the one writer of a database (migrations take "dige")


class PostgresLock:
    """`StateLock` for a PostgreSQL state: `pg_try_advisory_lock` on a connection it keeps."""

    def __init__(self, target: PostgresState, env: Mapping[str, str] | None = None) -> None:
        self.target = target
        self._env = os.environ if env is None else env
        self._conn: Any = None

    def acquire(self) -> None:
        """Take the lock or raise StateError naming the process that holds it."""
        import psycopg

        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": 10}
        password = read_password(self.target, self._env)
        if password is not None:
            kwargs["password"] = password
        # What the refusal names (PostgreSQL keeps 63 bytes of it).
        kwargs["application_name"] = (
            f"pid {os.getpid()} on {socket.gethostname()}: {' '.join(_command())}"[:63]
        )
        try:
            conn = psycopg.connect(self.target.url, **kwargs)
        except psycopg.Error as exc:
            raise translate(exc, self.target) from exc
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_ADVISORY_KEY,)).fetchone()
            locked = bool(row and row[0])
            holder = None if locked else _holder(conn)
        except psycopg.Error as exc:
            conn.close()
            raise translate(exc, self.target) from exc
        if not locked:
            conn.close()
            raise StateError(
                f"another digestbot is already using the PostgreSQL state {self.target.describe()}"
                + (f" ({holder})" if holder else ""),
                hint="only one daemon or `digestbot once` may run against a state; stop the other "
                "one, or give this one its own `state:`",
            )
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # ending the session drops its advisory lock
            self._conn = None

    def __enter__(self) -> PostgresLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def _holder(conn: Any) -> str | None:
    row = conn.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.database = ("
        "   SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid = 0 AND l.objid = %s AND l.objsubid = 1",
        (_ADVISORY_KEY,),
    ).fetchone()
    return str(row[0]) if row and row[0] else None


def lock_for(state: StateTarget, env: Mapping[str, str] | None = None) -> StateLock | PostgresLock:
    """The lock of a state: a file beside a SQLite file, an advisory lock in a database."""
    if isinstance(state, PostgresState):
        return PostgresLock(state, env)
    return StateLock(state)


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 300, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _command() -> list[str]:
    # `python -m bot once --config x` shows as "digestbot once ..." either way; no secrets are
    # ever passed on the command line (they come from the environment).
    args = [a for a in sys.argv[1:] if a]
    return ["digestbot", *args]
