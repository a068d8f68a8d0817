"""The bot's memory: papers seen, the delivery outbox, and every fetch, in one SQLite file or
one PostgreSQL database (`state:`; what differs between the two is in bot/state/backend.py).

Tables (schema version in `PRAGMA user_version`, or PostgreSQL's `schema_version` table; the
migrations are in bot/state/migrations.py):
- `papers`      every paper ever seen, once, under its canonical id; the corpus for the IDF.
                Its other ids (a preprint's journal DOI) are in `extras.aliases`: `known_as`
                finds a paper by either (bot/identity.py).
- `deliveries`  the outbox (bot/state/outbox.py): one row per (paper, profile, destination), unique,
                so a paper reaches a destination once, ever; a paper several profiles match
                for one place is delivered by one row, the others `merged` into it.
- `fetches`     one row per (source, digest day) attempt, with its health (ok, expected or
                unexpected empty, stale, failed) and the batch's fingerprint. A day whose latest
                attempt was not ok is fetched again by later runs (bot/state/fetch_log.py), within
                `catchup_days`; an older one gets a `skipped` row, never an attempt.
- `incidents`   a source's trouble from when it was first seen until the source is healthy
                again; the operator is told once per incident (bot/state/incidents.py).
- `doc_freq`, `corpus_meta`, `example_papers`   the IDF's counts and cached example papers
                (bot/state/corpus.py).
- `paper_vectors`  the newest papers' vectors as they were on arrival (bot/relevance/reference.py).
- `served_profiles`  every profile id a run has served; one not listed is new and gets a first
                digest from the papers already stored (bot/first_digest.py).
- `votes`       readers' votes on a profile's papers, the latest per person (bot/state/votes.py).
- `fetch_claims`, `pacing`, `workers`   several workers on one PostgreSQL state: who fetches a
                (source, day) for a firing (bot/state/fetch_claims.py), paces kept across them
                (bot/state/pacing.py), the workers and their heartbeats (bot/state/workers.py);
                deliveries are claimed in their own rows (bot/state/outbox.py `claim`).

`record()` writes the new papers, their vectors, their fetch outcomes and their queued
deliveries in ONE transaction: a crash either loses the whole run (it is fetched again) or none
of it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from bot.errors import StateError
from bot.models import Match, Paper
from bot.progress import progress
from bot.state import db as state_db
from bot.state.backend import Db, PostgresDb, PostgresState, SqliteDb, StateTarget, read_password
from bot.state.corpus import CorpusStats
from bot.state.fetch_claims import FetchClaims
from bot.state.fetch_log import FetchLog, FetchOutcome
from bot.state.incidents import Incidents
from bot.state.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.state.outbox import Outbox, Queued
from bot.state.pacing import SharedPacing
from bot.state.votes import Votes
from bot.state.workers import Workers, new_worker_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """All reads and writes of the state. Not thread-safe: one Store per thread."""

    def __init__(self, db: Db, *, readonly: bool = False) -> None:
        self._db = db
        self.readonly = readonly
        self.worker = new_worker_id()  # who this process is among the state's workers
        self.corpus = CorpusStats(db)  # document frequencies (the IDF) and example papers
        self.outbox = Outbox(db, self._transaction, _prefixed("p"), _paper_from_row)
        self.outbox.worker = self.worker
        self.incidents = Incidents(db, self._transaction, self._writable)
        self.fetches = FetchLog(db)  # what each source fetch gave, per digest day
        self.fetch_claims = FetchClaims(db, self.worker)  # which worker fetches a source's day
        # Paces kept across workers (a PostgreSQL state; SQLite's one worker paces itself).
        self.pacing = SharedPacing(db) if db.dialect.shared and not readonly else None
        self.workers = Workers(db, self._transaction, self.worker)  # their heartbeats
        self.votes = Votes(db, self._transaction, self._writable)  # readers' 👍/👎

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: StateTarget, env: Mapping[str, str] | None = None) -> Store:
        """Open (creating it and its folder if needed) and migrate the state file, or the
        PostgreSQL database (its password from `env`, default the process environment). Raises
        StateError, before anything is fetched, when it cannot be written."""
        if isinstance(path, PostgresState):
            password = read_password(path, os.environ if env is None else env)
            return cls._opened(PostgresDb.open(path, password, readonly=False))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"cannot create the folder of the state file {path}: {exc.strerror or exc}",
                hint="check `state:` in bot.yaml, and that this user may write there",
            ) from exc
        # The daemon's jobs run on one worker thread, never two at once: sharing is safe.
        conn = state_db.connect(path, timeout=30, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        return cls._opened(SqliteDb(conn))

    @classmethod
    def _opened(cls, db: Db) -> Store:
        store = cls(db)
        try:
            store.migrate()
            store._check_writable()
        except BaseException:
            db.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, path: StateTarget, env: Mapping[str, str] | None = None) -> Store:
        """The state as it is, for `status`, `preview` and --dry-run: nothing is ever written.
        A missing file (or a PostgreSQL database never migrated) is an empty in-memory state."""
        if isinstance(path, PostgresState):
            password = read_password(path, os.environ if env is None else env)
            db = PostgresDb.open(path, password, readonly=True)
            if db.version() == 0:
                db.close()
                return cls._empty(Path("state"))
            store = cls(db, readonly=True)
            try:
                store._check_version()
            except BaseException:
                db.close()
                raise
            return store
        if not path.exists():
            return cls._empty(path)
        try:
            return cls._open_readonly(path, "mode=ro")
        except StateError as exc:
            # A reader of a WAL file needs its shared-memory file (`<state>-shm`), which SQLite
            # cannot create in a folder this user may not write. Without a WAL still holding
            # changes, the file alone is the whole state: read it as immutable.
            wal = path.with_name(path.name + "-wal")
            if exc.reason != "SQLITE_READONLY_DIRECTORY" or (wal.exists() and wal.stat().st_size):
                raise
            return cls._open_readonly(path, "immutable=1")

    @classmethod
    def _empty(cls, path: Path) -> Store:
        store = cls(SqliteDb(state_db.connect(path, uri="file::memory:")))
        store.migrate()
        store.readonly = True
        return store

    @classmethod
    def _open_readonly(cls, path: Path, how: str) -> Store:
        conn = state_db.connect(path, uri=f"{path.resolve().as_uri()}?{how}")
        store = cls(SqliteDb(conn), readonly=True)
        try:
            store._check_version()
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self._db.close()

    def _version(self) -> int:
        return self._db.version()

    def _check_version(self) -> int:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise StateError(
                f"the state file has schema version {version}, this digestbot knows up to "
                f"{SCHEMA_VERSION}",
                hint="upgrade digestbot, or point `state:` at another file",
            )
        if self.readonly and version < SCHEMA_VERSION:
            raise StateError(
                "the state file needs a schema upgrade, which --dry-run does not do",
                hint="run `digestbot once` or `digestbot check` once without --dry-run",
            )
        return version

    def _check_writable(self) -> None:
        """A write that is rolled back: a read-only file or folder is refused now rather than
        after a run fetched everything (SQLite opens such a file read-only without a word)."""
        with contextlib.suppress(_Rollback), self._transaction():
            self._db.set_version(self._version())
            raise _Rollback

    def migrate(self) -> None:
        """Apply the missing migrations, each with its version bump in one transaction."""
        version = self._check_version()
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._transaction():
                self._db.lock_schema()
                if self._version() >= number:  # another worker applied it meanwhile
                    continue
                for statement in statements:
                    self._db.execute(self._db.migration(statement))
                self._db.set_version(number)
        if self.corpus.needs_backfill():
            # A state from before document frequencies were kept: count its papers once.
            papers = list(self.stored_papers())
            chunks = [papers[k : k + 1000] for k in range(0, len(papers), 1000)]
            with (
                self._transaction(),
                progress("counting stored papers", len(chunks), enabled=len(chunks) > 5) as step,
            ):
                for chunk in chunks:
                    self.corpus.add(chunk)
                    step(f"{len(chunk)} papers")
                self.corpus.mark_counted()
        elif self.corpus.needs_length_backfill():
            # Frequencies kept before the corpus' total length was (BM25's avgdl): count it once.
            papers = list(self.stored_papers())
            with self._transaction():
                for k in range(0, len(papers), 1000):
                    self.corpus.add_lengths(papers[k : k + 1000])

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return self._db.transaction()

    # ------------------------------------------------------------------ papers

    def known_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        known: set[str] = set()
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT id FROM papers WHERE id IN ({marks})", chunk)
            known.update(r[0] for r in rows)
        return known

    def known_as(self, keys: Iterable[str]) -> dict[str, str]:
        """For each of `keys` (paper ids) that names a stored paper, that paper's id: its own
        id, or one of its aliases (`extras["aliases"]`, bot/identity.py), e.g. the journal DOI
        a stored bioRxiv preprint was published under."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        for i in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                (pid, pid)
                for (pid,) in self._db.execute(
                    f"SELECT id FROM papers WHERE id IN ({marks})", chunk
                )
            )
            # Aliases live in the extras' JSON: a scan of the papers, once per run (no index:
            # a state of 100,000 papers reads it in well under a second).
            aliases = self._db.dialect.json_array_items("p.extras", "aliases", "a")
            rows = self._db.execute(
                f"SELECT a.value, p.id FROM papers p, {aliases}"
                f" WHERE p.extras LIKE '%\"aliases\"%' AND a.value IN ({marks})",
                chunk,
            )
            for alias, pid in rows:
                found.setdefault(alias, pid)
        return found

    def paper_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM papers").fetchone()[0])

    def stored_papers(self) -> Iterator[Paper]:
        for row in self._db.execute(f"SELECT {_PAPER_COLUMNS} FROM papers ORDER BY id"):
            yield _paper_from_row(row)

    def papers_of_days(self, first: date, last: date) -> list[Paper]:
        """Stored papers listed on digest days first..last (for `preview`)."""
        rows = self._db.execute(
            f"SELECT {_PAPER_COLUMNS} FROM papers WHERE day BETWEEN ? AND ? ORDER BY day, id",
            (first.isoformat(), last.isoformat()),
        )
        return [_paper_from_row(r) for r in rows]

    def stored_days(self, n: int) -> list[date]:
        """The last `n` digest days that have stored papers, oldest first (the web editor's
        preview window: what a draft would have sent over the last stored days)."""
        rows = self._db.execute(
            "SELECT DISTINCT day FROM papers WHERE day IS NOT NULL ORDER BY day DESC LIMIT ?",
            (n,),
        )
        return sorted(date.fromisoformat(day) for (day,) in rows)

    def search_papers(self, text: str, limit: int = 50) -> list[Paper]:
        """Stored papers whose id, title or authors contain `text` (case-insensitive for
        ASCII), newest digest day first (the web page's search)."""
        needle = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._db.execute(
            f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id LIKE ? ESCAPE '\\'"
            " OR title LIKE ? ESCAPE '\\' OR authors LIKE ? ESCAPE '\\'"
            " ORDER BY COALESCE(day, first_seen_day) DESC, id LIMIT ?",
            (needle, needle, needle, limit),
        )
        return [_paper_from_row(r) for r in rows]

    def recent_vectors(self, n: int, before: date) -> list[tuple[str, tuple[str, bytes] | None]]:
        """The last `n` papers stored for digest days before `before`, oldest first (by day,
        then id): their ids, each with its stored vector (terms, weights) or None. They are the
        reference set scores are calibrated against (bot/relevance/reference.py)."""
        rows = self._db.execute(
            "SELECT p.id, v.terms, v.weights FROM papers p LEFT JOIN paper_vectors v"
            " ON v.id = p.id WHERE COALESCE(p.day, p.first_seen_day) < ?"
            " ORDER BY COALESCE(p.day, p.first_seen_day) DESC, p.id DESC LIMIT ?",
            (before.isoformat(), n),
        )
        return [(pid, None if terms is None else (terms, weights)) for pid, terms, weights in rows][
            ::-1
        ]

    def latest_day_papers(self, sources: Sequence[str]) -> dict[date, list[Paper]]:
        """The stored papers of each source's latest digest day (a paper counts for the source
        that stored it first), by day."""
        if not sources:
            return {}
        marks = ",".join("?" * len(sources))
        rows = self._db.execute(
            f"""SELECT latest.last, {_prefixed("p")} FROM papers p JOIN (
                    SELECT source, MAX(COALESCE(day, first_seen_day)) AS last FROM papers
                    WHERE source IN ({marks}) GROUP BY source
                ) latest ON p.source = latest.source
                    AND COALESCE(p.day, p.first_seen_day) = latest.last
                ORDER BY latest.last, p.id""",
            list(sources),
        )
        by_day: dict[date, list[Paper]] = {}
        for last, *paper in rows:
            by_day.setdefault(date.fromisoformat(last), []).append(_paper_from_row(tuple(paper)))
        return by_day

    def vectors_of(self, ids: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """The stored vectors (terms, weights) of those of `ids` that have one."""
        found: dict[str, tuple[str, bytes]] = {}
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = list(ids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT id, terms, weights FROM paper_vectors WHERE id IN ({marks})", chunk
            )
            found.update((pid, (terms, weights)) for pid, terms, weights in rows)
        return found

    def served_profiles(self) -> set[str]:
        """The ids of every profile a run has served (bot/first_digest.py)."""
        return {pid for (pid,) in self._db.execute("SELECT profile_id FROM served_profiles")}

    def papers_by_id(self, ids: Sequence[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = list(ids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id IN ({marks})", chunk
            )
            found.update((p.id, p) for p in map(_paper_from_row, rows))
        return found

    def cache_examples(self, papers: Sequence[Paper]) -> None:
        self._writable()
        with self._transaction():
            self.corpus.save_examples(papers)

    def get_paper(self, paper_id: str) -> Paper | None:
        row = self._db.execute(
            f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id = ?", (paper_id,)
        ).fetchone()
        return _paper_from_row(row) if row else None

    # ------------------------------------------------------------------ the run's one write

    def record(
        self,
        papers: Sequence[Paper],
        fetches: Sequence[FetchOutcome],
        queued: Sequence[Queued | tuple[Match, str, str, date, int]],
        *,
        digest_day: date,
        updated: Sequence[Paper] = (),
        vectors: Mapping[str, tuple[str, bytes]] | None = None,
        keep_vectors: int = 0,
        served: Sequence[str] = (),
    ) -> None:
        """Store the run's new papers, its fetch outcomes and its queued deliveries
        (match, destination, profile name, digest day, candidates[, merged into]: `Queued`;
        a merged one is written `merged`) in one transaction;
        `updated` are stored papers seen again, whose metadata is merged in. `vectors` are
        papers' vectors (bot/relevance/reference.py), a stored one is never replaced; then only the
        newest `keep_vectors` papers keep theirs. `served` are the ids of the profiles the run
        served: from now on none of them is new (bot/first_digest.py)."""
        self._writable()
        now = _now()
        with self._transaction():
            # One record at a time among workers: what is already stored is read inside, so
            # papers another worker stored meanwhile are neither counted nor inserted twice.
            self._db.serialise("record")
            for paper in updated:
                self._merge_metadata(paper)
            # Only papers not stored yet count into the document frequencies (once, ever).
            known = self.known_ids(p.id for p in papers)
            self.corpus.add([p for p in papers if p.id not in known])
            self._db.executemany(
                f"INSERT INTO papers ({_PAPER_COLUMNS}, first_seen_day, first_seen_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                [(*_paper_row(p), digest_day.isoformat(), now) for p in papers],
            )
            self.fetches.add(fetches, now)
            self.fetch_claims.done(((f.source, f.day) for f in fetches), datetime.now(UTC))
            rows = [Queued(*q) for q in queued]
            self._db.executemany(
                "INSERT INTO deliveries (paper_id, profile_id, destination,"
                " profile_name, digest_day, candidates, score, why, created_at, status,"
                " merged_profile, merged_destination) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                [
                    (
                        q.match.paper.id,
                        q.match.profile_id,
                        q.destination,
                        q.profile_name,
                        q.day.isoformat(),
                        q.candidates,
                        q.match.score,
                        json.dumps(list(q.match.why)),
                        now,
                        "pending" if q.merged_into is None else "merged",
                        *(q.merged_into or (None, None)),
                    )
                    for q in rows
                ],
            )
            self._db.executemany(
                "INSERT INTO served_profiles (profile_id, first_day, first_at)"
                " VALUES (?,?,?) ON CONFLICT DO NOTHING",
                [(pid, digest_day.isoformat(), now) for pid in served],
            )
            if vectors:
                self._db.executemany(
                    "INSERT INTO paper_vectors (id, terms, weights)"
                    " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM papers WHERE id = ?)"
                    " ON CONFLICT DO NOTHING",
                    [(pid, terms, weights, pid) for pid, (terms, weights) in vectors.items()],
                )
            if keep_vectors:
                # Only R (and `preview` a little further back) reads them, and scoring reads
                # voted papers' (relevance/votes.py): drop the other older ones.
                self._db.execute(
                    "DELETE FROM paper_vectors WHERE id NOT IN (SELECT id FROM papers"
                    " ORDER BY COALESCE(day, first_seen_day) DESC, id DESC LIMIT ?)"
                    " AND id NOT IN (SELECT paper_id FROM votes)",
                    (keep_vectors,),
                )

    def _merge_metadata(self, newer: Paper) -> None:
        """Fold what another source (or a later day) knows into the stored paper: categories
        add up, fresher extras (upvotes) win, blanks are filled; title and day stay."""
        stored = self.get_paper(newer.id)
        if stored is None:
            return
        merged = stored.merged_with(newer)
        merged_extras = {**stored.extras, **newer.extras}
        if merged == stored and merged_extras == dict(stored.extras):
            return
        self._db.execute(
            "UPDATE papers SET abstract = ?, authors = ?, url = ?, categories = ?,"
            " published = ?, extras = ? WHERE id = ?",
            (
                merged.abstract,
                json.dumps(list(merged.authors)),
                merged.url,
                json.dumps(list(merged.categories)),
                merged.published,
                json.dumps(merged_extras, sort_keys=True),
                newer.id,
            ),
        )

    # ------------------------------------------------------------------ status

    def papers_by_source(self) -> dict[str, int]:
        rows = self._db.execute("SELECT source, count(*) FROM papers GROUP BY source")
        return {source: n for source, n in rows}

    def _writable(self) -> None:
        if self.readonly:  # a programming error: dry runs must not reach a write
            raise StateError("internal: write attempted on a read-only (dry-run) state")


class _Rollback(Exception):
    """Leaves a transaction without committing it."""


_PAPER_FIELDS = (
    "id",
    "title",
    "abstract",
    "authors",
    "url",
    "categories",
    "published",
    "day",
    "version",
    "source",
    "extras",
)
_PAPER_COLUMNS = ", ".join(_PAPER_FIELDS)


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{f}" for f in _PAPER_FIELDS)


def _paper_row(p: Paper) -> tuple[object, ...]:
    return (
        p.id,
        p.title,
        p.abstract,
        json.dumps(list(p.authors)),
        p.url,
        json.dumps(list(p.categories)),
        p.published,
        p.day.isoformat() if p.day else None,
        p.version,
        p.source,
        json.dumps(dict(p.extras), sort_keys=True),
    )


def _paper_from_row(row: tuple[object, ...]) -> Paper:
    (pid, title, abstract, authors, url, categories, published, day, version, source, extras) = row
    return Paper(
        id=str(pid),
        title=str(title),
        abstract=str(abstract),
        authors=tuple(json.loads(str(authors))),
        url=str(url),
        categories=tuple(json.loads(str(categories))),
        published=str(published),
        day=date.fromisoformat(str(day)) if day else None,
        version=str(version) if version else None,
        source=str(source),
        extras=json.loads(str(extras)),
    )
