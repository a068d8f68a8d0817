"""`digestbot status`: what the state file says about each source and destination, and how
many votes each profile has.

Read-only: it opens the state the way --dry-run does and never creates or migrates it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.sources.base import cron_trigger
from bot.state import heartbeat
from bot.state.store import Store
from bot.state.workers import Worker


def status_lines(settings: Settings, now: datetime | None = None) -> list[str]:
    """One line for the state, one per source, one per destination, one per profile with
    votes, then the daemon's heartbeat and the next scheduled runs."""
    now = now or datetime.now(ZoneInfo(settings.timezone))
    if not settings.state_exists():
        lines = [f"state: {settings.state_path} does not exist yet (no run so far)"]
    else:
        store = Store.open_readonly(settings.state)
        try:
            lines = _lines(settings, store)
            if settings.state_url is not None:  # workers share it: each its own heartbeat
                lines += worker_lines(settings, store.workers.all(), now)
        finally:
            store.close()
    if settings.state_url is None:
        health = heartbeat.check(settings, now)
        lines.append(f"daemon: {'healthy' if health.ok else 'NOT HEALTHY'}: {health.message}")
    return lines + schedule_lines(settings, now)


def worker_lines(settings: Settings, workers: list[Worker], now: datetime) -> list[str]:
    """The workers alive, then those that stopped beating or were stopped (the last week)."""
    alive = [w for w in workers if w.alive(now)]
    lines = [f"workers: {len(alive)} alive" + ("" if alive else " (none beat lately)")]
    for w in alive:
        health = heartbeat.judge(settings, w, now, heartbeat.DEFAULT_GRACE)
        lines.append(
            f"worker {w.id}: alive (pid {w.pid} on {w.host}, started {_at(w.started_at)}, last"
            f" beat {_at(w.beat_at)}); {'healthy' if health.ok else 'NOT HEALTHY'}:"
            f" {health.message.split(': ', 1)[-1]}"
        )
    for w in workers:
        if w.alive(now):
            continue
        how = "stopped" if w.event == "stopped" else "STOPPED BEATING"
        lines.append(f"worker {w.id}: {how} at {_at(w.beat_at)} (started {_at(w.started_at)})")
    return lines


def _at(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def schedule_lines(settings: Settings, now: datetime) -> list[str]:
    """When each source's schedule fires next, in the configured time zone."""
    tz = ZoneInfo(settings.timezone)
    lines = []
    for source in settings.sources:
        fire = cron_trigger(source.schedule, tz).get_next_fire_time(None, now.astimezone(tz))
        when = fire.strftime("%a %Y-%m-%d %H:%M %Z") if fire else "never"
        lines.append(f"next run {source.label}: {when} ({source.schedule})")
    return lines


def _lines(settings: Settings, store: Store) -> list[str]:
    where = settings.state_url or settings.state_path
    lines = [f"state: {where} ({store.paper_count()} papers)"]
    by_source = store.papers_by_source()
    names = [s.label for s in settings.sources]
    names += sorted(set(by_source) - set(names))  # sources removed from the config since
    for name in names:
        last_ok = store.fetches.last_ok_day(name)
        parts = [
            f"last good day {last_ok.isoformat() if last_ok else 'never'}",
            f"{by_source.get(name, 0)} papers stored",
        ]
        skipped = store.fetches.skipped_days(name)
        if skipped:
            parts.append(f"{len(skipped)} day(s) skipped by catch-up ({skipped[0]}..{skipped[-1]})")
        incident = store.incidents.last(name)
        if incident is None:
            parts.append("no incident")
        else:
            state = (
                f"OPEN since {incident.opened_at}, last seen {incident.last_seen_at}"
                if incident.closed_at is None
                else f"closed {incident.closed_at}"
            )
            told = "" if incident.notified_at or not settings.operator else "; operator not told"
            parts.append(
                f"last incident: {incident.kind.replace('_', ' ')} for {incident.day} "
                f"({state}{told}): {incident.message}"
            )
        lines.append(f"source {name}: " + "; ".join(parts))
    counts = store.outbox.counts()
    errors = store.outbox.last_errors()
    for destination in sorted({d for d, _ in counts}):
        sent, pending, sending, failed, dead = (
            counts.get((destination, k), 0)
            for k in ("sent", "pending", "sending", "failed", "dead")
        )
        line = (
            f"destination {destination}: {sent} sent, {pending + sending} pending, "
            f"{failed} failed (will retry), {dead} dead"
        )
        shared = counts.get((destination, "merged"), 0)
        if shared:
            line += f" ({shared} listed under another profile whose digest went there)"
        if destination in errors:
            error, next_attempt = errors[destination]
            line += f"; last error: {error}"
            if next_attempt:
                line += f"; next attempt {next_attempt}"
        lines.append(line)
    if not counts:
        lines.append("destinations: nothing delivered or queued yet")
    votes = store.votes.counts()
    for profile_id, (up, down) in sorted(votes.items()):
        lines.append(f"votes for {profile_id}: {up} 👍, {down} 👎")
    if not votes:
        lines.append("votes: none yet")
    return lines
