"""SQLite and PostgreSQL as the state (bot/state/backend.py): one set of migrations reaches the
same schema on both, `state:` takes a URL whose password comes from the environment only, and a
PostgreSQL server that is down makes a run fail with one line, losing nothing.

The PostgreSQL servers are real (tests/pg_server.py): the shared one of this pytest process, and
for the outage a server of the test's own that it stops and starts again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from bot.state.backend import PostgresState
from bot.state.migrations import SCHEMA_VERSION
from bot.state.store import Store

# SQLite's declared column types, as the PostgreSQL dialect maps them (backend.py `_DDL`).
_TYPES = {"TEXT": "text", "INTEGER": "bigint", "REAL": "double precision", "BLOB": "bytea"}

Schema = dict[str, Any]


def sqlite_schema(path: Path) -> Schema:
    db = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        columns, keys, foreign = {}, {}, set()
        for table in tables:
            info = db.execute(f"PRAGMA table_info({table})").fetchall()
            columns[table] = {
                name: (_TYPES[kind], bool(notnull) or pk > 0)
                for _, name, kind, notnull, _, pk in info
            }
            keys[table] = tuple(
                name for *_, name, _, _, _, pk in sorted(info, key=lambda r: r[5]) if pk
            )
            for row in db.execute(f"PRAGMA foreign_key_list({table})"):
                foreign.add((table, row[3], row[2], row[4]))
        indexes = {
            name: (table, tuple(r[2] for r in db.execute(f"PRAGMA index_info({name})")))
            for name, table in db.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
    finally:
        db.close()
    return {"columns": columns, "keys": keys, "foreign": foreign, "indexes": indexes}


def postgres_schema(url: str) -> Schema:
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name != 'schema_version'"
            " ORDER BY table_name, ordinal_position"
        ).fetchall()
        columns: dict[str, dict[str, tuple[str, bool]]] = {}
        for table, name, kind, nullable in rows:
            columns.setdefault(table, {})[name] = (kind, nullable == "NO")
        keys: dict[str, tuple[str, ...]] = {t: () for t in columns}
        for table, cols in db.execute(
            """SELECT t.relname, array_agg(a.attname ORDER BY k.n) FROM pg_index x
               JOIN pg_class t ON t.oid = x.indrelid
               JOIN pg_namespace ns ON ns.oid = t.relnamespace
               CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
               WHERE ns.nspname = 'public' AND x.indisprimary GROUP BY t.relname"""
        ):
            keys[table] = tuple(cols)
        indexes = {
            name: (table, tuple(cols))
            for name, table, cols in db.execute(
                """SELECT i.relname, t.relname, array_agg(a.attname ORDER BY k.n) FROM pg_index x
                   JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                   JOIN pg_namespace ns ON ns.oid = t.relnamespace
                   CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                   WHERE ns.nspname = 'public' AND NOT x.indisprimary
                   GROUP BY i.relname, t.relname"""
            )
        }
        foreign = set()
        for table, ref, src, dst in db.execute(
            """SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, a.attname, b.attname
               FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
               JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = c.confkey[1]
               WHERE c.contype = 'f'"""
        ):
            foreign.add((table, src, ref, dst))
    return {"columns": columns, "keys": keys, "foreign": foreign, "indexes": indexes}


def test_both_backends_reach_the_same_schema(tmp_path: Path, pg_state: PostgresState) -> None:
    path = tmp_path / "state.sqlite3"
    for target in (path, pg_state):
        store = Store.open(target)
        assert store._version() == SCHEMA_VERSION
        store.close()
    lite, pg = sqlite_schema(path), postgres_schema(pg_state.url)
    assert set(lite["columns"]) == {
        "papers", "deliveries", "fetches", "incidents", "doc_freq", "corpus_meta",
        "example_papers", "paper_vectors", "served_profiles", "votes",
    }  # fmt: skip
    assert pg == lite
