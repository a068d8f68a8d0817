"""A confirmed email vote link becomes a vote (bot/web/vote_link.py): the same row as a Slack
button or `digestbot feedback` writes, voter `email:<recipient>`, origin `email`, in a real
SQLite state file; a profile that no longer exists is refused and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.relevance.votes import Vote
from bot.state.store import Store
from bot.web.tokens import VoteIntent, sign, verify
from bot.web.vote_link import VoteRefused, record_from_link

SECRET = b"k3Jx9-vQ2pLmN8rT5wYz1aBcDeFgHiJk"
EXPIRES = date(2027, 2, 1)
TODAY = date(2026, 12, 3)
PROFILES = ("norm", "rag")


def intent(
    vote: int = 1, recipient: str = "alice@lab.example", profile: str = "norm"
) -> VoteIntent:
    return VoteIntent(profile, "2607.26654", vote, recipient, EXPIRES)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "state.sqlite3")
    yield opened
    opened.close()


def test_a_confirmed_link_is_an_email_vote(store: Store) -> None:
    # From a token, as the confirm handler gets it.
    confirmed = verify(sign(intent(), SECRET), SECRET, datetime(2026, 12, 3, tzinfo=UTC))
    vote = record_from_link(store, confirmed, PROFILES, TODAY)
    assert vote == Vote("norm", "2607.26654", 1, "email:alice@lab.example", "email", TODAY)
    [stored] = store.votes.all()
    assert (stored.profile_id, stored.paper_id, stored.value, stored.voter, stored.origin) == (
        "norm",
        "2607.26654",
        1,
        "email:alice@lab.example",
        "email",
    )
    assert stored.day == TODAY and stored.at  # the time of recording, filled by the store
    assert store.votes.net("norm") == {"2607.26654": 1}


def test_the_same_link_again_changes_nothing_and_the_other_one_replaces_it(store: Store) -> None:
    record_from_link(store, intent(1), PROFILES, TODAY)
    record_from_link(store, intent(1), PROFILES, TODAY)  # a scanner, a double click
    assert [(v.value, v.voter) for v in store.votes.all()] == [(1, "email:alice@lab.example")]
    record_from_link(store, intent(-1), PROFILES, date(2026, 12, 4))  # changed their mind
    assert [(v.value, v.day) for v in store.votes.all()] == [(-1, date(2026, 12, 4))]


def test_each_recipient_is_a_voter_of_their_own(store: Store) -> None:
    record_from_link(store, intent(1, "alice@lab.example"), PROFILES, TODAY)
    record_from_link(store, intent(1, "bob@lab.example"), PROFILES, TODAY)
    record_from_link(store, intent(1, "bob@lab.example", "rag"), PROFILES, TODAY)
    assert sorted((v.profile_id, v.voter) for v in store.votes.all()) == [
        ("norm", "email:alice@lab.example"),
        ("norm", "email:bob@lab.example"),
        ("rag", "email:bob@lab.example"),
    ]
    assert store.votes.counts() == {"norm": (2, 0), "rag": (1, 0)}


def test_an_unknown_profile_is_refused_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(VoteRefused) as info:
        record_from_link(store, intent(profile="deleted"), PROFILES, TODAY)
    assert "deleted" in str(info.value) and "not recorded" in str(info.value)
    assert info.value.hint
    assert store.votes.all() == []
