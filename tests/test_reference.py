"""The reference set read from stored vectors (relevance/reference.py, the `paper_vectors` table).

What these prove: a live run stores each new paper's vector with it, and the next run's R read
back from the state is exactly those papers vectorised with the IDF of their day; a state whose
papers have no stored vector (from before vectors were kept) gets the same R computed, and the
vectors so made are stored by the next record; only the newest `keep_vectors` papers keep theirs;
an old state file upgrades to the new table without losing its papers.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.relevance.reference import REFERENCE_SIZE, Reference, encode_rows
from bot.relevance.tfidf import MemoryDocFreqs, Space, Vocabulary, terms_of
from bot.sources.hf_daily import parse_api
from bot.state.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.state.store import Store
from tests.conftest import FIXTURES
from tests.e2e import SPEC_PROFILE, Bot
from tests.test_tfidf import as_dicts, assert_same

DAY_0612 = parse_api((FIXTURES / "hf_daily_papers_2026-06-12_30items.json").read_bytes())
DAY_0731 = parse_api((FIXTURES / "hf_daily_papers_2026-07-31_30items.json").read_bytes())


def rows_of(reference: Reference) -> list[dict[str, float]]:
    return as_dicts(reference.matrix(), reference.vocabulary.terms)


def texts_before(store: Store, before: date) -> list[str]:
    """The texts of the papers R is made of (oldest first), to vectorise them afresh."""
    ids = [pid for pid, _ in store.recent_vectors(REFERENCE_SIZE, before)]
    papers = store.papers_by_id(ids)
    return [papers[pid].text for pid in ids]


def stored_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return sorted(r[0] for r in conn.execute("SELECT id FROM paper_vectors"))


def test_a_run_stores_vectors_and_the_next_reads_them_back(bot: Bot) -> None:
    bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
    bot.profile("spec.yaml", SPEC_PROFILE)
    run = bot.run("once", "--date", "2026-07-31")
    assert run.returncode == 0, run.stderr

    store = Store.open(bot.state)
    assert stored_ids(bot.state) == sorted(p.id for p in DAY_0731)
    # A first run is a cold start: the day's IDF counted the day itself, which is exactly what
    # the store's frequencies hold now. So the stored vectors equal a recomputation.
    read = Reference.of_store(store, date(2026, 8, 1), store.corpus)
    assert read.computed == {}
    ids = [pid for pid, _ in store.recent_vectors(REFERENCE_SIZE, date(2026, 8, 1))]
    assert sorted(ids) == sorted(p.id for p in DAY_0731)
    recomputed = Reference.of_texts(texts_before(store, date(2026, 8, 1)), store.corpus)
    assert len(read) == 30
    assert_same(rows_of(read), rows_of(recomputed))
    store.close()


def test_papers_without_vectors_get_them_computed_then_stored(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    store.record(DAY_0612, [], [], digest_day=date(2026, 6, 12))  # no vectors, as before v6
    assert stored_ids(tmp_path / "state.sqlite3") == []

    first = Reference.of_store(store, date(2026, 6, 13), store.corpus)
    assert sorted(first.computed) == sorted(p.id for p in DAY_0612)
    expected = Reference.of_texts(texts_before(store, date(2026, 6, 13)), store.corpus)
    assert_same(rows_of(first), rows_of(expected))

    store.record([], [], [], digest_day=date(2026, 6, 13), vectors=first.computed)
    assert stored_ids(tmp_path / "state.sqlite3") == sorted(p.id for p in DAY_0612)
    # More papers arrive; the 0612 papers keep the vectors of their day.
    store.record(DAY_0731, [], [], digest_day=date(2026, 7, 31))
    second = Reference.of_store(store, date(2026, 6, 13), store.corpus)
    assert second.computed == {}
    assert_same(rows_of(second), rows_of(expected))
    store.close()


def test_a_stored_vector_is_never_replaced_and_mixed_rows_keep_their_order(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    store.record(DAY_0612, [], [], digest_day=date(2026, 6, 12))
    store.record(DAY_0731, [], [], digest_day=date(2026, 7, 31))
    # Only the 0731 papers get stored vectors, made with a different IDF than today's.
    early = MemoryDocFreqs()
    early.add(terms_of(p.text) for p in DAY_0731)
    terms = [terms_of(p.text) for p in DAY_0731]
    vocabulary = Vocabulary()
    vectors = Space(terms, early, vocabulary=vocabulary).vectors(terms)
    encoded = dict(zip([p.id for p in DAY_0731], encode_rows(vectors, vocabulary), strict=True))
    store.record([], [], [], digest_day=date(2026, 8, 1), vectors=encoded)
    store.record([], [], [], digest_day=date(2026, 8, 1), vectors={DAY_0731[0].id: ("x", b"")})

    mixed = Reference.of_store(store, date(2026, 8, 1), store.corpus)
    assert sorted(mixed.computed) == sorted(p.id for p in DAY_0612)
    ids = [pid for pid, _ in store.recent_vectors(REFERENCE_SIZE, date(2026, 8, 1))]
    assert ids[:30] == sorted(p.id for p in DAY_0612)  # oldest first: by day, then id
    rows = rows_of(mixed)
    by_id = dict(zip(ids, rows, strict=True))
    stored_rows = as_dicts(vectors, vocabulary.terms)
    for paper, row in zip(DAY_0731, stored_rows, strict=True):
        assert by_id[paper.id] == pytest.approx(row, rel=1e-12)  # as stored, not recomputed
    today = Reference.of_texts(texts_before(store, date(2026, 8, 1))[:30], store.corpus)
    assert_same(rows[:30], rows_of(today))
    store.close()


def test_only_the_newest_papers_keep_their_vectors(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    everything = DAY_0612 + DAY_0731
    encoded = {p.id: (p.id.replace(".", ""), b"\x00" * 8) for p in everything}
    store.record(DAY_0612, [], [], digest_day=date(2026, 6, 12))
    store.record(DAY_0731, [], [], digest_day=date(2026, 7, 31), vectors=encoded, keep_vectors=5)
    newest = [pid for pid, _ in store.recent_vectors(5, date(2026, 8, 1))]
    assert stored_ids(tmp_path / "state.sqlite3") == sorted(newest)
    assert set(newest) <= {p.id for p in DAY_0731}
    # A vector for a paper that is not stored is not kept either.
    store.record([], [], [], digest_day=date(2026, 8, 1), vectors={"9999.99999": ("a", b"")})
    assert "9999.99999" not in stored_ids(tmp_path / "state.sqlite3")
    store.close()


def test_a_state_from_before_vectors_upgrades_and_keeps_its_papers(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, statements in enumerate(MIGRATIONS[:5], start=1):  # before paper_vectors (6)
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.executemany(  # papers as version 5 wrote them
        "INSERT INTO papers (id, title, abstract, authors, url, categories, published, day,"
        " version, source, extras, first_seen_day, first_seen_at)"
        " VALUES (?, ?, ?, '[]', '', '[]', '', '2026-06-12', NULL, 'hf_daily', '{}',"
        " '2026-06-12', '')",
        [(p.id, p.title, p.abstract) for p in DAY_0612],
    )
    conn.close()

    store = Store.open(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT count(*) FROM paper_vectors").fetchone()[0] == 0
    assert store.paper_count() == 30
    reference = Reference.of_store(store, date(2026, 6, 12) + timedelta(days=1), store.corpus)
    assert len(reference) == 30 and sorted(reference.computed) == sorted(p.id for p in DAY_0612)
    store.close()


def test_rows_carry_their_paper_ids_as_old_rows_drop_out() -> None:
    # Scoring finds voted papers among R's rows by id (relevance/learned.py): the id of a row
    # must stay its own as R rolls, rows pushed without ids have none, a count mismatch fails.
    freqs = MemoryDocFreqs()
    terms = [terms_of(p.text) for p in DAY_0612 + DAY_0731]
    freqs.add(terms)
    reference = Reference(size=40)
    vectors = Space(terms, freqs, vocabulary=reference.vocabulary).vectors(terms)
    reference.push(vectors[:30], [p.id for p in DAY_0612])
    reference.push(vectors[30:50])  # no ids: a live run's earlier days of the same run
    reference.push(vectors[50:], [p.id for p in DAY_0731[20:]])
    matrix = reference.matrix()
    assert matrix.shape[0] == 40
    kept = [p.id for p in DAY_0612[20:]] + [None] * 20 + [p.id for p in DAY_0731[20:]]
    assert reference.rows_of() == {pid: r for r, pid in enumerate(kept) if pid is not None}
    for pid, r in reference.rows_of().items():
        i = next(i for i, p in enumerate(DAY_0612 + DAY_0731) if p.id == pid)
        assert (matrix[r] != vectors[i]).nnz == 0
    with pytest.raises(ValueError, match="2 ids for 3 vectors"):
        reference.push(vectors[:3], ["a", "b"])
