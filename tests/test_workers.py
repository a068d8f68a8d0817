"""Several workers on one PostgreSQL state (issue 17, item 2): deliveries claimed with a lease,
fetches of a (source, day) claimed once per firing, pacing shared through the database, and
the workers visible in `status` and `health`.

The claims are raced in threads on Stores of their own (each a worker, as each process is);
where the point is processes (two workers delivering one digest, a worker SIGKILLed
mid-delivery) the real CLI runs in subprocesses against one database, sending email to a real
aiosmtpd server (tests/smtp_server.py) that counts what it receives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import build_app
from bot.config import load_settings
from bot.models import Match, Paper
from bot.pipeline import run_once
from bot.state.backend import PostgresState
from bot.state.fetch_log import FetchOutcome
from bot.state.outbox import Queued
from bot.state.store import Store
from tests.conftest import FIXTURES, ROOT
from tests.smtp_server import SmtpServer

DAY = date(2026, 7, 31)
HF_DAY = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"


def paper(pid: str) -> Paper:
    return Paper(
        id=pid,
        title=f"Paper {pid}",
        abstract="An abstract.",
        authors=("A. Author",),
        url=f"https://arxiv.org/abs/{pid}",
        day=DAY,
        source="hf_daily",
    )


def place(destination: str) -> str:
    return destination


def queue_units(store: Store, units: int, papers_each: int = 3) -> set[tuple[str, str, str]]:
    """`units` destinations with `papers_each` papers queued for each: their row keys."""
    papers = [paper(f"2607.{k:05d}") for k in range(papers_each)]
    queued = [
        Queued(Match(p, "prof", 0.5), f"email:r{u}@example.org", "Prof", DAY, papers_each)
        for u in range(units)
        for p in papers
    ]
    store.record(papers, [], queued, digest_day=DAY)
    return {(q.match.paper.id, "prof", q.destination) for q in queued}


def keys(deliveries: list) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    return {(m.paper.id, d.profile_id, d.destination) for d in deliveries for m in d.matches}


@pytest.fixture
def stores(pg_state: PostgresState) -> Iterator[list[Store]]:
    """Two workers (a Store each) on one new PostgreSQL database."""
    opened = [Store.open(pg_state), Store.open(pg_state)]
    yield opened
    for s in opened:
        s.close()


# --------------------------------------------------------------------------- deliveries


def test_two_claimers_racing_each_get_whole_units_and_never_the_same_row(
    stores: list[Store],
) -> None:
    expected = queue_units(stores[0], units=12)
    got: list[list[set[tuple[str, str, str]]]] = [[], []]
    start = threading.Barrier(2)
    since = datetime.now(UTC) - timedelta(seconds=1)

    def work(n: int) -> None:
        start.wait()
        while claimed := stores[n].outbox.claim(datetime.now(UTC), place, since=since):
            got[n].append(keys(claimed))
            assert len({d.destination for d in claimed}) == 1  # one unit: one place
            time.sleep(0.01)  # "sending": the other worker claims meanwhile

    threads = [threading.Thread(target=work, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    units = got[0] + got[1]
    assert all(len(u) == 3 for u in units)  # never a unit split between the two
    assert set().union(*units) == expected
    assert sum(len(u) for u in units) == len(expected)  # no row handed out twice
    assert got[0] and got[1]  # both worked


def test_destinations_of_one_place_are_claimed_as_one_unit(stores: list[Store]) -> None:
    """A mailbox written two ways (the domain's case) is one place: its rows are one unit,
    whose place the first claim works out and keeps in the rows; the other worker, which
    reads the kept places, finds nothing left."""
    papers = [paper("2607.00001"), paper("2607.00002")]
    queued = [
        Queued(Match(papers[0], "a", 0.5), "email:alice@Lab.example", "A", DAY, 2),
        Queued(Match(papers[1], "b", 0.5), "email:alice@lab.example", "B", DAY, 2),
        Queued(Match(papers[1], "b", 0.5), "email:bob@lab.example", "B", DAY, 2),
    ]
    stores[0].record(papers, [], queued, digest_day=DAY)
    since = datetime.now(UTC) - timedelta(seconds=1)
    mailbox = str.lower
    first = stores[0].outbox.claim(datetime.now(UTC), mailbox, since=since)
    assert {d.destination for d in first} in (
        {"email:alice@Lab.example", "email:alice@lab.example"},
        {"email:bob@lab.example"},
    )
    second = stores[1].outbox.claim(datetime.now(UTC), str.upper, since=since)  # not asked
    assert {d.destination for d in first + second} == {q.destination for q in queued}
    assert stores[1].outbox.claim(datetime.now(UTC), str.upper, since=since) == []


def test_a_live_lease_keeps_others_off_and_an_expired_one_hands_sending_rows_over(
    stores: list[Store],
) -> None:
    a, b = (s.outbox for s in stores)
    queue_units(stores[0], units=1)
    a.lease = timedelta(seconds=1)
    now = datetime.now(UTC)
    [claimed] = a.claim(now, place, since=now)
    assert a.mark_sending(claimed)  # then "killed" mid-send: the rows stay `sending`
    assert b.claim(datetime.now(UTC), place, since=now) == []  # a's lease is live
    time.sleep(1.1)
    [recovering] = b.claim(datetime.now(UTC), place, since=now)
    assert recovering.recovering and keys([recovering]) == keys([claimed])
    # The first worker comes back: it no longer holds the rows, and writes nothing.
    assert not a.mark_sending(claimed)
    a.mark_sent(claimed, [m.paper.id for m in claimed.matches])
    a.mark_failed(claimed, [m.paper.id for m in claimed.matches], "late", permanent=False)
    assert stores[0].outbox.counts() == {("email:r0@example.org", "sending"): 3}
    b.mark_sent(recovering, [m.paper.id for m in recovering.matches])
    assert stores[0].outbox.counts() == {("email:r0@example.org", "sent"): 3}


# --------------------------------------------------------------------------- worker processes

RECIPIENTS = ["alice@example.org", "bob@example.org", "carol@example.org"]


def worker_config(
    root: Path,
    hf_url: str,
    smtp_port: int,
    state: PostgresState,
    extra: str = "",
    recipients: list[str] = RECIPIENTS,
) -> Path:
    """A machine's config folder: the recorded HF day, one profile mailing `recipients`, the
    shared PostgreSQL state."""
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "spec.yaml").write_text(
        "name: Speculative decoding\n"
        "keywords: [speculative decoding, draft model, lossy verification]\n"
        f"min_score: 0.95\nnotify:\n  email: [{', '.join(recipients)}]\n",
        encoding="utf-8",
    )
    config = root / "bot.yaml"
    config.write_text(
        f"timezone: Europe/Berlin\nstate: {state.url}\nprofiles: profiles/\n"
        "sources:\n  - kind: hf_daily\n    schedule: '0 9 * * mon-fri'\n"
        f"    base_url: {hf_url}\n    lookback_days: 0\n"
        f"email:\n  host: 127.0.0.1\n  port: {smtp_port}\n  security: none\n"
        "  from: bot@digest.example.org\n"
        "http:\n  timeout: 5\n  retries: 2\n  backoff: 0.05\n  allow_private: true\n" + extra,
        encoding="utf-8",
    )
    return config


def cli(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK", "DIGESTBOT"))}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def by_recipient(server: SmtpServer) -> Counter[tuple[str, str]]:
    """(recipient, Message-ID) -> how many times the server received it."""
    return Counter((str(m["To"]), str(m["Message-ID"])) for m in server.messages)


def test_two_worker_processes_deliver_a_digest_once(
    tmp_path: Path, pg_state: PostgresState
) -> None:
    from tests.fixture_server import FixtureServer

    with FixtureServer() as hf, SmtpServer() as smtp:
        hf.serve_hf_day("2026-07-31", HF_DAY)
        configs = [
            worker_config(tmp_path / name, hf.base_url, smtp.port, pg_state) for name in "ab"
        ]
        procs = [cli(c, "once", "--date", "2026-07-31") for c in configs]
        results = [finish(p) for p in procs]
        assert [code for code, _ in results] == [0, 0], results
        got = by_recipient(smtp)
        fetched = len(hf.requests)
    assert sorted(to for to, _ in got) == RECIPIENTS  # each recipient: one email...
    assert set(got.values()) == {1}  # ...received once
    assert fetched == 1  # the (source, day) was fetched by one worker


def test_a_sigkilled_workers_claimed_delivery_is_sent_by_another_after_the_lease(
    tmp_path: Path, pg_state: PostgresState
) -> None:
    from tests.fixture_server import FixtureServer

    lease = 2.0
    with FixtureServer() as hf, SmtpServer() as smtp:
        hf.serve_hf_day("2026-07-31", HF_DAY)
        extra = f"delivery_lease: {lease}\n"
        configs = [
            worker_config(tmp_path / name, hf.base_url, smtp.port, pg_state, extra, ["al@x.org"])
            for name in "ab"
        ]
        smtp.hold_after_accept(60)  # the first email is received, its "250 OK" held back
        first = cli(configs[0], "once", "--date", "2026-07-31")
        try:
            # The first worker is mid-delivery: its message at the server, its rows `sending`.
            assert smtp.wait_until(lambda s: len(s.raw) == 1, timeout=30)
            held = time.monotonic()
            other = Store.open(pg_state)
            try:
                since = datetime.now(UTC)
                assert other.outbox.claim(since, place, since=since) == []  # its lease is live
            finally:
                other.close()
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=10)
        time.sleep(max(0.0, lease - (time.monotonic() - held)))
        # The other worker (in this process: the killed one is the process that matters).
        app = build_app(load_settings(configs[1]), env={})
        try:
            report = run_once(app, day=DAY)
        finally:
            app.close()
        assert report.destinations["email:al@x.org"].sent == 1
        got = by_recipient(smtp)
    # Email cannot be asked what it has: the held message is sent again, with the same
    # Message-ID (the receiving side folds the two).
    assert list(got.values()) == [2] and next(iter(got))[0] == "al@x.org"
    check = Store.open(pg_state)
    try:
        assert {status for (_, status) in check.outbox.counts()} == {"sent"}
    finally:
        check.close()


# --------------------------------------------------------------------------- fetches


def test_two_claimers_racing_for_a_source_day_one_wins_once_per_firing(
    stores: list[Store],
) -> None:
    firing = datetime.now(UTC) - timedelta(hours=1)
    won: dict[int, bool] = {}
    start = threading.Barrier(2)

    def work(n: int) -> None:
        start.wait()
        won[n] = stores[n].fetch_claims.claim("hf_daily", DAY, firing)

    threads = [threading.Thread(target=work, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(won.values()) == [False, True]
    winner, loser = stores if won[0] else stores[::-1]
    # The winner records the fetch: the day is done for this firing, for everyone...
    winner.record([paper("2607.00001")], [FetchOutcome("hf_daily", DAY, 1)], [], digest_day=DAY)
    assert not loser.fetch_claims.claim("hf_daily", DAY, firing)
    # ...and claimable again at the next firing.
    assert loser.fetch_claims.claim("hf_daily", DAY, datetime.now(UTC))


def test_a_dead_fetchers_claim_is_taken_over_after_its_lease(stores: list[Store]) -> None:
    firing = datetime.now(UTC) - timedelta(hours=1)
    dead, other = (s.fetch_claims for s in stores)
    dead.lease = timedelta(seconds=0.3)
    assert dead.claim("hf_daily", DAY, firing)  # ...and its worker dies before recording
    assert not other.claim("hf_daily", DAY, firing)
    time.sleep(0.4)
    assert other.claim("hf_daily", DAY, firing)


def test_the_record_step_survives_papers_another_worker_stores_meanwhile(
    stores: list[Store],
) -> None:
    """Both workers fetched the same papers (a fetch lease ran out mid-fetch) and record them
    at the same time: nothing crashes, nothing is stored, counted or queued twice."""
    papers = [paper(f"2607.{k:05d}") for k in range(300)]
    queued = [
        Queued(Match(p, "prof", 0.5), "email:a@example.org", "Prof", DAY, 300) for p in papers
    ]
    start = threading.Barrier(2)
    failed: list[BaseException] = []

    def record(store: Store) -> None:
        start.wait()
        try:
            store.record(papers, [FetchOutcome("hf_daily", DAY, 300)], queued, digest_day=DAY)
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=record, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert failed == []
    assert stores[1].paper_count() == 300
    assert stores[1].corpus.n_docs() == 300  # each paper counted into the IDF once
    assert stores[1].outbox.counts() == {("email:a@example.org", "pending"): 300}


# --------------------------------------------------------------------------- pacing


def test_the_slack_pace_holds_across_workers(tmp_path: Path, pg_state: PostgresState) -> None:
    """Two workers (an app each: its own Slack client, in-process pace and database
    connections) deliver one digest day each to the same channel at the same moment: Slack
    receives the two posts at least a second apart."""
    from tests.e2e import CHANNELS, TOKEN
    from tests.slack_standin import SlackStandIn

    days = [DAY - timedelta(days=1), DAY]
    seed = Store.open(pg_state)
    try:
        for d in days:
            p = replace(paper(f"2607.0000{d.day}"), day=d)
            match = Match(p, "spec", 0.9, ("speculative",))
            seed.record([p], [], [Queued(match, "slack:#papers-spec", "Spec", d, 1)], digest_day=d)
    finally:
        seed.close()
    with SlackStandIn(token=TOKEN, channels=CHANNELS) as slack:
        apps = []
        for name in "ab":
            (tmp_path / name / "profiles").mkdir(parents=True)
            config = tmp_path / name / "bot.yaml"
            config.write_text(
                f"state: {pg_state.url}\nprofiles: profiles/\n"
                f"slack:\n  token_env: SLACK_BOT_TOKEN\n  base_url: {slack.base_url}\n"
                "http:\n  allow_private: true\n",
                encoding="utf-8",
            )
            apps.append(build_app(load_settings(config), env={"SLACK_BOT_TOKEN": TOKEN}))
        start = threading.Barrier(2)

        def work(n: int) -> None:
            start.wait()
            run_once(apps[n], day=DAY)

        threads = [threading.Thread(target=work, args=(n,)) for n in (0, 1)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
        finally:
            for app in apps:
                app.close()
        posts = slack.messages_in("#papers-spec")
    assert len(posts) == 2
    first, second = sorted(float(post.ts) for post in posts)
    assert second - first >= 1.0


# --------------------------------------------------------------------------- workers visible


def test_status_lists_the_workers_alive_and_health_judges_each_one(
    tmp_path: Path, stores: list[Store], pg_state: PostgresState
) -> None:
    from bot.state.heartbeat import check
    from bot.status import status_lines

    config = tmp_path / "bot.yaml"
    config.write_text(
        f"state: {pg_state.url}\nsources:\n  - kind: hf_daily\n    schedule: '0 9 * * *'\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    now = datetime.now(UTC)
    a, b = stores
    a.workers.note("started", now=now - timedelta(hours=30))
    a.workers.note("run ok", "new=3", now=now - timedelta(minutes=1))
    b.workers.note("started", now=now - timedelta(minutes=2))
    b.workers.beat(now=now - timedelta(seconds=30))
    gone = Store.open(pg_state)  # a third worker, whose beats stopped an hour ago
    try:
        gone.workers.note("run ok", now=now - timedelta(hours=1))
    finally:
        gone.close()
    lines = status_lines(settings, now)
    workers = [line for line in lines if line.startswith("worker")]
    assert workers[0] == "workers: 2 alive"
    assert sorted(line.split(":", 1)[1].split(" (")[0] for line in workers[1:3]) == sorted(
        f"{w.worker.split(':', 1)[1]}: alive" for w in (a, b)
    )
    assert workers[3].startswith(f"worker {gone.worker}: STOPPED BEATING at ")
    # `health` per worker: each judged by its own heartbeat and beats.
    assert check(settings, now, worker=a.worker).ok
    stale = check(settings, now, worker=b.worker)  # started after the last firing: fine...
    assert stale.ok, stale.message
    assert not check(settings, now, worker=gone.worker).ok
    assert "stopped beating" in check(settings, now, worker=gone.worker).message
    # ...and by default the latest worker started on this host: b.
    assert check(settings, now).message == stale.message
    later = now + timedelta(hours=30)  # b made no good run since then: unhealthy
    b.workers.beat(now=later)
    assert "no good run since" in check(settings, later, worker=b.worker).message
