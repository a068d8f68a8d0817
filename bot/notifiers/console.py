"""The console: where digests go when no channel is configured, and what --dry-run prints.

Not in the registry (it has no settings and no profile key): the app falls back to it for any
destination whose notifier is not usable, e.g. Slack without a token.

A console nobody reads any more (`digestbot once | head -3`) is a failed delivery like any
other: the digest stays queued, and the deliveries after it go on. (rich's own answer to a
broken pipe is to end the process, which left the row `sending` and the rest of the queue
unsent.) Once the pipe is broken, every later console digest of the run fails too: none is
marked sent without having been printed.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from bot.errors import DeliveryError
from bot.models import Delivery
from bot.notifiers.base import Notifier
from bot.render import headline, paper_url, score_fact, short_authors, why_line

BROKEN_PIPE_HINT = (
    "nothing reads the output any more (piped into a command that stopped reading?): the "
    "digest stays queued and is printed on the next run"
)


CONSOLE = "console"
_GONE = "nothing reads the console any more"


class _Console(Console):
    """rich's Console, except that a broken pipe raises BrokenPipeError instead of ending the
    process (rich's `on_broken_pipe` raises SystemExit), for the notifier to report."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(errno.EPIPE, "broken pipe: nothing reads the console any more")


class ConsoleNotifier(Notifier):
    """Prints a digest to a terminal (or any text stream) with rich."""

    name = "console"
    Settings = BaseModel

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._console = _Console(file=stream, highlight=False, soft_wrap=True)
        self._gone = False  # the reader closed the pipe

    @classmethod
    def create(cls, settings: Any, env: Mapping[str, str]) -> tuple[Notifier | None, str]:
        return cls(), ""

    def send_text(self, text: str, target: str = "") -> None:
        with self._writing():
            self._console.print(escape(text))

    def send(self, delivery: Delivery, target: str = "") -> None:
        with self._writing():
            self._print(delivery, target)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A broken pipe -> DeliveryError (transient), now and for the rest of the process."""
        if self._gone:
            raise DeliveryError(
                "cannot print: " + _GONE, destination=CONSOLE, hint=BROKEN_PIPE_HINT
            )
        try:
            yield
        except BrokenPipeError as exc:
            self._gone = True
            if self._console.file is sys.stdout:
                # What rich does too: stdout at /dev/null, so that the interpreter's own flush
                # of what is still buffered does not fail again at exit.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            raise DeliveryError(
                f"cannot print: {_GONE} ({type(exc).__name__})",
                destination=CONSOLE,
                hint=BROKEN_PIPE_HINT,
            ) from exc

    def _print(self, delivery: Delivery, target: str) -> None:
        out = self._console
        title = f"{delivery.profile_name} — {delivery.digest_day.isoformat()}"
        if target:
            title += f" (for {target})"
        out.print(f"[bold]{escape(title)}[/bold]")
        out.print(escape(headline(delivery)))
        for n, match in enumerate(delivery.matches, start=1):
            paper = match.paper
            url = paper_url(paper)
            # Paper text comes from the internet: escape it so `[...]` is never rich markup.
            out.print(f"\n{n}. [bold]{escape(paper.title)}[/bold]")
            if url:
                out.print(f"   {escape(url)}")
            out.print(f"   {escape(short_authors(paper.authors))}")
            facts = [f for f in (score_fact(match),) if f]
            if "upvotes" in paper.extras:
                facts.append(f"▲ {paper.extras['upvotes']} upvotes")
            if match.why:
                facts.append(f"why: {why_line(match)}")
            out.print("   " + escape(" · ".join(facts)))
        out.print()
