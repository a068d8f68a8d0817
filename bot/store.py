"""The bot's memory in one SQLite file: papers seen, the delivery outbox, and every fetch.

Tables (schema version in `PRAGMA user_version`, migrations below, each in its own transaction):
- `papers`      every paper ever seen, once, under its canonical id; the corpus for the IDF.
- `deliveries`  the outbox: one row per (paper, profile, destination), unique, so a paper reaches
                a destination once, ever. `pending` until the channel accepted it, then `sent`;
                `dead` when the destination refused for good (bad token, unknown channel).
- `fetches`     one row per (source, digest day) attempt: ok with N papers, or failed with why.
                A failed day is fetched again by later runs until it succeeds.

`record()` writes the new papers, their fetch outcomes and their queued deliveries in ONE
transaction: a crash either loses the whole run (it is fetched again) or none of it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.errors import StateError
from bot.models import Delivery, Match, Paper

# Each entry upgrades the schema by one version. Never edit a shipped entry: append a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE papers (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            abstract TEXT NOT NULL,
            authors TEXT NOT NULL,          -- JSON list of names
            url TEXT NOT NULL,
            categories TEXT NOT NULL,       -- JSON list
            published TEXT NOT NULL,        -- YYYY-MM-DD or ''
            day TEXT,                       -- digest day the source listed it on
            version TEXT,
            source TEXT NOT NULL,
            extras TEXT NOT NULL,           -- JSON object: upvotes, ai_summary, github_repo...
            first_seen_day TEXT NOT NULL,   -- digest day of the run that first stored it
            first_seen_at TEXT NOT NULL     -- UTC timestamp
        )""",
        """CREATE TABLE deliveries (
            paper_id TEXT NOT NULL REFERENCES papers(id),
            profile_id TEXT NOT NULL,
            destination TEXT NOT NULL,
            profile_name TEXT NOT NULL,
            digest_day TEXT NOT NULL,
            candidates INTEGER NOT NULL,
            score REAL NOT NULL,
            why TEXT NOT NULL,              -- JSON list
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            PRIMARY KEY (paper_id, profile_id, destination)
        )""",
        "CREATE INDEX deliveries_status ON deliveries (status, destination)",
        """CREATE TABLE fetches (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            day TEXT NOT NULL,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'failed')),
            papers INTEGER NOT NULL,
            error TEXT
        )""",
        "CREATE INDEX fetches_source_day ON fetches (source, day, id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class FetchOutcome:
    """One source's result for one digest day, written with the run's papers."""

    source: str
    day: date
    papers: int
    error: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """All reads and writes of the state file. Not thread-safe: one Store per thread."""

    def __init__(self, conn: sqlite3.Connection, *, readonly: bool = False) -> None:
        self._db = conn
        self.readonly = readonly

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating it and its folder if needed) and migrate the state file."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # The daemon's jobs run on one worker thread, never two at once: sharing is safe.
            conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise StateError(
                f"cannot open state file {path}: {exc}",
                hint="check that its folder is writable (`state:` in bot.yaml)",
            ) from exc
        store = cls(conn)
        store.migrate()
        return store

    @classmethod
    def open_readonly(cls, path: Path) -> Store:
        """The state as it is, for --dry-run: nothing is ever written. A missing file is an
        empty in-memory state."""
        if not path.exists():
            store = cls(sqlite3.connect(":memory:", isolation_level=None))
            store.migrate()
            store.readonly = True
            return store
        try:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state file {path} read-only: {exc}") from exc
        store = cls(conn, readonly=True)
        store._check_version()
        return store

    def close(self) -> None:
        self._db.close()

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

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

    def migrate(self) -> None:
        """Apply the missing migrations, each with its version bump in one transaction."""
        version = self._check_version()
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._transaction():
                for statement in statements:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

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

    def paper_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM papers").fetchone()[0])

    def corpus_texts(self) -> Iterator[str]:
        """Title and abstract of every stored paper, in a stable order (for the IDF)."""
        for title, abstract in self._db.execute("SELECT title, abstract FROM papers ORDER BY id"):
            yield f"{title}. {abstract}"

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
        queued: Sequence[tuple[Match, str, str, date, int]],
        *,
        digest_day: date,
    ) -> None:
        """Store the run's new papers, its fetch outcomes and its queued deliveries
        (match, destination, profile name, digest day, candidates) in one transaction."""
        self._writable()
        now = _now()
        with self._transaction():
            self._db.executemany(
                f"INSERT OR IGNORE INTO papers ({_PAPER_COLUMNS}, first_seen_day, first_seen_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(*_paper_row(p), digest_day.isoformat(), now) for p in papers],
            )
            self._db.executemany(
                "INSERT INTO fetches (source, day, at, outcome, papers, error)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (
                        f.source,
                        f.day.isoformat(),
                        now,
                        "failed" if f.error else "ok",
                        f.papers,
                        f.error,
                    )
                    for f in fetches
                ],
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO deliveries (paper_id, profile_id, destination,"
                " profile_name, digest_day, candidates, score, why, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        m.paper.id,
                        m.profile_id,
                        dest,
                        name,
                        day.isoformat(),
                        candidates,
                        m.score,
                        json.dumps(list(m.why)),
                        now,
                    )
                    for m, dest, name, day, candidates in queued
                ],
            )

    # ------------------------------------------------------------------ fetch history

    def days_to_retry(self, source: str, before: date, window_days: int) -> list[date]:
        """Days in the window before `before` whose latest fetch of `source` failed."""
        start = (before - timedelta(days=window_days)).isoformat()
        rows = self._db.execute(
            """SELECT day, outcome FROM fetches f
               WHERE source = ? AND day >= ? AND day < ?
                 AND id = (SELECT max(id) FROM fetches g WHERE g.source = f.source
                           AND g.day = f.day)
               ORDER BY day""",
            (source, start, before.isoformat()),
        )
        return [date.fromisoformat(day) for day, outcome in rows if outcome == "failed"]

    # ------------------------------------------------------------------ outbox

    def pending_deliveries(self) -> list[Delivery]:
        """Everything queued and not yet accepted, one Delivery per (profile, destination,
        digest day), oldest day first; matches best first, ties by id."""
        rows = self._db.execute(
            f"""SELECT d.profile_id, d.destination, d.profile_name, d.digest_day, d.candidates,
                       d.score, d.why, {_prefixed("p")}
                FROM deliveries d JOIN papers p ON p.id = d.paper_id
                WHERE d.status = 'pending'
                ORDER BY d.digest_day, d.profile_id, d.destination, d.score DESC, d.paper_id"""
        )
        groups: dict[tuple[str, str, str], list[tuple[Match, str, int]]] = {}
        for profile_id, dest, name, day, candidates, score, why, *paper in rows:
            match = Match(_paper_from_row(tuple(paper)), profile_id, score, tuple(json.loads(why)))
            groups.setdefault((profile_id, dest, day), []).append((match, name, candidates))
        return [
            Delivery(
                profile_id=profile_id,
                profile_name=items[0][1],
                destination=dest,
                digest_day=date.fromisoformat(day),
                matches=tuple(m for m, _, _ in items),
                candidates=max(c for _, _, c in items),
            )
            for (profile_id, dest, day), items in groups.items()
        ]

    def mark_sent(self, delivery: Delivery, paper_ids: Iterable[str]) -> None:
        self._writable()
        now = _now()
        with self._transaction():
            self._db.executemany(
                "UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
                " last_error = NULL WHERE paper_id = ? AND profile_id = ? AND destination = ?",
                [(now, pid, delivery.profile_id, delivery.destination) for pid in paper_ids],
            )

    def mark_failed(
        self, delivery: Delivery, paper_ids: Iterable[str], error: str, *, permanent: bool
    ) -> None:
        """Keep the rows queued (or `dead` if `permanent`) with the error for `status`."""
        self._writable()
        status = "dead" if permanent else "pending"
        with self._transaction():
            self._db.executemany(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, last_error = ?"
                " WHERE paper_id = ? AND profile_id = ? AND destination = ?",
                [
                    (status, error, pid, delivery.profile_id, delivery.destination)
                    for pid in paper_ids
                ],
            )

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """(destination, status) -> number of papers."""
        rows = self._db.execute(
            "SELECT destination, status, count(*) FROM deliveries GROUP BY destination, status"
        )
        return {(dest, status): n for dest, status, n in rows}

    def _writable(self) -> None:
        if self.readonly:  # a programming error: dry runs must not reach a write
            raise StateError("internal: write attempted on a read-only (dry-run) state")


class _Transaction:
    """BEGIN IMMEDIATE .. COMMIT, or ROLLBACK on any exception (autocommit connection)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


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
