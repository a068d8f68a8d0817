"""SQLite and PostgreSQL as the state (bot/state/backend.py): one set of migrations reaches the
same schema on both, `state:` takes a URL whose password comes from the environment only, and a
PostgreSQL server that is down makes a run fail with one line, losing nothing.

The PostgreSQL servers are real (tests/pg_server.py): the shared one of this pytest process, and
for the outage a server of the test's own that it stops and starts again.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.app import build_app
from bot.config import load_settings
from bot.errors import ConfigError, ConfigErrors, StateError
from bot.state.backend import PostgresState
from bot.state.lock import PostgresLock
from bot.state.migrations import SCHEMA_VERSION
from bot.state.store import Store
from tests.conftest import FIXTURES, ROOT
from tests.e2e import Bot, posted_ids
from tests.pg_server import PgServer

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
        "example_papers", "paper_vectors", "served_profiles", "votes", "fetch_claims", "pacing",
        "workers",
    }  # fmt: skip
    assert pg == lite


# --------------------------------------------------------------------------- PostgreSQL down

PASSWORD = "s3cret-for-the-test"
HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
ALL_PROFILE = """\
name: Anything about language models
description: language models training data benchmark evaluation agents reasoning
min_score: 0.01
max_per_digest: 50
notify:
  slack: "#papers-spec"
"""


@pytest.fixture(scope="module")
def own_server() -> Iterator[PgServer]:
    """A server of this module's own, with a password: the outage test stops and starts it."""
    server = PgServer(password=PASSWORD)
    try:
        server.start()
        yield server
    finally:
        server.remove()


def errors(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(("error:", "  hint:"))]


def test_postgresql_down_is_one_line_exit_1_and_the_next_run_catches_up(
    bot: Bot, own_server: PgServer
) -> None:
    url = own_server.create_database("digest")
    text = bot.config.read_text(encoding="utf-8").replace(
        "state: ../data/state.sqlite3",
        # A short lease: the run that lost the server is a dead worker whose claim the next
        # run takes over once the lease has run out (bot/state/outbox.py).
        f"state: {url}\nstate_password_env: STATE_PG_PASSWORD\ndelivery_lease: 1",
    )
    bot.config.write_text(text, encoding="utf-8")
    bot.env["STATE_PG_PASSWORD"] = PASSWORD
    bot.profile("all.yaml", ALL_PROFILE)
    bot.hf.serve_hf_day("2026-07-31", HF_0731)
    where = f"127.0.0.1:{own_server.port}/digest"
    hint = (
        "  hint: start the server or check `state:` in bot.yaml, then run again; nothing was "
        "lost: the failed write was rolled back, so what this run fetched is fetched again and "
        "what is queued stays queued"
    )

    # Down before the run: one line, exit 1, nothing fetched or sent.
    own_server.stop()
    down = bot.run("once", "--date", "2026-07-31")
    assert down.returncode == 1, down.stderr
    [error, said] = errors(down.stderr)
    assert down.stderr.splitlines() == [error, said]  # nothing else: no traceback, no log
    assert error.startswith(f"error: the PostgreSQL state {where} cannot be reached (")
    assert said == hint
    assert PASSWORD not in down.stderr + down.stdout
    assert bot.hf.requests == [] and posted_ids(bot.slack, "#papers-spec") == []

    # Down mid-run: Slack accepted the digest, then the server went away before it was marked
    # sent. One line, exit 1; the delivery stays `sending` in the database.
    own_server.start()
    bot.slack.hold_after_accept(1.0)
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "once", "--date", "2026-07-31", "--config", str(bot.config)],
        cwd=ROOT,
        env=bot.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as run:
        assert bot.slack.wait_until(lambda s: len(s.posts) == 1, timeout=60)
        own_server.stop()
        _, err = run.communicate(timeout=60)
    assert run.returncode == 1, err
    [error, said] = errors(err)
    assert err.splitlines() == [error, said]  # not the pool's reconnection attempts
    assert error.startswith(f"error: the PostgreSQL state {where} cannot be reached (")
    assert said == hint
    sent = posted_ids(bot.slack, "#papers-spec")
    assert sent

    # Back: the run finds the digest Slack already has (the delivery key in its metadata),
    # marks it sent without posting it again; each paper reached the channel once.
    own_server.start()
    back = bot.run("once", "--date", "2026-07-31")
    assert back.returncode == 0, back.stderr
    assert posted_ids(bot.slack, "#papers-spec") == sent
    state = Store.open_readonly(PostgresState(url, "STATE_PG_PASSWORD"), bot.env)
    try:
        assert state.paper_count() == 30
        assert state.outbox.counts() == {("slack:#papers-spec", "sent"): len(sent)}
    finally:
        state.close()


# --------------------------------------------------------------------------- `state:` in bot.yaml

BAD_STATES = [
    pytest.param(
        "state: postgresql://digest:hunter2@db.example.org:5432/digest\n",
        2,
        "state",
        "the URL carries a password",
        id="a password in the URL",
    ),
    pytest.param(
        "state: postgresql://digest@db.example.org:5432/\n",
        2,
        "state",
        "names no database",
        id="no database",
    ),
    pytest.param(
        "state: ../data/digestbot.sqlite3\nstate_password_env: PGPASS\n",
        3,
        "state_password_env",
        "only a PostgreSQL state",
        id="a password for a SQLite file",
    ),
    pytest.param(
        "state: postgresql://digest@db.example.org/digest\nstate_password_env: not a name\n",
        3,
        "state_password_env",
        "not an environment variable's name",
        id="not a variable name",
    ),
]


@pytest.mark.parametrize(("lines", "line", "field", "message"), BAD_STATES)
def test_a_bad_state_setting_names_file_line_and_field(
    tmp_path: Path, lines: str, line: int, field: str, message: str
) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("timezone: UTC\n" + lines, encoding="utf-8")
    with pytest.raises((ConfigError, ConfigErrors)) as caught:
        load_settings(path)
    exc = caught.value
    err = exc.errors[0] if isinstance(exc, ConfigErrors) else exc
    assert (err.file, err.line, err.field) == (str(path), line, field)
    assert message in str(err)
    assert "hunter2" not in str(err)  # the secret is not repeated in the error


def test_a_postgresql_state_names_the_database_and_the_password_variable(tmp_path: Path) -> None:
    path = tmp_path / "config" / "bot.yaml"
    path.parent.mkdir()
    path.write_text(
        "state: postgresql://digest@db.example.org:5433/papers\nstate_password_env: PGPASS\n",
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.state == PostgresState(
        "postgresql://digest@db.example.org:5433/papers", "PGPASS"
    )
    assert settings.state_exists()
    # Its local file (the heartbeat) goes where the default SQLite file would.
    assert settings.state_path == tmp_path / "data" / "digestbot-postgresql"
    default = tmp_path / "bot.yaml"
    default.write_text("timezone: UTC\n", encoding="utf-8")
    assert load_settings(default).state == (tmp_path / "../data/digestbot.sqlite3").resolve()


def test_a_missing_password_variable_is_one_line(pg_state: PostgresState) -> None:
    target = PostgresState(pg_state.url, "DIGESTBOT_TEST_UNSET_PASSWORD")
    with pytest.raises(StateError) as caught:
        Store.open(target, env={})
    assert str(caught.value) == (
        "the variable DIGESTBOT_TEST_UNSET_PASSWORD (state_password_env) is not set"
    )


# --------------------------------------------------------------------------- PostgreSQL refusals


def test_each_refusal_of_the_server_is_one_line_with_a_hint(own_server: PgServer) -> None:
    """Real refusals of a password-protected server: a wrong password, a missing database, a
    user without rights. Each is one StateError naming the database, never the password."""
    url = own_server.create_database("refusals")
    where = f"127.0.0.1:{own_server.port}"
    cases = [
        (PostgresState(url, "PW"), {"PW": "wrong"}, f"{where}/refusals refused the login", "28P01"),
        (
            PostgresState(own_server.url("nothere"), "PW"),
            {"PW": PASSWORD},
            "does not exist",
            "3D000",
        ),
    ]
    with psycopg.connect(url, password=PASSWORD, autocommit=True) as admin:
        admin.execute("CREATE ROLE reader LOGIN PASSWORD 'reader-pw'")
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    reader = url.replace("postgres@", "reader@")
    cases.append((PostgresState(reader, "PW"), {"PW": "reader-pw"}, "may not do this", "42501"))
    for target, env, message, reason in cases:
        with pytest.raises(StateError) as caught:
            Store.open(target, env)
        assert message in str(caught.value) and caught.value.reason == reason
        assert caught.value.hint
        assert "\n" not in str(caught.value)
        assert env["PW"] not in str(caught.value) + caught.value.hint


def test_a_read_only_postgresql_state_refuses_writes_in_the_server_too(
    pg_state: PostgresState,
) -> None:
    Store.open(pg_state).close()
    ro = Store.open_readonly(pg_state)
    try:
        # Past the store's own guard, the session itself is read-only.
        with pytest.raises(StateError, match="is read-only here") as caught:
            ro._db.execute("DELETE FROM papers")
        assert caught.value.reason == "25006"
    finally:
        ro.close()


# --------------------------------------------------------------------------- one writer


def test_several_writers_share_a_postgresql_state_without_the_lock(
    tmp_path: Path, pg_state: PostgresState
) -> None:
    """Two config folders (two machines: their lock files are apart) on one database: both
    writers start (issue 17: workers claim the work instead, tests/test_workers.py), and
    neither holds the advisory lock a single writer once took."""
    apps = []
    for name in ("a", "b"):
        path = tmp_path / name / "config" / "bot.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(f"state: {pg_state.url}\n", encoding="utf-8")
        apps.append(load_settings(path))
    first = build_app(apps[0], env={})
    try:
        second = build_app(apps[1], env={})
        assert first.lock is None and second.lock is None
        lock = PostgresLock(pg_state)
        lock.acquire()  # free: nobody took it
        lock.release()
        second.close()
    finally:
        first.close()


def test_a_killed_writer_leaves_no_stale_lock(pg_state: PostgresState) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from bot.state.backend import PostgresState;"
            " from bot.state.lock import PostgresLock;"
            f" lock = PostgresLock(PostgresState({pg_state.url!r})); lock.acquire();"
            " print('locked', flush=True); time.sleep(120)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(StateError, match=f"pid {holder.pid} on "):
            PostgresLock(pg_state).acquire()
    finally:
        holder.kill()  # SIGKILL: no clean-up of its own
        holder.wait()
        holder.stdout.close() if holder.stdout else None
    # The server ends the dead client's session, and its lock with it, as it notices.
    deadline = time.monotonic() + 10
    while True:
        lock = PostgresLock(pg_state)
        try:
            lock.acquire()
            break
        except StateError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    lock.release()


def test_replay_finds_example_papers_in_a_postgresql_state(pg_state: PostgresState) -> None:
    """`replay` and `preview` read example papers from the state before asking arXiv: from a
    PostgreSQL state too (the arXiv URL here is a closed loopback port: never reached)."""
    from bot.http import HttpSettings
    from bot.models import Paper, Profile
    from bot.relevance.examples import for_tuning

    example = Paper(id="1706.03762", title="Attention", abstract="Transformers.", authors=("V",))
    store = Store.open(pg_state)
    store.cache_examples([example])
    store.close()
    profile = Profile(id="p", name="P", description="d", examples=("1706.03762",))
    found = for_tuning(pg_state, HttpSettings(), "http://127.0.0.1:9", [profile])
    assert found == {"1706.03762": example}


def test_workers_starting_together_on_a_new_database_migrate_it_once(pg_server: PgServer) -> None:
    """Three processes opening one new database at once: one migrates, the others wait for the
    schema lock and then find the schema there. (The version check read PostgreSQL's catalog
    cache, which could still say "no schema_version table" after the first process committed:
    a second one then ran the first migration again, "relation papers already exists", in
    about one process in five.)"""
    code = (
        "import sys; from bot.state.store import Store; "
        "from bot.state.backend import PostgresState; "
        "Store.open(PostgresState(sys.argv[1])).close()"
    )
    for k in range(4):
        url = pg_server.create_database(f"together_{os.getpid()}_{k}")
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, url], cwd=ROOT, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], errors
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT version FROM schema_version").fetchall() == [
                (SCHEMA_VERSION,)
            ]
