"""Incremental document frequencies give exactly scikit-learn's TF-IDF of a full refit, in
memory and in the state file (also for a state upgraded from before they were kept); papers'
BM25 vectors and min_df follow their formulas."""

from __future__ import annotations

import math
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from bot.relevance.tfidf import (
    BM25_B,
    BM25_K1,
    MemoryDocFreqs,
    Space,
    min_df_for,
    reference_vectorizer,
    terms_of,
)
from bot.sources.hf_daily import parse_api
from bot.state.migrations import MIGRATIONS
from bot.state.store import Store
from tests.conftest import FIXTURES

DAY_0731 = parse_api((FIXTURES / "hf_daily_papers_2026-07-31_30items.json").read_bytes())
DAY_0612 = parse_api((FIXTURES / "hf_daily_papers_2026-06-12_30items.json").read_bytes())
DAY_0803 = parse_api((FIXTURES / "hf_daily_papers_2026-08-03_3items_reindented.json").read_bytes())


def as_dicts(matrix, terms) -> list[dict[str, float]]:  # type: ignore[no-untyped-def]
    rows = []
    for r in range(matrix.shape[0]):
        row = matrix.getrow(r).tocoo()
        rows.append({terms[c]: v for c, v in zip(row.col, row.data, strict=True) if v})
    return rows


def assert_same(ours: list[dict[str, float]], theirs: list[dict[str, float]]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.keys() == b.keys()
        assert all(a[t] == pytest.approx(b[t], rel=1e-12, abs=1e-15) for t in a)


def test_incremental_memory_frequencies_equal_a_full_refit() -> None:
    corpus = [p.text for p in DAY_0612 + DAY_0731]
    batch = [p.text for p in DAY_0803]
    reference = reference_vectorizer().fit(corpus + batch)
    theirs = as_dicts(reference.transform(batch), reference.get_feature_names_out())

    freqs = MemoryDocFreqs()
    for chunk in (corpus[:10], corpus[10:45], corpus[45:], batch):  # added as papers arrive
        freqs.add(terms_of(t) for t in chunk)
    batch_terms = [terms_of(t) for t in batch]
    space = Space(batch_terms, freqs, min_df=1)
    assert_same(as_dicts(space.vectors(batch_terms, tf="log"), space.terms), theirs)
    theirs_idf = dict(zip(reference.get_feature_names_out(), reference.idf_, strict=True))
    assert space.idf == pytest.approx({t: theirs_idf[t] for t in space.idf}, rel=1e-12)


def test_bm25_vectors_and_min_df() -> None:
    corpus = [terms_of(p.text) for p in DAY_0612 + DAY_0731]
    freqs = MemoryDocFreqs()
    freqs.add(corpus)
    assert freqs.n_terms() == sum(len(t) for t in corpus)
    doc = terms_of(DAY_0803[0].text)
    space = Space([doc], freqs, min_df=2)
    [row] = as_dicts(space.vectors([doc]), space.terms)
    df = freqs.lookup(doc)
    avgdl = freqs.n_terms() / freqs.n_docs()
    expected = {}
    for t in set(doc):
        if df[t] >= 2:
            c = doc.count(t)
            k = BM25_K1 * (1 - BM25_B + BM25_B * len(doc) / avgdl)
            idf = math.log((1 + 60) / (1 + df[t])) + 1
            expected[t] = c * (BM25_K1 + 1) / (c + k) * idf
    norm = math.sqrt(sum(v * v for v in expected.values()))
    assert_same([row], [{t: v / norm for t, v in expected.items()}])
    assert [min_df_for(n) for n in (0, 2499, 5000, 49_999, 10**6)] == [1, 1, 2, 19, 20]


def test_state_file_frequencies_equal_memory_and_a_refit(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite3")
    store.record(DAY_0612, [], [], digest_day=date(2026, 6, 12))
    store.record(DAY_0731 + DAY_0612[:3], [], [], digest_day=date(2026, 7, 31))  # 3 known again
    memory = MemoryDocFreqs()
    memory.add(terms_of(p.text) for p in DAY_0612 + DAY_0731)
    probe = sorted({t for p in DAY_0803 for t in terms_of(p.text)})
    assert store.corpus.n_docs() == memory.n_docs() == 60
    assert store.corpus.lookup(probe) == memory.lookup(probe)

    corpus = [p.text for p in DAY_0612 + DAY_0731]
    batch = [p.text for p in DAY_0803]
    reference = reference_vectorizer().fit(corpus + batch)
    freqs = MemoryDocFreqs(base=store.corpus)
    freqs.add(terms_of(t) for t in batch)
    batch_terms = [terms_of(t) for t in batch]
    space = Space(batch_terms, freqs, min_df=1)
    theirs = as_dicts(reference.transform(batch), reference.get_feature_names_out())
    assert_same(as_dicts(space.vectors(batch_terms, tf="log"), space.terms), theirs)
    assert store.corpus.n_terms() == memory.n_terms() > 0
    store.close()


def test_a_state_from_before_frequencies_is_backfilled_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, statements in enumerate(MIGRATIONS[:2], start=1):  # schema version 2
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.executemany(  # papers written as version 2 did, with no document frequencies
        "INSERT INTO papers (id, title, abstract, authors, url, categories, published, day,"
        " version, source, extras, first_seen_day, first_seen_at)"
        " VALUES (?, ?, ?, '[]', '', '[]', '', NULL, NULL, 'hf_daily', '{}', '2026-07-31', '')",
        [(p.id, p.title, p.abstract) for p in DAY_0731],
    )
    conn.close()

    store = Store.open(path)
    memory = MemoryDocFreqs()
    memory.add(terms_of(p.text) for p in DAY_0731)
    probe = sorted({t for p in DAY_0612 for t in terms_of(p.text)})
    assert store.corpus.n_docs() == 30
    assert store.corpus.n_terms() == memory.n_terms()
    assert store.corpus.lookup(probe) == memory.lookup(probe)
    store.close()


def test_a_state_without_the_corpus_length_is_backfilled_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store.open(path)
    store.record(DAY_0731, [], [], digest_day=date(2026, 7, 31))
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM corpus_meta WHERE key = 'n_terms'")  # as kept before it was
    conn.close()
    memory = MemoryDocFreqs()
    memory.add(terms_of(p.text) for p in DAY_0731)
    for _ in range(2):  # reopening does not count again
        store = Store.open(path)
        assert (store.corpus.n_docs(), store.corpus.n_terms()) == (30, memory.n_terms())
        store.close()
