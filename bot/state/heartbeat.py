"""The heartbeat: a small file next to the state, rewritten when the daemon starts and after
every run that went well, and the check that reads it (`digestbot health`, Docker HEALTHCHECK).

Healthy means: the heartbeat is at least as recent as the latest scheduled firing that is more
than `grace` old. So a quiet weekend (a mon-fri schedule) is healthy, while a daemon whose runs
keep failing, or that hangs, or whose scheduler silently stopped, turns unhealthy about `grace`
after the firing it missed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.errors import StateError
from bot.sources.base import cron_trigger

DEFAULT_GRACE = timedelta(hours=1)  # a run may take a while: fetch retries, many days owed


def path_for(settings: Settings) -> Path:
    return settings.state_path.with_name(settings.state_path.name + ".heartbeat")


def beat(settings: Settings, event: str, summary: str = "", now: datetime | None = None) -> None:
    """Record that the daemon is alive (`event`: "started" or "run ok"). Written atomically.
    Raises StateError when it cannot be written (a full disk, a read-only folder)."""
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
        trigger = cron_trigger(source.schedule, tz)
        fire = trigger.get_next_fire_time(None, before - timedelta(days=8))
        while fire is not None and fire <= before:
            if latest is None or fire > latest:
                latest = fire
            fire = trigger.get_next_fire_time(fire, fire)
    return latest


def check(settings: Settings, now: datetime, grace: timedelta = DEFAULT_GRACE) -> Health:
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
