"""The state file's schema, as an append-only list of migrations.

`Store.migrate()` applies the ones a file lacks, each with its `PRAGMA user_version` bump in one
transaction. Never edit a shipped entry: append a new one.
"""

from __future__ import annotations

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
    (
        # How a fetch went, beyond ok/failed (`outcome` says whether the day is done):
        # ok | expected_empty | unexpected_empty | stale | failed.
        "ALTER TABLE fetches ADD COLUMN health TEXT NOT NULL DEFAULT 'ok'",
        # sha1 of the sorted paper ids: the same batch again on another day is stale.
        "ALTER TABLE fetches ADD COLUMN fingerprint TEXT",
        """CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            kind TEXT NOT NULL,             -- failed | stale | unexpected_empty
            day TEXT NOT NULL,              -- the digest day it was first seen on
            message TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            closed_at TEXT,                 -- NULL while open
            notified_at TEXT                -- NULL until the operator was told
        )""",
        "CREATE INDEX incidents_open ON incidents (source, closed_at)",
    ),
    (
        # Document frequencies of every term of every stored paper (bot/relevance/tfidf.py), kept as
        # papers arrive; `corpus_meta.n_docs` counts the papers they were taken from. A file
        # upgraded from version 2 is filled from its stored papers on first open.
        "CREATE TABLE doc_freq (term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
        "CREATE TABLE corpus_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        # Profiles' example papers (`papers:`) not in `papers`, fetched once from arXiv.
        """CREATE TABLE example_papers (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            abstract TEXT NOT NULL,
            authors TEXT NOT NULL,          -- JSON list
            fetched_at TEXT NOT NULL
        )""",
    ),
    (
        # The outbox gets its full life cycle: pending -> sending -> sent | failed | dead.
        # `sending` is written before a channel is asked, so a crash leaves a trace to check;
        # `failed` waits for `next_attempt_at` (backoff). SQLite cannot change a CHECK
        # constraint, so the table is rebuilt; a v3 row still pending after an error is failed.
        """CREATE TABLE deliveries_v4 (
            paper_id TEXT NOT NULL REFERENCES papers(id),
            profile_id TEXT NOT NULL,
            destination TEXT NOT NULL,
            profile_name TEXT NOT NULL,
            digest_day TEXT NOT NULL,
            candidates INTEGER NOT NULL,
            score REAL NOT NULL,
            why TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_attempt_at TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            PRIMARY KEY (paper_id, profile_id, destination)
        )""",
        """INSERT INTO deliveries_v4 (paper_id, profile_id, destination, profile_name,
               digest_day, candidates, score, why, status, attempts, last_error, created_at,
               sent_at)
           SELECT paper_id, profile_id, destination, profile_name, digest_day, candidates,
               score, why,
               CASE WHEN status = 'pending' AND last_error IS NOT NULL THEN 'failed'
                    ELSE status END,
               attempts, last_error, created_at, sent_at
           FROM deliveries""",
        "DROP TABLE deliveries",
        "ALTER TABLE deliveries_v4 RENAME TO deliveries",
        "CREATE INDEX deliveries_status ON deliveries (status, destination)",
    ),
    (
        # Each recent paper's unit TF-IDF vector as it was on arrival (relevance/reference.py): its
        # terms, newline-joined, and their float64 weights. The reference set is read from here
        # instead of re-vectorising 5,000 abstracts every run; only the newest are kept.
        """CREATE TABLE paper_vectors (
            id TEXT PRIMARY KEY REFERENCES papers(id),
            terms TEXT NOT NULL,
            weights BLOB NOT NULL
        )""",
    ),
    (
        # A paper several profiles match for one channel or mailbox on one digest day goes there
        # once (bot/state/outbox.py `share`): one row delivers it, the others are `merged` into it,
        # naming that row (same paper) in merged_profile / merged_destination. A new CHECK
        # constraint means rebuilding the table, as in version 4.
        """CREATE TABLE deliveries_v6 (
            paper_id TEXT NOT NULL REFERENCES papers(id),
            profile_id TEXT NOT NULL,
            destination TEXT NOT NULL,
            profile_name TEXT NOT NULL,
            digest_day TEXT NOT NULL,
            candidates INTEGER NOT NULL,
            score REAL NOT NULL,
            why TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead', 'merged')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_attempt_at TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            merged_profile TEXT,
            merged_destination TEXT,
            PRIMARY KEY (paper_id, profile_id, destination),
            CHECK ((status = 'merged') = (merged_profile IS NOT NULL))
        )""",
        """INSERT INTO deliveries_v6 (paper_id, profile_id, destination, profile_name,
               digest_day, candidates, score, why, status, attempts, last_error,
               next_attempt_at, created_at, sent_at)
           SELECT paper_id, profile_id, destination, profile_name, digest_day, candidates,
               score, why, status, attempts, last_error, next_attempt_at, created_at, sent_at
           FROM deliveries""",
        "DROP TABLE deliveries",
        "ALTER TABLE deliveries_v6 RENAME TO deliveries",
        "CREATE INDEX deliveries_status ON deliveries (status, destination)",
    ),
    (
        # Every profile id a run has served (scored papers for, or would have): one not listed
        # is new (a new file, or a renamed one) and gets a first digest from the papers already
        # stored (bot/first_digest.py). An upgraded state counts the profiles it has queued
        # deliveries for as served.
        """CREATE TABLE served_profiles (
            profile_id TEXT PRIMARY KEY,
            first_day TEXT NOT NULL,        -- digest day of the run that first served it
            first_at TEXT NOT NULL          -- UTC timestamp
        )""",
        """INSERT INTO served_profiles (profile_id, first_day, first_at)
           SELECT profile_id, MIN(digest_day), MIN(created_at) FROM deliveries
           GROUP BY profile_id""",
    ),
    (
        # Readers' votes on a profile's papers (bot/relevance/votes.py): one row per (profile,
        # paper, voter), the latest vote of that person replacing an earlier one; a withdrawn
        # vote is deleted. No foreign key to `papers`: a vote may name a paper only the arXiv
        # cache (`example_papers`) holds, as a profile's examples may.
        """CREATE TABLE votes (
            profile_id TEXT NOT NULL,
            paper_id TEXT NOT NULL,
            voter TEXT NOT NULL,            -- who: 'slack:U123ABC', 'cli:alice', ...
            vote INTEGER NOT NULL CHECK (vote IN (1, -1)),
            origin TEXT NOT NULL,           -- where from: 'slack', 'cli', 'email', 'web', 'file'
            day TEXT NOT NULL,              -- YYYY-MM-DD, the day (local to the bot) it was given
            at TEXT NOT NULL,               -- UTC timestamp
            PRIMARY KEY (profile_id, paper_id, voter)
        )""",
    ),
    (
        # Several workers on one PostgreSQL state (bot/state/outbox.py `claim`, fetch_log.py,
        # pacing.py, workers.py). A delivery row is claimed by one worker (`claimed_by`: host,
        # pid and a random part) until `lease_until` (UTC); `claimed_at` says when, so a run
        # never claims again what it claimed itself. On SQLite (one worker: the lock) the
        # columns are written the same way and the leases never keep anything back.
        "ALTER TABLE deliveries ADD COLUMN claimed_by TEXT",
        "ALTER TABLE deliveries ADD COLUMN claimed_at TEXT",
        "ALTER TABLE deliveries ADD COLUMN lease_until TEXT",
        # Where the row's message lands (`App.place`: a channel, a mailbox), written by the
        # first claim that sees the row: a claim takes one (digest day, place) by this index.
        "ALTER TABLE deliveries ADD COLUMN place TEXT",
        "CREATE INDEX deliveries_unit ON deliveries (digest_day, place)",
        # One fetch of a (source, digest day) at a time, once per scheduled firing: the worker
        # that holds the claim (until `lease_until`) fetches; `done_at` is when the fetch's
        # papers were recorded (in the record transaction).
        """CREATE TABLE fetch_claims (
            source TEXT NOT NULL,
            day TEXT NOT NULL,
            claimed_by TEXT NOT NULL,
            lease_until TEXT NOT NULL,
            done_at TEXT,
            PRIMARY KEY (source, day)
        )""",
        # The next free slot (seconds since the epoch) of a paced destination (a Slack channel,
        # arXiv), shared by every worker.
        "CREATE TABLE pacing (key TEXT PRIMARY KEY, next_at REAL NOT NULL)",
        # The workers of this state and their heartbeats (`status`, `health`).
        """CREATE TABLE workers (
            id TEXT PRIMARY KEY,            -- host:pid:random
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at TEXT NOT NULL,       -- UTC timestamps
            beat_at TEXT NOT NULL,          -- the latest sign of life
            ok_at TEXT NOT NULL,            -- the latest start or good run (the heartbeat)
            event TEXT NOT NULL,            -- "started" | "run ok" | "stopped"
            summary TEXT NOT NULL DEFAULT ''
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
