"""One run of the bot: fetch -> diff -> score -> record -> deliver -> report.

    1 fetch    each source, for every digest day it owes: the day itself, its look-back days,
               the days missed since its last good fetch (catch-up) and days that failed,
               back to `catchup_days`; older days still owed are named in one warning and
               recorded as skipped; each (source, day) gets a health (bot/health.py); a failing
               source is reported and the others go on, also when it fails unexpectedly (a bug,
               an unforeseen answer); every batch is made safe to store and show
               (bot/sanitize.py), and a paper is digested under the day fetched for (or a
               look-back day it names); each (source, day) and the whole step have total
               deadlines (`http.day_deadline`, `http.run_deadline`): past the run's, the
               sources left fail (fetched next run) and what was fetched is kept
    2 diff     papers already stored are not scored again (their new metadata is merged in);
               the same paper from two sources in one run is one paper
    3 score    per digest day: scoring.rank(profiles, that day's new papers, the corpus IDF,
               the last 5000 papers before the day as the reference set);
               a fresh install scores only its latest day (older papers become corpus only);
               a profile no run has served yet (new, or renamed) is also scored against the
               stored papers of each source's latest day: its first digest (bot/first_digest.py)
    4 record   new papers + fetch outcomes + queued deliveries + the profiles served, in ONE
               transaction; a paper several profiles match for one channel or mailbox is
               queued there once, under the profile that scored it best ("also matches: ...";
               bot/state/outbox.py `share`)
    5 health   incidents opened or closed; the operator told once per incident
    6 deliver  every pending digest (this run's and earlier failures'), marked sent only
               after the channel accepted it; a channel that groups profiles (email's `group:
               recipient`) gets a recipient's digests of a day as one message, their rows
               marked together (bot/state/outbox.py `messages`); each message's failure is
               its own (an unexpected exception fails that delivery, with its redacted error
               kept, and the next one goes)
    7 report   a RunReport; the CLI turns it into an exit code

`digestbot once` and each scheduled job call `run_once`. With `dry_run` nothing is written:
steps 4-6 are replaced by printing the digests to the console.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from scipy.sparse import csr_matrix

from bot import first_digest
from bot.app import App
from bot.errors import DeliveryError, FetchError, ParseError, StaleError
from bot.health import fingerprint, track_incidents
from bot.identity import unify
from bot.models import Delivery, DestinationReport, Match, Paper, Profile, RunReport, SourceReport
from bot.notifiers.base import Notifier
from bot.progress import progress
from bot.relevance import scoring
from bot.relevance.examples import resolve_examples
from bot.relevance.library import with_zotero
from bot.relevance.reference import KEEP_VECTORS, Reference, StoredVector, encode_rows
from bot.relevance.tfidf import MemoryDocFreqs, Space, Vocabulary, terms_of
from bot.relevance.votes import voted_ids
from bot.sanitize import clean_batch
from bot.secrets import redact
from bot.sources.base import MAX_CATCHUP_DAYS, Source, cron_trigger, latest_fire
from bot.state.fetch_log import SKIPPED, FetchOutcome
from bot.state.outbox import Queued, messages, share

log = logging.getLogger(__name__)

COLD_START_DOCS = 1000  # below this many stored papers, a day's IDF also counts the day
UNEXPECTED_HINT = (
    "the digest stays queued and is retried on the next run; if this keeps happening, run "
    "with -v for the traceback and report it"
)


def today(app: App) -> date:
    return datetime.now(ZoneInfo(app.settings.timezone)).date()


def days_to_fetch(app: App, source: Source, day: date) -> list[date]:
    """Oldest first: `day`, its look-back days, every day since the source's last good
    fetch (at most `catchup_days` back), and recent days whose fetch is still owed."""
    settings = source.settings
    days = {day - timedelta(days=k) for k in range(settings.lookback_days + 1)}
    last_ok = app.store.fetches.last_ok_day(source.name)
    if last_ok is not None and last_ok < day:
        start = max(last_ok + timedelta(days=1), day - timedelta(days=settings.catchup_days))
        days.update(start + timedelta(days=k) for k in range((day - start).days))
    days.update(app.store.fetches.days_to_retry(source.name, day, settings.catchup_days))
    return sorted(d for d in days if d <= day)


def days_out_of_reach(app: App, source: Source, day: date, fetching: Sequence[date]) -> list[date]:
    """Days `source` still owes that are older than its `catchup_days` before `day` and were
    not noted as skipped yet: the rest of a long downtime, and failed days that aged out. No run
    fetches them unless asked (`fetching` are the days this run fetches)."""
    window_start = day - timedelta(days=source.settings.catchup_days)
    owed = set(app.store.fetches.owed_before(source.name, window_start))
    last_ok = app.store.fetches.last_ok_day(source.name)
    if last_ok is not None:  # never fetched: nothing was missed (a fresh install)
        owed.update(last_ok + timedelta(days=k) for k in range(1, (window_start - last_ok).days))
    owed -= set(app.store.fetches.skipped_days(source.name))
    return sorted(owed - set(fetching))


def run_once(
    app: App,
    *,
    day: date | None = None,
    sources: Sequence[str] | None = None,
    stop: threading.Event | None = None,
    respect_backoff: bool = False,
) -> RunReport:
    """Run the whole flow once for digest `day` (default: today in the configured zone).
    Failed deliveries are retried now, unless `respect_backoff` (the daemon) says to wait."""
    day = day or today(app)
    stop = stop or threading.Event()
    report = RunReport()
    profiles, profile_errors = app.load_profiles()
    report.profile_errors = len(profile_errors)
    for err in profile_errors:
        log.error("profile skipped: %s%s", err, f" (hint: {err.hint})" if err.hint else "")
    fresh_install = not app.store.fetches.has_history()

    # 1 fetch
    selected = [s for s in app.sources if sources is None or s.name in sources]
    with app.http.run_deadline():  # past it, each source left fails at its first request
        fetched, outcomes = _fetch_all(app, selected, day, report, stop)
    if report.stopped:
        return report

    # 2 diff (one paper, one id across sources: DOIs, aliases; bot/identity.py)
    fetched = unify(fetched, app.store)
    seen = app.store.known_ids(fetched)
    fresh = [fetched[pid] for pid in sorted(fetched) if pid not in seen]
    updated = [fetched[pid] for pid in sorted(seen)]
    report.new_papers = len(fresh)

    # 3 score, one digest per day the papers were announced on
    by_day: dict[date, list[Paper]] = {}
    for paper in fresh:
        by_day.setdefault(paper.day or day, []).append(paper)
    scored_days = sorted(by_day)
    if fresh_install and scored_days:
        # A first run must not flood: only the latest day is a digest, the rest is corpus.
        scored_days = scored_days[-1:]
    newcomers = first_digest.newcomers(app.store, profiles, fresh_install)
    # Readers' votes (relevance/votes.py): each profile's net vote per paper, read once a run.
    votes = {p.id: app.store.votes.net(p.id) for p in profiles}
    # ...and the voted papers' stored vectors (kept for as long as they have a vote).
    voted_vectors = app.store.vectors_of(voted_ids(votes)) if scored_days else {}
    examples: dict[str, Paper] = {}
    if scored_days or newcomers:
        # Zotero libraries are read only when something is scored (relevance/library.py).
        profiles = with_zotero(profiles, app.http, app.env)
        current = {p.id: p for p in profiles}
        newcomers = [current[p.id] for p in newcomers]
        examples = resolve_examples(
            app.store,
            app.http,
            app.settings.arxiv_api_url,
            profiles,
            [i for i in voted_ids(votes) if i not in voted_vectors],  # the rest: text needed
        )
    # Before this run's papers are stored: the newcomers' first digests read the stored ones.
    firsts = first_digest.first_digests(
        app.store, [s.name for s in app.sources], newcomers, examples
    )
    report.matches += sum(len(m) for _, _, matches in firsts for m in matches.values())
    digests: list[tuple[date, int, dict[str, list[Match]]]] = []
    # The IDF of a day comes from the papers stored before it (and this run's earlier days);
    # a young corpus also counts the day itself, or the first digests would have no IDF at all.
    # R is the last REFERENCE_SIZE papers before the new ones: stored ones (the day's own included:
    # a source lists more papers later in the day, and a later run must not calibrate them
    # against nothing), then this run's earlier days. The new papers are not stored yet; their
    # vectors are, with them, so tomorrow's R is read, not recomputed (relevance/reference.py).
    freqs = MemoryDocFreqs(base=app.store.corpus)
    vocabulary = Vocabulary()  # one column space for the whole run
    earlier: list[csr_matrix] = []
    vectors: dict[str, StoredVector] = {}
    for d in sorted(by_day):
        batch_terms = [terms_of(p.text) for p in by_day[d]]
        cold = freqs.n_docs() < COLD_START_DOCS
        if cold:
            freqs.add(batch_terms)
        fresh_vectors = Space(batch_terms, freqs, vocabulary=vocabulary).vectors(batch_terms)
        if d in scored_days:
            reference = Reference.of_store(app.store, d + timedelta(days=1), freqs, vocabulary)
            for block in earlier:
                reference.push(block)
            vectors.update(reference.computed)
            matches = scoring.rank(
                profiles,
                by_day[d],
                freqs,
                examples,
                reference,
                fresh_vectors=fresh_vectors,
                votes=votes,
                voted_vectors=voted_vectors,
            )
            digests.append((d, len(by_day[d]), matches))
            report.matches += sum(len(m) for m in matches.values())
        if not cold:
            freqs.add(batch_terms)
        earlier.append(fresh_vectors)
        ids = [p.id for p in by_day[d]]
        vectors.update(zip(ids, encode_rows(fresh_vectors, vocabulary), strict=True))

    if app.dry_run:
        _print_dry_run(app, profiles, digests, day)
        _print_first_digests(app, newcomers, firsts, day)
        return report

    # 4 record (a paper that several profiles match for one place is queued once there)
    normal, first = _rows(app, profiles, digests), _rows(app, profiles, firsts)
    queued = share([*normal, *first], app.place)
    if first:
        stored = app.store.outbox.delivering(sorted({q.match.paper.id for q in first}))
        queued[len(normal) :] = first_digest.settle(queued[len(normal) :], stored, app.place, day)
    app.store.record(
        fresh,
        outcomes,
        queued,
        digest_day=day,
        updated=updated,
        vectors=vectors,
        keep_vectors=KEEP_VECTORS,
        served=[p.id for p in profiles],
    )

    # 5 health, 6 deliver
    track_incidents(app, report)
    addressees: dict[str, str] = {}
    for profile in profiles:  # how a message addresses its recipient ("Alice <alice@...>")
        for destination, target in profile.addressees.items():
            addressees.setdefault(destination, target)
    _deliver(app, report, stop, respect_backoff, addressees)
    return report


def _fetch_all(
    app: App, sources: Sequence[Source], day: date, report: RunReport, stop: threading.Event
) -> tuple[dict[str, Paper], list[FetchOutcome]]:
    fetched: dict[str, Paper] = {}
    outcomes: list[FetchOutcome] = []
    for source in sources:
        if stop.is_set():
            report.stopped = True
            break
        source_report = SourceReport(source.name)
        report.sources.append(source_report)
        papers = _fetch_source(app, source, day, source_report, outcomes)
        for paper in papers:
            known = fetched.get(paper.id)
            fetched[paper.id] = known.merged_with(paper) if known else paper
        seen = app.store.known_ids({p.id for p in papers})
        source_report.new = len({p.id for p in papers} - seen)
    return fetched, outcomes


def _fetch_source(
    app: App, source: Source, day: date, report: SourceReport, outcomes: list[FetchOutcome]
) -> list[Paper]:
    papers: list[Paper] = []
    days = days_to_fetch(app, source, day)
    firing = _last_firing(app, source)
    skipped = days_out_of_reach(app, source, day, days)
    if skipped:
        _note_skipped(source, day, skipped, outcomes)
    # A catch-up after downtime can be many slow days (arXiv is paced at 3 s a request).
    with progress(f"{source.name} catch-up", len(days), enabled=len(days) > 3) as step:
        for n, d in enumerate(days):
            step(d.isoformat())  # the day being fetched
            # Workers sharing a state fetch a (source, day) once per firing: the one that
            # claims it (bot/state/fetch_claims.py); the others deliver what it records.
            if not app.dry_run and not app.store.fetch_claims.claim(source.name, d, firing):
                log.info("%s for %s: fetched by another worker for this firing", source.name, d)
                continue
            try:
                with app.http.day_deadline():
                    batch = _fetch_day(app, source, d, report, outcomes)
            except ParseError as exc:
                # This day's answer arrived but cannot be read: a fault of that day's data, not
                # of the source. It is fetched again next run; the other days go on.
                _trouble(report, outcomes, source, d, "failed", exc)
                continue
            except FetchError as exc:
                # The retries are spent: the source's other days would wait them out again.
                # They are recorded as failed too, so the next run fetches all of them.
                _trouble(report, outcomes, source, d, "failed", exc)
                for rest in days[n + 1 :]:
                    report.health[rest.isoformat()] = "failed"
                    outcomes.append(FetchOutcome(source.name, rest, 0, report.error, "failed"))
                break
            papers.extend(batch)
    return papers


def _last_firing(app: App, source: Source) -> datetime:
    """The latest scheduled firing of `source` (within 16 days; else now): what "fetched for
    this firing" is measured from."""
    now = datetime.now(UTC)
    trigger = cron_trigger(source.settings.schedule, ZoneInfo(app.settings.timezone))
    return latest_fire(trigger, now, timedelta(days=16)) or now


def _fetch_day(
    app: App, source: Source, d: date, report: SourceReport, outcomes: list[FetchOutcome]
) -> list[Paper]:
    """One day of one source, its health noted in `report` and `outcomes`. Raises FetchError
    (not StaleError, which is noted here)."""
    try:
        batch = _papers_of(source, d)
    except StaleError as exc:
        _trouble(report, outcomes, source, d, "stale", exc)
        return []
    health, mark = "ok", fingerprint(batch)
    if not batch:
        health = "unexpected_empty" if source.expects_papers(d) else "expected_empty"
    elif mark == app.store.fetches.last_fingerprint(source.name, d):
        health = "stale"  # the very batch of an earlier day, served again
    report.health[d.isoformat()] = health
    if health in ("stale", "unexpected_empty"):
        report.error = (
            "the same papers as the previous day (stale)"
            if health == "stale"
            else "no papers on a day that should have some"
        )
        log.error("source %s %s for %s: %s", source.name, health.replace("_", " "), d, report.error)
    outcomes.append(FetchOutcome(source.name, d, len(batch), None, health, mark))
    report.fetched += len(batch)
    return batch


def _papers_of(source: Source, d: date) -> list[Paper]:
    """The source's papers for day `d`, labelled and made safe (bot/sanitize.py). Raises
    FetchError, also for an unexpected exception: a bug, or an answer nobody foresaw, fails
    this source's day (recorded, fetched again next run) and never the run."""
    try:
        batch = source.fetch(d)
        # Each paper carries the source's configured name, which `status` counts papers by.
        labelled = [replace(p, source=source.name) for p in batch]
        first_day = d - timedelta(days=source.settings.lookback_days)
        return clean_batch(labelled, source=source.name, day=d, first_day=first_day)
    except FetchError:
        raise
    except Exception as exc:
        log.debug("%s for %s: the traceback", source.name, d, exc_info=True)
        first_line = redact((str(exc) or "no message").splitlines()[0][:300])
        # A ParseError: what failed is this day's data, so the source's other days go on.
        raise ParseError(
            f"internal error: {type(exc).__name__}: {first_line}",
            hint="a bug in digestbot, or an answer it did not foresee: please report it "
            "(-v shows the traceback); the day is fetched again on the next run",
        ) from exc


def _note_skipped(
    source: Source, day: date, skipped: list[date], outcomes: list[FetchOutcome]
) -> None:
    """Say once which owed days this run leaves out, and how to fetch them; they are recorded
    as skipped (not done), so `status` lists them and a run whose window reaches them fetches
    them."""
    catchup = source.settings.catchup_days
    why = f"not fetched: more than catchup_days ({catchup}) before {day}"
    outcomes.extend(FetchOutcome(source.name, d, 0, why, SKIPPED) for d in skipped)
    first, last = skipped[0], skipped[-1]
    raise_it = (
        f", or raise catchup_days (at most {MAX_CATCHUP_DAYS})"
        if catchup < MAX_CATCHUP_DAYS
        else ""
    )
    log.warning(
        "source %s: %d day(s) not fetched (%s..%s): more than catchup_days (%d) before %s; to "
        "fetch them, run `digestbot once --date %s` (that day and the %d before it)%s",
        source.name,
        len(skipped),
        first,
        last,
        catchup,
        day,
        last,
        catchup,
        raise_it,
    )


def _trouble(
    report: SourceReport,
    outcomes: list[FetchOutcome],
    source: Source,
    d: date,
    health: str,
    exc: FetchError,
) -> None:
    where = f" at {exc.url}" if exc.url else ""
    report.health[d.isoformat()] = health
    report.error = f"{exc}{where}"
    report.hint = exc.hint
    outcomes.append(FetchOutcome(source.name, d, 0, f"{exc}{where}", health))
    hint = f" (hint: {exc.hint})" if exc.hint else ""
    log.error("source %s %s for %s: %s%s%s", source.name, health, d, exc, where, hint)


def _rows(
    app: App,
    profiles: Sequence[Profile],
    digests: Sequence[tuple[date, int, dict[str, list[Match]]]],
) -> list[Queued]:
    """Each match of each digest, once per destination of its profile."""
    return [
        Queued(match, destination, profile.name, d, candidates)
        for d, candidates, matches in digests
        for profile in profiles
        for destination in _destinations(app, profile)
        for match in matches.get(profile.id, [])
    ]


def _destinations(app: App, profile: Profile) -> list[str]:
    resolved = [app.resolve(d) for d in profile.destinations] or ["console"]
    return list(dict.fromkeys(resolved))


def _deliver(
    app: App,
    report: RunReport,
    stop: threading.Event,
    respect_backoff: bool,
    addressees: Mapping[str, str],
) -> None:
    outbox = app.store.outbox
    started = datetime.now(UTC)
    # One unit (a place's due digests of a day) at a time, claimed for this worker: other
    # workers sharing the state claim other units meanwhile (bot/state/outbox.py `claim`).
    while due := outbox.claim(
        datetime.now(UTC), app.place, since=started, respect_backoff=respect_backoff
    ):
        batch = messages(due, lambda d: _grouped_place(app, d))
        for n, parts in enumerate(batch):
            if stop.is_set():
                report.stopped = True
                outbox.release(d for later in batch[n:] for d in later)
                return
            found = app.notifier_for(parts[0].destination)
            if found is None:  # never grouped: grouping is a notifier's
                _undeliverable(app, report, parts[0])
                continue
            notifier, target = found
            target = addressees.get(parts[0].destination, target)
            _send(app, report, notifier, target, parts)


def _grouped_place(app: App, delivery: Delivery) -> str | None:
    """Where `delivery` lands, when its channel sends a place's digests of a day as one
    message (email `group: recipient`); None when it goes alone."""
    found = app.notifier_for(delivery.destination)
    if found is None or not found[0].groups_profiles:
        return None
    return app.place(delivery.destination)


def _undeliverable(app: App, report: RunReport, delivery: Delivery) -> None:
    """A delivery whose notifier is not usable: failed, kept queued (dead if its secret is
    malformed: fixing that takes a person)."""
    outbox = app.store.outbox
    dest_report = report.destinations.setdefault(
        delivery.destination, DestinationReport(delivery.destination)
    )
    name = delivery.destination.split(":", 1)[0]
    ids = [m.paper.id for m in delivery.matches]
    malformed = app.malformed.get(name)
    if malformed is not None:
        outbox.mark_failed(delivery, ids, str(malformed), permanent=True)
        dest_report.failed += len(ids)
        dest_report.error, dest_report.hint = str(malformed), malformed.hint
        log.error(
            "delivery to %s marked dead (not retried): %s (hint: %s)",
            delivery.destination,
            malformed,
            malformed.hint,
        )
        return
    why = app.unusable.get(name, f"no notifier {name!r} is configured")
    outbox.mark_failed(delivery, ids, why, permanent=False)
    dest_report.failed += len(ids)
    dest_report.error = why
    log.error("delivery to %s kept queued: %s", delivery.destination, why)


def _send(
    app: App,
    report: RunReport,
    notifier: Notifier,
    target: str,
    parts: Sequence[Delivery],
) -> None:
    """One message carrying `parts` (one delivery, or a recipient's digests of one day): its
    rows are marked sending, then sent or failed, together."""
    outbox = app.store.outbox

    def dest_report(delivery: Delivery) -> DestinationReport:
        return report.destinations.setdefault(
            delivery.destination, DestinationReport(delivery.destination)
        )

    if parts[0].recovering:  # a message a crash left `sending` (its parts are all recovering)
        parts = [_recover(app, notifier, target, d, dest_report(d)) for d in parts]
        parts = [d for d in parts if d.matches]
        if not parts:
            return
    destination = parts[0].destination
    ids = [[m.paper.id for m in d.matches] for d in parts]
    if not outbox.mark_sending(*parts):  # committed before asking: a crash leaves this trace
        # This worker's lease ran out and another worker took the message over: it sends it.
        log.warning("delivery to %s taken over by another worker: not sent here", destination)
        return
    try:
        if len(parts) == 1:
            notifier.send(parts[0], target)
        else:
            notifier.send_group(parts, target)
    except DeliveryError as exc:
        delivered = set(exc.delivered)
        done = [[pid for pid in pids if pid in delivered] for pids in ids]
        rest = [[pid for pid in pids if pid not in delivered] for pids in ids]
        if any(done):
            outbox.mark_sent_parts(list(zip(parts, done, strict=True)))
        error = redact(str(exc))
        outbox.mark_failed_parts(
            list(zip(parts, rest, strict=True)),
            error,
            permanent=exc.permanent,
            wait_at_least=exc.retry_after,
        )
        for delivery, sent, failed in zip(parts, done, rest, strict=True):
            dest = dest_report(delivery)
            dest.sent += len(sent)
            dest.failed += len(failed)
            dest.error = error
            dest.hint = exc.hint
        state = "marked dead (not retried)" if exc.permanent else "kept queued for a retry"
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        log.error("delivery failed, %s: %s%s", state, error, hint)
        return
    except Exception as exc:
        # Not a failure the notifier knows (a bug, a library's surprise, a closed stdout):
        # this delivery fails, as transient, with the error kept; the queue goes on.
        error = redact(f"{destination}: {type(exc).__name__}: {exc}")
        outbox.mark_failed_parts(list(zip(parts, ids, strict=True)), error, permanent=False)
        for delivery, pids in zip(parts, ids, strict=True):
            dest = dest_report(delivery)
            dest.failed += len(pids)
            dest.error = error
            dest.hint = UNEXPECTED_HINT
        log.error("delivery to %s failed, kept queued for a retry: %s", destination, error)
        log.debug("the traceback of that failure", exc_info=True)  # -v
        return
    outbox.mark_sent_parts(list(zip(parts, ids, strict=True)))
    for delivery, pids in zip(parts, ids, strict=True):
        dest_report(delivery).sent += len(pids)
    log.info(
        "delivered %d papers of %s to %s",
        sum(len(pids) for pids in ids),
        ", ".join(d.profile_name for d in parts),
        destination,
    )


def _recover(
    app: App, notifier: Notifier, target: str, delivery: Delivery, dest_report: DestinationReport
) -> Delivery:
    """A delivery a crashed run left `sending`: mark what the channel already has as sent and
    return the rest (the channel is asked when it can tell; otherwise everything is resent)."""
    try:
        have = notifier.already_delivered(delivery, target)
    except Exception as exc:  # DeliveryError, or a surprise: either way, at-least-once
        log.warning(
            "could not check %s for a crashed delivery (%s): sending again",
            delivery.destination,
            redact(str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"),
        )
        have = set()
    done = [m.paper.id for m in delivery.matches if m.paper.id in have]
    if done:
        app.store.outbox.mark_sent(delivery, done)
        dest_report.sent += len(done)
        log.info(
            "%s already had %d papers of a crashed run: not sent again",
            delivery.destination,
            len(done),
        )
    rest = tuple(m for m in delivery.matches if m.paper.id not in have)
    return replace(delivery, matches=rest, recovering=False)


def _print_dry_run(
    app: App,
    profiles: Sequence[Profile],
    digests: list[tuple[date, int, dict[str, list[Match]]]],
    day: date,
) -> None:
    for d, candidates, matches in digests or [(day, 0, {})]:
        for profile in profiles:
            found = tuple(matches.get(profile.id, []))
            app.console.send(
                Delivery(profile.id, profile.name, "console", d, found, candidates), "dry run"
            )


def _print_first_digests(
    app: App,
    newcomers: Sequence[Profile],
    firsts: list[tuple[date, int, dict[str, list[Match]]]],
    day: date,
) -> None:
    for d, candidates, matches in firsts:
        why = first_digest.note(d, day)
        for profile in newcomers:
            found = tuple(replace(m, why=(why, *m.why)) for m in matches.get(profile.id, []))
            app.console.send(
                Delivery(profile.id, profile.name, "console", d, found, candidates), "dry run"
            )
