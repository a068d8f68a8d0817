"""The test suite's network guard (tests/netguard/sitecustomize.py) refuses what leaves loopback.

Each refusal is proven before any packet leaves: the guard raises before the real call, so the
non-loopback addresses below (TEST-NET-1, a documentation range) are never contacted.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netguard.sitecustomize import LOG_ENV


@pytest.fixture
def guard_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Refusals of this test go to their own file, not to the one that fails the test."""
    log = tmp_path / "refused.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    return log


@pytest.mark.parametrize("address", [("192.0.2.1", 80), ("::ffff:192.0.2.1", 80, 0, 0)])
def test_a_connection_off_loopback_is_refused_and_logged(
    guard_log: Path, address: tuple[object, ...]
) -> None:
    family = socket.AF_INET6 if ":" in str(address[0]) else socket.AF_INET
    with socket.socket(family) as sock, pytest.raises(OSError, match="netguard"):
        sock.connect(address)
    assert guard_log.read_text().count("a connection to") == 1


def test_a_name_lookup_off_loopback_is_refused(guard_log: Path) -> None:
    with pytest.raises(OSError, match="netguard"):
        socket.getaddrinfo("example.org", 443)
    assert "a DNS lookup of 'example.org'" in guard_log.read_text()


@pytest.mark.parametrize("host", ["127.0.0.2", "::1", "localhost"])
def test_loopback_is_allowed(guard_log: Path, host: str) -> None:
    # Port 9 (discard) is closed here: the connection is really attempted and refused by the
    # kernel, not by the guard.
    with pytest.raises(OSError) as caught:
        socket.create_connection((host, 9), timeout=2).close()
    assert "netguard" not in str(caught.value)
    assert not guard_log.exists()


def test_a_subprocess_is_guarded_too(guard_log: Path) -> None:
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
        "except OSError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True
    )
    assert "netguard" in out.stdout
    assert "192.0.2.1" in guard_log.read_text()


def test_refusals_are_logged_where_the_suite_looks() -> None:
    """pytest imports tests/conftest.py as `conftest`; the test modules import it again as
    `tests.conftest` (for FIXTURES, ROOT...), which runs it a second time in the same process.
    Both must name one log: the one `_network_guard` reads after each test, and the one this
    process and its subprocesses write their refusals to (NETGUARD_LOG)."""
    registered = sys.modules["conftest"]  # the module whose `_network_guard` pytest runs
    imported = importlib.import_module("tests.conftest")
    assert registered is not imported  # two runs of the file: the case this is about
    assert os.environ[LOG_ENV] == registered._netguard_log == imported._netguard_log
    assert os.environ["PYTHONPATH"].split(os.pathsep).count(str(registered.NETGUARD)) == 1
