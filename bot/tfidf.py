"""TF-IDF with document frequencies kept incrementally, equal to a full scikit-learn refit.

scikit-learn's TfidfVectorizer learns its IDF by refitting on the whole corpus. With 100k stored
abstracts that is too slow for every run, so the bot keeps what the IDF needs, the number of
documents N and each term's document frequency df, and updates them as papers arrive. For the
same documents this gives exactly TfidfVectorizer's numbers (smooth_idf, sublinear_tf, l2 norm):

    idf(t) = ln((1 + N) / (1 + df(t))) + 1          tf(t, d) = 1 + ln(count(t, d))
    vector(d) = tf * idf, scaled to unit length

Only the terms of the documents being compared matter to their cosine, so vectors are built over
a small per-call vocabulary; df is looked up for those terms only.

`ANALYZER` turns text into terms: lowercase, accents folded, English stop words dropped, words
and word pairs ("layer normalization"). It is the one place these settings live.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer

VECTORIZER_SETTINGS: dict[str, object] = {
    "ngram_range": (1, 2),
    "sublinear_tf": True,
    "stop_words": "english",
    "strip_accents": "unicode",
    "lowercase": True,
}


def reference_vectorizer() -> TfidfVectorizer:
    """scikit-learn's vectorizer with the same settings: what `vectors` must equal."""
    return TfidfVectorizer(dtype=np.float64, **VECTORIZER_SETTINGS)


ANALYZER: Callable[[str], list[str]] = reference_vectorizer().build_analyzer()


def terms_of(text: str) -> list[str]:
    """The terms of `text`, with repeats (for term frequency)."""
    return ANALYZER(text)


class DocFreqs(Protocol):
    """Where document frequencies come from: memory (replay, tests) or the state file."""

    def n_docs(self) -> int: ...

    def lookup(self, terms: Iterable[str]) -> Mapping[str, int]: ...


class MemoryDocFreqs:
    """Document frequencies in a dict: for replays and for scoring a batch on top of a store."""

    def __init__(self, base: DocFreqs | None = None) -> None:
        self._base = base
        self._df: Counter[str] = Counter()
        self._n = 0

    def add(self, documents: Iterable[Iterable[str]]) -> None:
        """Count each document once per distinct term."""
        for terms in documents:
            self._df.update(set(terms))
            self._n += 1

    def n_docs(self) -> int:
        return self._n + (self._base.n_docs() if self._base else 0)

    def lookup(self, terms: Iterable[str]) -> dict[str, int]:
        wanted = list(terms)
        base = self._base.lookup(wanted) if self._base else {}
        return {t: self._df.get(t, 0) + base.get(t, 0) for t in wanted}


def idf(df: int, n_docs: int) -> float:
    return math.log((1 + n_docs) / (1 + df)) + 1.0


class Space:
    """A vocabulary and its IDF weights: the coordinates shared by papers and profiles."""

    def __init__(self, documents: Sequence[Sequence[str]], freqs: DocFreqs) -> None:
        vocabulary = sorted({t for terms in documents for t in terms})
        self.index = {t: i for i, t in enumerate(vocabulary)}
        self.terms = vocabulary
        counts = freqs.lookup(vocabulary)
        n = freqs.n_docs()
        self.idf = np.array([idf(counts.get(t, 0), n) for t in vocabulary], dtype=np.float64)

    def vectors(self, documents: Sequence[Sequence[str]]) -> csr_matrix:
        """Unit-length sublinear TF-IDF rows; terms outside the vocabulary are ignored."""
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, terms in enumerate(documents):
            counts = Counter(t for t in terms if t in self.index)
            weights = {self.index[t]: (1.0 + math.log(c)) for t, c in counts.items()}
            norm = math.sqrt(sum((w * self.idf[i]) ** 2 for i, w in weights.items()))
            for i, w in sorted(weights.items()):
                rows.append(r)
                cols.append(i)
                vals.append(w * self.idf[i] / norm if norm else 0.0)
        shape = (len(documents), len(self.terms))
        return csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float64)
