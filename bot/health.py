"""Source health: what each fetch means, and telling the operator about trouble once.

Every (source, digest day) fetch gets one health:

    ok                 papers arrived, and not the same batch as the source's previous day
    expected_empty     no papers on a day the source's calendar has none (arXiv on Saturday)
    unexpected_empty   no papers on a day that should have some
    stale              the source still shows an older batch (same papers as its previous day)
    failed             no answer that could be read, after the HTTP retries

The last three are trouble: the day is fetched again by later runs, the run exits 1, and an
*incident* is opened for the source. An incident lasts until a run finds the source healthy
again; the operator destination (`operator:` in bot.yaml) hears of it once when it opens and
once when it closes, however many runs see it in between.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import date

from bot.app import App
from bot.models import Paper, RunReport

log = logging.getLogger(__name__)

TROUBLE = ("failed", "stale", "unexpected_empty")


def fingerprint(papers: Sequence[Paper]) -> str | None:
    """A stable digest of a batch's paper ids (None for an empty batch)."""
    if not papers:
        return None
    ids = "\n".join(sorted(p.id for p in papers))
    return hashlib.sha1(ids.encode("utf-8"), usedforsecurity=False).hexdigest()


def track_incidents(app: App, report: RunReport) -> None:
    """Open, refresh or close each source's incident after the fetch stage of a run."""
    for source in report.sources:
        trouble = [(day, health) for day, health in source.health.items() if health in TROUBLE]
        if trouble:
            day, kind = trouble[0]
            message = source.error or kind.replace("_", " ")
            incident = app.store.incidents.note(source.name, kind, date.fromisoformat(day), message)
            if incident.notified_at is None:
                text = (
                    f"digestbot: source {source.name} is in trouble ({kind}) for {day}: {message}"
                )
                if _alert(app, text):
                    app.store.incidents.mark_notified(incident)
            continue
        if not source.health:  # stopped before fetching: says nothing about the source
            continue
        recovered = app.store.incidents.open(source.name)
        if recovered is not None:
            incident = recovered
            app.store.incidents.close(incident)
            log.info("source %s recovered (incident since %s)", source.name, incident.opened_at)
            _alert(
                app,
                f"digestbot: source {source.name} recovered ({incident.kind} since "
                f"{incident.opened_at})",
            )


def _alert(app: App, text: str) -> bool:
    """Send `text` to every operator destination; True if all of them took it."""
    ok = True
    for destination in app.settings.operator:
        found = app.notifier_for(destination)
        if found is None:
            log.error(
                "operator destination %s is not usable; alert not sent: %s", destination, text
            )
            ok = False
            continue
        notifier, target = found
        try:
            notifier.send_text(text, target)
        except Exception as exc:  # an alert must never break the run; it is retried next run
            log.error("operator alert to %s failed: %s", destination, exc)
            ok = False
    return ok
