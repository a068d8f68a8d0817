"""Shared pieces of the relevance benchmarks: where the data lives, the ranking metrics, the
incremental document-frequency table, and the text helpers. Independent of `bot/` on purpose:
the benchmarks must keep measuring the same thing while the product's scorer changes.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """`../shared/bench` beside the checkout, or $DIGESTBOT_BENCH_DATA."""
    override = os.environ.get("DIGESTBOT_BENCH_DATA")
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "bench"
    if not path.is_dir():
        raise SystemExit(
            f"benchmark data not found at {path}; set DIGESTBOT_BENCH_DATA to the folder that "
            "holds csfcube/ and daily_arxiv/"
        )
    return path


def paper_text(title: str, abstract: str) -> str:
    """What the product's scorer reads (bot.models.Paper.text)."""
    return f"{title}. {abstract}"


def order(scores: Sequence[float] | np.ndarray, ids: Sequence[str]) -> list[int]:
    """Indices best first; ties broken by id, so every method is deterministic."""
    return sorted(range(len(ids)), key=lambda i: (-float(scores[i]), ids[i]))


# ---- metrics over a ranked list of relevance labels -------------------------------------------


def precision_at(rels: Sequence[int], k: int) -> float:
    return sum(1 for r in rels[:k] if r > 0) / k


def average_precision(rels: Sequence[int]) -> float:
    """Mean of precision@rank over the relevant items of a fully ranked pool (rank_metrics)."""
    hits, total = 0, 0.0
    for i, r in enumerate(rels, start=1):
        if r > 0:
            hits += 1
            total += hits / i
    return total / hits if hits else 0.0


def ndcg_at(rels: Sequence[float], k: int) -> float:
    """Standard nDCG@k: gain = label, discount = log2(rank + 1)."""

    def dcg(values: Sequence[float]) -> float:
        return sum(v / math.log2(i + 2) for i, v in enumerate(values[:k]))

    ideal = dcg(sorted(rels, reverse=True))
    return dcg(rels) / ideal if ideal > 0 else 0.0


def ndcg_rank_metrics(rels: Sequence[float], k: int) -> float:
    """nDCG as CSFCube's official eval computes it (rank_metrics.ndcg_at_k, method 0): gain =
    graded label, ranks 1 and 2 both undiscounted, rank i >= 2 divided by log2(i)."""

    def dcg(values: Sequence[float]) -> float:
        v = np.asarray(values, dtype=float)[:k]
        if v.size == 0:
            return 0.0
        return float(v[0] + np.sum(v[1:] / np.log2(np.arange(2, v.size + 1))))

    ideal = dcg(sorted(rels, reverse=True))
    return dcg(rels) / ideal if ideal > 0 else 0.0


# ---- TF-IDF from document frequencies ---------------------------------------------------------


def smooth_idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    """scikit-learn's smooth IDF, ln((1+N)/(1+df)) + 1, from counts alone; terms never seen
    (df == 0) get 0, exactly as if they were outside a vectorizer fitted on the same documents."""
    idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
    idf[df == 0] = 0.0
    return idf


def l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ m)


def tfidf_rows(
    counts: sp.csr_matrix,
    idf: np.ndarray,
    sublinear: bool,
    bm25: tuple[float, float] | None = None,
    avgdl: float = 1.0,
) -> sp.csr_matrix:
    """Weight raw term counts (rows = documents): tf (raw, 1+ln tf, or BM25-saturated) x idf,
    then L2-normalise, so a dot product is a cosine in [0, 1]."""
    m = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    if bm25 is not None:
        k1, b = bm25
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        denom_row = k1 * (1.0 - b + b * lengths / avgdl)
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        m.data = m.data * (k1 + 1.0) / (m.data + denom_row[rows])
    elif sublinear:
        m.data = 1.0 + np.log(m.data)
    m = sp.csr_matrix(m @ sp.diags(idf))
    m.eliminate_zeros()
    return l2_rows(m)


class DocFreq:
    """Per-term document frequencies and the document count, grown one batch at a time: the
    only state an incremental IDF needs (what the product can keep in its store)."""

    def __init__(self, n_terms: int) -> None:
        self.df = np.zeros(n_terms, dtype=np.int64)
        self.n_docs = 0

    def add(self, counts: sp.csr_matrix) -> None:
        if counts.shape[0]:
            self.df += np.asarray((counts > 0).sum(axis=0)).ravel()
            self.n_docs += counts.shape[0]

    def idf(self) -> np.ndarray:
        return smooth_idf(self.df.astype(np.float64), self.n_docs)


def mean_of(values: Iterable[float]) -> float:
    vals = list(values)
    return float(np.mean(vals)) if vals else float("nan")


TOKEN = re.compile(r"(?u)\b\w\w+\b")


def simple_tokens(text: str) -> list[str]:
    """scikit-learn's default token pattern, lower-cased: the tokenizer given to BM25."""
    return TOKEN.findall(text.lower())
