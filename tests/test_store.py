"""The state on a real SQLite file and on a real PostgreSQL database (tests/pg_server.py):
migrations, the one-transaction record, the outbox, and the fetch history that decides which days
are fetched again. Tests taking `store` (or `state`) run once per backend; the others are about
SQLite files (WAL, `PRAGMA user_version`, upgrading old files)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.errors import StateError
from bot.models import Delivery, Match, Paper
from bot.state.backend import StateTarget
from bot.state.fetch_log import FetchOutcome
from bot.state.migrations import MIGRATIONS
from bot.state.outbox import Queued, backoff, share
from bot.state.store import SCHEMA_VERSION, Store

DAY = date(2026, 7, 31)
NOW = datetime(2026, 7, 31, 9, 0, tzinfo=UTC)


def paper(pid: str, title: str = "A title") -> Paper:
    return Paper(
        id=pid,
        title=title,
        abstract="An abstract.",
        authors=("A. Author",),
        url=f"https://arxiv.org/abs/{pid}",
        day=DAY,
        source="hf_daily",
        extras={"upvotes": 3},
    )


@pytest.fixture
def store(state: StateTarget) -> Iterator[Store]:
    """A new state, on SQLite and then on PostgreSQL (the `state` fixture, tests/conftest.py)."""
    s = Store.open(state)
    yield s
    s.close()


def test_new_file_is_migrated_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "bot.sqlite3"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"papers", "deliveries", "fetches"} <= tables
    finally:
        conn.close()
    Store.open(path).close()  # reopening an up-to-date file migrates nothing and works


def test_state_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StateError, match="schema version") as caught:
        Store.open(path)
    assert caught.value.hint is not None and "upgrade digestbot" in caught.value.hint


def test_record_stores_papers_once_and_queues_deliveries(store: Store) -> None:
    a, b = paper("2607.00001"), paper("2607.00002")
    match = Match(a, "norm", 0.42, ("layer norm",))
    store.record(
        [a, b],
        [FetchOutcome("hf_daily", DAY, 2)],
        [(match, "slack:#x", "Norm", DAY, 2)],
        digest_day=DAY,
    )
    store.record([a], [], [(match, "slack:#x", "Norm", DAY, 2)], digest_day=DAY)  # again: no-op
    assert store.known_ids(["2607.00001", "2607.00003"]) == {"2607.00001"}
    assert store.paper_count() == 2
    assert store.get_paper("2607.00001") == a
    [delivery] = store.outbox.due(NOW)
    assert (
        delivery.profile_id,
        delivery.profile_name,
        delivery.destination,
        delivery.digest_day,
        delivery.candidates,
    ) == ("norm", "Norm", "slack:#x", DAY, 2)
    assert delivery.matches == (match,)


def test_record_is_one_transaction(store: Store) -> None:
    bad = Match(paper("2607.09999"), "norm", 0.5)  # refers to a paper that is not stored
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.ForeignKeyViolation)):
        store.record(
            [paper("2607.00001")],
            [FetchOutcome("hf_daily", DAY, 1)],
            [(bad, "console", "Norm", DAY, 1)],
            digest_day=DAY,
        )
    assert store.paper_count() == 0  # the papers written before the failure were rolled back
    assert store.fetches.days_to_retry("hf_daily", date(2026, 8, 1), 7) == []


def test_outbox_life_cycle(store: Store) -> None:
    papers = [paper(f"2607.0000{i}") for i in range(1, 5)]
    queued = [
        (Match(p, "norm", 0.9 - i / 10), "slack:#x", "Norm", DAY, 4) for i, p in enumerate(papers)
    ]
    store.record(papers, [], queued, digest_day=DAY)
    outbox = store.outbox
    [delivery] = outbox.due(NOW)
    assert [m.paper.id for m in delivery.matches] == [p.id for p in papers]
    assert not delivery.recovering
    outbox.mark_sending(delivery)
    outbox.mark_sent(delivery, ["2607.00001"])
    outbox.mark_failed(delivery, ["2607.00002"], "HTTP 500", permanent=False, now=NOW)
    outbox.mark_failed(delivery, ["2607.00003"], "invalid_auth", permanent=True)
    # 2607.00004 stays `sending`: what a crash between "accepted" and "marked" leaves.
    assert outbox.counts() == {
        ("slack:#x", "sent"): 1,
        ("slack:#x", "failed"): 1,
        ("slack:#x", "dead"): 1,
        ("slack:#x", "sending"): 1,
    }
    [recovering] = outbox.due(NOW)  # the failed one waits for its backoff
    assert recovering.recovering and [m.paper.id for m in recovering.matches] == ["2607.00004"]
    later = outbox.due(NOW + timedelta(minutes=5))
    assert [(d.recovering, [m.paper.id for m in d.matches]) for d in later] == [
        (True, ["2607.00004"]),
        (False, ["2607.00002"]),
    ]
    assert len(outbox.due(NOW, respect_backoff=False)) == 2  # a manual run retries at once
    assert outbox.last_errors() == {"slack:#x": ("invalid_auth", None)}
    assert outbox.retry("slack:#x") == 2  # failed + dead back to pending
    assert sorted(m.paper.id for m in outbox.due(NOW)[1].matches) == ["2607.00002", "2607.00003"]


def test_rows_failing_together_each_count_their_own_attempts(store: Store) -> None:
    # One failed message fails all its rows at once (mark_failed_parts, one batch): a row that
    # had failed before waits twice as long as the rows failing for the first time.
    papers = [paper(f"2607.0000{i}") for i in range(1, 4)]
    queued = [(Match(p, "norm", 0.9), "slack:#x", "Norm", DAY, 3) for p in papers]
    store.record(papers, [], queued, digest_day=DAY)
    outbox = store.outbox
    [delivery] = outbox.due(NOW)
    outbox.mark_failed(delivery, ["2607.00001"], "HTTP 500", permanent=False, now=NOW)
    [delivery] = outbox.due(NOW + timedelta(minutes=6))
    assert sorted(m.paper.id for m in delivery.matches) == [p.id for p in papers]
    outbox.mark_failed(delivery, [p.id for p in papers], "HTTP 503", permanent=False, now=NOW)
    [first_time] = outbox.due(NOW + timedelta(minutes=6))  # backoff(1) = 5 min
    assert sorted(m.paper.id for m in first_time.matches) == ["2607.00002", "2607.00003"]
    [every] = outbox.due(NOW + timedelta(minutes=11))  # backoff(2) = 10 min
    assert sorted(m.paper.id for m in every.matches) == [p.id for p in papers]
    assert outbox.last_errors()["slack:#x"][0] == "HTTP 503"


def test_backoff_doubles_up_to_six_hours() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (5, 10, 20)]
    assert backoff(30) == timedelta(hours=6)


def test_delivery_key_names_its_exact_papers(store: Store) -> None:
    papers = [paper("2607.00001"), paper("2607.00002")]
    a = Delivery("norm", "Norm", "slack:#x", DAY, tuple(Match(p, "norm", 0.5) for p in papers), 2)
    b = Delivery("norm", "Norm", "slack:#x", DAY, (Match(papers[0], "norm", 0.5),), 2)
    assert a.key != b.key and a.key.startswith("norm|slack:#x|2026-07-31|")
    assert a.key == Delivery("norm", "Norm", "slack:#x", DAY, tuple(reversed(a.matches)), 9).key


def test_failed_days_are_retried_until_they_succeed(store: Store) -> None:
    store.record(
        [],
        [
            FetchOutcome("hf_daily", date(2026, 7, 29), 0, "HTTP 503"),
            FetchOutcome("hf_daily", date(2026, 7, 30), 0, "HTTP 503"),
            FetchOutcome("other", date(2026, 7, 30), 0, "HTTP 503"),
            FetchOutcome("hf_daily", date(2026, 7, 10), 0, "too old"),
        ],
        [],
        digest_day=date(2026, 7, 30),
    )
    store.record(
        [], [FetchOutcome("hf_daily", date(2026, 7, 29), 5)], [], digest_day=date(2026, 7, 31)
    )
    assert store.fetches.days_to_retry("hf_daily", date(2026, 7, 31), 7) == [date(2026, 7, 30)]


def test_dry_run_state_is_read_only_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite3"
    ro = Store.open_readonly(path)
    with pytest.raises(StateError, match="read-only"):
        ro.record([paper("2607.00001")], [], [], digest_day=DAY)
    ro.close()
    assert not path.exists()
    Store.open(path).close()
    ro = Store.open_readonly(path)
    assert ro.paper_count() == 0
    ro.close()


# --------------------------------------------------------------------------- one paper, one post


def _q(pid: str, profile: str, score: float, dest: str = "slack:#x", day: date = DAY) -> Queued:
    match = Match(paper(pid), profile, score, (f"keyword {profile}",))
    return Queued(match, dest, profile.title(), day, 30)


def _place(destination: str) -> str:
    return destination.lower().replace("#", "")  # as a notifier would: "#X" and "x" are one


SHARE_CASES = [
    pytest.param(
        [_q("p1", "a", 0.97), _q("p1", "b", 0.99)],
        [("p1", "a", ("b", "slack:#x")), ("p1", "b", None)],
        {("p1", "b"): ("also matches: A", "keyword b")},
        id="the best score delivers",
    ),
    pytest.param(
        [_q("p1", "a", 0.98), _q("p1", "b", 0.98), _q("p1", "c", 0.98)],
        [("p1", "a", None), ("p1", "b", ("a", "slack:#x")), ("p1", "c", ("a", "slack:#x"))],
        {("p1", "a"): ("also matches: B, C", "keyword a")},
        id="a tie goes to the first profile",
    ),
    pytest.param(
        [_q("p1", "a", 0.97), _q("p1", "b", 0.99, dest="slack:#y"), _q("p2", "b", 0.99)],
        [("p1", "a", None), ("p1", "b", None), ("p2", "b", None)],
        {},
        id="other channels and other papers are apart",
    ),
    pytest.param(
        [_q("p1", "a", 0.97), _q("p1", "b", 0.99, day=date(2026, 8, 1))],
        [("p1", "a", None), ("p1", "b", None)],
        {},
        id="other days are apart",
    ),
    pytest.param(
        [_q("p1", "a", 0.97, dest="slack:#X"), _q("p1", "b", 0.99, dest="slack:x")],
        [("p1", "a", ("b", "slack:x")), ("p1", "b", None)],
        {("p1", "b"): ("also matches: A", "keyword b")},
        id="one place named two ways",
    ),
    pytest.param(
        [_q("p1", "a", 0.97, dest="slack:#X"), _q("p1", "a", 0.97, dest="slack:x")],
        [("p1", "a", None), ("p1", "a", ("a", "slack:#X"))],
        {},
        id="one profile naming one place twice: no also-matches",
    ),
]


@pytest.mark.parametrize(("queued", "merged", "reasons"), SHARE_CASES)
def test_share_queues_a_paper_once_per_day_and_place(
    queued: list[Queued],
    merged: list[tuple[str, str, tuple[str, str] | None]],
    reasons: dict[tuple[str, str], tuple[str, ...]],
) -> None:
    shared = share(queued, _place)
    assert [(q.match.paper.id, q.match.profile_id, q.merged_into) for q in shared] == merged
    changed = {
        (q.match.paper.id, q.match.profile_id): q.match.why
        for q, before in zip(shared, queued, strict=True)
        if q.match.why != before.match.why
    }
    assert changed == reasons


def test_merged_rows_are_never_due_and_count_as_their_delivering_row(store: Store) -> None:
    p = paper("2607.00001")
    queued = share([_q(p.id, "a", 0.97), _q(p.id, "b", 0.99)], _place)
    store.record([p], [], queued, digest_day=DAY)
    outbox = store.outbox
    [delivery] = outbox.due(NOW)
    assert (delivery.profile_id, delivery.matches[0].why[0]) == ("b", "also matches: A")
    assert outbox.counts() == {("slack:#x", "pending"): 2, ("slack:#x", "merged"): 1}
    outbox.mark_sending(delivery)
    outbox.mark_failed(delivery, [p.id], "channel_not_found", permanent=True)
    assert outbox.counts() == {("slack:#x", "dead"): 2, ("slack:#x", "merged"): 1}
    assert outbox.retry() == 1  # the delivering row; the merged one needs nothing
    [again] = outbox.due(NOW)
    outbox.mark_sent(again, [p.id])
    assert outbox.counts() == {("slack:#x", "sent"): 2, ("slack:#x", "merged"): 1}
    assert outbox.due(NOW, respect_backoff=False) == []


def test_a_version_5_outbox_is_kept_by_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "v5.sqlite3"
    db = sqlite3.connect(path)
    for statements in MIGRATIONS[:5]:
        for statement in statements:
            db.execute(statement)
    db.execute("PRAGMA user_version = 5")
    db.execute(
        "INSERT INTO papers VALUES ('2607.00001', 't', 'a', '[]', '', '[]', '', '2026-07-31',"
        " NULL, 'hf_daily', '{}', '2026-07-31', '2026-07-31T09:00:00+00:00')"
    )
    db.execute(
        "INSERT INTO deliveries (paper_id, profile_id, destination, profile_name, digest_day,"
        " candidates, score, why, status, attempts, last_error, next_attempt_at, created_at)"
        " VALUES ('2607.00001', 'norm', 'slack:#x', 'Norm', '2026-07-31', 30, 0.99, '[]',"
        " 'failed', 2, 'HTTP 500', '2026-07-31T09:10:00+00:00', '2026-07-31T09:00:00+00:00')"
    )
    db.commit()
    db.close()
    store = Store.open(path)
    try:
        assert store.outbox.counts() == {("slack:#x", "failed"): 1}
        assert store.outbox.last_errors() == {"slack:#x": ("HTTP 500", "2026-07-31T09:10:00+00:00")}
    finally:
        store.close()


def test_an_upgraded_state_counts_the_profiles_it_delivered_for_as_served(tmp_path: Path) -> None:
    # A state from before served profiles were kept: the profiles it queued deliveries for are
    # served (no first digest after the upgrade); the others are not known.
    path = tmp_path / "v6.sqlite3"
    db = sqlite3.connect(path)
    for statements in MIGRATIONS[:6]:
        for statement in statements:
            db.execute(statement)
    db.execute("PRAGMA user_version = 6")
    db.execute(
        "INSERT INTO papers VALUES ('2607.00001', 't', 'a', '[]', '', '[]', '', '2026-07-31',"
        " NULL, 'hf_daily', '{}', '2026-07-31', '2026-07-31T09:00:00+00:00')"
    )
    db.execute(
        "INSERT INTO deliveries (paper_id, profile_id, destination, profile_name, digest_day,"
        " candidates, score, why, status, created_at) VALUES ('2607.00001', 'norm', 'slack:#x',"
        " 'Norm', '2026-07-31', 30, 0.99, '[]', 'sent', '2026-07-31T09:00:00+00:00')"
    )
    db.commit()
    db.close()
    store = Store.open(path)
    try:
        assert store.served_profiles() == {"norm"}
        store.record([], [], [], digest_day=DAY, served=["norm", "new"])
        assert store.served_profiles() == {"norm", "new"}
    finally:
        store.close()


# --------------------------------------------------------------------------- every operation


def test_papers_aliases_vectors_and_metadata_read_back_alike(store: Store) -> None:
    day2 = date(2026, 8, 3)
    a = paper("2607.00001")
    b = Paper(
        id="biorxiv:10.1101/2026.07.01.1",
        title="B",
        abstract="Another abstract.",
        day=day2,
        source="biorxiv",
        extras={"aliases": ["doi:10.1038/x", "pmid:1"]},
    )
    vectors = {a.id: ("layer\nnorm", b"\x00\x01\xff" * 4), b.id: ("b", b"\x80" * 8)}
    store.record([a], [], [], digest_day=DAY, vectors=vectors)
    store.record([b], [], [], digest_day=day2, vectors=vectors, served=["norm", "norm"])
    assert store.known_as(["doi:10.1038/x", a.id, "nothing"]) == {
        "doi:10.1038/x": b.id,
        a.id: a.id,
    }
    assert store.vectors_of([a.id, b.id, "nothing"]) == vectors  # bytes come back as bytes
    assert store.recent_vectors(5, day2) == [(a.id, vectors[a.id])]
    assert store.latest_day_papers(["hf_daily", "biorxiv"]) == {DAY: [a], day2: [b]}
    assert store.papers_of_days(DAY, DAY) == [a]
    assert [p.id for p in store.stored_papers()] == sorted([a.id, b.id])
    assert store.papers_by_id([b.id]) == {b.id: b}
    assert store.papers_by_source() == {"hf_daily": 1, "biorxiv": 1}
    assert store.served_profiles() == {"norm"}
    newer = replace(a, categories=("cs.LG",), extras={"upvotes": 9})
    store.record([newer], [], [], digest_day=day2, updated=[newer])
    assert store.get_paper(a.id) == replace(a, categories=("cs.LG",), extras={"upvotes": 9})
    assert store.paper_count() == 2


def test_corpus_counts_and_example_papers_alike(store: Store) -> None:
    store.record([paper("2607.00001", "Layer norm"), paper("2607.00002")], [], [], digest_day=DAY)
    assert store.corpus.n_docs() == 2
    assert store.corpus.lookup(["abstract", "layer", "absent"]) == {
        "abstract": 2,
        "layer": 1,
        "absent": 0,
    }
    assert store.corpus.n_terms() > 0
    example = Paper(id="1706.03762", title="Attention", abstract="Transformers.", authors=("V",))
    store.cache_examples([example])
    store.cache_examples([replace(example, title="Attention is all you need")])  # replaced
    assert store.corpus.example("1706.03762") == replace(example, title="Attention is all you need")
    assert store.corpus.example("nothing") is None


def test_incidents_and_fetch_history_alike(store: Store) -> None:
    earlier, day2 = date(2026, 7, 30), date(2026, 8, 3)
    store.record(
        [],
        [
            FetchOutcome("hf_daily", earlier, 3, fingerprint="f1"),
            FetchOutcome("hf_daily", DAY, 0, "HTTP 503", health="failed"),
            FetchOutcome("hf_daily", date(2026, 7, 1), 0, "HTTP 503", health="skipped"),
        ],
        [],
        digest_day=DAY,
    )
    log = store.fetches
    assert log.has_history()
    assert log.last_ok_day("hf_daily") == earlier
    assert log.last_run_at("hf_daily") is not None
    assert log.last_fingerprint("hf_daily", day2) == "f1"
    assert log.owed_before("hf_daily", day2) == [DAY]
    assert log.skipped_days("hf_daily") == [date(2026, 7, 1)]
    first = store.incidents.note("hf_daily", "failed", DAY, "HTTP 503")
    again = store.incidents.note("hf_daily", "stale", DAY, "the same batch")
    assert (again.id, again.kind, again.message) == (first.id, "stale", "the same batch")
    store.incidents.mark_notified(again)
    store.incidents.close(again)
    assert store.incidents.open("hf_daily") is None
    last = store.incidents.last("hf_daily")
    assert last is not None and last.notified_at and last.closed_at
    assert store.incidents.note("hf_daily", "failed", day2, "again").id != first.id


def test_outbox_reads_alike(store: Store) -> None:
    p1, p2 = paper("2607.00001"), paper("2607.00002")
    store.record(
        [p1, p2],
        [],
        [
            (Match(p1, "norm", 0.5), "slack:#x", "Norm", DAY, 2),
            (Match(p2, "norm", 0.25), "console", "Norm", DAY, 2),
        ],
        digest_day=DAY,
    )
    outbox = store.outbox
    assert outbox.destinations() == ["console", "slack:#x"]
    assert outbox.delivering([p2.id, p1.id]) == [
        (p1.id, "norm", "slack:#x"),
        (p2.id, "norm", "console"),
    ]
    [console, slack] = sorted(outbox.due(NOW), key=lambda d: d.destination)
    assert slack.matches[0].score == 0.5 and console.matches[0].score == 0.25
    outbox.mark_sending(slack)
    assert outbox.posted_to(p1.id, "norm") == ["slack:#x"]
    outbox.mark_failed(console, [p2.id], "first", permanent=False, now=NOW)
    outbox.mark_failed(slack, [p1.id], "second", permanent=False, now=NOW)
    assert outbox.last_errors() == {
        "console": ("first", "2026-07-31T09:05:00+00:00"),
        "slack:#x": ("second", "2026-07-31T09:05:00+00:00"),
    }
    assert outbox.retry() == 2
    assert outbox.counts() == {("console", "pending"): 1, ("slack:#x", "pending"): 1}


def test_a_read_only_state_refuses_writes_on_each_backend(state: StateTarget) -> None:
    empty = Store.open_readonly(state)  # nothing there yet: an empty state, nothing created
    assert empty.paper_count() == 0
    empty.close()
    if isinstance(state, Path):
        assert not state.exists()
    Store.open(state).close()
    ro = Store.open_readonly(state)
    try:
        with pytest.raises(StateError, match="read-only"):
            ro.record([paper("2607.00001")], [], [], digest_day=DAY)
        assert ro.paper_count() == 0
    finally:
        ro.close()
