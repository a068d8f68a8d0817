"""Progress of long work (a catch-up over many days, a replay): a bar on a terminal, plain log
lines otherwise (a daemon's log, CI, a pipe).

    with progress("replay", total=len(days)) as step:
        for day in days:
            ...
            step(day.isoformat())
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def progress(label: str, total: int, *, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """Yield `step(detail)`, to be called once per finished item."""
    if not enabled:
        yield lambda _detail: None
        return
    if not sys.stderr.isatty():
        done = 0

        def log_step(detail: str) -> None:
            nonlocal done
            done += 1
            log.info("%s: %d/%d %s", label, done, total, detail)

        yield log_step
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[detail]}"),
        console=Console(stderr=True),
        transient=True,  # the bar goes away; the command's own summary stays
    ) as bar:
        task = bar.add_task(label, total=total, detail="")

        def bar_step(detail: str) -> None:
            bar.update(task, advance=1, detail=detail)

        yield bar_step
