"""The daemon: an APScheduler 3.x BlockingScheduler shell around `pipeline.run_once`.

One cron job per source, in the configured time zone. Jobs run on a one-thread pool, so two
runs never overlap (not even two sources firing at the same minute); `coalesce` folds a backlog
of missed firings into one run and the misfire grace lets a late start still run. SIGINT and
SIGTERM set a stop event that the pipeline checks between steps, then the scheduler shuts down
after the current step and `run_daemon` returns 0.

Catch-up: the jobs live in memory, so a firing missed while the daemon was down is unknown to
APScheduler (and with a persistent job store, re-registering the jobs at start-up with
`replace_existing` would reset their next run time and drop the misfire silently). Instead the
state says when each source was last fetched; a source whose schedule fired since then gets ONE
catch-up run at start, and that run fetches every day it owes (`pipeline.days_to_fetch`).

Vote buttons: with a Slack app-level token the daemon also listens over Socket Mode
(bot/notifiers/slack_socket.py) from start to stop, on threads of its own with a Store of its
own; the stop closes that connection after the scheduler.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger

from bot.app import App
from bot.errors import DigestbotError
from bot.notifiers.slack_socket import VoteListener
from bot.pipeline import run_once
from bot.sources.base import cron_trigger
from bot.state import heartbeat
from bot.state.workers import BEAT_EVERY

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 6 * 3600  # a run that starts up to 6 h late still runs


def build_scheduler(
    app: App, stop: threading.Event, executor: ThreadPoolExecutor | None = None
) -> BlockingScheduler:
    """The scheduler with one job per source; not started."""
    tz = ZoneInfo(app.settings.timezone)
    scheduler = BlockingScheduler(
        timezone=tz,
        executors={"default": executor or ThreadPoolExecutor(max_workers=1)},
    )
    for source in app.sources:
        scheduler.add_job(
            _job,
            cron_trigger(source.settings.schedule, tz),
            args=(app, [source.name], stop),
            id=f"source:{source.name}",
            name=f"fetch {source.name}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
    return scheduler


def _job(app: App, sources: list[str], stop: threading.Event) -> None:
    try:
        report = run_once(app, sources=sources, stop=stop, respect_backoff=True)
    except DigestbotError as exc:  # keep the daemon alive: the next firing tries again
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        log.error("run for %s failed: %s%s", ", ".join(sources), exc, hint)
        return
    except Exception:
        log.exception("run for %s crashed; the daemon goes on", ", ".join(sources))
        return
    log.info("%s", report.summary())
    if not report.failed:
        try:
            heartbeat.beat(app.settings, "run ok", report.summary(), store=app.store)
        except DigestbotError as exc:
            log.error("%s (hint: %s)", exc, exc.hint)


def _beat(app: App) -> None:
    try:
        app.store.workers.beat()
    except DigestbotError as exc:  # the server down: the run's own errors say so
        log.debug("heartbeat not written: %s", exc)


def missed_runs(trigger: BaseTrigger, since: datetime, now: datetime, limit: int = 1000) -> int:
    """How many times `trigger` fired in (since, now] (counted up to `limit`)."""
    count, previous = 0, since
    while count < limit:
        # Given a previous firing, APScheduler's triggers answer the next one strictly after it.
        fire = trigger.get_next_fire_time(previous, previous)
        if fire is None or fire > now:
            break
        count, previous = count + 1, fire
    return count


def add_catch_up(scheduler: BlockingScheduler, app: App, stop: threading.Event) -> list[str]:
    """Schedule one run now for every source whose schedule fired since its last fetch; return
    their names. A source never fetched has missed nothing: it waits for its first firing."""
    now = datetime.now(ZoneInfo(app.settings.timezone))
    missed: list[str] = []
    for source in app.sources:
        last = app.store.fetches.last_run_at(source.name)
        if last is None:
            continue
        count = missed_runs(cron_trigger(source.settings.schedule, now.tzinfo or UTC), last, now)
        if count:
            log.info(
                "%s: %d scheduled run(s) missed since %s: catching up now",
                source.name,
                count,
                last.isoformat(),
            )
            missed.append(source.name)
    if missed:
        scheduler.add_job(
            _job,
            "date",
            run_date=now,
            args=(app, missed, stop),
            id="catch-up",
            name="catch up " + ", ".join(missed),
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
    return missed


def next_runs(scheduler: BlockingScheduler, now: datetime) -> dict[str, datetime | None]:
    """Job name -> next fire time after `now` (for the start-up log and `status`)."""
    result: dict[str, datetime | None] = {}
    for job in scheduler.get_jobs():
        result[job.name] = job.trigger.get_next_fire_time(None, now)
    return result


def run_daemon(app: App, env: Mapping[str, str] | None = None) -> int:
    """Block until SIGINT/SIGTERM; return the exit code (0). `env` holds the secrets (the
    process environment by default)."""
    stop = threading.Event()
    executor = ThreadPoolExecutor(max_workers=1)
    scheduler = build_scheduler(app, stop, executor)
    if not scheduler.get_jobs():
        log.warning("no sources configured: nothing will ever run")
    add_catch_up(scheduler, app, stop)

    def _stop_scheduler(*_: object) -> None:
        if stop.is_set() and scheduler.running:
            scheduler.shutdown(wait=False)

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing the current step, then stopping", signal.Signals(signum).name
        )
        stop.set()
        # wait=False: the handler runs on the main thread; the running job sees `stop` and
        # ends at its next step, and start() below returns once its loop wakes.
        _stop_scheduler()

    # A signal that lands before start() switched the scheduler on is honoured as it starts.
    scheduler.add_listener(_stop_scheduler, EVENT_SCHEDULER_STARTED)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    for name, when in next_runs(scheduler, datetime.now(ZoneInfo(app.settings.timezone))).items():
        log.info("scheduled: %s, next at %s", name, when.isoformat() if when else "never")
    log.info(
        "digestbot daemon started (%d jobs, time zone %s)",
        len(scheduler.get_jobs()),
        app.settings.timezone,
    )
    heartbeat.beat(app.settings, "started", store=app.store)
    if app.settings.state_url is not None:
        # Workers sharing a PostgreSQL state beat their row (`status`, `health`), also while
        # a long run keeps the job thread: from a thread of their own.
        scheduler.add_executor(ThreadPoolExecutor(max_workers=1), "beats")
        scheduler.add_job(
            _beat,
            "interval",
            seconds=BEAT_EVERY.total_seconds(),
            args=(app,),
            id="beat",
            name="worker heartbeat",
            executor="beats",
            coalesce=True,
        )
    listener = None if app.dry_run else VoteListener.create(app.settings, env or os.environ)
    if listener is not None:
        listener.start()
    try:
        scheduler.start()  # blocks until shutdown
        # Let a job that was mid-step finish that step before the state is closed.
        executor.shutdown(wait=True)
    finally:
        if listener is not None:
            listener.close()
    try:
        heartbeat.beat(app.settings, "stopped", store=app.store)
    except DigestbotError as exc:  # the server may be the reason it stops
        log.warning("could not note the stop: %s", exc)
    log.info("digestbot daemon stopped")
    return 0
