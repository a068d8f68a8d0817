"""Measured lift from votes (issue 14): a simulated reader teaches each daily_arxiv profile.

For each of the 14 keyword and 14 example-paper profiles (bench/profiles/), a reader rates every
paper of the first `VOTE_DAYS` scored days' digests (the profile's top 10 of each day, as the
model under test shows it, votes so far included) by its label: +1 if the paper carries the
profile's category, -1 if not. A vote given on day D counts from day D+1. Then every LATER
scored day is ranked with votes and without (same profiles, same days), and P@10 and MAP are
averaged over the (day, profile) pairs with >= 1 relevant paper (bench/daily_arxiv.py's
metrics). The curve: the same later days ranked with the votes of the first 1, 3, 5 and 10 days
only.

Models (`--models`):
  - `baseline`: what the product did before issue 14 item 2 (`scoring.with_votes` then): a +1
    is one more example paper of the profile, a -1 one more counter-example; here done by
    rewriting the profiles' examples / not_like and scoring without votes;
  - `product`: `bot.relevance.scoring.evaluate(..., votes=...)` as shipped.
`--set NAME=VALUE` overrides a constant of bot/relevance/learned.py for exploring (the table in
bench/README.md). The data are fed to the product as `digestbot replay` feeds them
(daily_arxiv.ProductScorer: corpus IDF, a rolling reference set of 5000 papers, each pushed with
its ids so that voted papers of R are scored held out).

    .venv/bin/python bench/feedback.py                  # all 49 later days, PASS/FAIL
    .venv/bin/python bench/feedback.py --every 4        # every 4th later day (faster)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _benchlib import mean_of
from daily_arxiv import (
    PROFILES,
    SCALE_THRESHOLDS,
    TARGETS,
    Data,
    Day,
    ProductScorer,
    day_metrics,
    load_days,
    load_profiles,
    scored_days,
)

VOTE_DAYS = 10  # the reader rates the digests of the first 10 scored days
CURVE = (1, 3, 5, 10)  # lift after this many days of votes
DIGEST = 10  # the reader rates the top 10 of each day
TARGET = 1.5  # P@10 with votes >= 1.5x without, per kind
STRETCH = 2.0

Votes = dict[str, dict[str, int]]  # profile id -> paper id -> +1 / -1


class FeedbackScorer(ProductScorer):
    """ProductScorer that pushes R's rows with their paper ids and scores a day under several
    vote sets (one `evaluate` per set and kind)."""

    def _push(self, start: int, end: int, *, before: bool):  # type: ignore[no-untyped-def]
        from bot.relevance.tfidf import Space, terms_of

        terms = [terms_of(self._paper(r).text) for r in range(start, end)]
        if not before:
            self.freqs.add(terms)
        vectors = Space(terms, self.freqs, vocabulary=self.reference.vocabulary).vectors(terms)
        if before:
            self.freqs.add(terms)
        self.reference.push(vectors, self.data.ids[start:end])
        return vectors

    def _paper(self, row: int):  # type: ignore[no-untyped-def]
        # With the paper's arXiv categories, as a live run has them.
        from dataclasses import replace as _replace

        return _replace(super()._paper(row), categories=self.data.cats[row])

    def load(self) -> None:
        from bot.config import load_profiles as load_bot_profiles

        for kind in TARGETS:
            loaded, errors = load_bot_profiles(PROFILES / kind)
            assert not errors, errors
            self.profiles[kind] = loaded

    def score_day(
        self,
        day: Day,
        runs: Mapping[str, tuple[str, Mapping[str, Votes]]],
        variants: Mapping[str, Mapping[str, float]] | None = None,
    ) -> dict[str, dict[str, tuple[np.ndarray, list[str]]]]:
        """For each run name -> (model, votes per kind): per kind, the day's score matrix
        (papers x profiles: n - position in the product's ranking) and the top `DIGEST` ids
        of each profile. Then the day joins the IDF and R."""
        from bot.relevance.scoring import evaluate
        from bot.relevance.tfidf import Space, terms_of

        self.advance(day.hist_end)
        fresh = [self._paper(r) for r in day.fresh]
        index = self.data._index_or_build()
        terms = [terms_of(p.text) for p in fresh]
        vectors = Space(terms, self.freqs, vocabulary=self.reference.vocabulary).vectors(terms)
        row = {p.id: i for i, p in enumerate(fresh)}
        out: dict[str, dict[str, tuple[np.ndarray, list[str]]]] = {}
        import bot.relevance.learned as learned

        defaults = {k: getattr(learned, k) for v in (variants or {}).values() for k in v}
        for name, (model, votes) in runs.items():
            for key, value in {**defaults, **(variants or {}).get(name, {})}.items():
                setattr(learned, key, value)
            out[name] = {}
            for kind in TARGETS:
                profiles = self.profiles[kind]
                kind_votes = votes.get(kind, {})
                wanted = {pid for p in profiles for pid in p.examples}
                wanted |= {pid for v in kind_votes.values() for pid in v}
                examples = {
                    pid: self._paper(index[pid])
                    for pid in wanted
                    if pid in index and index[pid] < day.hist_end
                }
                if model == "baseline":
                    profiles = [as_examples(p, kind_votes.get(p.id, {})) for p in profiles]
                    kind_votes = {}
                evaluated = evaluate(
                    profiles,
                    fresh,
                    self.freqs,
                    examples,
                    reference=self.reference,
                    fresh_vectors=vectors,
                    votes=kind_votes or None,
                )
                mat = np.zeros((len(fresh), len(profiles)))
                tops: list[str] = []
                scale = self.scale.setdefault(f"{name}:{kind}", [])
                for j, profile in enumerate(profiles):
                    cands = evaluated[profile.id]
                    for pos, c in enumerate(cands):
                        mat[row[c.match.paper.id], j] = len(fresh) - pos
                        scale.append(c.match.score)
                    tops.append(",".join(c.match.paper.id for c in cands[:DIGEST]))
                out[name][kind] = (mat, tops)
        for key, value in defaults.items():
            setattr(learned, key, value)
        self.freqs.add(terms)
        self.reference.push(vectors, [p.id for p in fresh])
        self.upto = day.fresh.stop
        return out


def as_examples(profile, votes: Mapping[str, int]):  # type: ignore[no-untyped-def]
    """The pre-issue-14 model: a +1 is one more example, a -1 one more counter-example; a vote
    outweighs the YAML's own list for that paper."""
    if not votes:
        return profile
    liked = [pid for pid, v in votes.items() if v > 0]
    disliked = [pid for pid, v in votes.items() if v < 0]
    return replace(
        profile,
        examples=tuple(dict.fromkeys(i for i in (*profile.examples, *liked) if i not in disliked)),
        not_like=tuple(dict.fromkeys(i for i in (*profile.not_like, *disliked) if i not in liked)),
    )


def scale_line(scores: list[float]) -> str:
    s = np.sort(np.asarray(scores))
    if not s.size:
        return ""
    cells = []
    for t in SCALE_THRESHOLDS:
        share = (s.size - np.searchsorted(s, t, side="left")) / s.size
        cells.append(f">={t}: {100 * share:.2f}% x{share / (1 - t):.2f}")
    return "; ".join(cells) + f"; max {s[-1]:.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=1, help="evaluate every n-th later day")
    parser.add_argument("--models", default="baseline,product", help="comma-separated")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a constant of bot/relevance/learned.py (exploring)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=K:V,K:V",
        help="also evaluate learned.py with these constants, on the first model's 10-day votes",
    )
    parser.add_argument("--curve", default="1,3,5,10", help="days of votes to evaluate")
    parser.add_argument("--scale", action="store_true", help="print the score scale per run")
    args = parser.parse_args()
    import bot.relevance.learned as learned

    for item in args.set:
        key, _, value = item.partition("=")
        assert hasattr(learned, key), f"learned.py has no {key}"
        setattr(learned, key, type(getattr(learned, key))(float(value)))
    models = [m for m in args.models.split(",") if m]
    t0 = time.perf_counter()
    data: Data = load_days()
    days = scored_days(data)
    vote_days, later = days[:VOTE_DAYS], days[VOTE_DAYS:][:: args.every]
    print(
        f"{len(data.ids)} papers; votes on {len(vote_days)} days "
        f"{data.day_names[vote_days[0]]}..{data.day_names[vote_days[-1]]}; evaluated on "
        f"{len(later)} later days {data.day_names[later[0]]}..{data.day_names[later[-1]]}; "
        f"models {models}; overrides {args.set or 'none'}"
    )
    scorer = FeedbackScorer(data)
    scorer.load()
    # votes[model][kind][profile][paper] = (+1 | -1, index of the vote day)
    given: dict[str, dict[str, dict[str, dict[str, tuple[int, int]]]]] = {
        m: {k: {p.id: {} for p in scorer.profiles[k]} for k in TARGETS} for m in models
    }

    def votes_upto(model: str, n_days: int) -> dict[str, Votes]:
        return {
            kind: {
                pid: {paper: v for paper, (v, d) in pv.items() if d < n_days}
                for pid, pv in per.items()
            }
            for kind, per in given[model].items()
        }

    def day_of(d: int) -> Day:
        start, end = data.day_bounds[d]
        return Day(data, d, range(start, end), start, {}, {})

    for i, d in enumerate(vote_days):
        day = day_of(d)
        # The reader sees the day's digest as each model shows it with the votes so far.
        runs = {m: (m, votes_upto(m, i)) for m in models}
        result = scorer.score_day(day, runs)
        for m in models:
            for kind in TARGETS:
                _, tops = result[m][kind]
                for profile, top in zip(scorer.profiles[kind], tops, strict=True):
                    for pid in top.split(","):
                        relevant = profile.id in data.cats[data.row_of(pid)]
                        given[m][kind][profile.id][pid] = (1 if relevant else -1, i)
        print(
            f"vote day {i + 1}/{len(vote_days)} {data.day_names[d]} "
            f"({time.perf_counter() - t0:.0f} s)"
        )
    for m in models:
        for kind in TARGETS:
            n = [len(v) for v in given[m][kind].values()]
            pos = [sum(1 for v, _ in pv.values() if v > 0) for pv in given[m][kind].values()]
            print(
                f"{m} {kind}: votes per profile {min(n)}-{max(n)}, +1 per profile "
                f"{min(pos)}-{max(pos)} (mean {mean_of(pos):.1f})"
            )
    # Evaluation runs: no votes, then each model with votes of the first n days.
    runs_spec: dict[str, tuple[str, int]] = {"no votes": ("product", 0)}
    curve = [int(n) for n in args.curve.split(",") if n]
    for m in models:
        for n in curve:
            runs_spec[f"{m} {n}d"] = (m, n)
    variants: dict[str, dict[str, float]] = {}
    for item in args.variant:
        name, _, spec = item.partition("=")
        variants[name] = {k: float(v) for k, _, v in (kv.partition(":") for kv in spec.split(","))}
        runs_spec[name] = (models[0], VOTE_DAYS)
    metrics: dict[str, dict[str, list[tuple]]] = {r: {k: [] for k in TARGETS} for r in runs_spec}
    for j, d in enumerate(later):
        # the days between evaluated ones still join the IDF and R (ProductScorer.advance)
        day = day_of(d)
        runs = {
            name: (model, votes_upto(model, n) if n else {})
            for name, (model, n) in runs_spec.items()
        }
        result = scorer.score_day(day, runs, variants)
        for name in runs_spec:
            for kind in TARGETS:
                mat, _ = result[name][kind]
                profs = load_profiles(kind)
                assert [p.cat for p in profs] == [p.id for p in scorer.profiles[kind]]
                metrics[name][kind].extend(day_metrics(day, profs, mat))
        print(
            f"later day {j + 1}/{len(later)} {data.day_names[d]} ({time.perf_counter() - t0:.0f} s)"
        )
    ok = True
    print(f"\ndone in {time.perf_counter() - t0:.0f} s")
    for kind in TARGETS:
        base = metrics["no votes"][kind]
        bp, bm = mean_of(r[0] for r in base), mean_of(r[2] for r in base)
        print(f"\n== {kind} profiles ==  ({len(base)} day x profile pairs with >= 1 relevant)")
        print(f"{'run':<22} {'P@10':>7} {'x':>6} {'MAP':>7} {'x':>6}")
        for name in runs_spec:
            rows = metrics[name][kind]
            p, m = mean_of(r[0] for r in rows), mean_of(r[2] for r in rows)
            print(f"{name:<22} {p:7.4f} {p / bp:5.2f}x {m:7.4f} {m / bm:5.2f}x")
            if args.scale:
                print("    scale: " + scale_line(scorer.scale.get(f"{name}:{kind}", [])))
        for m in models:
            if m != "product":
                continue
            rows = metrics[f"{m} {VOTE_DAYS}d"][kind]
            ratio = mean_of(r[0] for r in rows) / bp
            passed = ratio >= TARGET
            ok &= passed
            print(
                f"target {kind} P@10 with {VOTE_DAYS} days of votes >= {TARGET}x without: "
                f"{ratio:.3f}x {'PASS' if passed else 'FAIL'}"
                f"{' (stretch 2x reached)' if ratio >= STRETCH else ''}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
