"""Speed and memory, measured by hand (not in CI):

1. one daily run: 500 new papers x 100 profiles against a 75,000-paper stored corpus: the time
   to score (IDF lookups, the new papers' vectors, R read from the stored vectors, ranking, as
   the pipeline does) and to record (papers, their vectors and document frequencies, one
   transaction), beyond fetching; then the same on a state without stored vectors (the first
   run after upgrading a state from before they were kept: R is vectorised from the texts);
2. `digestbot --help` start-up time (median of 5);
3. the replay of every archived day with 20 profiles: wall time, papers/s and peak RSS, run as
   `python -m bot replay` under /usr/bin/time.

With `--votes N` (issue 14), the daily run is also scored with N votes per profile (half on
papers of R, found there by id; half on older stored papers, looked up as the live run looks up
voted papers; one in four a +1), alternating with runs without votes: the ratio of the two
medians is the cost of the votes, less sensitive to a loaded machine than the walls. The
votes are recorded in the state before the day is, so the vector prune keeps the voted
papers' vectors, as it does in a live state.

    .venv/bin/python bench/speed.py [--skip-replay] [--votes 200 [--repeat 3]] [--only-daily]

Data: ../shared/bench/daily_arxiv/days (read in place). The 75k-paper state is built once in a
temporary folder, twice (its build time is reported separately).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.models import Match, Paper, Profile, canonical_id, fold_whitespace  # noqa: E402
from bot.pipeline import COLD_START_DOCS  # noqa: E402
from bot.relevance.reference import KEEP_VECTORS, Reference, encode_rows  # noqa: E402
from bot.relevance.scoring import rank  # noqa: E402
from bot.relevance.tfidf import MemoryDocFreqs, Space, Vocabulary, terms_of  # noqa: E402
from bot.relevance.votes import Vote  # noqa: E402
from bot.state.store import Store  # noqa: E402

DAYS = (
    Path(os.environ.get("DIGESTBOT_BENCH", ROOT.parent / "shared" / "bench"))
    / "daily_arxiv"
    / "days"
)

# Short topic profiles (keywords from arXiv's category descriptions), multiplied to 100 by
# varying the threshold and the keyword subset: realistic sizes, no tuning against results.
TOPICS = {
    "cs.CV": "image recognition, object detection, segmentation, video, 3D reconstruction",
    "cs.CL": "natural language processing, language models, machine translation, parsing",
    "cs.AI": "planning, knowledge representation, reasoning, agents, search",
    "cs.LG": "machine learning, neural networks, optimization, generalization, reinforcement",
    "cs.RO": "robotics, manipulation, locomotion, motion planning, control",
    "cs.IR": "information retrieval, recommendation, search engines, ranking",
    "cs.CR": "security, privacy, cryptography, attacks, malware",
    "cs.GR": "computer graphics, rendering, animation, geometry processing",
    "cs.IT": "information theory, coding, channel capacity, communication",
    "cs.GT": "game theory, mechanism design, auctions, equilibrium",
    "cs.HC": "human-computer interaction, user study, interfaces, usability",
    "eess.IV": "image and video processing, compression, restoration, medical imaging",
    "cs.SD": "speech, audio, music, sound, speaker",
    "cs.CE": "computational engineering, finance, simulation, science",
    "cs.MA": "multi-agent systems, cooperation, coordination, negotiation",
    "cs.NE": "evolutionary algorithms, neural computation, genetic programming",
    "cs.DB": "databases, query processing, data management, SQL",
    "cs.SE": "software engineering, program repair, testing, code generation",
    "cs.DC": "distributed computing, parallel, cluster, GPU systems",
    "stat.ML": "statistical learning, Bayesian inference, kernels, causal inference",
}


def read_day(path: Path) -> list[Paper]:
    day = date.fromisoformat(path.name[:10])
    papers = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                papers.append(
                    Paper(
                        id=canonical_id(r["id"], "archive"),
                        title=fold_whitespace(r["title"]),
                        abstract=fold_whitespace(r.get("summary") or r.get("abstract") or ""),
                        authors=tuple(r.get("authors") or ()),
                        categories=tuple(r.get("categories") or ()),
                        day=day,
                        source="archive",
                    )
                )
    return papers


def profiles(n: int) -> list[Profile]:
    out = []
    topics = list(TOPICS.items())
    for i in range(n):
        cat, words = topics[i % len(topics)]
        keywords = tuple(w.strip() for w in words.split(","))[: 3 + i % 3]
        out.append(
            Profile(
                id=f"p{i:03d}",
                name=f"{cat} #{i}",
                description=f"New research in {words}.",
                keywords=keywords,
                min_score=0.98 + 0.002 * (i // len(topics)),  # percentiles
                max_per_digest=10,
            )
        )
    return out


def build_state(
    path: Path, want: int, with_vectors: bool = True
) -> tuple[Store, list[Paper], float]:
    """A state with `want` stored papers, and 500 new papers to score.

    The archive has fewer unique papers (about 48k) than the 75k asked for: the corpus is every
    unique paper but the last 500, topped up with copies of archive papers under new ids
    (`copy1:2503.01234`), so its vocabulary and document frequencies stay those of real
    abstracts. The 500 new papers are the archive's last 500 unique ones.
    """
    unique: dict[str, Paper] = {}
    for file in sorted(DAYS.glob("*.jsonl.gz")):
        for paper in read_day(file):
            unique.setdefault(paper.id, paper)
    papers = list(unique.values())
    new, corpus = papers[-500:], papers[:-500]
    copies, k = [], 1
    while len(corpus) + len(copies) < want:
        need = want - len(corpus) - len(copies)
        copies += [replace(p, id=f"copy{k}:{p.id}") for p in corpus[:need]]
        k += 1
    store = Store.open(path)
    start = time.perf_counter()
    everything = corpus + copies
    for i in range(0, len(everything), 5000):  # one transaction per 5,000, as many days would
        chunk = everything[i : i + 5000]
        store.record(chunk, [], [], digest_day=chunk[0].day or date.today())
    build = time.perf_counter() - start
    if with_vectors:
        # A bot that has been running stores each new paper's vector on arrival; here the
        # newest KEEP_VECTORS get theirs from the final corpus (close to their arrival IDF).
        day = new[0].day or date.today()
        ids = [pid for pid, _ in store.recent_vectors(KEEP_VECTORS, day + timedelta(days=1))]
        papers = store.papers_by_id(ids)
        terms = [terms_of(papers[pid].text) for pid in ids]
        vocabulary = Vocabulary()
        vectors = Space(terms, store.corpus, vocabulary=vocabulary).vectors(terms)
        encoded = dict(zip(ids, encode_rows(vectors, vocabulary), strict=True))
        store.record([], [], [], digest_day=day, vectors=encoded, keep_vectors=KEEP_VECTORS)
    return store, new, build


def score_day(
    store: Store,
    new: list[Paper],
    profs: list[Profile],
    votes: dict[str, dict[str, int]] | None = None,
) -> tuple[dict[str, list[Match]], dict[str, tuple[str, bytes]]]:
    """What pipeline.run_once does to score one day (beyond fetching and recording): the new
    papers' vectors, R read from the stored vectors, the voted papers looked up, every profile
    ranked."""
    freqs = MemoryDocFreqs(base=store.corpus)
    terms = [terms_of(p.text) for p in new]
    if freqs.n_docs() < COLD_START_DOCS:
        freqs.add(terms)
    vocabulary = Vocabulary()
    fresh = Space(terms, freqs, vocabulary=vocabulary).vectors(terms)
    day = new[0].day or date.today()
    reference = Reference.of_store(store, day + timedelta(days=1), freqs, vocabulary)
    examples = None
    voted_vectors = None
    if votes:
        voted = sorted({i for v in votes.values() for i in v})
        voted_vectors = store.vectors_of(voted)  # as pipeline.run_once reads them: the text
        examples = store.papers_by_id([i for i in voted if i not in voted_vectors])  # if none
    matches = rank(
        profs,
        new,
        freqs,
        examples,
        reference,
        fresh_vectors=fresh,
        votes=votes,
        voted_vectors=voted_vectors,
    )
    encoded = dict(zip([p.id for p in new], encode_rows(fresh, vocabulary), strict=True))
    encoded.update(reference.computed)
    return matches, encoded  # the vectors are stored with the papers


def make_votes(store: Store, new: list[Paper], profs: list[Profile], n: int) -> dict:
    """`n` votes per profile: half on papers of R, half on older stored papers; one in 4 a +1
    (the share of relevant papers the simulated reader of bench/feedback.py finds)."""
    day = new[0].day or date.today()
    recent = [pid for pid, _ in store.recent_vectors(KEEP_VECTORS, day + timedelta(days=1))]
    in_r, older = recent[-5000:], recent[:-5000]
    out = {}
    for i, prof in enumerate(profs):
        ids = in_r[i * 7 :: 37][: n // 2] + older[i * 5 :: 41][: n - n // 2]
        out[prof.id] = {pid: 1 if k % 4 == 0 else -1 for k, pid in enumerate(ids)}
    return out


def daily_votes(
    store: Store, new: list[Paper], profs: list[Profile], votes: dict, repeat: int = 3
) -> None:
    counts = sorted(len(v) for v in votes.values())
    plain: list[float] = []
    voted: list[float] = []
    for _ in range(repeat):
        for runs, arg in ((plain, None), (voted, votes)):
            t0 = time.perf_counter()
            score_day(store, new, profs, arg)
            runs.append(time.perf_counter() - t0)
    ratio = statistics.median(voted) / statistics.median(plain)
    load = os.getloadavg()
    print(
        f"daily run with {counts[0]}-{counts[-1]} votes per profile: scoring median "
        f"{statistics.median(voted):.2f} s of {repeat} ({', '.join(f'{t:.2f}' for t in voted)}); "
        f"without votes, alternating: median {statistics.median(plain):.2f} s "
        f"({', '.join(f'{t:.2f}' for t in plain)}); ratio {ratio:.2f}; load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(
        "target: scoring with votes <= 3 s beyond fetching:",
        "PASS" if statistics.median(voted) <= 3 else "FAIL",
        f"(unloaded estimate: the no-votes median of the section above x {ratio:.2f})",
    )


def daily_run(tmp: Path, votes: int = 0, only_stored: bool = False, repeat: int = 3) -> None:
    profs = profiles(100)
    for with_vectors, label in ((True, "R's vectors stored"), (False, "first run after upgrade")):
        if only_stored and not with_vectors:
            continue
        store, new, build = build_state(tmp / f"state-{with_vectors}.sqlite3", 75_000, with_vectors)
        print(
            f"state: {store.corpus.n_docs()} stored papers (built in {build:.0f} s); "
            f"{len(new)} new papers; {len(profs)} profiles; {label}"
        )
        voted: dict = {}
        if votes and with_vectors:
            # The votes are in the state before the day is recorded, as a live state's are:
            # the vector prune keeps voted papers' vectors (Store.record), so a run reads them
            # all instead of re-analysing the text of those that fell out of the newest ones.
            voted = make_votes(store, new, profs, votes)
            day = new[0].day or date.today()
            store.votes.apply(
                [
                    Vote(pid, paper, value, "cli:bench", "cli", day)
                    for pid, given in voted.items()
                    for paper, value in given.items()
                ]
            )
        timings = []
        for _ in range(3 if with_vectors else 1):  # the upgrade path is slow by design
            t0 = time.perf_counter()
            matches, encoded = score_day(store, new, profs)
            timings.append(time.perf_counter() - t0)
        sent = sum(len(m) for m in matches.values())
        print(
            f"daily run, scoring: median {statistics.median(timings):.2f} s of {len(timings)} "
            f"({', '.join(f'{t:.2f}' for t in timings)}); {sent} matches"
        )
        if with_vectors:
            t0 = time.perf_counter()
            day = new[0].day or date.today()
            store.record(new, [], [], digest_day=day, vectors=encoded, keep_vectors=KEEP_VECTORS)
            print(
                "daily run, recording 500 papers + their vectors + document frequencies: "
                f"{time.perf_counter() - t0:.2f} s"
            )
            print(
                "target: scoring <= 3 s beyond fetching:",
                "PASS" if statistics.median(timings) <= 3 else "FAIL",
            )
            if voted:
                daily_votes(store, new, profs, voted, repeat)
        store.close()


def help_time() -> None:
    exe = ROOT / ".venv" / "bin" / "digestbot"
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([str(exe), "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    med = statistics.median(runs)
    print(
        f"digestbot --help: median {med:.3f} s of 5; target <= 0.5 s:",
        "PASS" if med <= 0.5 else "FAIL",
    )


def replay(tmp: Path) -> None:
    folder = tmp / "profiles"
    folder.mkdir()
    for prof in profiles(20):
        (folder / f"{prof.id}.yaml").write_text(
            f"name: {json.dumps(prof.name)}\ndescription: {json.dumps(prof.description)}\n"
            f"keywords: {json.dumps(list(prof.keywords))}\nmin_score: {prof.min_score}\n"
        )
    days = sorted(DAYS.glob("*.jsonl.gz"))
    first, last = days[0].name[:10], days[-1].name[:10]
    cmd = [
        "/usr/bin/time",
        "-v",
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        "bot",
        "replay",
        str(DAYS),
        "--from",
        first,
        "--to",
        last,
        "--profiles",
        str(folder),
    ]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    peak_mb = int(rss.group(1)) / 1024 if rss else float("nan")
    tail = [ln for ln in done.stdout.splitlines() if "papers" in ln.lower()][-3:]
    print(
        f"replay {first}..{last} ({len(days)} days) x 20 profiles: exit {done.returncode}, "
        f"wall {wall:.1f} s, peak RSS {peak_mb:.0f} MB"
    )
    for line in tail:
        print("  " + line)
    print("target: <= 90 s and <= 1.5 GB:", "PASS" if wall <= 90 and peak_mb <= 1536 else "FAIL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--votes", type=int, default=0, help="also score with N votes/profile")
    parser.add_argument(
        "--repeat", type=int, default=3, help="alternating runs with and without votes (median)"
    )
    parser.add_argument(
        "--only-daily", action="store_true", help="only the daily run on a state with vectors"
    )
    args = parser.parse_args()
    if not args.only_daily:
        help_time()
    with tempfile.TemporaryDirectory() as tmp:
        daily_run(Path(tmp), args.votes, args.only_daily, args.repeat)
        if not args.skip_replay and not args.only_daily:
            replay(Path(tmp))
    print(
        f"this process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
