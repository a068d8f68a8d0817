"""The `digestbot` command: once, run, check, init, profile new, status, preview, replay. Each
command returns an exit code.

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
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


_log_format = "text"  # set by the group's --log-format option


def _setup_logging(verbose: bool, daemon: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
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
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="DIGESTBOT_LOG_FORMAT",
    show_default=True,
    help="logs as readable lines or as JSON lines (also $DIGESTBOT_LOG_FORMAT)",
)
def cli(log_format: str) -> None:
    """digestbot: new research papers that match your interests, in Slack or the console."""
    global _log_format
    _log_format = log_format


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
@click.option(
    "--live",
    is_flag=True,
    help="also prove Slack, email and every source answer (sends nothing); exit 1 if not",
)
@_guard
def check(config: Path | None, verbose: bool, live: bool) -> int:
    """Validate bot.yaml and every profile; list every error. Exit 0 or 2.

    With --live, also talk to every service the config names, one line per check: Slack's
    token and each channel, the SMTP login, one request per source. Nothing is posted or
    mailed. Exit 1 when a live check fails."""
    import os

    from bot.notifiers import NOTIFIERS

    _setup_logging(verbose, daemon=False)
    from bot.config import config_path, load_profiles, load_settings

    path = config_path(str(config) if config else None)
    settings = load_settings(path)
    sources = ", ".join(s.label for s in settings.sources) or "none"
    click.echo(f"{path}: ok (sources: {sources}; time zone {settings.timezone})")
    for name, notifier_settings in settings.notifiers.items():
        notifier, why = NOTIFIERS[name].create(notifier_settings, os.environ)
        if notifier is None:
            click.echo(f"{name}: not usable ({why}): digests go to the console")
            continue
        how = notifier.describe()  # e.g. which variable holds the secret, never the secret
        notifier.close()
        click.echo(f"{name}: configured" + (f" ({how})" if how else ""))
    profiles, errors = load_profiles(settings.profiles_dir)
    for profile in profiles:
        where = ", ".join(profile.destinations) or "console"
        click.echo(f"profile {profile.id}: ok ({profile.name!r} -> {where})")
    if errors:
        _print_error(ConfigErrors(errors))
        files = len({e.file for e in errors})
        click.echo(f"{len(errors)} error(s) in {files} file(s)", err=True)
    elif not profiles:
        click.echo(f"warning: no profiles in {settings.profiles_dir}", err=True)
    failed = 0
    if live:
        from bot.live_check import live_checks

        for result in live_checks(settings, profiles, os.environ):
            failed += result.failed
            for line in result.lines():
                click.echo(line)
        if failed:
            click.echo(f"{failed} live check(s) failed", err=True)
    if errors:
        return EXIT_CONFIG
    return EXIT_FAILED if failed else EXIT_OK


@cli.command()
@click.argument("folder", required=False, default="digestbot", metavar="[DIR]")
@click.option("--force", is_flag=True, help="overwrite the starter files if they exist")
@_guard
def init(folder: str, force: bool) -> int:
    """Write a starter config into DIR (default: ./digestbot): config/bot.yaml and an example
    profile, every key commented. Refuses to overwrite them without --force."""
    import shlex

    from bot.onboarding import existing_starter_files, write_starter

    target = Path(folder)
    clash = existing_starter_files(target)
    if clash and not force:
        for path in clash:
            click.echo(f"error: {path} already exists: nothing was written", err=True)
        click.echo("  hint: edit it, choose another DIR, or pass --force to overwrite", err=True)
        return EXIT_CONFIG
    try:
        written = write_starter(target, force=force)
    except OSError as exc:
        raise DigestbotError(
            f"cannot write into {target}: {exc.strerror or exc}", hint="check the folder"
        ) from exc
    for path in written:
        click.echo(f"wrote {path}")
    go = [] if target.resolve() == Path.cwd().resolve() else [f"cd {shlex.quote(str(target))}"]
    steps = [
        *go,
        "edit config/profiles/normalization.yaml: your interests, in the words of papers "
        '(or add another: digestbot profile new "My topic")',
        "digestbot check                  validates the files",
        "digestbot once --dry-run         fetches today's papers, prints what would be sent",
        "then connect Slack or email (README), `digestbot check --live`, and `digestbot run`",
    ]
    click.echo("next steps:")
    for n, step in enumerate(steps, start=1):
        click.echo(f"  {n}. {step}")
    return EXIT_OK


@cli.group()
def profile() -> None:
    """Interest profiles: `profile new NAME` scaffolds one."""


@profile.command("new")
@_common
@click.argument("name")
@_guard
def profile_new(config: Path | None, verbose: bool, name: str) -> int:
    """Write a commented profile titled NAME into the profiles folder (file name from NAME).

    It passes `digestbot check` as written; describe your interest in it, then preview it."""
    from bot.onboarding import write_new_profile

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    try:
        path = write_new_profile(settings.profiles_dir, name)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("  hint: give the profile a title with letters or digits", err=True)
        return EXIT_CONFIG
    except FileExistsError as exc:
        click.echo(f"error: {exc.args[0]} already exists: not overwritten", err=True)
        click.echo("  hint: edit that file, or choose another name", err=True)
        return EXIT_CONFIG
    except OSError as exc:
        raise DigestbotError(
            f"cannot write into {settings.profiles_dir}: {exc.strerror or exc}",
            hint="check `profiles:` in bot.yaml",
        ) from exc
    click.echo(f"wrote {path} (profile id {path.stem})")
    click.echo(
        "next: describe your interest in its description and keywords, then `digestbot check` "
        f"and `digestbot preview {path.stem}`"
    )
    return EXIT_OK


@cli.command()
@_common
@click.argument("destination", required=False)
@_guard
def retry(config: Path | None, verbose: bool, destination: str | None) -> int:
    """Queue failed and dead deliveries again (of DESTINATION, e.g. slack:#papers, or all);
    the next run sends them."""
    from bot.store import Store

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    if not settings.state_path.exists():
        click.echo(f"state: {settings.state_path} does not exist yet: nothing to retry")
        return EXIT_OK
    store = Store.open(settings.state_path)
    try:
        count = store.outbox.retry(destination)
    finally:
        store.close()
    where = destination or "all destinations"
    click.echo(f"{count} paper(s) queued again for {where}; the next run sends them")
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


@cli.command()
@_common
@click.option(
    "--grace-minutes",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="how long after a scheduled run its heartbeat may be missing",
)
@_guard
def health(config: Path | None, verbose: bool, grace_minutes: int) -> int:
    """Exit 0 when the daemon's heartbeat is fresh, 1 when not (for Docker HEALTHCHECK)."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from bot.heartbeat import check as check_heartbeat

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    now = datetime.now(ZoneInfo(settings.timezone))
    result = check_heartbeat(settings, now, timedelta(minutes=grace_minutes))
    click.echo(("healthy: " if result.ok else "unhealthy: ") + result.message)
    return EXIT_OK if result.ok else EXIT_FAILED


_DAY = click.DateTime(formats=["%Y-%m-%d"])


@cli.command()
@_common
@click.argument("profile")
@click.option(
    "--since",
    default="14d",
    show_default=True,
    help="window start: days (14d) or weeks (3w) back, today included, or a date YYYY-MM-DD",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for reading, json for scripts",
)
@_guard
def preview(config: Path | None, verbose: bool, profile: str, since: str, fmt: str) -> int:
    """What one profile would have got from the stored papers.

    PROFILE is a YAML file (installed or not) or an installed profile's id. Per day: the papers
    it would send, with scores and reasons, and the best ones held back, with why. Writes
    nothing."""
    import json

    from bot.preview import find_profile, parse_since, preview_days, text_lines

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    chosen = find_profile(profile, settings.profiles_dir)
    first, last = parse_since(since, settings.timezone)
    result = preview_days(settings, chosen, first, last)
    if fmt == "json":
        click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        for line in text_lines(result):
            click.echo(line)
    return EXIT_OK


@cli.command()
@_common
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--from",
    "first",
    type=_DAY,
    default=None,
    help="first day scored (default: the archive's first)",
)
@click.option(
    "--to", "last", type=_DAY, default=None, help="last day scored (default: the archive's last)"
)
@click.option(
    "--history-from",
    type=_DAY,
    default=None,
    help="read days from this one up to --from as history: IDF and seen ids, not scored "
    "(default: the archive's first day)",
)
@click.option(
    "--profiles",
    "profiles_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="folder of profiles (default: `profiles:` of the config; then no config is needed)",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="candidates per day and profile in the report",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="worker processes, each scoring every n-th day (default: 2, or 1 on one CPU)",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="write the top candidates of every day and profile here, as JSON lines",
)
@_guard
def replay(
    config: Path | None,
    verbose: bool,
    archive: Path,
    first: datetime | None,
    last: datetime | None,
    history_from: datetime | None,
    profiles_dir: Path | None,
    top: int,
    jobs: int | None,
    report: Path | None,
) -> int:
    """Replay past days of an archive: alerts per profile, nothing sent.

    ARCHIVE is a folder of day files (YYYY-MM-DD.jsonl[.gz], .json, .xml). The state is
    throwaway and in memory. Prints alerts per day per profile and what other min_score values
    would give."""
    import contextlib
    import os

    from bot.config import load_profiles
    from bot.replay import run_replay, summary_lines

    _setup_logging(verbose, daemon=False)
    if profiles_dir is None:
        profiles_dir = _settings(config).profiles_dir
    d_first, d_last, d_history = (d.date() if d else None for d in (first, last, history_from))
    for earlier, later, what in (
        (d_first, d_last, "--from"),
        (d_history, d_first, "--history-from"),
    ):
        if earlier and later and earlier > later:
            click.echo(f"error: {what} {earlier} is after {later}", err=True)
            return EXIT_CONFIG
    profiles, errors = load_profiles(profiles_dir)
    if errors:
        _print_error(ConfigErrors(errors))
    if not profiles:
        if not errors:
            click.echo(f"error: no profiles in {profiles_dir}", err=True)
        return EXIT_CONFIG
    with contextlib.ExitStack() as stack:
        out = None
        if report is not None:
            try:
                out = stack.enter_context(report.open("w", encoding="utf-8"))
            except OSError as exc:
                raise DigestbotError(f"cannot write the report {report}: {exc.strerror}") from exc
        result = run_replay(
            archive,
            profiles,
            first=d_first,
            last=d_last,
            history_from=d_history,
            top=top,
            report=out,
            jobs=jobs or min(2, os.cpu_count() or 1),
        )
    if result.missing_examples:
        log.warning(
            "example papers not found in the archive (scored without them): %s",
            ", ".join(result.missing_examples),
        )
    for line in summary_lines(result, top):
        click.echo(line)
    if errors:
        click.echo(f"{len(errors)} profile error(s): those profiles were not replayed", err=True)
        return EXIT_CONFIG
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
