"""The `votes` table: readers' votes (bot/relevance/votes.py `Vote`), one row per (profile,
paper, voter), the latest vote of that person replacing an earlier one; a withdrawn vote is
deleted. `Store.votes` is the instance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime

from bot.relevance.votes import Vote, net
from bot.state.backend import Db

_COLUMNS = "profile_id, paper_id, voter, vote, origin, day, at"


def _vote(row: tuple[object, ...]) -> Vote:
    profile_id, paper_id, voter, value, origin, day, at = row
    return Vote(
        profile_id=str(profile_id),
        paper_id=str(paper_id),
        value=int(str(value)),
        voter=str(voter),
        origin=str(origin),
        day=date.fromisoformat(str(day)),
        at=str(at),
    )


class Votes:
    """Reads and writes of the `votes` table, in the store's transactions."""

    def __init__(
        self,
        db: Db,
        transaction: Callable[[], AbstractContextManager[None]],
        writable: Callable[[], None],
    ) -> None:
        self._db = db
        self._transaction = transaction
        self._writable = writable  # raises on a read-only (dry-run) store

    def record(self, vote: Vote) -> bool:
        """Store `vote`, replacing that voter's earlier vote on the paper for the profile.
        True when something changed (a new vote, or a different value); the same vote again
        (a retried Slack envelope, a repeated command) changes nothing and returns False."""
        self._writable()
        with self._transaction():
            return self._upsert(vote)

    def apply(
        self, votes: Sequence[Vote], withdrawals: Sequence[tuple[str, str]] = ()
    ) -> tuple[list[bool], list[int]]:
        """Several changes in ONE transaction (a `digestbot feedback` command: all or nothing):
        `withdrawals` (profile id, paper id: every voter's vote on it) first, then `votes` in
        order. Returns `record`'s answer per vote and `withdraw`'s count per withdrawal."""
        self._writable()
        changed: list[bool] = []
        removed: list[int] = []
        with self._transaction():
            for profile_id, paper_id in withdrawals:
                removed.append(self._delete(profile_id, paper_id, None))
            for vote in votes:
                changed.append(self._upsert(vote))
        return changed, removed

    def withdraw(self, profile_id: str, paper_id: str, voter: str | None = None) -> int:
        """Remove `voter`'s vote on the paper for the profile (every voter's when None).
        Returns how many votes were removed."""
        self._writable()
        with self._transaction():
            return self._delete(profile_id, paper_id, voter)

    def _upsert(self, vote: Vote) -> bool:
        at = vote.at or datetime.now(UTC).isoformat(timespec="seconds")
        row = self._db.execute(
            "SELECT vote FROM votes WHERE profile_id = ? AND paper_id = ? AND voter = ?",
            (vote.profile_id, vote.paper_id, vote.voter),
        ).fetchone()
        if row is not None and int(row[0]) == vote.value:
            return False
        self._db.execute(
            f"INSERT INTO votes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (profile_id, paper_id, voter) DO UPDATE SET vote = excluded.vote,"
            " origin = excluded.origin, day = excluded.day, at = excluded.at",
            (
                vote.profile_id,
                vote.paper_id,
                vote.voter,
                vote.value,
                vote.origin,
                vote.day.isoformat(),
                at,
            ),
        )
        return True

    def _delete(self, profile_id: str, paper_id: str, voter: str | None) -> int:
        if voter is None:
            cur = self._db.execute(
                "DELETE FROM votes WHERE profile_id = ? AND paper_id = ?", (profile_id, paper_id)
            )
        else:
            cur = self._db.execute(
                "DELETE FROM votes WHERE profile_id = ? AND paper_id = ? AND voter = ?",
                (profile_id, paper_id, voter),
            )
        return cur.rowcount

    def of_profile(self, profile_id: str) -> list[Vote]:
        """The profile's votes, oldest first."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM votes WHERE profile_id = ? ORDER BY at, paper_id, voter",
            (profile_id,),
        ).fetchall()
        return [_vote(r) for r in rows]

    def all(self) -> list[Vote]:
        """Every vote, oldest first."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM votes ORDER BY at, profile_id, paper_id, voter"
        ).fetchall()
        return [_vote(r) for r in rows]

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per profile id: (votes +1, votes -1)."""
        rows = self._db.execute(
            "SELECT profile_id, SUM(CASE WHEN vote = 1 THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN vote = -1 THEN 1 ELSE 0 END) FROM votes GROUP BY profile_id"
        ).fetchall()
        return {str(p): (int(up), int(down)) for p, up, down in rows}

    def net(self, profile_id: str, *, before: date | None = None) -> dict[str, int]:
        """Per paper id, the sign of the sum of the profile's votes on it: +1 or -1; papers
        whose votes cancel out are left out. `before` keeps only votes given before that day
        (replay: a vote given on day D counts from D+1 on)."""
        return net(v for v in self.of_profile(profile_id) if before is None or v.day < before)
