"""The `digestbot` command: once, run, check. Each command returns an exit code.

Exit codes: 0 ok (also "nothing new"), 1 a source or a delivery failed (or the state is
unusable), 2 bad configuration. Errors print as one line plus a hint; the traceback only with -v.
Logging handlers are configured here and nowhere else. Heavy modules (pydantic models, httpx,
slack-sdk, scikit-learn) are imported inside the commands, so `digestbot --help` starts fast.
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.errors import ConfigError, ConfigErrors, DigestbotError

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("bot")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

F = TypeVar("F", bound=Callable[..., int])


class _ShortFormatter(logging.Formatter):
    """`error: message` — for one-shot commands on a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _setup_logging(verbose: bool, daemon: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if daemon or verbose:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_ShortFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # Our own loggers: INFO for the daemon (a log is all an operator has), warnings and errors
    # for one-shot commands, everything with -v. Libraries stay at WARNING even with -v.
    level = logging.DEBUG if verbose else (logging.INFO if daemon else logging.WARNING)
    logging.getLogger("bot").setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.INFO if daemon else logging.WARNING)
    # slack_sdk logs each failed call itself; our notifier reports it once, with a hint.
    logging.getLogger("slack_sdk").setLevel(logging.WARNING if verbose else logging.CRITICAL)


def _settings(config: Path | None) -> Settings:
    """bot.yaml from --config, $DIGESTBOT_CONFIG or config/bot.yaml, validated."""
    from bot.config import config_path, load_settings

    return load_settings(config_path(str(config) if config else None))


def _print_error(exc: BaseException) -> None:
    errors = exc.errors if isinstance(exc, ConfigErrors) else [exc]
    for err in errors:
        click.echo(f"error: {err}", err=True)
        hint = getattr(err, "hint", None)
        if hint:
            click.echo(f"  hint: {hint}", err=True)


def _guard(func: F) -> F:
    """Turn exceptions into one clear line, a hint and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        verbose = bool(kwargs.get("verbose"))
        try:
            return func(*args, **kwargs)
        except (ConfigError, ConfigErrors) as exc:
            _print_error(exc)
            return EXIT_CONFIG
        except DigestbotError as exc:
            if verbose:
                traceback.print_exc()
            _print_error(exc)
            return EXIT_FAILED
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            return 130
        except Exception as exc:
            if verbose:
                traceback.print_exc()
            click.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
            click.echo("  hint: run again with -v for the traceback, and report it", err=True)
            return EXIT_FAILED

    return wrapper  # type: ignore[return-value]


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="bot.yaml to use (default: $DIGESTBOT_CONFIG, else config/bot.yaml)",
    )(func)
    return click.option("-v", "--verbose", is_flag=True, help="debug logs and tracebacks")(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """digestbot: new research papers that match your interests, in Slack or the console."""


@cli.command()
@_common
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="digest day to run for, YYYY-MM-DD (default: today in `timezone`)",
)
@click.option("--dry-run", is_flag=True, help="write nothing, print the digests instead")
@_guard
def once(config: Path | None, verbose: bool, day: datetime | None, dry_run: bool) -> int:
    """Run one cycle now: fetch, match, deliver."""
    from bot.app import build_app
    from bot.pipeline import run_once

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    app = build_app(settings, dry_run=dry_run)
    try:
        report = run_once(app, day=day.date() if day else None)
    finally:
        app.close()
    if report.profile_errors:
        return EXIT_CONFIG
    if report.failed:
        return EXIT_FAILED
    click.echo(report.summary(), err=True)
    return EXIT_OK


@cli.command()
@_common
@_guard
def run(config: Path | None, verbose: bool) -> int:
    """Start the daemon: one cron job per source, until SIGINT/SIGTERM."""
    from bot.app import build_app
    from bot.scheduler import run_daemon

    _setup_logging(verbose, daemon=True)
    settings = _settings(config)
    app = build_app(settings)
    try:
        return run_daemon(app)
    finally:
        app.close()


@cli.command()
@_common
@_guard
def check(config: Path | None, verbose: bool) -> int:
    """Validate bot.yaml and every profile; list every error. Exit 0 or 2."""
    import os

    from bot.notifiers import NOTIFIERS

    _setup_logging(verbose, daemon=False)
    from bot.config import config_path, load_profiles, load_settings

    path = config_path(str(config) if config else None)
    settings = load_settings(path)
    sources = ", ".join(s.label for s in settings.sources) or "none"
    click.echo(f"{path}: ok (sources: {sources}; time zone {settings.timezone})")
    for name, notifier_settings in settings.notifiers.items():
        _, why = NOTIFIERS[name].create(notifier_settings, os.environ)
        click.echo(
            f"{name}: "
            + (f"not usable ({why}): digests go to the console" if why else "configured")
        )
    profiles, errors = load_profiles(settings.profiles_dir)
    for profile in profiles:
        where = ", ".join(profile.destinations) or "console"
        click.echo(f"profile {profile.id}: ok ({profile.name!r} -> {where})")
    if errors:
        _print_error(ConfigErrors(errors))
        files = len({e.file for e in errors})
        click.echo(f"{len(errors)} error(s) in {files} file(s)", err=True)
        return EXIT_CONFIG
    if not profiles:
        click.echo(f"warning: no profiles in {settings.profiles_dir}", err=True)
    return EXIT_OK


@cli.command()
@_common
@_guard
def status(config: Path | None, verbose: bool) -> int:
    """Per source: last good day, last incident, papers stored; per destination: queue."""
    from bot.status import status_lines

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    for line in status_lines(settings):
        click.echo(line)
    return EXIT_OK


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
