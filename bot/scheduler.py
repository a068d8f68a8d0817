"""The daemon: an APScheduler 3.x BlockingScheduler shell around `pipeline.run_once`.

One cron job per source, in the configured time zone. Jobs run on a one-thread pool, so two
runs never overlap (not even two sources firing at the same minute); `coalesce` folds a backlog
of missed firings into one run and the misfire grace lets a late start still run. SIGINT and
SIGTERM set a stop event that the pipeline checks between steps, then the scheduler shuts down
after the current step and `run_daemon` returns 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.app import App
from bot.errors import DigestbotError
from bot.pipeline import run_once

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
            CronTrigger.from_crontab(source.settings.schedule, timezone=tz),
            args=(app, source.name, stop),
            id=f"source:{source.name}",
            name=f"fetch {source.name}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )
    return scheduler


def _job(app: App, source: str, stop: threading.Event) -> None:
    try:
        report = run_once(app, sources=[source], stop=stop, respect_backoff=True)
    except DigestbotError as exc:  # keep the daemon alive: the next firing tries again
        log.error("run for %s failed: %s", source, exc)
        return
    except Exception:
        log.exception("run for %s crashed; the daemon goes on", source)
        return
    log.info("%s", report.summary())


def next_runs(scheduler: BlockingScheduler, now: datetime) -> dict[str, datetime | None]:
    """Job name -> next fire time after `now` (for the start-up log and `status`)."""
    result: dict[str, datetime | None] = {}
    for job in scheduler.get_jobs():
        result[job.name] = job.trigger.get_next_fire_time(None, now)
    return result


def run_daemon(app: App) -> int:
    """Block until SIGINT/SIGTERM; return the exit code (0)."""
    stop = threading.Event()
    executor = ThreadPoolExecutor(max_workers=1)
    scheduler = build_scheduler(app, stop, executor)
    if not scheduler.get_jobs():
        log.warning("no sources configured: nothing will ever run")

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
    scheduler.start()  # blocks until shutdown
    # Let a job that was mid-step finish that step before the state is closed.
    executor.shutdown(wait=True)
    log.info("digestbot daemon stopped")
    return 0
