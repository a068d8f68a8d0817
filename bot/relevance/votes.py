"""Readers' votes on a profile's papers: what a vote is, and how votes add up.

A vote is (profile id, paper id, +1 or -1, who, where from, when). A later vote of the same
person on the same paper for the same profile replaces the earlier one; a withdrawn vote is
gone. Votes never touch a profile's YAML file: `digestbot profile learned --write` is the only
way they reach it, and only when asked. They are kept in the state (`votes`, migration 8):
`Store.votes`, bot/state/votes.py.

`net()` is what scoring reads: per paper, the sum of its voters' votes (+1 liked, -1 disliked,
0 when they cancel out, then the paper is left out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

ORIGINS = ("slack", "cli", "email", "web", "file")


@dataclass(frozen=True)
class Vote:
    """One person's vote on one paper for one profile."""

    profile_id: str
    paper_id: str
    value: int  # +1 more like this, -1 less like this
    voter: str  # 'slack:U123ABC', 'cli:alice', ...
    origin: str  # one of ORIGINS
    day: date  # the day it was given (the bot's local day)
    at: str = ""  # UTC timestamp; filled on record() when empty

    def __post_init__(self) -> None:
        if self.value not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, not {self.value!r}")
        if self.origin not in ORIGINS:
            raise ValueError(f"a vote comes from one of {', '.join(ORIGINS)}, not {self.origin!r}")
        if not self.profile_id or not self.paper_id or not self.voter:
            raise ValueError("a vote names its profile, its paper and its voter")


def voted_ids(votes: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Every paper id in profiles' net votes, once, in order."""
    return list(dict.fromkeys(pid for per_profile in votes.values() for pid in per_profile))


def net(votes: Iterable[Vote]) -> dict[str, int]:
    """Per paper id, the sign of the sum of `votes` on it (+1 or -1); ties are left out."""
    total: dict[str, int] = {}
    for v in votes:
        total[v.paper_id] = total.get(v.paper_id, 0) + v.value
    return {pid: (1 if s > 0 else -1) for pid, s in sorted(total.items()) if s != 0}
