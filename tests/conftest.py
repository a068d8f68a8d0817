"""Shared pytest fixtures: the recorded payloads directory, a real loopback HTTP server, and
the network guard (tests/netguard/sitecustomize.py) around every test and its subprocesses."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import Bot, make_bot
from tests.fixture_server import FIXTURES, FixtureServer
from tests.netguard.sitecustomize import LOG_ENV, install

ROOT = Path(__file__).resolve().parent.parent
NETGUARD = ROOT / "tests" / "netguard"

# Installed at import, before any test (or xdist worker) opens a socket. The log is per
# process; subprocesses inherit its name and the guard through PYTHONPATH (a `sitecustomize`).
_fd, _netguard_log = tempfile.mkstemp(prefix="netguard-", suffix=".log")
os.close(_fd)
os.environ[LOG_ENV] = _netguard_log
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(NETGUARD), *filter(None, [os.environ.get("PYTHONPATH")])]
)
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


__all__ = ["FIXTURES", "ROOT", "bot", "fixture_server"]


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
