"""CSFCube (dev fold, all facets): does a ONE-EXAMPLE profile (the query paper's title + abstract)
rank the experts' "papers like this one" first?

Ranks each query's own pool (the qrels rows of that query_pid + facet, the query paper left out)
and reports the official metrics: MAP with relevance >= 2 counted relevant, and NDCG%20 (graded
NDCG at a cut of 20% of the pool size, rank_metrics' formula), averaged over the 24 query x facet
pairs of fold-1 dev. IDF is fitted on corpus_dev.jsonl (1946 papers) for every method.

    .venv/bin/python bench/csfcube.py             # project vs baselines, PASS/FAIL
    .venv/bin/python bench/csfcube.py --explore   # the table of variants behind the recipe

`project_scores` is the one function to switch to the product's scorer (relevance.scoring) once its
new API exists; everything else here (data, metrics, baselines) stays independent of bot/.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _benchlib import (
    DocFreq,
    average_precision,
    data_dir,
    mean_of,
    ndcg_rank_metrics,
    order,
    paper_text,
    simple_tokens,
    tfidf_rows,
)

TARGET_MAP = 1.2
TARGET_NDCG = 1.1


@dataclass(frozen=True)
class Query:
    pid: str
    facet: str
    pool: tuple[str, ...]  # candidate paper ids, query paper excluded
    rel: dict[str, int] = field(hash=False)  # graded 0..3


def load() -> tuple[dict[str, dict[str, str]], list[Query]]:
    base = data_dir() / "csfcube"
    corpus = {}
    with open(base / "corpus_dev.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            corpus[str(row["paper_id"])] = {"title": row["title"], "abstract": row["abstract"]}
    pools: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    with open(base / "qrels_dev.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["cand_pid"] != row["query_pid"]:
                pools[(row["query_pid"], row["facet"])][row["cand_pid"]] = int(row["relevance"])
    queries = [
        Query(pid, facet, tuple(sorted(rel)), rel) for (pid, facet), rel in sorted(pools.items())
    ]
    return corpus, queries


def evaluate(
    queries: Sequence[Query], scores: dict[tuple[str, str], np.ndarray]
) -> dict[str, dict]:
    """Per facet and over all: MAP (rel >= 2) and NDCG%20, as the official eval computes them."""
    per: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for q in queries:
        ranked = [q.rel[q.pool[i]] for i in order(scores[(q.pid, q.facet)], q.pool)]
        ap = average_precision([1 if r >= 2 else 0 for r in ranked])
        nd = ndcg_rank_metrics(ranked, int(0.20 * len(ranked)))
        per[q.facet].append((ap, nd))
        per["all"].append((ap, nd))
    return {
        k: {"MAP": mean_of(a for a, _ in v), "NDCG%20": mean_of(n for _, n in v), "n": len(v)}
        for k, v in per.items()
    }


# ---- baselines ---------------------------------------------------------------------------------


def text_of(corpus: dict[str, dict[str, str]], pid: str, title_repeat: int = 1) -> str:
    p = corpus[pid]
    return paper_text(". ".join([p["title"]] * title_repeat), p["abstract"])


def baseline_tfidf_default(corpus, queries) -> dict[tuple[str, str], np.ndarray]:
    """scikit-learn TfidfVectorizer() with its defaults, fitted on corpus_dev; cosine."""
    vec = TfidfVectorizer().fit([text_of(corpus, pid) for pid in sorted(corpus)])
    out = {}
    for q in queries:
        qv = vec.transform([text_of(corpus, q.pid)])
        cv = vec.transform([text_of(corpus, c) for c in q.pool])
        out[(q.pid, q.facet)] = (cv @ qv.T).toarray().ravel()
    return out


def digestbot_scores(corpus, queries) -> dict[tuple[str, str], np.ndarray]:
    """The product's scorer as shipped (relevance.scoring.evaluate): the query paper as a profile's
    only example paper, the pool as the day's new papers, the IDF of corpus_dev and the whole
    corpus (1,946 papers, under REFERENCE_SIZE) as the reference set R. Scores = n - position
    in the product's ranking (its percentile, ties by raw score, then id)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bot.models import Paper, Profile
    from bot.relevance.scoring import Reference
    from bot.relevance.scoring import evaluate as score_all
    from bot.relevance.tfidf import MemoryDocFreqs, terms_of

    freqs = MemoryDocFreqs()
    freqs.add(terms_of(text_of(corpus, pid)) for pid in sorted(corpus))

    def paper(pid: str) -> Paper:
        return Paper(id=pid, title=corpus[pid]["title"], abstract=corpus[pid]["abstract"])

    reference = Reference.of_texts([paper(pid).text for pid in sorted(corpus)], freqs)
    out = {}
    for q in queries:
        profile = Profile(
            id="q",
            name="q",
            description="",
            examples=(q.pid,),
            min_score=0.0,
            max_per_digest=len(q.pool),
        )
        pool = [paper(c) for c in q.pool]
        cands = score_all([profile], pool, freqs, {q.pid: paper(q.pid)}, reference=reference)["q"]
        by_id = {c.match.paper.id: float(len(cands) - i) for i, c in enumerate(cands)}
        out[(q.pid, q.facet)] = np.array([by_id[c] for c in q.pool])
    return out


def baseline_bm25(corpus, queries) -> dict[tuple[str, str], np.ndarray]:
    """rank_bm25.BM25Okapi (k1=1.5, b=0.75) over corpus_dev; the query = its tokens; raw scores."""
    from rank_bm25 import BM25Okapi

    pids = sorted(corpus)
    index = {pid: i for i, pid in enumerate(pids)}
    bm25 = BM25Okapi([simple_tokens(text_of(corpus, pid)) for pid in pids])
    out = {}
    for q in queries:
        s = bm25.get_batch_scores(simple_tokens(text_of(corpus, q.pid)), [index[c] for c in q.pool])
        out[(q.pid, q.facet)] = np.asarray(s)
    return out


# ---- configurable TF-IDF family (the exploration, and the project recipe) ----------------------


@dataclass(frozen=True)
class Recipe:
    ngram: tuple[int, int] = (1, 1)
    stop_words: str | None = None
    sublinear: bool = False
    accents: bool = False
    min_df: int = 1
    max_df: float = 1.0  # share of documents; terms above it are dropped
    title_repeat: int = 1
    bm25: tuple[float, float] | None = None  # (k1, b): BM25 tf saturation instead of tf
    prf_k: int = 0  # pseudo-relevance feedback: add the centroid of the top k candidates
    prf_beta: float = 0.0
    lsa_dims: int = 0  # mix in cosine in an LSA space (TruncatedSVD, random_state=0)
    lsa_alpha: float = 0.0


def recipe_scores(recipe: Recipe, corpus, queries) -> dict[tuple[str, str], np.ndarray]:
    pids = sorted(corpus)
    index = {pid: i for i, pid in enumerate(pids)}
    cv = CountVectorizer(
        ngram_range=recipe.ngram,
        stop_words=recipe.stop_words,
        strip_accents="unicode" if recipe.accents else None,
    )
    counts = sp.csr_matrix(
        cv.fit_transform([text_of(corpus, p, recipe.title_repeat) for p in pids])
    )
    table = DocFreq(counts.shape[1])
    table.add(counts)
    idf = table.idf()
    # min_df / max_df as the product could apply them: from the same counts
    idf[table.df < recipe.min_df] = 0.0
    idf[table.df > recipe.max_df * table.n_docs] = 0.0
    avgdl = float(counts.sum()) / counts.shape[0]
    docs = tfidf_rows(counts, idf, recipe.sublinear, recipe.bm25, avgdl)
    lsa = None
    if recipe.lsa_dims:
        svd = TruncatedSVD(recipe.lsa_dims, random_state=0).fit(docs)
        z = svd.transform(docs)
        lsa = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    out = {}
    for q in queries:
        qv = docs[index[q.pid]]
        rows = [index[c] for c in q.pool]
        cand = docs[rows]
        s = (cand @ qv.T).toarray().ravel()
        if recipe.prf_k:
            top = np.argsort(-s, kind="stable")[: recipe.prf_k]
            centroid = sp.csr_matrix(cand[top].mean(axis=0))
            q2 = qv + recipe.prf_beta * centroid
            q2 = q2 / max(np.sqrt(q2.multiply(q2).sum()), 1e-12)
            s = (cand @ q2.T).toarray().ravel()
        if lsa is not None:
            s = (1 - recipe.lsa_alpha) * s + recipe.lsa_alpha * (lsa[rows] @ lsa[index[q.pid]])
        out[(q.pid, q.facet)] = s
    return out


# The winning recipe (see bench/README.md for the table): arxiv-sanity analyzer, BM25-saturated tf
# on the smooth IDF, and one round of pseudo-relevance feedback. No LSA: it needs refits.
PROJECT = Recipe(
    ngram=(1, 2),
    stop_words="english",
    accents=True,
    sublinear=False,
    bm25=(1.2, 0.75),
    prf_k=3,
    prf_beta=0.5,
)


def project_scores(corpus, queries) -> dict[tuple[str, str], np.ndarray]:
    """The project's scorer: {(query_pid, facet): scores of the pool, aligned with query.pool}.
    Switch this body to bot.relevance.scoring once its new API exists."""
    return recipe_scores(PROJECT, corpus, queries)


EXPLORE: dict[str, Recipe] = {
    "tfidf unigram (defaults, own code)": Recipe(),
    "+ sublinear": Recipe(sublinear=True),
    "+ stop words": Recipe(stop_words="english"),
    "+ bigrams (1,2)": Recipe(ngram=(1, 2)),
    "current bot (1,2)+sublin+stop+accents": Recipe(
        ngram=(1, 2), stop_words="english", sublinear=True, accents=True
    ),
    "current bot, min_df=2": Recipe(
        ngram=(1, 2), stop_words="english", sublinear=True, accents=True, min_df=2
    ),
    "current bot, max_df=0.1": Recipe(
        ngram=(1, 2), stop_words="english", sublinear=True, accents=True, max_df=0.1
    ),
    "current bot, title x2": Recipe(
        ngram=(1, 2), stop_words="english", sublinear=True, accents=True, title_repeat=2
    ),
    "(1,2)+stop, raw tf": Recipe(ngram=(1, 2), stop_words="english", accents=True),
    "unigram+stop, bm25 tf(1.2,.75)": Recipe(stop_words="english", accents=True, bm25=(1.2, 0.75)),
    "(1,2)+stop, bm25 tf(1.2,.75)": Recipe(
        ngram=(1, 2), stop_words="english", accents=True, bm25=(1.2, 0.75)
    ),
    "(1,2)+stop, bm25 tf(2.0,.75)": Recipe(
        ngram=(1, 2), stop_words="english", accents=True, bm25=(2.0, 0.75)
    ),
    "(1,2)+stop, bm25 tf(1.2,.3)": Recipe(
        ngram=(1, 2), stop_words="english", accents=True, bm25=(1.2, 0.3)
    ),
    "current bot + PRF k3 b.5": Recipe(
        ngram=(1, 2), stop_words="english", sublinear=True, accents=True, prf_k=3, prf_beta=0.5
    ),
    "current bot + PRF k5 b1": Recipe(
        ngram=(1, 2), stop_words="english", sublinear=True, accents=True, prf_k=5, prf_beta=1.0
    ),
    "(1,2)+stop+bm25 + PRF k3 b.5": Recipe(
        ngram=(1, 2), stop_words="english", accents=True, bm25=(1.2, 0.75), prf_k=3, prf_beta=0.5
    ),
    "(1,2)+stop+bm25 + PRF k5 b.5": Recipe(
        ngram=(1, 2), stop_words="english", accents=True, bm25=(1.2, 0.75), prf_k=5, prf_beta=0.5
    ),
    "(1,2)+stop+bm25 + PRF k10 b1": Recipe(
        ngram=(1, 2), stop_words="english", accents=True, bm25=(1.2, 0.75), prf_k=10, prf_beta=1.0
    ),
    "unigram+sublinear + PRF k3 b.5": Recipe(sublinear=True, prf_k=3, prf_beta=0.5),
    "unigram+stop+bm25 + PRF k3 b.5": Recipe(
        stop_words="english", accents=True, bm25=(1.2, 0.75), prf_k=3, prf_beta=0.5
    ),
    "(1,2)+stop+bm25 + PRF k3 b1": Recipe(
        ngram=(1, 2), stop_words="english", accents=True, bm25=(1.2, 0.75), prf_k=3, prf_beta=1.0
    ),
    "(1,2)+stop+bm25(1.2,.3) + PRF k3 b.5": Recipe(
        ngram=(1, 2), stop_words="english", accents=True, bm25=(1.2, 0.3), prf_k=3, prf_beta=0.5
    ),
    "current bot + LSA100 a.3": Recipe(
        ngram=(1, 2),
        stop_words="english",
        sublinear=True,
        accents=True,
        lsa_dims=100,
        lsa_alpha=0.3,
    ),
    "current bot + LSA200 a.5": Recipe(
        ngram=(1, 2),
        stop_words="english",
        sublinear=True,
        accents=True,
        lsa_dims=200,
        lsa_alpha=0.5,
    ),
    "(1,2)+stop+bm25 + LSA100 a.3": Recipe(
        ngram=(1, 2),
        stop_words="english",
        accents=True,
        bm25=(1.2, 0.75),
        lsa_dims=100,
        lsa_alpha=0.3,
    ),
}


def row(name: str, res: dict[str, dict], base: dict[str, dict]) -> str:
    a = res["all"]
    facets = " ".join(
        f"{res[f]['MAP']:.3f}/{res[f]['NDCG%20']:.3f}" for f in ("background", "method", "result")
    )
    return (
        f"{name:<40} {a['MAP']:.4f} ({a['MAP'] / base['all']['MAP']:.2f}x)  "
        f"{a['NDCG%20']:.4f} ({a['NDCG%20'] / base['all']['NDCG%20']:.2f}x)   {facets}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--explore", action="store_true", help="also print the variant table")
    args = parser.parse_args()
    t0 = time.perf_counter()
    corpus, queries = load()
    print(
        f"CSFCube dev: {len(queries)} query x facet pairs, corpus {len(corpus)} papers, "
        f"pools {min(len(q.pool) for q in queries)}..{max(len(q.pool) for q in queries)}"
    )
    base = evaluate(queries, baseline_tfidf_default(corpus, queries))
    bm25 = evaluate(queries, baseline_bm25(corpus, queries))
    proj = evaluate(queries, project_scores(corpus, queries))
    head = f"{'method':<40} {'MAP (x base)':<15} {'NDCG%20 (x base)':<18} bg / method / result"
    print(head)
    print(row("baseline TfidfVectorizer() defaults", base, base))
    print(row("baseline BM25Okapi", bm25, base))
    print(row("PROJECT (research recipe)", proj, base))
    shipped = evaluate(queries, digestbot_scores(corpus, queries))
    print(row("digestbot scorer as shipped (targets)", shipped, base))
    if args.explore:
        print("-- variants --")
        for name, recipe in EXPLORE.items():
            print(row(name, evaluate(queries, recipe_scores(recipe, corpus, queries)), base))
    r_map = shipped["all"]["MAP"] / base["all"]["MAP"]
    r_ndcg = shipped["all"]["NDCG%20"] / base["all"]["NDCG%20"]
    ok_map, ok_ndcg = r_map >= TARGET_MAP, r_ndcg >= TARGET_NDCG
    print(f"target MAP >= {TARGET_MAP}x base: {r_map:.3f}x {'PASS' if ok_map else 'FAIL'}")
    print(f"target NDCG%20 >= {TARGET_NDCG}x base: {r_ndcg:.3f}x {'PASS' if ok_ndcg else 'FAIL'}")
    print(f"runtime {time.perf_counter() - t0:.1f} s")
    return 0 if ok_map and ok_ndcg else 1


if __name__ == "__main__":
    raise SystemExit(main())
