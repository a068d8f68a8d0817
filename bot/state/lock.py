"""One writer per state file: an advisory lock next to it (`<state>.lock`).

The daemon holds it for its whole life and `digestbot once` for its run, so a second daemon or
a `once` started by hand (or by a forgotten cron line) refuses to start instead of fetching and
sending the same digests twice. The lock is `flock(2)` on an open file: the kernel releases it
when the process dies, even by SIGKILL, so a crash never leaves a stale lock behind. The file
keeps the holder's pid and command for the refusal message; its presence alone means nothing.
Read-only commands (`status`, `preview`, `--dry-run`) do not take it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from pathlib import Path
from types import TracebackType

from bot.errors import StateError

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
