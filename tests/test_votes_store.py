"""Votes in the state (bot/state/votes.py, the `votes` table, migration 8), on SQLite and on
PostgreSQL (tests taking `state` run once per backend).

What these prove: a later vote of one person on one paper replaces the earlier one, the same
vote again changes nothing (a retried Slack envelope), several people's votes are kept apart and
netted per paper, a withdrawn vote is gone, votes survive reopening the file, a read-only store
refuses to write, and a state from before votes upgrades without losing its papers.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from bot.errors import StateError
from bot.relevance.votes import Vote, net
from bot.state.backend import StateTarget
from bot.state.migrations import MIGRATIONS
from bot.state.store import Store

DAY = date(2026, 7, 31)


def vote(paper: str, value: int, voter: str = "slack:U1", profile: str = "norm") -> Vote:
    return Vote(profile, paper, value, voter, "slack", DAY)


def test_a_later_vote_replaces_the_earlier_and_a_repeat_changes_nothing(state: StateTarget) -> None:
    store = Store.open(state)
    try:
        assert store.votes.record(vote("2607.00001", 1)) is True
        assert store.votes.record(vote("2607.00001", 1)) is False  # Slack retried the envelope
        assert store.votes.record(vote("2607.00001", -1)) is True  # changed their mind
        votes = store.votes.of_profile("norm")
        assert [(v.paper_id, v.value, v.voter) for v in votes] == [("2607.00001", -1, "slack:U1")]
        assert store.votes.counts() == {"norm": (0, 1)}
    finally:
        store.close()


def test_votes_of_several_people_are_netted_per_paper(state: StateTarget) -> None:
    store = Store.open(state)
    try:
        store.votes.record(vote("2607.00001", 1, "slack:U1"))
        store.votes.record(vote("2607.00001", 1, "slack:U2"))
        store.votes.record(vote("2607.00002", 1, "slack:U1"))
        store.votes.record(vote("2607.00002", -1, "cli:alice"))
        store.votes.record(vote("2607.00003", -1, "slack:U2"))
        store.votes.record(vote("2607.00004", 1, "slack:U2", profile="other"))
        assert store.votes.net("norm") == {"2607.00001": 1, "2607.00003": -1}
        assert store.votes.counts() == {"norm": (3, 2), "other": (1, 0)}
        assert store.votes.withdraw("norm", "2607.00002", "cli:alice") == 1
        assert store.votes.net("norm") == {"2607.00001": 1, "2607.00002": 1, "2607.00003": -1}
        assert store.votes.withdraw("norm", "2607.00001") == 2  # every voter's
        assert store.votes.withdraw("norm", "2607.00001") == 0
        assert store.votes.net("norm") == {"2607.00002": 1, "2607.00003": -1}
    finally:
        store.close()


def test_net_before_a_day_keeps_only_earlier_votes() -> None:
    early = Vote("norm", "a", 1, "cli:x", "cli", date(2026, 7, 30))
    late = Vote("norm", "b", -1, "cli:x", "cli", date(2026, 7, 31))
    assert net([early, late]) == {"a": 1, "b": -1}
    assert net(v for v in [early, late] if v.day < date(2026, 7, 31)) == {"a": 1}


def test_votes_survive_reopening_and_a_readonly_store_refuses_to_write(
    state: StateTarget,
) -> None:
    path = state
    store = Store.open(path)
    store.votes.record(vote("2607.00001", 1))
    store.close()
    readonly = Store.open_readonly(path)
    try:
        assert [v.paper_id for v in readonly.votes.all()] == ["2607.00001"]
        with pytest.raises(StateError):
            readonly.votes.record(vote("2607.00002", 1))
        assert [v.paper_id for v in readonly.votes.all()] == ["2607.00001"]
    finally:
        readonly.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": 0}, r"\+1 or -1"),
        ({"value": 2}, r"\+1 or -1"),
        ({"origin": "fax"}, "one of slack"),
        ({"voter": ""}, "names its profile"),
    ],
)
def test_a_vote_that_is_not_a_vote_is_refused(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "profile_id": "norm",
        "paper_id": "a",
        "value": 1,
        "voter": "cli:x",
        "origin": "cli",
        "day": DAY,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Vote(**fields)  # type: ignore[arg-type]


def test_the_database_refuses_a_vote_that_is_not_plus_or_minus_one(tmp_path: Path) -> None:
    # The CHECK constraint holds even for a writer that skips the dataclass.
    store = Store.open(tmp_path / "state.sqlite3")
    store.close()
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO votes VALUES ('norm', 'a', 'cli:x', 5, 'cli', '2026-07-31', '')")
    db.close()


def test_a_state_from_before_votes_upgrades_and_keeps_its_papers(tmp_path: Path) -> None:
    path = tmp_path / "v7.sqlite3"
    db = sqlite3.connect(path)
    for statements in MIGRATIONS[:7]:
        for statement in statements:
            db.execute(statement)
    db.execute("PRAGMA user_version = 7")
    db.execute(
        "INSERT INTO papers VALUES ('2607.00001', 't', 'a', '[]', '', '[]', '', '2026-07-31',"
        " NULL, 'hf_daily', '{}', '2026-07-31', '2026-07-31T09:00:00+00:00')"
    )
    db.commit()
    db.close()
    store = Store.open(path)
    try:
        assert store.paper_count() == 1
        assert store.votes.all() == []
        store.votes.record(vote("2607.00001", 1))
        assert store.votes.counts() == {"norm": (1, 0)}
    finally:
        store.close()


def test_apply_records_and_withdraws_in_one_go(state: StateTarget) -> None:
    store = Store.open(state)
    try:
        store.votes.record(vote("2607.00001", 1, "slack:U1"))
        store.votes.record(vote("2607.00001", -1, "slack:U2"))
        store.votes.record(vote("2607.00002", 1, "cli:alice"))
        changed, removed = store.votes.apply(
            [vote("2607.00002", 1, "cli:alice"), vote("2607.00003", -1, "cli:alice")],
            [("norm", "2607.00001"), ("norm", "2607.00009")],
        )
        assert (changed, removed) == ([False, True], [2, 0])
        assert store.votes.net("norm") == {"2607.00002": 1, "2607.00003": -1}
    finally:
        store.close()


def test_a_voted_papers_vector_outlives_the_prune(state: StateTarget) -> None:
    # Scoring reads voted papers' stored vectors (relevance/scoring.py `voted_vectors`): the
    # prune that keeps only the newest vectors keeps those of papers with a vote as well.
    from bot.models import Paper

    def paper(pid: str, day: date) -> Paper:
        return Paper(pid, f"title {pid}", f"abstract {pid}", day=day, source="hf_daily")

    old, other, new = "2607.00001", "2607.00002", "2608.00001"
    store = Store.open(state)
    try:
        vectors = {pid: ("a", b"\0" * 8) for pid in (old, other)}
        store.record([paper(old, DAY), paper(other, DAY)], [], [], digest_day=DAY, vectors=vectors)
        store.votes.record(vote(old, 1))
        later = date(2026, 8, 3)
        store.record(
            [paper(new, later)],
            [],
            [],
            digest_day=later,
            vectors={new: ("b", b"\0" * 8)},
            keep_vectors=1,
        )
        assert sorted(store.vectors_of([old, other, new])) == [old, new]
    finally:
        store.close()
