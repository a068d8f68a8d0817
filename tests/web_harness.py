"""The web page's test set-up: a state written by real `once` runs, and the real app served by
uvicorn on 127.0.0.1 (a port the system picks) on a thread of the test process.

The state holds two recorded Hugging Face days (tests/e2e.py serves them on loopback):
2026-07-31 (30 papers) and 2026-08-03 (3 papers), stored by the pipeline of `once` run in this
process (`build_app` + `run_once`, as `digestbot once --date` does). The 2026-07-31 answer is
DERIVED here, in memory, from the recording `hf_daily_papers_2026-07-31_30items.json`: the title
of SPEC_ID (the paper the `spec` profile is sent) gets a hostile prefix, HOSTILE, so every page
that shows it must escape it; nothing else changes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from bot.app import build_app
from bot.config import Settings, load_settings
from bot.pipeline import run_once
from bot.web.app import create_app
from bot.web.server import WebServer
from tests.e2e import SPEC_ID, SPEC_PROFILE, Bot, make_bot
from tests.fixture_server import FIXTURES

DAYS = ("2026-07-31", "2026-08-03")
HOSTILE = "<script>alert('t')</script><img src=x onerror=alert(1)> "
VOTE_SECRET = b"web-test-vote-secret-0123456789abcdef"
NOW = datetime(2026, 8, 4, 9, 0, tzinfo=UTC)  # the day after the last stored day


def hostile_0731() -> bytes:
    items = json.loads((FIXTURES / "hf_daily_papers_2026-07-31_30items.json").read_bytes())
    for item in items:
        if item["paper"]["id"] == SPEC_ID:
            item["title"] = HOSTILE + item["title"]
            item["paper"]["title"] = HOSTILE + item["paper"]["title"]
    return json.dumps(items).encode()


@contextmanager
def stored_bot(root: Path, *, hostile: bool = True) -> Iterator[Bot]:
    """A bot whose state holds the two days, from two real `once` runs (the `spec` profile
    installed, its digests posted to the Slack stand-in). `hostile=False`: the recorded
    2026-07-31 as it is (the README's screenshot)."""
    recorded = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
    with make_bot(root) as bot:
        bot.hf.serve_hf_day(DAYS[0], hostile_0731() if hostile else recorded)
        bot.hf.serve_hf_day(DAYS[1], FIXTURES / "hf_daily_papers_2026-08-03_3items_reindented.json")
        bot.profile("spec.yaml", SPEC_PROFILE)
        settings = load_settings(bot.config)
        for day in DAYS:  # `once --date day`, in this process (a subprocess costs seconds)
            app = build_app(settings, env=bot.env)
            try:
                report = run_once(app, day=date.fromisoformat(day))
            finally:
                app.close()
            assert not report.failed and not report.profile_errors, report.summary()
        yield bot


@dataclass
class Web:
    """The app served on loopback for the state of `bot`."""

    bot: Bot
    settings: Settings
    server: WebServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@contextmanager
def served(bot: Bot, *, password: str | None = None) -> Iterator[Web]:
    settings = load_settings(bot.config)
    app = create_app(settings, password=password, vote_secret=VOTE_SECRET, now=lambda: NOW)
    server = WebServer(app, "127.0.0.1", 0)
    server.start()
    try:
        yield Web(bot, settings, server)
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(url: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                _, err = proc.communicate(timeout=5)
                pytest.fail(f"the page did not come up (exit {proc.returncode}): {err}")
            time.sleep(0.05)
