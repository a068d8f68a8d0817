"""The `digestbot` command: once, run, check, init, profile new, retry, status, health, preview,
replay, feedback, profile learned, web. Each command returns an exit code; `main` is the
console-script entry point.

Exit codes: 0 ok (also "nothing new"), 1 a source or a delivery failed (or the state is
unusable), 2 bad configuration. Errors print as one line plus a hint; the traceback only with -v.
Logging handlers are configured in `base` and nowhere else. Heavy modules (pydantic models,
httpx, slack-sdk, numpy and scipy) are imported inside the commands, so `digestbot --help` starts
fast.

    base      the group, logging, the error guard, shared options
    operate   once, run, retry, status, health
    setup     check, init, profile new
    tuning    preview, replay
    teach     feedback, profile learned
    web       web (the web page)
"""

from __future__ import annotations

import sys

import click

from bot.cli import operate, setup, teach, tuning, web  # noqa: F401  (importing registers the commands)
from bot.cli.base import EXIT_FAILED, EXIT_OK, cli

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: the command's return value is the exit code."""
    try:
        code = cli.main(args=argv, prog_name="digestbot", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: bad option, bad --date
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
