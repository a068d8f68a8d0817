"""`digestbot preview`: what one profile would have received from the papers already stored.

For tuning a profile on real recent papers before (or after) installing it: the state file is
opened read-only, nothing is fetched or written, nothing is sent. For each day of the window
(a paper's `day` is the digest day it was listed on), the day's stored papers are scored
against the profile: the papers that would be sent, with score and reasons, and the best few
that would not, with why they were held back (below min_score, over max_per_digest,
excluded, category).

Scores are percentiles among the stored papers of the days before (relevance/scoring.py). The IDF is
that of the whole stored corpus as it is now, so a day's scores can differ a little
from what the live run of that day computed (it knew only the papers stored before it).
Example papers are found as the live run does (relevance/examples.py): the state (stored papers
and the arXiv cache), then one arXiv API request for the rest, through the same HTTP client and
address gate; what is fetched is not cached (the state stays untouched). `offline` asks nothing:
an example the state does not know is left out. Either way one found nowhere is named in a
warning.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings, load_profile
from bot.errors import ConfigError, StateError
from bot.http import Http
from bot.models import Match, Paper, Profile
from bot.relevance.examples import resolve_examples
from bot.relevance.library import with_zotero
from bot.relevance.reference import Reference
from bot.relevance.scoring import Candidate, evaluate
from bot.relevance.votes import voted_ids
from bot.state.store import Store

UNDER = 3  # papers shown under the threshold, per day
TITLE_WIDTH = 70  # characters of a title in the text output

_SINCE = re.compile(r"(?P<n>\d+)\s*(?P<unit>[dw])")


def parse_since(since: str, timezone: str, today: date | None = None) -> tuple[date, date]:
    """The window `since` names, ending today (in `timezone`): `14d` is the last 14 days,
    today included; `3w` the last 21; a date YYYY-MM-DD starts the window on that day."""
    today = today or datetime.now(ZoneInfo(timezone)).date()
    text = since.strip().lower()
    m = _SINCE.fullmatch(text)
    if m:
        n = int(m.group("n")) * (7 if m.group("unit") == "w" else 1)
        if n < 1:
            raise ConfigError("the window must be at least 1 day", file="--since")
        return today - timedelta(days=n - 1), today
    try:
        first = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{since!r} is neither a number of days or weeks nor a date",
            file="--since",
            hint="use e.g. 14d, 3w or 2026-07-01",
        ) from None
    if first > today:
        raise ConfigError(f"{first} is after today ({today})", file="--since")
    return first, today


def find_profile(name: str, profiles_dir: Path) -> Profile:
    """PROFILE as given on the command line: a YAML file (installed or not), else the id of a
    profile in `profiles_dir`. Raises ConfigError(s) for a broken or unknown profile."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ConfigError("profile file not found", file=str(path))
        return load_profile(path)
    for suffix in (".yaml", ".yml"):
        candidate = profiles_dir / f"{name}{suffix}"
        if candidate.is_file():
            return load_profile(candidate)
    known = sorted(p.stem for p in [*profiles_dir.glob("*.yaml"), *profiles_dir.glob("*.yml")])
    raise ConfigError(
        f"no profile {name!r} in {profiles_dir}",
        file=name,
        hint=("installed profiles: " + ", ".join(known)) if known else "give a path to a YAML file",
    )


@dataclass(frozen=True)
class PreviewDay:
    day: date
    papers: int  # stored papers listed that day
    sent: list[Candidate]
    under: list[Candidate]  # the best ones not sent, with `held_back`
    scores: tuple[float, ...] = ()  # every stored paper's score that day, best first (charts)


@dataclass
class Preview:
    profile: Profile
    first: date
    last: date
    state: Path
    days: list[PreviewDay] = field(default_factory=list)
    votes: dict[str, int] = field(default_factory=dict)  # net vote per paper id (+1 / -1)
    counts: tuple[int, int] = (0, 0)  # the profile's votes: (+1, -1)

    def as_json(self) -> dict[str, Any]:
        up, down = self.counts
        return {
            "profile": self.profile.name,
            "min_score": self.profile.min_score,
            "votes": {"up": up, "down": down},
            "days": [
                {
                    "day": d.day.isoformat(),
                    "sent": [_paper_json(c.match, self.votes) for c in d.sent],
                    "under": [
                        {**_paper_json(c.match, self.votes), "held_back": c.held_back}
                        for c in d.under
                    ],
                }
                for d in self.days
            ],
        }


def _paper_json(match: Match, votes: Mapping[str, int]) -> dict[str, Any]:
    return {
        "id": match.paper.id,
        "title": match.paper.title,
        "score": match.score,
        "reasons": list(match.why),
        "voted": votes.get(match.paper.id),  # 1, -1, or null: the net vote on it
    }


def preview_days(
    settings: Settings, profile: Profile, first: date, last: date, *, offline: bool = False
) -> Preview:
    """Score the papers stored for days `first`..`last` against `profile`, day by day."""
    path = settings.state_path
    if settings.state_url is None and not path.is_file():
        raise StateError(
            f"no state file at {path}: no papers are stored yet",
            hint="run `digestbot once` first (or check `state:` in bot.yaml)",
        )
    store = Store.open_readonly(settings.state)  # not SQLite: a StateError (state_db)
    try:
        votes = {profile.id: store.votes.net(profile.id)}  # as the next live run reads them
        voted = voted_ids(votes)
        if offline:
            examples = resolve_examples(store, None, settings.arxiv_api_url, [profile], voted)
        else:
            with Http(settings.http) as http:  # the store is read-only: nothing is cached
                [profile] = with_zotero([profile], http, os.environ)
                examples = resolve_examples(store, http, settings.arxiv_api_url, [profile], voted)
        return _preview(store, settings, profile, first, last, examples, votes)
    finally:
        store.close()


def _preview(
    store: Store,
    settings: Settings,
    profile: Profile,
    first: date,
    last: date,
    examples: Mapping[str, Paper],
    votes: Mapping[str, Mapping[str, int]],
) -> Preview:
    net = dict(votes.get(profile.id, {}))
    counts = store.votes.counts().get(profile.id, (0, 0))
    result = Preview(profile, first, last, settings.state_path, votes=net, counts=counts)
    by_day: dict[date, list[Paper]] = {}
    for paper in store.papers_of_days(first, last):
        if paper.day is not None:
            by_day.setdefault(paper.day, []).append(paper)
    for day, papers in sorted(by_day.items()):
        reference = Reference.of_store(store, day, store.corpus)
        candidates = evaluate(
            [profile],
            papers,
            store.corpus,
            examples,
            reference=reference,
            explain=UNDER,
            votes=votes,
        )
        ranked = candidates[profile.id]
        result.days.append(
            PreviewDay(
                day=day,
                papers=len(papers),
                sent=[c for c in ranked if c.passed],
                under=[c for c in ranked if not c.passed][:UNDER],
                scores=tuple(c.match.score for c in ranked),
            )
        )
    return result


def text_lines(result: Preview) -> list[str]:
    """The text output: a header per day, the papers sent, then those just under."""
    p = result.profile
    sent = sum(len(d.sent) for d in result.days)
    lines = [
        f"preview of {p.id} ({p.name}): min_score {p.min_score}, max_per_digest "
        f"{p.max_per_digest}; stored papers of {result.first} .. {result.last} in {result.state}",
        _votes_line(result),
    ]
    if not result.days:
        lines.append("no stored papers in this window (try a longer --since)")
        return lines
    for d in result.days:
        lines.append("")
        lines.append(f"{d.day}: {len(d.sent)} of {d.papers} papers would be sent")
        lines.extend(_line(c.match, voted=result.votes.get(c.match.paper.id)) for c in d.sent)
        if d.under:
            lines.append("  under the threshold:")
            lines.extend(
                _line(c.match, c.held_back, result.votes.get(c.match.paper.id)) for c in d.under
            )
    lines.append("")
    lines.append(f"{sent} paper(s) would have been sent over {len(result.days)} day(s)")
    return lines


def _votes_line(result: Preview) -> str:
    up, down = result.counts
    if not up and not down:
        return "votes: none yet (`digestbot feedback` or the digest's buttons give some)"
    liked = sum(v > 0 for v in result.votes.values())
    return (
        f"votes: {up} 👍, {down} 👎 (net: {liked} paper(s) liked, "
        f"{len(result.votes) - liked} disliked; `digestbot feedback {result.profile.id} --list`)"
    )


def _line(match: Match, held_back: str | None = None, voted: int | None = None) -> str:
    title = match.paper.title
    if len(title) > TITLE_WIDTH:
        title = title[: TITLE_WIDTH - 3].rstrip() + "..."
    why = "; ".join(match.why)
    held = f"  [{held_back}]" if held_back else ""
    mark = "" if voted is None else ("  👍 voted" if voted > 0 else "  👎 voted")
    return f"  {match.score:.2f}  {match.paper.id}  {title}{mark}{held}" + (
        f"  ({why})" if why else ""
    )
