"""TF-IDF with document frequencies kept incrementally, equal to a full scikit-learn refit.

scikit-learn's TfidfVectorizer learns its IDF by refitting on the whole corpus. With 100k stored
abstracts that is too slow for every run, so the bot keeps what the IDF needs, the number of
documents N, each term's document frequency df and the total number of terms (for BM25's mean
document length), and updates them as papers arrive. The IDF is exactly TfidfVectorizer's
(smooth_idf) for the same documents:

    idf(t) = ln((1 + N) / (1 + df(t))) + 1

A paper's term frequency is BM25's (it measured better than sublinear tf on arXiv abstracts,
bench/explore_recipes.py); profile texts (a description, keywords) keep sublinear tf:

    bm25:  tf(t, d) = count * (K1 + 1) / (count + K1 * (1 - B + B * len(d) / avgdl))
    log:   tf(t, d) = 1 + ln(count(t, d))                (with min_df 1: TfidfVectorizer's)
    vector(d) = tf * w, scaled to unit length;  w(t) = idf(t), or 0 when df(t) < min_df

where len(d) counts the document's terms (words and word pairs) and avgdl = the corpus' terms /
N. `min_df` = clamp(N // 2500, 1, 20): rare terms are noise in a big corpus, but a small one
(CSFCube's 2k papers) needs all of them.

Vectors are built over a `Vocabulary` (term -> column, append-only): per call for the live run,
kept across days by a replay so that stored vectors stay valid. Only terms with a weight enter
it; df is looked up for the terms of the documents at hand only.

`ANALYZER` turns text into terms: lowercase, accents folded, English stop words dropped, words
and word pairs ("layer normalization"). It is the one place these settings live. It is a port of
scikit-learn's analyzer for `VECTORIZER_SETTINGS` (`TfidfVectorizer(...).build_analyzer()`), term
for term and in its order (tests/test_analyzer.py compares them on real and hostile texts):
importing scikit-learn cost every CLI process over a second, for this function alone. So
scikit-learn is a test and bench dependency only: `reference_vectorizer` imports it when called;
numpy and scipy are imported by `Space.vectors`, so that counting terms needs neither.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from bot.relevance.stop_words import ENGLISH_STOP_WORDS

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer

VECTORIZER_SETTINGS: dict[str, object] = {
    "ngram_range": (1, 2),
    "sublinear_tf": True,
    "stop_words": "english",
    "strip_accents": "unicode",
    "lowercase": True,
}
BM25_K1 = 1.2
BM25_B = 0.75
MIN_DF_DOCS = 2500  # min_df grows by one per this many stored papers ...
MIN_DF_MAX = 20  # ... up to this


def reference_vectorizer() -> TfidfVectorizer:
    """scikit-learn's vectorizer with the same settings: what `vectors(tf="log")` and
    `ANALYZER` must equal (needs scikit-learn, a test and bench dependency)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(dtype=np.float64, **VECTORIZER_SETTINGS)


_WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern


def _fold_accents(text: str) -> str:
    """scikit-learn's `strip_accents_unicode`: NFKD (which also splits ligatures and maps
    compatibility forms such as NBSP), then combining marks dropped; ASCII text as it is."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _analyze(text: str) -> list[str]:
    """Lowercase, then accents folded (in this order, as scikit-learn's preprocessor), words of
    two or more word characters, stop words dropped, then the remaining words followed by
    every pair of neighbours among them (a pair may span a dropped stop word, as in sklearn)."""
    words = [w for w in _WORD.findall(_fold_accents(text.lower())) if w not in ENGLISH_STOP_WORDS]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


ANALYZER: Callable[[str], list[str]] = _analyze


def terms_of(text: str) -> list[str]:
    """The terms of `text`, with repeats (for term frequency)."""
    return ANALYZER(text)


def min_df_for(n_docs: int) -> int:
    return max(1, min(MIN_DF_MAX, n_docs // MIN_DF_DOCS))


class DocFreqs(Protocol):
    """Where document frequencies come from: memory (replay, tests) or the state file."""

    def n_docs(self) -> int: ...

    def n_terms(self) -> int: ...

    def lookup(self, terms: Iterable[str]) -> Mapping[str, int]: ...


class MemoryDocFreqs:
    """Document frequencies in a dict: for replays and for scoring a batch on top of a store."""

    def __init__(self, base: DocFreqs | None = None) -> None:
        self._base = base
        self._df: Counter[str] = Counter()
        self._n = 0
        self._terms = 0

    def add(self, documents: Iterable[Sequence[str]]) -> None:
        """Count each document once per distinct term."""
        for terms in documents:
            self._df.update(set(terms))
            self._n += 1
            self._terms += len(terms)

    def n_docs(self) -> int:
        return self._n + (self._base.n_docs() if self._base else 0)

    def n_terms(self) -> int:
        return self._terms + (self._base.n_terms() if self._base else 0)

    def lookup(self, terms: Iterable[str]) -> dict[str, int]:
        wanted = list(terms)
        base = self._base.lookup(wanted) if self._base else {}
        return {t: self._df.get(t, 0) + base.get(t, 0) for t in wanted}


def idf(df: int, n_docs: int) -> float:
    return math.log((1 + n_docs) / (1 + df)) + 1.0


class Vocabulary:
    """Term -> column, append-only: a column keeps its meaning as long as the object lives."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.terms: list[str] = []

    def __len__(self) -> int:
        return len(self.terms)

    def add(self, terms: Iterable[str]) -> None:
        for t in terms:
            if t not in self.index:
                self.index[t] = len(self.terms)
                self.terms.append(t)


class Space:
    """The weights of the terms of some documents, from the corpus' frequencies, and their
    vectors in the columns of `vocabulary` (a new one, in sorted order, when not given)."""

    def __init__(
        self,
        documents: Sequence[Sequence[str]],
        freqs: DocFreqs,
        *,
        min_df: int | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        wanted = sorted({t for terms in documents for t in terms})
        counts = freqs.lookup(wanted)
        n = freqs.n_docs()
        self.n_docs = n
        self.min_df = min_df_for(n) if min_df is None else min_df
        self.avgdl = freqs.n_terms() / n if n else 0.0
        self.idf = {t: idf(counts.get(t, 0), n) for t in wanted}  # scikit-learn's
        self.weight = {t: w for t, w in self.idf.items() if counts.get(t, 0) >= self.min_df}
        self.vocabulary = vocabulary if vocabulary is not None else Vocabulary()
        self.vocabulary.add(t for t in wanted if t in self.weight)

    @property
    def terms(self) -> list[str]:
        return self.vocabulary.terms

    def vectors(self, documents: Sequence[Sequence[str]], tf: str = "bm25") -> csr_matrix:
        """Unit-length rows (tf "bm25" or "log"); terms without a weight are left out."""
        # Imported here: the state's corpus counts (`status`, `health`, every stored paper) need
        # this module's analyzer, not numpy and scipy, the slowest imports left.
        import numpy as np
        from scipy.sparse import csr_matrix

        index, weight = self.vocabulary.index, self.weight
        n, width = len(documents), len(self.vocabulary)
        # Only the per-term column lookup is a Python loop; counting, tf and norms are numpy
        # (the reference set alone is 5,000 abstracts, ~750k terms, on every live run).
        columns: list[int] = []
        kept = np.zeros(n, dtype=np.int64)
        for r, terms in enumerate(documents):
            found = [index[t] for t in terms if t in weight]
            columns.extend(found)
            kept[r] = len(found)
        if not columns:
            return csr_matrix((n, width), dtype=np.float64)
        key = np.repeat(np.arange(n, dtype=np.int64), kept) * width + np.asarray(columns)
        key, counts = np.unique(key, return_counts=True)  # sorted: by row, then column
        rows, cols = np.divmod(key, width)
        c = counts.astype(np.float64)
        if tf == "bm25":
            length = np.array([len(terms) for terms in documents], dtype=np.float64)[rows]
            avgdl = self.avgdl if self.avgdl else np.maximum(1.0, length)
            k = BM25_K1 * (1.0 - BM25_B + BM25_B * length / avgdl)
            tfs = c * (BM25_K1 + 1.0) / (c + k)
        else:
            tfs = 1.0 + np.log(c)
        distinct, where = np.unique(cols, return_inverse=True)
        terms_of_col = self.vocabulary.terms
        w = np.array([weight[terms_of_col[j]] for j in distinct], dtype=np.float64)[where]
        values = tfs * w
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=n))
        values = values / norms[rows]
        indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n))))
        return csr_matrix((values, cols, indptr), shape=(n, width), dtype=np.float64)
