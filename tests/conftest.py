"""Shared pytest fixtures: the recorded payloads directory and a real loopback HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import Bot, make_bot
from tests.fixture_server import FIXTURES, FixtureServer

ROOT = Path(__file__).resolve().parent.parent

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
