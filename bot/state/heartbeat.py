"""The heartbeat: a small file next to the state, rewritten when the daemon starts and after
every run that went well, and the check that reads it (`digestbot health`, Docker HEALTHCHECK).

Healthy means: the heartbeat is at least as recent as the latest scheduled firing that is more
than `grace` old. So a quiet weekend (a mon-fri schedule) is healthy, while a daemon whose runs
keep failing, or that hangs, or whose scheduler silently stopped, turns unhealthy about `grace`
after the firing it missed.

On a PostgreSQL state, where several workers share one database (and one folder may serve
several), the heartbeat is per worker: a row of the `workers` table (bot/state/workers.py)
instead of the file. `check` then judges the worker of its own host (in a container, its own
daemon: a container's hostname is its own), or the worker it is given, by the same rule, and
also calls it unhealthy when it stopped beating or was stopped.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.errors import StateError
from bot.sources.base import cron_trigger, latest_fire
from bot.state.store import Store
from bot.state.workers import Worker

DEFAULT_GRACE = timedelta(hours=1)  # a run may take a while: fetch retries, many days owed


def path_for(settings: Settings) -> Path:
    return settings.state_path.with_name(settings.state_path.name + ".heartbeat")


def beat(
    settings: Settings,
    event: str,
    summary: str = "",
    now: datetime | None = None,
    store: Store | None = None,
) -> None:
    """Record that the daemon is alive (`event`: "started", "run ok" or "stopped"): in the
    file, written atomically, or for a PostgreSQL state in `store`'s worker row. Raises
    StateError when it cannot be written (a full disk, a read-only folder, the server down)."""
    if settings.state_url is not None and store is not None:
        store.workers.note(event, summary, now)
        return
    if event == "stopped":  # the file says when the daemon last worked, nothing more
        return
    path = path_for(settings)
    at = (now or datetime.now(UTC)).astimezone(UTC)
    body = {"at": at.isoformat(timespec="seconds"), "event": event}
    if summary:
        body["summary"] = summary
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(body) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise StateError(
            f"cannot write the heartbeat file {path}: {exc.strerror or exc}",
            hint="make room on its disk and let this user write its folder (the state's); "
            "until then `digestbot health` reports the daemon unhealthy",
        ) from exc


@dataclass(frozen=True)
class Health:
    ok: bool
    message: str


def last_due(settings: Settings, before: datetime) -> datetime | None:
    """The latest scheduled firing of any source at or before `before` (within 8 days)."""
    latest: datetime | None = None
    tz = ZoneInfo(settings.timezone)
    for source in settings.sources:
        fire = latest_fire(cron_trigger(source.schedule, tz), before, timedelta(days=8))
        if fire is not None and (latest is None or fire > latest):
            latest = fire
    return latest


def check(
    settings: Settings,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
    worker: str | None = None,
) -> Health:
    """Whether the daemon is healthy: the heartbeat file's, or on a PostgreSQL state the
    worker `worker` (default: the latest started on this host)."""
    if settings.state_url is not None:
        return _check_worker(settings, now, grace, worker)
    path = path_for(settings)
    try:
        beat_at = datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["at"])
    except FileNotFoundError:
        return Health(False, f"no heartbeat at {path}: the daemon has not started")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Health(False, f"unreadable heartbeat {path}: {exc}")
    due = last_due(settings, now - grace)
    if due is not None and beat_at < due:
        return Health(
            False,
            f"no good run since the one due at {due.isoformat()} "
            f"(last heartbeat {beat_at.isoformat()})",
        )
    return Health(True, f"last heartbeat {beat_at.isoformat()}")


def _check_worker(
    settings: Settings, now: datetime, grace: timedelta, worker: str | None
) -> Health:
    host = socket.gethostname()
    try:
        store = Store.open_readonly(settings.state)
    except StateError as exc:
        return Health(False, f"cannot read the workers: {exc}")
    try:
        workers = store.workers.all()
    finally:
        store.close()
    if worker is not None:
        mine = [w for w in workers if w.id == worker]
        if not mine:
            return Health(False, f"no worker {worker} in the state (see `digestbot status`)")
    else:
        mine = sorted((w for w in workers if w.host == host), key=lambda w: w.started_at)
        if not mine:
            return Health(False, f"no worker of this host ({host}) has started")
    return judge(settings, mine[-1], now, grace)


def judge(settings: Settings, worker: Worker, now: datetime, grace: timedelta) -> Health:
    """A worker's health by the heartbeat rule, and its beats."""
    if worker.event == "stopped":
        return Health(False, f"worker {worker.id} stopped at {worker.beat_at.isoformat()}")
    if not worker.alive(now):
        return Health(False, f"worker {worker.id} stopped beating at {worker.beat_at.isoformat()}")
    due = last_due(settings, now - grace)
    if due is not None and worker.ok_at < due:
        return Health(
            False,
            f"worker {worker.id}: no good run since the one due at {due.isoformat()} "
            f"(last heartbeat {worker.ok_at.isoformat()})",
        )
    return Health(True, f"worker {worker.id}: last heartbeat {worker.ok_at.isoformat()}")
