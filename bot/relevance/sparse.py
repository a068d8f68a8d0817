"""Sparse vectors over the vocabulary, with the same arithmetic, to the last bit, as the dense
numpy vectors they stand for.

A profile's vectors touch a few thousand of the day's ~40,000 terms: a keyword profile's seed
a few dozen. Dense, every profile costs 40,000-float arrays at each step, and at an
institution's 10,000 profiles that was most of the scoring time (bench/scoring_scale.py). Here
a vector is `Vec` (its sorted distinct columns and their values); each operation does what the
dense one did on the columns that can be non-zero, in the same order:

- a sum over vectors adds each term's values in the order of the vectors (numpy's axis-0
  reduction adds row after row; a term a vector lacks added 0.0, which changes nothing);
- an element-wise operation is applied to the union of the columns, zeros filled in (outside
  it, the dense result was 0 as well);
- a norm is numpy's, of the dense vector (BLAS adds in its own order), in a reused buffer;
- a product with a matrix's rows adds each row's terms in column order (`rows_times`: a sparse
  x sparse product accumulates in the left factor's column order, as scipy's sparse x dense
  product does over the matrix row's sorted columns).

So the scores are equal to the dense code's, which the tests and `cmp` of bench/scoring_scale.py
dumps check.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.sparse import csr_matrix

Vec = tuple[np.ndarray, np.ndarray]  # (sorted distinct columns, their values)

EMPTY: Vec = (np.zeros(0, dtype=np.int64), np.zeros(0))


def of_row(M: csr_matrix, row: int) -> Vec:
    """Row `row` of M (sorted columns)."""
    start, end = M.indptr[row], M.indptr[row + 1]
    return M.indices[start:end].astype(np.int64), M.data[start:end]


def mean(vectors: Sequence[Vec]) -> Vec:
    """`np.mean` of the dense vectors along axis 0."""
    if len(vectors) == 1:
        cols, vals = vectors[0]
        return cols, vals / 1
    cols, at = np.unique(np.concatenate([c for c, _ in vectors]), return_inverse=True)
    sums = np.bincount(at, weights=np.concatenate([v for _, v in vectors]), minlength=cols.size)
    return cols, sums / len(vectors)


def combine(
    a: Vec, b: Vec, op: Callable[[np.ndarray, np.ndarray], np.ndarray], dense: Dense
) -> Vec:
    """`op(dense a, dense b)`, element-wise, for an `op` that gives 0 where both are 0."""
    mark = dense.mark
    mark[a[0]] = True
    mark[b[0]] = True
    cols = np.flatnonzero(mark)  # the union, sorted (cheaper than np.union1d's sort)
    mark[cols] = False
    left, right = np.zeros(cols.size), np.zeros(cols.size)
    left[np.searchsorted(cols, a[0])] = a[1]
    right[np.searchsorted(cols, b[0])] = b[1]
    return cols, op(left, right)


def entries(M: csr_matrix, rows: np.ndarray) -> np.ndarray:
    """The positions in M.data / M.indices of the entries of `rows`, row after row."""
    starts, ends = M.indptr[rows], M.indptr[rows + 1]
    lengths = ends - starts
    first = np.cumsum(lengths) - lengths
    return np.repeat(starts - first, lengths) + np.arange(int(lengths.sum()))


def mean_rows(M: csr_matrix, rows: np.ndarray, dense: Dense) -> Vec:
    """The mean of M's `rows`, each term summed in the order of `rows` (as `M[rows].sum(0)`
    adds them), for an M of positive entries."""
    if rows.size == 0:
        return EMPTY
    at = entries(M, rows)
    sums = np.bincount(M.indices[at], weights=M.data[at], minlength=dense.buffer.size)
    cols = np.flatnonzero(sums)  # positive entries: a sum is 0 only where no row has the term
    return cols, sums[cols] / rows.size


def at(v: Vec, cols: np.ndarray) -> np.ndarray:
    """v's values at sorted `cols` (0 where v has none)."""
    own, vals = v
    out = np.zeros(cols.size)
    if own.size == 0:
        return out
    pos = np.searchsorted(own, cols)
    pos[pos == own.size] = 0
    hit = own[pos] == cols
    out[hit] = vals[pos[hit]]
    return out


class Dense:
    """One reused dense buffer over the vocabulary, for what must be worked out on the dense
    vector to give the same bits (a BLAS norm or dot, a dense argument of a row product)."""

    def __init__(self, width: int) -> None:
        self.buffer = np.zeros(width)
        self.mark = np.zeros(width, dtype=bool)  # all False between calls

    def norm(self, v: Vec) -> float:
        self.buffer[v[0]] = v[1]
        try:
            return float(np.linalg.norm(self.buffer))
        finally:
            self.buffer[v[0]] = 0.0

    def dot(self, v: Vec) -> float:
        """v . v as `dense v @ dense v` adds it."""
        self.buffer[v[0]] = v[1]
        try:
            return float(self.buffer @ self.buffer)
        finally:
            self.buffer[v[0]] = 0.0

    def row_dots(self, M: csr_matrix, rows: np.ndarray, v: Vec) -> np.ndarray:
        """M[rows] @ dense v, each row added in column order."""
        self.buffer[v[0]] = v[1]
        try:
            return row_dots(M, rows, self.buffer)
        finally:
            self.buffer[v[0]] = 0.0


def unit(v: Vec, dense: Dense) -> Vec:
    norm = dense.norm(v)
    return (v[0], v[1] / norm) if norm else v


def row_dots(M: csr_matrix, rows: np.ndarray, v: np.ndarray) -> np.ndarray:
    """M[rows] @ v for a dense v, read from M's arrays in place (no sliced copy of M), each
    row's products added in column order (as scipy's product adds them)."""
    where = entries(M, rows)
    owner = np.repeat(np.arange(rows.size), np.diff(M.indptr)[rows])
    return np.bincount(owner, weights=M.data[where] * v[M.indices[where]], minlength=rows.size)


def row_sq_sums(M: csr_matrix, rows: np.ndarray) -> np.ndarray:
    """`M[rows].multiply(M[rows]).sum(axis=1)`, added as scipy adds it (numpy's `reduceat`
    over each non-empty row)."""
    lengths = np.diff(M.indptr)[rows]
    out = np.zeros(rows.size)
    full = np.flatnonzero(lengths)
    if full.size:
        where = entries(M, rows)
        sq = M.data[where] * M.data[where]
        starts = (np.cumsum(lengths) - lengths)[full]
        out[full] = np.add.reduceat(sq, starts)
    return out


def rows_times(vectors: Sequence[Vec], MT: csr_matrix) -> np.ndarray:
    """(len(vectors) x M's rows): each vector times each row of M, given M's transpose as CSR
    (`MT`, width x rows): sparse products, each sum in the vector's column order. The vectors
    are split among `threads()` threads (scipy's sparse products let go of the GIL; each row
    of the result is worked out alone, so the split changes no number)."""
    if not vectors:
        return np.zeros((0, MT.shape[1]))
    lengths = [c.size for c, _ in vectors]
    indptr = np.zeros(len(vectors) + 1, dtype=MT.indptr.dtype)
    np.cumsum(lengths, out=indptr[1:])
    S = csr_matrix(
        (
            np.concatenate([v for _, v in vectors]),
            np.concatenate([c for c, _ in vectors]).astype(MT.indices.dtype),
            indptr,
        ),
        shape=(len(vectors), MT.shape[0]),
    )
    parts = min(threads(), len(vectors) // MIN_ROWS_PER_THREAD)
    if parts <= 1:
        whole: np.ndarray = (S @ MT).toarray()
        return whole
    out = np.empty((len(vectors), MT.shape[1]))
    bounds = np.linspace(0, len(vectors), parts + 1).astype(int).tolist()

    def part(a: int, b: int) -> None:
        out[a:b] = (S[a:b] @ MT).toarray()

    list(_pool().map(part, bounds[:-1], bounds[1:]))
    return out


MIN_ROWS_PER_THREAD = 16  # fewer, and a thread costs more than it saves


def threads() -> int:
    """Threads for the sparse products: the cores this process may use, at most MAX_THREADS
    (the products of a run are a few seconds at 10,000 profiles: the rest of scoring is
    Python, one thread)."""
    return max(1, min(MAX_THREADS, len(os.sched_getaffinity(0))))


MAX_THREADS = 4


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(MAX_THREADS, thread_name_prefix="digestbot-products")


# A forked child has none of its parent's threads: it makes its own pool.
os.register_at_fork(after_in_child=_pool.cache_clear)
