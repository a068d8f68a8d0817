"""Running the bot: `once`, `run` (the daemon), `retry`, `status`, `health`."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import click

from bot.cli.base import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    _common,
    _guard,
    _settings,
    _setup_logging,
    cli,
)

log = logging.getLogger("bot")


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
    # A worker of a PostgreSQL state notes its run in the `workers` table (`status`).
    noted = settings.state_url is not None and not dry_run
    try:
        if noted:
            app.store.workers.note("started")
        report = run_once(app, day=day.date() if day else None)
        if noted:
            if not report.failed:
                app.store.workers.note("run ok", report.summary())
            app.store.workers.note("stopped")
    finally:
        app.close()
    click.echo(report.summary(), err=True)  # also after a failure: what did get done
    if report.profile_errors:
        return EXIT_CONFIG
    if report.failed:
        return EXIT_FAILED
    return EXIT_OK


@cli.command()
@_common
@_guard
def run(config: Path | None, verbose: bool) -> int:
    """Start the daemon: one cron job per source, until SIGINT/SIGTERM; with `web:` in
    bot.yaml it serves the web page too."""
    from bot.app import build_app
    from bot.scheduler import run_daemon

    _setup_logging(verbose, daemon=True)
    settings = _settings(config)
    page = None
    if settings.web is not None:  # the web page, on a thread of the daemon until it stops
        from bot.web.server import WebServer, from_settings

        page = WebServer(*from_settings(settings))
    app = build_app(settings)
    try:
        if page is not None:
            page.start()
            log.info("the web page is served on %s", page.address)
        return run_daemon(app)
    finally:
        if page is not None:
            page.stop()
        app.close()


@cli.command()
@_common
@click.argument("destination", required=False)
@_guard
def retry(config: Path | None, verbose: bool, destination: str | None) -> int:
    """Queue failed and dead deliveries again (of DESTINATION, e.g. slack:#papers, or all);
    the next run sends them."""
    from bot.state.store import Store

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    if not settings.state_exists():
        click.echo(f"state: {settings.state_path} does not exist yet: nothing to retry")
        return EXIT_OK
    store = Store.open(settings.state)
    try:
        known = store.outbox.destinations()
        if destination is not None and destination not in known:
            # A typo would otherwise say "0 queued", as if that destination were healthy.
            listed = ", ".join(known) if known else "none yet"
            click.echo(
                f"error: no delivery for {destination} in the state: nothing to retry", err=True
            )
            click.echo(
                f"  hint: known destinations: {listed} (or no argument: all of them)", err=True
            )
            return EXIT_CONFIG
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
@click.option(
    "--worker",
    metavar="ID",
    default=None,
    help="a PostgreSQL state's worker to judge (as `status` names it); default: the one "
    "started last on this host",
)
@_guard
def health(config: Path | None, verbose: bool, grace_minutes: int, worker: str | None) -> int:
    """Exit 0 when the daemon's heartbeat is fresh, 1 when not (for Docker HEALTHCHECK)."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from bot.state.heartbeat import check as check_heartbeat

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    now = datetime.now(ZoneInfo(settings.timezone))
    result = check_heartbeat(settings, now, timedelta(minutes=grace_minutes), worker)
    click.echo(("healthy: " if result.ok else "unhealthy: ") + result.message)
    return EXIT_OK if result.ok else EXIT_FAILED
