"""bot/relevance/sparse.py: each sparse operation gives the dense numpy operation's numbers to
the last bit (the scores, and so the matches, do not depend on how the vectors are kept), and
the products split among threads give what one thread gives. Vectors of real recorded papers
(test_scoring's POOL)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from bot.relevance import sparse
from bot.relevance.tfidf import MemoryDocFreqs, Space, Vocabulary, terms_of
from tests.test_scoring import POOL


@pytest.fixture(scope="module")
def R() -> csr_matrix:
    terms = [terms_of(p.text) for p in POOL]
    freqs = MemoryDocFreqs()
    freqs.add(terms)
    return Space(terms, freqs, vocabulary=Vocabulary()).vectors(terms)


def _dense(v: sparse.Vec, width: int) -> np.ndarray:
    out = np.zeros(width)
    out[v[0]] = v[1]
    return out


def _vectors(R: csr_matrix, count: int, seed: int) -> list[sparse.Vec]:
    """Means of a few random rows of R, some scaled negative: vectors of a few hundred terms."""
    rng = np.random.default_rng(seed)
    dense = sparse.Dense(R.shape[1])
    out = []
    for k in range(count):
        rows = rng.choice(R.shape[0], size=int(rng.integers(1, 12)), replace=False)
        cols, vals = sparse.mean_rows(R, rows, dense)
        out.append((cols, vals * (-0.5 if k % 3 == 2 else 1.0)))
    return out


def test_means_and_element_wise_operations_are_the_dense_ones(R: csr_matrix) -> None:
    width = R.shape[1]
    dense = sparse.Dense(width)
    vs = _vectors(R, 12, seed=1)
    for n in (1, 2, 3, 9, 12):  # numpy adds rows one after the other, also past 8 of them
        cols, vals = sparse.mean(vs[:n])
        assert np.array_equal(
            _dense((cols, vals), width), np.mean([_dense(v, width) for v in vs[:n]], axis=0)
        )
    for a, b in itertools.pairwise(vs):
        for op in (np.subtract, lambda x, y: x + 0.7 * y, lambda x, y: (1 * x + y * 100) / 101):
            got = sparse.combine(a, b, op, dense)
            assert np.array_equal(_dense(got, width), op(_dense(a, width), _dense(b, width)))
            assert not dense.mark.any()  # the buffer is left clean
        assert (
            sparse.unit(a, dense)[1].tolist() == (a[1] / np.linalg.norm(_dense(a, width))).tolist()
        )
        assert sparse.at(a, b[0]).tolist() == _dense(a, width)[b[0]].tolist()
    assert not dense.buffer.any()


def test_row_sums_are_what_scipy_gives_for_the_sliced_rows(R: csr_matrix) -> None:
    dense = sparse.Dense(R.shape[1])
    rng = np.random.default_rng(2)
    for size in (1, 5, 30):
        rows = rng.choice(R.shape[0], size=size, replace=False)
        want = np.asarray(R[rows].sum(axis=0)).ravel() / size
        assert np.array_equal(_dense(sparse.mean_rows(R, rows, dense), R.shape[1]), want)
        sliced = R[rows]
        assert np.array_equal(
            sparse.row_sq_sums(R, rows), np.asarray(sliced.multiply(sliced).sum(axis=1)).ravel()
        )
        v = _vectors(R, 1, seed=size)[0]
        assert np.array_equal(dense.row_dots(R, rows, v), sliced @ _dense(v, R.shape[1]))
        assert dense.dot(v) == float(_dense(v, R.shape[1]) @ _dense(v, R.shape[1]))


@pytest.mark.parametrize("count", [3, 40, 100])
def test_products_are_scipys_sparse_times_dense_split_or_not(
    R: csr_matrix, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dense code multiplied R by a block of dense vectors (scipy's sparse x dense product);
    # the sparse product adds each score's terms in the same order, on one thread or several.
    vs = _vectors(R, count, seed=count)
    block = np.stack([_dense(v, R.shape[1]) for v in vs], axis=1)
    want = (R @ block).T
    monkeypatch.setattr(sparse, "threads", lambda: 4)
    split = sparse.rows_times(vs, R.T.tocsr())
    monkeypatch.setattr(sparse, "threads", lambda: 1)
    alone = sparse.rows_times(vs, R.T.tocsr())
    assert np.array_equal(split, want)
    assert np.array_equal(alone, want)


def test_a_forked_child_gets_its_own_threads(
    R: csr_matrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pool's threads stay in the parent: a child forked after a split product (a daemon's
    # helper process, a test runner) that splits one again must not wait on threads it has not.
    import multiprocessing

    monkeypatch.setattr(sparse, "threads", lambda: 2)
    vs = _vectors(R, 40, seed=5)
    want = sparse.rows_times(vs, R.T.tocsr())  # the parent's pool now has threads

    def child() -> None:
        got = sparse.rows_times(vs, R.T.tocsr())
        raise SystemExit(0 if np.array_equal(got, want) else 3)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(timeout=30)
    if process.is_alive():
        process.kill()
        process.join()
    assert process.exitcode == 0
