"""The reference set R every score is calibrated against: the recent papers' unit vectors.

R is the last `REFERENCE_SIZE` papers stored before the scored day, oldest first, as rows over a
`Vocabulary` (tfidf.py). A paper's vector is the one it got on arrival (the IDF of its day),
kept in the state file (`paper_vectors`, only for the newest papers): re-vectorising 5,000
abstracts means looking up ~450k terms' document frequencies, seconds on every run. A paper
stored without one (a state from before vectors were kept) is vectorised with today's IDF, and
that vector is handed back to be stored (`Reference.computed`).

A replay keeps one Reference across days and `push`es each day's vectors, so there too a paper
keeps the IDF of the day it arrived (bench/explore_recipes.py measured no difference to
re-vectorising R with the scored day's IDF: keywords P@10 1.23x vs 1.24x, MAP 1.31x both).

A stored vector is its terms, newline-joined, and their float64 weights (`encode_rows`).

Rows carry their paper ids when the caller knows them (`push(vectors, ids)`, `of_store`): a
paper readers voted on may be one of R's rows, and scoring must then score that row by a model
fit without the vote (relevance/learned.py), or the percentile gets its cliff back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import date
from itertools import repeat
from typing import Protocol

import numpy as np
from scipy.sparse import csr_matrix, vstack

from bot.models import Paper
from bot.relevance.tfidf import DocFreqs, Space, Vocabulary, terms_of

REFERENCE_SIZE = 5000  # recent papers every score is calibrated against
KEEP_VECTORS = 2 * REFERENCE_SIZE  # stored vectors kept: R, and `preview` a few weeks back

StoredVector = tuple[str, bytes]  # (terms, newline-joined; float64 weights)


class VectorStore(Protocol):
    """What R is read from (bot/state/store.py)."""

    def recent_vectors(self, n: int, before: date) -> list[tuple[str, StoredVector | None]]: ...

    def papers_by_id(self, ids: Sequence[str]) -> dict[str, Paper]: ...


class Reference:
    """The reference set: unit vectors of the most recent papers, oldest first, in the columns
    of `vocabulary`. A replay keeps one across days (`push` each day's vectors); a live run
    reads one from the store (`of_store`)."""

    def __init__(self, vocabulary: Vocabulary | None = None, size: int = REFERENCE_SIZE) -> None:
        self.vocabulary = vocabulary if vocabulary is not None else Vocabulary()
        self.size = size
        self.computed: dict[str, StoredVector] = {}  # vectors made here for stored papers
        self._blocks: deque[tuple[csr_matrix, list[str | None]]] = deque()
        self._rows = 0
        self._stacked: csr_matrix | None = None
        self._rows_of: dict[str, int] | None = None

    @classmethod
    def of_texts(cls, texts: Sequence[str], freqs: DocFreqs) -> Reference:
        """The last `REFERENCE_SIZE` of `texts` (papers' title + abstract, oldest first),
        vectorised with `freqs`."""
        ref = cls()
        terms = [terms_of(t) for t in texts[-ref.size :]]
        if terms:
            ref.push(Space(terms, freqs, vocabulary=ref.vocabulary).vectors(terms))
        return ref

    @classmethod
    def of_store(
        cls,
        store: VectorStore,
        before: date,
        freqs: DocFreqs,
        vocabulary: Vocabulary | None = None,
    ) -> Reference:
        """The last `REFERENCE_SIZE` papers stored for days before `before`: their stored
        vectors, the missing ones made with `freqs` (and kept in `computed`)."""
        ref = cls(vocabulary)
        rows = store.recent_vectors(ref.size, before)
        missing = [pid for pid, stored in rows if stored is None]
        made: dict[str, StoredVector] = {}
        if missing:
            papers = store.papers_by_id(missing)
            ids = [pid for pid in missing if pid in papers]
            terms = [terms_of(papers[pid].text) for pid in ids]
            vectors = Space(terms, freqs, vocabulary=ref.vocabulary).vectors(terms)
            made = dict(zip(ids, encode_rows(vectors, ref.vocabulary), strict=True))
            ref.computed = made
        kept = [(pid, stored or made[pid]) for pid, stored in rows if stored or pid in made]
        ref.push(ref.decode([v for _, v in kept]), [pid for pid, _ in kept])
        return ref

    def decode(self, rows: Sequence[StoredVector]) -> csr_matrix:
        """Stored vectors as rows over this reference's vocabulary (new terms are added)."""
        index = self.vocabulary.index
        columns: list[int] = []
        weights: list[np.ndarray] = []
        lengths = np.zeros(len(rows), dtype=np.int64)
        for r, (terms, values) in enumerate(rows):
            names = terms.split("\n") if terms else []
            self.vocabulary.add(names)
            columns.extend(index[t] for t in names)
            weights.append(np.frombuffer(values, dtype=np.float64))
            lengths[r] = len(names)
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        data = np.concatenate(weights) if weights else np.zeros(0)
        shape = (len(rows), len(self.vocabulary))
        matrix = csr_matrix((data, np.asarray(columns, dtype=np.int64), indptr), shape=shape)
        matrix.sort_indices()
        return matrix

    def decode_known(self, rows: Sequence[StoredVector]) -> csr_matrix:
        """Stored vectors as rows over this reference's vocabulary, the terms it does not know
        left out (the vocabulary does not grow). For voted papers' vectors: a term that neither
        R nor the day's papers carry adds nothing to any score of theirs, and decoding term by
        term and growing every dense profile vector with it cost more than the rest of the
        votes' work (bench/speed.py --votes)."""
        lengths = np.array(
            [terms.count("\n") + 1 if terms else 0 for terms, _ in rows], dtype=np.int64
        )
        names = "\n".join(terms for terms, _ in rows if terms).split("\n") if lengths.any() else []
        columns = np.fromiter(
            map(self.vocabulary.index.get, names, repeat(-1)), dtype=np.int64, count=len(names)
        )
        data = np.frombuffer(b"".join(values for _, values in rows), dtype=np.float64)
        owner = np.repeat(np.arange(len(rows)), lengths)
        known = columns >= 0
        indptr = np.concatenate(([0], np.cumsum(np.bincount(owner[known], minlength=len(rows)))))
        shape = (len(rows), len(self.vocabulary))
        matrix = csr_matrix((data[known], columns[known], indptr), shape=shape)
        matrix.sort_indices()
        return matrix

    def __len__(self) -> int:
        return min(self._rows, self.size)

    def push(self, vectors: csr_matrix, ids: Sequence[str] | None = None) -> None:
        """Add the newest papers' vectors (and their paper ids, if known); the oldest beyond
        `size` drop out."""
        if vectors.shape[0] == 0:
            return
        if ids is not None and len(ids) != vectors.shape[0]:
            raise ValueError(f"{len(ids)} ids for {vectors.shape[0]} vectors")
        named: list[str | None] = list(ids) if ids is not None else [None] * vectors.shape[0]
        self._blocks.append((vectors, named))
        self._rows += vectors.shape[0]
        while self._blocks and self._rows - self._blocks[0][0].shape[0] >= self.size:
            self._rows -= self._blocks.popleft()[0].shape[0]
        self._stacked = None
        self._rows_of = None

    def matrix(self) -> csr_matrix:
        width = len(self.vocabulary)
        if self._stacked is None or self._stacked.shape[1] != width:
            blocks = [widen(b, width) for b, _ in self._blocks]
            stacked = vstack(blocks, format="csr") if blocks else _empty(width)
            self._stacked = csr_matrix(stacked[max(0, stacked.shape[0] - self.size) :])
        return self._stacked

    def rows_of(self) -> dict[str, int]:
        """Paper id -> its row in `matrix()`, for the rows pushed with ids (a paper pushed
        twice: its last row)."""
        if self._rows_of is None:
            named = [pid for _, ids in self._blocks for pid in ids]
            skip = max(0, len(named) - self.size)
            self._rows_of = {pid: r for r, pid in enumerate(named[skip:]) if pid is not None}
        return self._rows_of


def encode_rows(vectors: csr_matrix, vocabulary: Vocabulary) -> list[StoredVector]:
    """Each row of `vectors` as it is stored: its terms and their weights."""
    terms = vocabulary.terms
    out: list[StoredVector] = []
    for r in range(vectors.shape[0]):
        start, end = vectors.indptr[r], vectors.indptr[r + 1]
        names = "\n".join(terms[j] for j in vectors.indices[start:end])
        out.append((names, np.asarray(vectors.data[start:end], dtype=np.float64).tobytes()))
    return out


def widen(m: csr_matrix, width: int) -> csr_matrix:
    """`m` with columns added up to `width` (a vocabulary only grows)."""
    if m.shape[1] == width:
        return m
    return csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], width))


def _empty(width: int) -> csr_matrix:
    return csr_matrix((0, width), dtype=np.float64)
