"""Shared pytest fixtures: the recorded payloads directory, a real loopback HTTP server, and
the network guard (tests/netguard/sitecustomize.py) around every test and its subprocesses."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.backend import PostgresState, StateTarget
from tests.e2e import Bot, make_bot
from tests.fixture_server import FIXTURES, FixtureServer
from tests.netguard.sitecustomize import LOG_ENV, install, process_log
from tests.pg_server import PgServer

ROOT = Path(__file__).resolve().parent.parent
NETGUARD = ROOT / "tests" / "netguard"

# Installed at import, before any test (or xdist worker) opens a socket. The log is per
# process; subprocesses inherit its name and the guard through PYTHONPATH (a `sitecustomize`).
# This file runs twice per process (as `conftest` and as `tests.conftest`): one log for both,
# or the second run would send every refusal to a file `_network_guard` never reads.
_netguard_log = process_log()
os.environ[LOG_ENV] = _netguard_log
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if str(NETGUARD) not in _paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([str(NETGUARD), *_paths])
install()


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    """Fail the test if it, or a process it started, tried to leave loopback."""
    log = Path(_netguard_log)
    before = log.stat().st_size
    yield
    with log.open(encoding="utf-8") as f:
        f.seek(before)
        refused = f.read()
    if refused:
        pytest.fail("the test tried to reach the network:\n" + refused, pytrace=False)


__all__ = ["FIXTURES", "ROOT", "bot", "fixture_server", "pg_server", "pg_state", "state"]


@pytest.fixture
def fixture_server() -> Iterator[FixtureServer]:
    """A started FixtureServer on 127.0.0.1, stopped (handler threads joined) after the test."""
    with FixtureServer() as server:
        yield server


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    """The end-to-end harness (tests/e2e.py): config, loopback HF and Slack, the real CLI."""
    with make_bot(tmp_path) as harness:
        yield harness


# --------------------------------------------------------------------------- PostgreSQL state


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server per pytest process (per xdist worker), started on first use (about
    a second) on a free loopback port, stopped and deleted at the end (tests/pg_server.py)."""
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


_databases = itertools.count(1)


def new_database(server: PgServer) -> str:
    """A new empty database on `server`; its URL."""
    return server.create_database(f"state_{os.getpid()}_{next(_databases)}")


@pytest.fixture
def pg_state(pg_server: PgServer) -> PostgresState:
    """A PostgreSQL state of its own for the test: a new, empty database (left for the server's
    removal at the end of the session)."""
    return PostgresState(new_database(pg_server))


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> StateTarget:
    """The test's state on each backend in turn: a new SQLite file, then a new PostgreSQL
    database."""
    if request.param == "sqlite":
        return tmp_path / "state" / "bot.sqlite3"
    target: PostgresState = request.getfixturevalue("pg_state")
    return target
