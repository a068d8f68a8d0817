"""The state's SQLite connection, and what its errors mean to the person running digestbot.

Every state module (store, migrations, outbox, fetch log, incidents, corpus) queries through a
`StateConnection`, so the errors a deployment can cause are translated here, once, into ONE
StateError line that names the file, with a hint saying what to do:

    SQLITE_FULL                 the disk is full
    SQLITE_IOERR_*              a read or write failed: a full disk, a quota, a failing disk
    SQLITE_READONLY_*           this user cannot write the file (or its folder)
    SQLITE_CANTOPEN             the file cannot be opened (a missing or closed folder)
    SQLITE_NOTADB               the file is not a SQLite database (`state:` names another file)
    SQLITE_CORRUPT              the file is damaged
    SQLITE_BUSY, SQLITE_LOCKED  another program holds a lock on it

None of them loses anything: every write of the state is one transaction (bot/state/store.py), which
SQLite rolls back when it fails, so what the run fetched is fetched again and what is queued
stays queued. Other sqlite3 errors (a constraint, bad SQL) mean a bug: they are not translated,
and stay internal errors with a traceback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, NoReturn, Self

from bot.errors import StateError

NOTHING_LOST = (
    "nothing was lost: the failed write was rolled back, so what this run fetched is fetched "
    "again and what is queued stays queued"
)
_READ_ONLY_HINT = (
    "let the user running digestbot write the state file and its folder (chown or chmod), or run "
    "digestbot as their owner; `status` and `--dry-run` only read it"
)


def state_error(exc: sqlite3.Error, path: Path) -> StateError | None:
    """What `exc` means for the state file at `path`, or None when it means a bug."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    primary = code & 0xFF
    if primary == sqlite3.SQLITE_FULL:
        return StateError(
            f"the disk holding the state file {path} is full ({exc})",
            hint="free some space on it (or point `state:` in bot.yaml at another disk), then "
            f"run again; {NOTHING_LOST}",
            reason=name,
        )
    if primary == sqlite3.SQLITE_IOERR:
        verb = "read" if "READ" in name else "write"
        return StateError(
            f"could not {verb} the state file {path}: {exc} ({name})",
            hint="the disk may be full, over quota or failing (see `df` and the system log): "
            f"make room, then run again; {NOTHING_LOST}",
            reason=name,
        )
    if primary == sqlite3.SQLITE_READONLY:
        what = "the folder of the state file" if name.endswith("_DIRECTORY") else "the state file"
        return StateError(
            f"{what} {path} is read-only for this user ({exc})", hint=_READ_ONLY_HINT, reason=name
        )
    if primary == sqlite3.SQLITE_CANTOPEN:
        return StateError(
            f"the state file {path} cannot be opened ({exc})",
            hint="check that its folder exists and that this user may read and write both "
            "(`state:` in bot.yaml)",
            reason=name,
        )
    if primary == sqlite3.SQLITE_NOTADB:
        return StateError(
            f"{path} is not a SQLite database ({exc})",
            hint="`state:` in bot.yaml names the file digestbot keeps for itself: was it pointed "
            "at another file? Point it at a new path (created on the next run) or move this file "
            "away; it was not changed",
            reason=name,
        )
    if primary == sqlite3.SQLITE_CORRUPT:
        return StateError(
            f"the state file {path} is damaged ({exc})",
            hint="restore it from a backup, or move it away to start afresh (the first run then "
            "sends only the latest day's digest)",
            reason=name,
        )
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StateError(
            f"the state file {path} is locked by another program ({exc})",
            hint="another process holds a lock on it (an sqlite3 shell, a backup?): close it "
            "and run again",
            reason=name,
        )
    return None


def _raise(exc: sqlite3.Error, path: Path) -> NoReturn:
    error = state_error(exc, path)
    if error is None:
        raise exc
    raise error from exc


def connect(path: Path, *, uri: str | None = None, **options: Any) -> StateConnection:
    """Open `path` (or the `file:` `uri` naming it) in autocommit mode: transactions are
    explicit (BEGIN IMMEDIATE .. COMMIT, bot/state/store.py)."""
    try:
        conn = sqlite3.connect(
            uri or path,
            uri=uri is not None,
            isolation_level=None,
            factory=StateConnection,
            **options,
        )
    except sqlite3.Error as exc:
        _raise(exc, path)
    conn.path = path
    return conn


class StateConnection(sqlite3.Connection):
    """A connection whose statements raise StateError for what the environment caused."""

    path: Path = Path("state")

    def execute(self, sql: str, parameters: Any = (), /) -> StateCursor:
        return self.cursor(StateCursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> StateCursor:
        return self.cursor(StateCursor).executemany(sql, parameters)


class StateCursor(sqlite3.Cursor):
    """Rows are read as they are stepped: reading can fail as well as executing."""

    def _path(self) -> Path:
        conn = self.connection
        return conn.path if isinstance(conn, StateConnection) else Path("state")

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            _raise(exc, self._path())

    def executemany(self, sql: str, parameters: Any, /) -> Self:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as exc:
            _raise(exc, self._path())

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            _raise(exc, self._path())

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            _raise(exc, self._path())

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(size)
        except sqlite3.Error as exc:
            _raise(exc, self._path())

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            _raise(exc, self._path())
