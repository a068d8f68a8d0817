"""One run of the bot: fetch -> diff -> score -> record -> deliver -> report.

    1 fetch    each source, for the digest day, its look-back days and earlier failed days;
               a failing source is reported and the others go on
    2 diff     papers already in the store are dropped; the same paper from two sources is one
    3 score    scoring.rank(profiles, new papers, stored corpus)
    4 record   new papers + fetch outcomes + queued deliveries, in ONE transaction
    5 deliver  every pending delivery (this run's and earlier failures'), marked sent only
               after the channel accepted it
    6 report   a RunReport; the CLI turns it into an exit code

`digestbot once` and each scheduled job call `run_once`. With `dry_run` nothing is written:
steps 4-5 are replaced by printing the digests to the console.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import scoring
from bot.app import App
from bot.errors import DeliveryError, FetchError
from bot.models import Delivery, DestinationReport, Match, Paper, Profile, RunReport, SourceReport
from bot.sources.base import Source
from bot.store import FetchOutcome

log = logging.getLogger(__name__)

RETRY_WINDOW_DAYS = 7  # failed days older than this are given up on


def today(app: App) -> date:
    return datetime.now(ZoneInfo(app.settings.timezone)).date()


def days_to_fetch(app: App, source: Source, day: date) -> list[date]:
    """The digest day, its look-back days, and recent days whose fetch failed: oldest first."""
    days = {day - timedelta(days=k) for k in range(source.settings.lookback_days + 1)}
    days.update(app.store.days_to_retry(source.name, day, RETRY_WINDOW_DAYS))
    return sorted(days)


def run_once(
    app: App,
    *,
    day: date | None = None,
    sources: Sequence[str] | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Run the whole flow once for digest `day` (default: today in the configured zone)."""
    day = day or today(app)
    stop = stop or threading.Event()
    report = RunReport()
    profiles, profile_errors = app.load_profiles()
    report.profile_errors = len(profile_errors)
    for err in profile_errors:
        log.error("profile skipped: %s%s", err, f" (hint: {err.hint})" if err.hint else "")

    # 1 fetch
    fetched: dict[str, Paper] = {}
    ids_by_source: dict[str, set[str]] = {}
    outcomes: list[FetchOutcome] = []
    selected = [s for s in app.sources if sources is None or s.name in sources]
    for source in selected:
        if stop.is_set():
            report.stopped = True
            return report
        source_report = SourceReport(source.name)
        report.sources.append(source_report)
        days = days_to_fetch(app, source, day)
        for n, d in enumerate(days):
            source_report.days.append(d.isoformat())
            try:
                papers = source.fetch(d)
            except FetchError as exc:
                where = f" at {exc.url}" if exc.url else ""
                source_report.error = f"{exc}{where}"
                source_report.hint = exc.hint
                # The retries are spent: the source's other days would wait them out again.
                # They are recorded as failed too, so the next run fetches all of them.
                outcomes.extend(FetchOutcome(source.name, x, 0, f"{exc}{where}") for x in days[n:])
                hint = f" (hint: {exc.hint})" if exc.hint else ""
                log.error("source %s failed for %s: %s%s%s", source.name, d, exc, where, hint)
                break
            outcomes.append(FetchOutcome(source.name, d, len(papers)))
            source_report.fetched += len(papers)
            ids_by_source.setdefault(source.name, set()).update(p.id for p in papers)
            for paper in papers:
                known = fetched.get(paper.id)
                fetched[paper.id] = known.merged_with(paper) if known else paper

    # 2 diff
    seen = app.store.known_ids(fetched)
    fresh = [fetched[pid] for pid in sorted(fetched) if pid not in seen]
    report.new_papers = len(fresh)
    for source_report in report.sources:
        source_report.new = len(ids_by_source.get(source_report.name, set()) - seen)

    # 3 score
    matches = scoring.rank(profiles, fresh, app.store.corpus_texts()) if fresh else {}
    report.matches = sum(len(m) for m in matches.values())

    if app.dry_run:
        _print_dry_run(app, profiles, matches, day, len(fresh))
        return report

    # 4 record
    queued = [
        (match, destination, profile.name, day, len(fresh))
        for profile in profiles
        for destination in _destinations(app, profile)
        for match in matches.get(profile.id, [])
    ]
    app.store.record(fresh, outcomes, queued, digest_day=day)

    # 5 deliver
    _deliver(app, report, stop)
    return report


def _destinations(app: App, profile: Profile) -> list[str]:
    resolved = [app.resolve(d) for d in profile.destinations] or ["console"]
    return list(dict.fromkeys(resolved))


def _deliver(app: App, report: RunReport, stop: threading.Event) -> None:
    for delivery in app.store.pending_deliveries():
        if stop.is_set():
            report.stopped = True
            return
        dest_report = report.destinations.setdefault(
            delivery.destination, DestinationReport(delivery.destination)
        )
        ids = [m.paper.id for m in delivery.matches]
        found = app.notifier_for(delivery.destination)
        if found is None:
            name = delivery.destination.split(":", 1)[0]
            why = app.unusable.get(name, f"no notifier {name!r} is configured")
            app.store.mark_failed(delivery, ids, why, permanent=False)
            dest_report.failed += len(ids)
            dest_report.error = why
            log.error("delivery to %s kept queued: %s", delivery.destination, why)
            continue
        notifier, target = found
        try:
            notifier.send(delivery, target)
        except DeliveryError as exc:
            done = [pid for pid in ids if pid in set(exc.delivered)]
            if done:
                app.store.mark_sent(delivery, done)
            rest = [pid for pid in ids if pid not in set(done)]
            app.store.mark_failed(delivery, rest, str(exc), permanent=exc.permanent)
            dest_report.sent += len(done)
            dest_report.failed += len(rest)
            dest_report.error = str(exc)
            dest_report.hint = exc.hint
            state = "marked dead (not retried)" if exc.permanent else "kept queued for the next run"
            log.error("delivery failed, %s: %s", state, exc)
            continue
        app.store.mark_sent(delivery, ids)
        dest_report.sent += len(ids)
        log.info(
            "delivered %d papers of %s to %s", len(ids), delivery.profile_name, delivery.destination
        )


def _print_dry_run(
    app: App,
    profiles: Sequence[Profile],
    matches: dict[str, list[Match]],
    day: date,
    candidates: int,
) -> None:
    for profile in profiles:
        found = matches.get(profile.id, [])
        delivery = Delivery(profile.id, profile.name, "console", day, tuple(found), candidates)
        app.console.send(delivery, "dry run")
