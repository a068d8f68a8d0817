"""Scoring at an institution's scale, measured by hand (not in CI; issue 17 item 3, issue 14):
N profiles x a day of M real papers against R = the 5,000 real papers before the day.

The profiles are the bench's 14 keyword and 14 example-paper profiles (bench/profiles/),
cycled and varied so that no two are alike: a different keyword subset or example subset and
min_score per copy, and, every few profiles, categories, an `exclude`, a followed author,
counter-examples and readers' votes (half on papers of R, half on older papers). The papers are
the last M unique papers of ../shared/bench/daily_arxiv/days (read in place); the IDF is every
paper before them, as a long-running state's corpus is.

Printed: the scoring time (`scoring.rank`, as pipeline step 3 calls it), the peak RSS while
scoring (the process' high-water mark is reset just before, /proc/self/clear_refs), the
matches; with `--pipeline`, the other per-profile costs of one run with N profiles: pipeline
`_rows` + outbox `share` over the matches (one destination per profile, one place shared by
every 10 profiles) and `first_digest.first_digests` for N new profiles against the same day.

    .venv/bin/python -u bench/scoring_scale.py --profiles 1000 --papers 1000 [--cprofile]
    DIGESTBOT_CODE=/tmp/old .venv/bin/python -u bench/scoring_scale.py ...   # another bot/

`DIGESTBOT_CODE` puts another checkout's bot/ first on the path (an old commit unpacked with
`git archive COMMIT bot | tar -x -C /tmp/old`): the same bench, before and after a change.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import os
import pstats
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if os.environ.get("DIGESTBOT_CODE"):
    sys.path.insert(0, os.environ["DIGESTBOT_CODE"])

from bot.config import load_profiles  # noqa: E402
from bot.models import Match, Paper, Profile, canonical_id, fold_whitespace  # noqa: E402
from bot.relevance import scoring  # noqa: E402
from bot.relevance.reference import REFERENCE_SIZE, Reference, encode_rows  # noqa: E402
from bot.relevance.tfidf import MemoryDocFreqs, Space, Vocabulary, terms_of  # noqa: E402

DATA = Path(os.environ.get("DIGESTBOT_BENCH", ROOT.parent / "shared" / "bench"))
DAYS = DATA / "daily_arxiv" / "days"
PROFILES = ROOT / "bench" / "profiles"


def read_papers() -> list[Paper]:
    """Every unique paper of the archive, in the order first listed."""
    unique: dict[str, Paper] = {}
    for path in sorted(DAYS.glob("*.jsonl.gz")):
        day = date.fromisoformat(path.name[:10])
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                r = json.loads(line)
                pid = canonical_id(r["id"], "archive")
                unique.setdefault(
                    pid,
                    Paper(
                        id=pid,
                        title=fold_whitespace(r["title"]),
                        abstract=fold_whitespace(r.get("summary") or r.get("abstract") or ""),
                        authors=tuple(r.get("authors") or ()),
                        categories=tuple(r.get("categories") or ()),
                        day=day,
                        source="archive",
                    ),
                )
    return list(unique.values())


def make_profiles(
    n: int, day: list[Paper], r_ids: list[str], older: list[str], votes: int, voted_every: int
) -> tuple[list[Profile], dict[str, dict[str, int]]]:
    """`n` varied profiles cycled from the bench's 28, and the readers' votes of some."""
    base: list[Profile] = []
    for kind in ("keywords", "examples"):
        loaded, errors = load_profiles(PROFILES / kind)
        assert not errors, errors
        base += loaded
    out: list[Profile] = []
    given: dict[str, dict[str, int]] = {}
    for i in range(n):
        p = base[i % len(base)]
        turn = i // len(base)
        cat = p.id
        changes: dict = {
            "id": f"u{i:05d}",
            "name": f"{p.name} #{i}",
            "min_score": (0.95, 0.97, 0.98, 0.99, 0.995)[turn % 5],
        }
        if p.keywords:  # a different subset of the keywords per copy
            k = len(p.keywords)
            drop = turn % (k + 1)
            changes["keywords"] = tuple(w for j, w in enumerate(p.keywords) if j != drop - 1)
        if p.examples:
            k = len(p.examples)
            drop = turn % (k + 1)
            changes["examples"] = tuple(e for j, e in enumerate(p.examples) if j != drop - 1)
        if i % 7 == 3:
            changes["categories"] = (cat,)
        if i % 11 == 5:
            changes["exclude"] = ("survey", "benchmark")
        if i % 13 == 7:  # follows an author of one of the day's papers
            authors = day[(i * 31) % len(day)].authors
            changes["authors"] = authors[:1]
        if i % 17 == 9:
            changes["not_like"] = tuple(older[(i * 3) % len(older) :][:2])
        if i % 19 == 11:
            changes["category_boost"] = {cat: 0.05}
        prof = replace(p, **changes)
        out.append(prof)
        if votes and i % voted_every == 0:
            ids = r_ids[i % 37 :: 37][: votes // 2] + older[i % 41 :: 41][: votes - votes // 2]
            given[prof.id] = {pid: 1 if k % 4 == 0 else -1 for k, pid in enumerate(ids)}
    return out, given


def reset_peak() -> None:
    """Reset the process' peak RSS (VmHWM) to the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--votes", type=int, default=200, help="votes of a voted profile")
    parser.add_argument(
        "--voted-every", type=int, default=10, help="one profile in this many has votes"
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cprofile", action="store_true", help="print where the time goes")
    parser.add_argument(
        "--pipeline", action="store_true", help="also _rows + share and first_digests"
    )
    parser.add_argument(
        "--dump", type=Path, help="write every match (profile, paper, score, reasons) as JSON"
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    papers = read_papers()
    day, before = papers[-args.papers :], papers[: -args.papers]
    freqs = MemoryDocFreqs()
    freqs.add(terms_of(p.text) for p in before)
    in_r = before[-REFERENCE_SIZE:]
    reference = Reference()
    r_terms = [terms_of(p.text) for p in in_r]
    r_vectors = Space(r_terms, freqs, vocabulary=reference.vocabulary).vectors(r_terms)
    reference.push(r_vectors, [p.id for p in in_r])
    d_terms = [terms_of(p.text) for p in day]
    fresh = Space(d_terms, freqs, vocabulary=reference.vocabulary).vectors(d_terms)
    older = [p.id for p in before[-4 * REFERENCE_SIZE : -REFERENCE_SIZE]]
    profs, votes = make_profiles(
        args.profiles, day, [p.id for p in in_r], older, args.votes, args.voted_every
    )
    by_id = {p.id: p for p in before}
    # Voted papers older than R: their vectors are stored (the state keeps a voted paper's
    # vector), made here with the same IDF, as pipeline.run_once reads them.
    r_ids = {p.id for p in in_r}
    voted_old = sorted({i for v in votes.values() for i in v if i not in r_ids})
    own = Vocabulary()
    old_terms = [terms_of(by_id[i].text) for i in voted_old]
    voted_vectors = dict(
        zip(
            voted_old,
            encode_rows(Space(old_terms, freqs, vocabulary=own).vectors(old_terms), own),
            strict=True,
        )
    )
    wanted = {i for p in profs for i in (*p.examples, *p.not_like)}
    examples = {i: by_id[i] for i in wanted if i in by_id}
    setup = time.perf_counter() - t0
    print(
        f"{len(profs)} profiles ({len(votes)} with {args.votes} votes) x {len(day)} papers "
        f"(day {day[0].day}..{day[-1].day}); R {reference.matrix().shape[0]} papers, "
        f"vocabulary {len(reference.vocabulary)} terms; IDF of {freqs.n_docs()} papers; "
        f"set-up {setup:.0f} s; code {scoring.__file__}"
    )

    matches: dict[str, list[Match]] = {}
    for _ in range(args.repeat):
        profiler = cProfile.Profile() if args.cprofile else None
        rss_before = status_mb("VmRSS")
        reset_peak()
        t0, c0 = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        matches = scoring.rank(
            profs,
            day,
            freqs,
            examples,
            reference,
            fresh_vectors=fresh,
            votes=votes,
            voted_vectors=voted_vectors,
        )
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = status_mb("VmHWM")
        sent = sum(len(m) for m in matches.values())
        print(
            f"scoring: {wall:.2f} s ({1000 * wall / len(profs):.2f} ms/profile; CPU {cpu:.2f} s); "
            f"RSS before "
            f"{rss_before:.0f} MB, peak while scoring {peak:.0f} MB (+{peak - rss_before:.0f}); "
            f"{sent} matches"
        )
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(18)
            stats.sort_stats("cumulative").print_stats(25)
            print(out.getvalue())

    if args.dump:  # to compare two versions of the code: `cmp` the files
        args.dump.write_text(
            json.dumps(
                {
                    pid: [[m.paper.id, repr(m.score), list(m.why), m.followed] for m in ms]
                    for pid, ms in matches.items()
                },
                indent=0,
            )
        )
    if args.pipeline:
        pipeline_costs(profs, day, matches, reference, fresh, examples, before)


def pipeline_costs(
    profs: list[Profile],
    day: list[Paper],
    matches: dict[str, list[Match]],
    reference: Reference,
    fresh: object,
    examples: dict[str, Paper],
    before: list[Paper],
) -> None:
    """The other per-profile costs of one run: queueing the matches (pipeline `_rows` and
    outbox `share`) and the first digests of N new profiles (a real SQLite state)."""
    from types import SimpleNamespace

    from bot import first_digest, pipeline
    from bot.state.outbox import share
    from bot.state.store import Store

    profs = [
        replace(p, destinations=(f"email:reader{i}@lab.example",)) for i, p in enumerate(profs)
    ]
    # A stand-in for the App: `_rows` reads app.resolve only.
    app = SimpleNamespace(resolve=lambda d: d)
    d = day[0].day or date.today()
    t0 = time.perf_counter()
    rows = pipeline._rows(app, profs, [(d, len(day), matches)])  # type: ignore[arg-type]
    t_rows = time.perf_counter() - t0
    t0 = time.perf_counter()
    share(rows, lambda dest: dest.split("@")[0][:-1])  # readerNN... -> ten per place
    t_share = time.perf_counter() - t0
    print(f"queueing {len(rows)} matches: _rows {t_rows:.2f} s, share {t_share:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "state.sqlite3")
        t0 = time.perf_counter()
        last = [replace(p, day=d) for p in day]
        older = before[-3 * REFERENCE_SIZE :]
        for i in range(0, len(older), 5000):
            chunk = older[i : i + 5000]
            store.record(chunk, [], [], digest_day=chunk[-1].day or d)
        vocab = reference.vocabulary
        vectors = dict(
            zip(
                (p.id for p in before[-REFERENCE_SIZE:]),
                encode_rows(reference.matrix(), vocab),
                strict=True,
            )
        )
        vectors.update(zip((p.id for p in last), encode_rows(fresh, vocab), strict=True))  # type: ignore[arg-type]
        store.record(last, [], [], digest_day=d, vectors=vectors)
        print(f"state for first digests built in {time.perf_counter() - t0:.0f} s")
        reset_peak()
        rss_before = status_mb("VmRSS")
        t0 = time.perf_counter()
        firsts = first_digest.first_digests(store, ["archive"], profs, examples)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = status_mb("VmHWM")
        sent = sum(len(m) for _, _, ms in firsts for m in ms.values())
        print(
            f"first_digests for {len(profs)} new profiles: {wall:.2f} s, peak RSS {peak:.0f} MB "
            f"(+{peak - rss_before:.0f}); {sent} matches"
        )
        store.close()


if __name__ == "__main__":
    main()
