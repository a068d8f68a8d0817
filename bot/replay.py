"""`digestbot replay`: the bot run day by day over an archive of past listings, sending nothing.

It answers "how many alerts would this profile have given, and what would another `min_score`
have given?" before a profile goes live. The state is THROWAWAY and in memory: a
`MemoryDocFreqs` (the IDF) and the set of ids seen so far; no SQLite file, no network, no
delivery. The archive's days (bot/archive.py) are handled oldest first, as live runs would:

- a day's new papers are its papers minus those seen on an earlier day (a paper is scored
  once, ever; one listed twice on a day counts once);
- they are scored with `scoring.evaluate` against the IDF of the EARLIER days' new papers,
  and the last 5000 of those as the reference set (rolling: vectors kept from their day):
  a day's scores never depend on later days. While fewer than `pipeline.COLD_START_DOCS`
  papers are known, the day itself is counted too, as in a live run on a young state (else the
  first days would have no IDF at all);
- then they join the IDF and the seen set.

Days before `first` (from `history_from`, by default the archive's first day) are HISTORY:
read into the IDF and the seen set, not scored, so that the first scored day has a realistic
IDF and "already seen" set. Profiles' example papers (`papers:`, `not_like:`) are those given
(`examples`: the CLI finds them as a live run does, bot/relevance/examples.py `for_tuning`, unless
--offline), then the archive papers read so far, history included; those never found are
returned in `missing_examples`.

Work: each day's papers are analysed once here (for the IDF) and once more inside `evaluate`,
which takes texts, not terms; reasons are built only for what passes and, when a report is
written, the top `top` of each day; the report is written day by day. Scoring dominates (about
nine tenths of the time), so with `jobs` > 1 the days are dealt out to worker processes: each
reads every day (the IDF and the seen set need them all) but scores only its own days; the
results and the report are merged in day order, identical to a run with one job.
"""

from __future__ import annotations

import bisect
import heapq
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import IO

from scipy.sparse import csr_matrix

from bot import archive
from bot.models import Paper, Profile
from bot.pipeline import COLD_START_DOCS
from bot.progress import progress
from bot.relevance.feedback import net_before
from bot.relevance.reference import Reference
from bot.relevance.scoring import Candidate, evaluate
from bot.relevance.tfidf import MemoryDocFreqs, Space, terms_of
from bot.relevance.votes import Vote

log = logging.getLogger(__name__)

# Scores are percentiles (relevance/scoring.py): the thresholds compared scale the share of recent
# papers ABOVE the profile's min_score (0.98 -> 0.96, 0.97, 0.975, 0.98, 0.985, 0.99), plus a
# few fixed percentiles.
THRESHOLD_FACTORS = (2.0, 1.5, 1.25, 1.0, 0.75, 0.5)  # times 1 - min_score
THRESHOLD_ABSOLUTE = (0.9, 0.95, 0.98, 0.99, 0.995)
DAYS_LISTED = 31  # up to this many scored days, each day's count is printed; else per month


def thresholds_for(profile: Profile) -> list[float]:
    """The `min_score` values the summary compares: around the profile's own (the share of
    recent papers above it halved ... doubled), and a few fixed percentiles."""
    values = {round(1 - (1 - profile.min_score) * f, 4) for f in THRESHOLD_FACTORS}
    values.update(THRESHOLD_ABSOLUTE)
    return sorted(v for v in values if 0 <= v <= 1)


@dataclass(frozen=True)
class DayCount:
    """One profile on one scored day."""

    alerts: int  # papers that passed: would have been sent
    would: tuple[int, ...]  # alerts with each of the profile's `thresholds_for` instead
    top_scores: tuple[float, ...]  # scores of the day's best candidates, best first


def count_day(profile: Profile, candidates: Sequence[Candidate], top: int) -> DayCount:
    """The day's alerts, and the alerts each threshold would have given (capped the same way)."""
    # Followed authors' papers pass whatever the threshold (unless excluded); the others compete
    # for max_per_digest if they share a term with the profile and were not filtered out.
    always = 0
    eligible: list[float] = []
    for c in candidates:
        if c.match.followed:
            always += c.passed
        elif c.held_back in (None, "below min_score", "over max_per_digest") and c.match.score > 0:
            eligible.append(c.match.score)
    eligible.reverse()  # candidates come best first: ascending now, for bisect
    would = tuple(
        always + min(profile.max_per_digest, len(eligible) - bisect.bisect_left(eligible, t))
        for t in thresholds_for(profile)
    )
    return DayCount(
        alerts=sum(1 for c in candidates if c.passed),
        would=would,
        top_scores=tuple(c.match.score for c in candidates[:top]),
    )


@dataclass
class ProfileTally:
    """One profile over the scored days (`days[i]` is `ReplayResult.scored_days[i]`)."""

    profile: Profile
    days: list[DayCount] = field(default_factory=list)

    @property
    def alerts(self) -> list[int]:
        return [d.alerts for d in self.days]

    def would(self) -> dict[float, list[int]]:
        """Threshold -> the alerts of each day with it."""
        return {
            t: [d.would[i] for d in self.days] for i, t in enumerate(thresholds_for(self.profile))
        }


@dataclass
class ReplayResult:
    """A whole replay, for the summary."""

    archive: Path
    scored_days: list[date] = field(default_factory=list)
    history_days: int = 0
    papers_read: int = 0  # each day's papers (one per id and day), history included
    history_papers: int = 0
    new_scored: int = 0  # papers scored: new on their day
    seconds: float = 0.0
    jobs: int = 1
    tallies: list[ProfileTally] = field(default_factory=list)  # by profile name, then id
    missing_examples: list[str] = field(default_factory=list)
    votes: dict[str, list[Vote]] = field(default_factory=dict)  # --feedback, per profile id


def run_replay(
    folder: Path,
    profiles: Sequence[Profile],
    *,
    first: date | None = None,
    last: date | None = None,
    history_from: date | None = None,
    top: int = 20,
    report: IO[str] | None = None,
    jobs: int = 1,
    examples: Mapping[str, Paper] | None = None,
    votes: Mapping[str, Sequence[Vote]] | None = None,
) -> ReplayResult:
    """Replay the archive's days `first`..`last` (default: all) after reading the days from
    `history_from` (default: the archive's first day) to the day before `first` as history.
    Writes one JSON line per (day, profile, candidate) of each day's top `top` to `report`.
    `examples` are example papers found beforehand (id -> paper); the archive fills in the
    others as it is read. `votes` (per profile id, e.g. from `replay --feedback`): a vote given
    on day D counts from D+1 on, its paper found like an example paper. Raises ArchiveError for
    an unreadable archive or a range without days."""
    start = time.perf_counter()
    files = archive.day_files(folder)  # warns about stray files once, here
    wanted = {
        d: p for d, p in files.items() if (history_from or d) <= d and (last is None or d <= last)
    }
    scored = [d for d in sorted(wanted) if first is None or d >= first]
    if not scored:
        span = f"{min(files)} .. {max(files)}" if files else "no day files"
        raise archive.ArchiveError(
            f"{folder}: no day to replay between {first or 'the start'} and {last or 'the end'}",
            hint=f"the archive has {span}",
        )
    ordered = sorted(profiles, key=lambda p: (p.name, p.id))
    jobs = max(1, min(jobs, len(scored)))
    ids = {p.id for p in ordered}
    kept = {pid: list(vs) for pid, vs in (votes or {}).items() if pid in ids}
    task = _Task(
        wanted, scored[0], ordered, top, report is not None, jobs, dict(examples or {}), kept
    )
    parts = [_replay_part(task, 0, report)] if jobs == 1 else _in_workers(task, report)
    result = _merge(folder, ordered, parts, kept)
    result.jobs = jobs
    result.seconds = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------- the day loop


@dataclass(frozen=True)
class _Task:
    files: dict[date, Path]  # the days to read, history included
    first: date  # the first day scored
    profiles: list[Profile]  # in report order
    top: int
    explain: bool  # build reasons for the top `top` (for the report)
    jobs: int
    examples: dict[str, Paper]  # example papers found before the replay (state, arXiv)
    votes: dict[str, list[Vote]]  # per profile id: the readers' votes, each from its next day


@dataclass
class _Part:
    """What one worker found: its scored days, and counts of the days it owns."""

    days: list[tuple[date, int, list[DayCount]]] = field(default_factory=list)  # + new papers
    history_days: int = 0
    papers_read: int = 0
    history_papers: int = 0
    examples_found: set[str] = field(default_factory=set)


def _replay_part(task: _Task, worker: int, report: IO[str] | None) -> _Part:
    """Read every day of `task`; score the days this worker owns (every `jobs`-th)."""
    part = _Part()
    wanted = _wanted(task.profiles, task.votes)
    examples: dict[str, Paper] = dict(task.examples)
    explain = task.top if task.explain else 0
    freqs = MemoryDocFreqs()
    # R rolls: each day's new papers are vectorised once, with that day's IDF, scored, then
    # pushed; the oldest drop out (a paper keeps the IDF of the day it arrived, as measured in
    # bench/explore_recipes.py "rolling": same quality, no daily re-vectorising of R).
    reference = Reference()
    seen: set[str] = set()
    # Every worker reads every day; the first one shows the progress.
    with progress("replay", len(task.files), enabled=worker == 0) as step:
        for index, day in enumerate(sorted(task.files)):
            mine = index % task.jobs == worker
            papers = archive.read_day(task.files[day], day)
            new = [p for p in papers if p.id not in seen]
            for paper in new:
                if paper.id in wanted:
                    examples.setdefault(paper.id, paper)
            terms = [terms_of(p.text) for p in new]
            if mine:
                part.papers_read += len(papers)
            if day < task.first:
                if mine:
                    part.history_days += 1
                    part.history_papers += len(papers)
                freqs.add(terms)
                reference.push(_vectors(terms, freqs, reference), [p.id for p in new])
            else:
                # The IDF of a day is that of the days before it; a young corpus also counts the
                # day itself (as pipeline.run_once does), or the first days would have none.
                cold = freqs.n_docs() < COLD_START_DOCS
                if cold:
                    freqs.add(terms)
                vectors = _vectors(terms, freqs, reference)
                if mine:
                    evaluated = evaluate(
                        task.profiles,
                        new,
                        freqs,
                        examples,
                        reference=reference,
                        fresh_vectors=vectors,
                        explain=explain,
                        # A vote given on day D counts from D+1 on: the reader rated D's digest.
                        votes=net_before(task.votes, day),
                    )
                    counts = []
                    for profile in task.profiles:
                        candidates = evaluated[profile.id]
                        counts.append(count_day(profile, candidates, task.top))
                        if report is not None:
                            _write_rows(report, day, profile, candidates[: task.top])
                    part.days.append((day, len(new), counts))
                if not cold:
                    freqs.add(terms)
                reference.push(vectors, [p.id for p in new])
            seen.update(p.id for p in new)
            log.debug("replay: %s: %d papers, %d new", day, len(papers), len(new))
            step(day.isoformat())
    part.examples_found = set(examples)
    return part


def _vectors(terms: list[list[str]], freqs: MemoryDocFreqs, reference: Reference) -> csr_matrix:
    return Space(terms, freqs, vocabulary=reference.vocabulary).vectors(terms)


def _write_rows(out: IO[str], day: date, profile: Profile, top: Sequence[Candidate]) -> None:
    for rank, c in enumerate(top, start=1):
        row = {
            "day": day.isoformat(),
            "profile": profile.name,
            "id": c.match.paper.id,
            "rank": rank,
            "score": c.match.score,
            "passed": c.passed,
            "reasons": list(c.match.why),
        }
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _in_workers(task: _Task, report: IO[str] | None) -> list[_Part]:
    """Run `task` in `task.jobs` processes; their reports are merged into `report` by day."""
    level = logging.getLogger("bot").getEffectiveLevel()
    with tempfile.TemporaryDirectory(prefix="digestbot-replay-") as tmp:
        outs = [Path(tmp) / f"{k}.jsonl" if report is not None else None for k in range(task.jobs)]
        with ProcessPoolExecutor(task.jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_worker, task, k, outs[k], level) for k in range(task.jobs)]
            parts = [f.result() for f in futures]
        if report is not None:
            files = [p.open(encoding="utf-8") for p in outs if p is not None]
            try:
                # Each worker's file holds its days in order; a day is in one file only.
                report.writelines(heapq.merge(*files, key=_day_of_row))
            finally:
                for fh in files:
                    fh.close()
    return parts


def _worker(task: _Task, worker: int, out: Path | None, level: int) -> _Part:
    """A worker process: its own logging (warnings once, from worker 0), its own report file."""
    handler = logging.StreamHandler()
    handler.setFormatter(_LowerFormatter())
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger("bot").setLevel(level if worker == 0 else max(level, logging.ERROR))
    if out is None:
        return _replay_part(task, worker, None)
    with out.open("w", encoding="utf-8") as fh:
        return _replay_part(task, worker, fh)


class _LowerFormatter(logging.Formatter):
    """`warning: message`, as the CLI prints its own."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _day_of_row(line: str) -> str:
    return str(json.loads(line)["day"])


def _wanted(profiles: Sequence[Profile], votes: Mapping[str, Sequence[Vote]]) -> set[str]:
    """The example, counter-example and voted papers' ids."""
    return {i for p in profiles for i in (*p.examples, *p.not_like)} | {
        v.paper_id for vs in votes.values() for v in vs
    }


def _merge(
    folder: Path, profiles: list[Profile], parts: list[_Part], votes: dict[str, list[Vote]]
) -> ReplayResult:
    result = ReplayResult(archive=folder, tallies=[ProfileTally(p) for p in profiles], votes=votes)
    days = sorted((d for part in parts for d in part.days), key=lambda t: t[0])
    for day, new, counts in days:
        result.scored_days.append(day)
        result.new_scored += new
        for tally, count in zip(result.tallies, counts, strict=True):
            tally.days.append(count)
    for part in parts:
        result.history_days += part.history_days
        result.papers_read += part.papers_read
        result.history_papers += part.history_papers
    result.missing_examples = sorted(_wanted(profiles, votes) - parts[0].examples_found)
    return result


# --------------------------------------------------------------------------- the summary


def summary_lines(result: ReplayResult, top: int) -> list[str]:
    """The plain-text summary `digestbot replay` prints."""
    days = result.scored_days
    rate = result.papers_read / result.seconds if result.seconds > 0 else 0.0
    lines = [
        f"replay of {result.archive}: {days[0]} .. {days[-1]}, {len(days)} day(s) scored "
        f"after {result.history_days} day(s) of history",
        f"papers read: {result.papers_read} ({result.history_papers} in history days); "
        f"new papers scored: {result.new_scored}; {result.seconds:.1f} s "
        f"({rate:.0f} papers/s, {result.jobs} job(s))",
    ]
    given = sum(len(vs) for vs in result.votes.values())
    if result.votes:
        applied = sum(v.day < days[-1] for vs in result.votes.values() for v in vs)
        lines.append(
            f"feedback: {given} vote(s) on {len(result.votes)} profile(s), each counted from the "
            f"day after it was given: {applied} applied by {days[-1]}"
        )
    for tally in result.tallies:
        lines.append("")
        lines.extend(_profile_lines(tally, days, top))
        if result.votes:
            lines.append(_votes_line(result.votes.get(tally.profile.id, []), days))
    return lines


def _votes_line(votes: list[Vote], days: list[date]) -> str:
    """How many of a profile's votes the replay applied, and from which day."""
    applied = [v for v in votes if v.day < days[-1]]
    if not applied:
        return f"  votes applied: none ({len(votes)} given, none before {days[-1]})"
    up = sum(v.value > 0 for v in applied)
    first = min(v.day for v in applied) + timedelta(days=1)
    return (
        f"  votes applied: {len(applied)} of {len(votes)} ({up} 👍, {len(applied) - up} 👎), "
        f"the first from {max(first, days[0])} on"
    )


def _profile_lines(tally: ProfileTally, days: list[date], top: int) -> list[str]:
    p = tally.profile
    alerts = tally.alerts
    lines = [
        f"profile {p.id} ({p.name}): min_score {_num(p.min_score)}, "
        f"max_per_digest {p.max_per_digest}"
    ]
    if len(days) <= DAYS_LISTED:
        per_day = ", ".join(f"{d.isoformat()[5:]} {n}" for d, n in zip(days, alerts, strict=True))
        lines.append(f"  alerts per day: {per_day}")
    else:
        months: dict[str, list[int]] = {}
        for d, n in zip(days, alerts, strict=True):
            months.setdefault(d.isoformat()[:7], []).append(n)
        per_month = ", ".join(f"{m} {statistics.fmean(v):.1f}" for m, v in months.items())
        lines.append(f"  alerts per day, monthly mean: {per_month}")
    lines.append(
        f"  alerts: {sum(alerts)} in {len(alerts)} days; per day mean "
        f"{statistics.fmean(alerts):.2f}, median {_num(statistics.median(alerts))}, "
        f"max {max(alerts)}; {alerts.count(0)} day(s) with none"
    )
    scores = sorted(s for d in tally.days for s in d.top_scores)
    if scores:
        q = {k: scores[round((len(scores) - 1) * k / 100)] for k in (50, 90, 99)}
        lines.append(
            f"  scores of each day's top {top}: median {q[50]:.3f}, p90 {q[90]:.3f}, "
            f"p99 {q[99]:.3f}, max {scores[-1]:.3f}"
        )
    lines.append("  min_score  alerts/day  median  max  days with none")
    for t, counts in tally.would().items():
        mark = "  <- now" if t == round(p.min_score, 4) else ""
        lines.append(
            f"  {_num(t):>9}  {statistics.fmean(counts):>10.2f}  "
            f"{_num(statistics.median(counts)):>6}  {max(counts):>3}  "
            f"{counts.count(0):>14}{mark}"
        )
    return lines


def _num(value: float) -> str:
    """0.1125 -> "0.1125", 0.2 -> "0.2", 3.0 -> "3"."""
    return f"{value:.4f}".rstrip("0").rstrip(".")
