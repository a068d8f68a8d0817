"""What the scorer keeps in the state file: document frequencies and example papers.

`CorpusStats` is the SQLite side of `bot.relevance.tfidf.DocFreqs`: the number of stored papers
(`corpus_meta.n_docs`), their total number of terms (`n_terms`, for BM25's mean length) and each
term's document frequency, updated inside the same transaction that stores the papers, so the
IDF always describes exactly the stored corpus. It also caches the abstracts of profiles'
example papers fetched from arXiv, so each is fetched once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from bot.models import Paper
from bot.relevance.tfidf import terms_of
from bot.state.backend import Db

_CHUNK = 500  # stay under SQLite's bound-parameter limit


class CorpusStats:
    """Document frequencies and example papers on one SQLite connection (no transactions of
    its own: callers wrap writes in theirs)."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def n_docs(self) -> int:
        row = self._db.execute("SELECT value FROM corpus_meta WHERE key = 'n_docs'").fetchone()
        return int(row[0]) if row else 0

    def n_terms(self) -> int:
        row = self._db.execute("SELECT value FROM corpus_meta WHERE key = 'n_terms'").fetchone()
        return int(row[0]) if row else 0

    def lookup(self, terms: Iterable[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(terms))
        found: dict[str, int] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                self._db.execute(f"SELECT term, n FROM doc_freq WHERE term IN ({marks})", chunk)
            )
        return {t: found.get(t, 0) for t in wanted}

    def add(self, papers: Sequence[Paper]) -> None:
        """Count `papers` into the document frequencies (call inside a transaction)."""
        if not papers:
            return
        counts: Counter[str] = Counter()
        length = 0
        for paper in papers:
            terms = terms_of(paper.text)
            counts.update(set(terms))
            length += len(terms)
        self._db.executemany(
            "INSERT INTO doc_freq (term, n) VALUES (?, ?)"
            " ON CONFLICT(term) DO UPDATE SET n = doc_freq.n + excluded.n",
            counts.items(),
        )
        self._db.execute(
            "INSERT INTO corpus_meta (key, value) VALUES ('n_docs', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = corpus_meta.value + excluded.value",
            (len(papers),),
        )
        self._add_terms(length)

    def _add_terms(self, n: int) -> None:
        self._db.execute(
            "INSERT INTO corpus_meta (key, value) VALUES ('n_terms', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = corpus_meta.value + excluded.value",
            (n,),
        )

    def needs_length_backfill(self) -> bool:
        """True for a state whose frequencies were kept before the total length was."""
        row = self._db.execute("SELECT 1 FROM corpus_meta WHERE key = 'n_terms'").fetchone()
        return row is None

    def add_lengths(self, papers: Sequence[Paper]) -> None:
        """Count `papers`' terms into the total only (the backfill of `n_terms`)."""
        self._add_terms(sum(len(terms_of(p.text)) for p in papers))

    def needs_backfill(self) -> bool:
        """True for a state upgraded from before document frequencies were kept."""
        return self._db.execute("SELECT 1 FROM corpus_meta WHERE key = 'n_docs'").fetchone() is None

    def mark_counted(self) -> None:
        """Record that the frequencies describe the stored papers (also when there are none)."""
        self._db.execute(
            "INSERT INTO corpus_meta (key, value) VALUES ('n_docs', 0) ON CONFLICT(key) DO NOTHING"
        )
        self._add_terms(0)

    # ---------------------------------------------------------------- example papers

    def example(self, paper_id: str) -> Paper | None:
        row = self._db.execute(
            "SELECT id, title, abstract, authors FROM example_papers WHERE id = ?", (paper_id,)
        ).fetchone()
        if row is None:
            return None
        pid, title, abstract, authors = row
        return Paper(id=pid, title=title, abstract=abstract, authors=tuple(json.loads(authors)))

    def save_examples(self, papers: Iterable[Paper]) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self._db.executemany(
            "INSERT INTO example_papers (id, title, abstract, authors, fetched_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET title = excluded.title,"
            " abstract = excluded.abstract, authors = excluded.authors,"
            " fetched_at = excluded.fetched_at",
            [(p.id, p.title, p.abstract, json.dumps(list(p.authors)), now) for p in papers],
        )
