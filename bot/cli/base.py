"""What every `digestbot` command shares: the command group, logging set-up, exit codes, and
the guard that turns exceptions into one line, a hint and an exit code.

Exit codes: 0 ok (also "nothing new"), 1 a source or a delivery failed (or the state is
unusable), 2 bad configuration. Errors print as one line plus a hint; the traceback only with -v.
Logging handlers are configured here and nowhere else. Heavy modules (pydantic models, httpx,
slack-sdk, numpy, scipy) are imported inside the commands, so `digestbot --help` starts fast.
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


class _JsonFormatter(logging.Formatter):
    """One JSON object per line (`--log-format json`), for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {
            "time": datetime.fromtimestamp(record.created).astimezone().isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:  # formatted and redacted by the filter (bot/secrets.py)
            entry["traceback"] = record.exc_text
        elif record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


_log_format = "text"  # set by the group's --log-format option


def _setup_logging(verbose: bool, daemon: bool) -> None:
    from bot.secrets import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())  # every record, libraries' included
    if _log_format == "json":
        handler.setFormatter(_JsonFormatter())
    elif daemon or verbose:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_ShortFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # Our own loggers: INFO for the daemon (a log is all an operator has), warnings and errors
    # for one-shot commands, everything with -v. Libraries stay at WARNING even with -v:
    # APScheduler's INFO lines ("Running job", "Job ... executed successfully", "Added job")
    # would bracket every run's one summary line with noise.
    level = logging.DEBUG if verbose else (logging.INFO if daemon else logging.WARNING)
    logging.getLogger("bot").setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # slack_sdk logs each failed call itself; our notifier reports it once, with a hint.
    logging.getLogger("slack_sdk").setLevel(logging.WARNING if verbose else logging.CRITICAL)


def _settings(config: Path | None) -> Settings:
    """bot.yaml from --config, $DIGESTBOT_CONFIG or config/bot.yaml, validated."""
    from bot.config import config_path, load_settings

    return load_settings(config_path(str(config) if config else None))


def _print_error(exc: BaseException) -> None:
    from bot.secrets import redact

    errors = exc.errors if isinstance(exc, ConfigErrors) else [exc]
    for err in errors:
        click.echo(redact(f"error: {err}"), err=True)
        hint = getattr(err, "hint", None)
        if hint:
            click.echo(f"  hint: {hint}", err=True)


def _print_traceback() -> None:
    """The current exception's traceback (-v), redacted: its message may quote a secret."""
    from bot.secrets import redact

    click.echo(redact(traceback.format_exc()).rstrip("\n"), err=True)


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
                _print_traceback()
            _print_error(exc)
            return EXIT_FAILED
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            return 130
        except Exception as exc:
            from bot.secrets import redact

            if verbose:
                _print_traceback()
            # A foreign exception may quote anything it was given, a header value included.
            click.echo(redact(f"error: internal error: {type(exc).__name__}: {exc}"), err=True)
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
@click.version_option(package_name="digestbot", prog_name="digestbot")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="DIGESTBOT_LOG_FORMAT",
    show_default=True,
    help="logs as readable lines or as JSON lines (also $DIGESTBOT_LOG_FORMAT)",
)
def cli(log_format: str) -> None:
    """digestbot: new research papers that match your interests, in Slack, by email or on the
    console."""
    global _log_format
    _log_format = log_format


_DAY = click.DateTime(formats=["%Y-%m-%d"])
