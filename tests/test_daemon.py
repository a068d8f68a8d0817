"""The real daemon (`python -m bot run`) in a subprocess, on a fast schedule, against the loopback
HF fixture server and Slack stand-in: it runs, picks up an edited profile without a restart,
keeps a broken profile's last good version, logs JSON lines, catches up missed runs once at
start, refuses a second writer on the same state, writes a heartbeat and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.conftest import FIXTURES, ROOT
from tests.e2e import BM25_ID, SPEC_ID, SPEC_PROFILE, Bot, posted_ids

HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
ZONE = ZoneInfo("Europe/Berlin")  # the harness's time zone
RAG_PROFILE = """\
name: Retrieval
description: Retrieval-augmented generation, BM25 and sparse retrieval at scale.
keywords: [BM25, retrieval augmented generation]
min_score: 0.9
notify:
  slack: "#papers-rag"
"""


def _today() -> str:
    return datetime.now(ZONE).date().isoformat()


def _serve_today(bot: Bot, drop: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """The recorded 2026-07-31 HF day, re-dated to today (a daemon always asks for today),
    without the papers in `drop`."""
    items = json.loads(HF_0731.read_bytes())
    items = [i for i in items if i["paper"]["id"] not in drop]
    body = json.dumps(items).replace("2026-07-31T", f"{_today()}T")
    bot.hf.serve_hf_day(_today(), body.encode())


def _schedule(bot: Bot, cron: str) -> None:
    text = bot.config.read_text(encoding="utf-8")
    bot.config.write_text(text.replace('"0 9 * * mon-fri"', f'"{cron}"'), encoding="utf-8")


class Daemon:
    """A running `digestbot --log-format json run`; its log is a file, read as JSON lines."""

    def __init__(self, bot: Bot, log: Path) -> None:
        self.log = log
        self._out = log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--log-format", "json", "run", "--config", bot.config],
            cwd=ROOT,
            env=bot.env,
            stdout=subprocess.DEVNULL,
            stderr=self._out,
        )

    def entries(self) -> list[dict[str, str]]:
        lines = self.log.read_text(encoding="utf-8").splitlines()
        # Every line the daemon logs is one JSON object (a torn last line is still being written).
        complete = lines if self.log.read_text(encoding="utf-8").endswith("\n") else lines[:-1]
        return [json.loads(line) for line in complete]

    def messages(self) -> list[str]:
        return [e["message"] for e in self.entries()]

    def runs(self) -> list[str]:
        return [m for m in self.messages() if m.startswith("run: ")]

    def wait_for(self, what: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return
            assert self.proc.poll() is None, self.log.read_text(encoding="utf-8")
            time.sleep(0.1)
        raise AssertionError("timed out; log:\n" + self.log.read_text(encoding="utf-8"))

    def stop(self) -> float:
        """SIGTERM; the seconds it took to exit 0."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=5) == 0, self.log.read_text(encoding="utf-8")
        return time.monotonic() - start


@contextmanager
def daemon(bot: Bot, log: Path) -> Iterator[Daemon]:
    d = Daemon(bot, log)
    try:
        yield d
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        d._out.close()


def test_daemon_picks_up_an_edited_profile_between_runs(bot: Bot, tmp_path: Path) -> None:
    _schedule(bot, "*/2 * * * * *")  # every 2 seconds
    _serve_today(bot, drop={BM25_ID})
    profile = bot.profile("watch.yaml", SPEC_PROFILE)
    with daemon(bot, tmp_path / "daemon.log") as d:
        d.wait_for(lambda: SPEC_ID in posted_ids(bot.slack, "#papers-spec"))
        assert posted_ids(bot.slack, "#papers-rag") == []

        # Edit the profile, let one whole run read the edit, then publish the BM25 paper.
        profile.write_text(RAG_PROFILE, encoding="utf-8")
        runs = len(d.runs())
        d.wait_for(lambda: len(d.runs()) >= runs + 2)
        _serve_today(bot)
        d.wait_for(lambda: BM25_ID in posted_ids(bot.slack, "#papers-rag"))
        assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]  # the old version is gone

        # A broken edit is reported; the last good version keeps serving (the next run that
        # reads the file says both).
        profile.write_text(RAG_PROFILE.replace("min_score: 0.9", "min_score: high"), "utf-8")
        d.wait_for(
            lambda: (
                any("watch.yaml:4: min_score" in m for m in d.messages())
                and any("still serving its last good version" in m for m in d.messages())
            )
        )

        assert d.stop() < 5
    entries = d.entries()
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    # One line per job run (its summary), not APScheduler's own INFO chatter around it
    # ("Running job ...", "Job ... executed successfully", "Added job ...").
    chatter = [e["message"] for e in entries if e["logger"].startswith("apscheduler")]
    assert chatter == []
    assert entries[-1]["message"] == "digestbot daemon stopped"
    summary = d.runs()[0]
    assert "hf_daily: ok fetched=" in summary and "slack:#papers-spec: sent=1 failed=0" in summary

    # The heartbeat the Docker HEALTHCHECK reads is fresh.
    health = bot.run("health")
    assert health.returncode == 0, health.stdout + health.stderr
    assert health.stdout.startswith("healthy: last heartbeat ")


def test_second_daemon_and_once_refuse_the_same_state(bot: Bot, tmp_path: Path) -> None:
    _serve_today(bot)
    bot.profile("spec.yaml", SPEC_PROFILE)
    with daemon(bot, tmp_path / "first.log") as first:
        first.wait_for(lambda: "digestbot daemon started" in " ".join(first.messages()))
        second = bot.run("run")
        once = bot.run("once")
        for result in (second, once):
            assert result.returncode == 1
            assert "error: another digestbot is already using" in result.stderr
            assert f"pid {first.proc.pid}" in result.stderr
            assert "hint: only one daemon or `digestbot once`" in result.stderr
            assert "Traceback" not in result.stderr
        # Read-only commands still work while the daemon runs.
        assert bot.run("status").returncode == 0
        assert bot.run("once", "--dry-run").returncode == 0
        assert first.stop() < 5
    # The lock went with the daemon.
    assert bot.run("once").returncode == 0


def test_missed_runs_are_caught_up_once_at_start(bot: Bot, tmp_path: Path) -> None:
    _schedule(bot, "0 7 * * *")  # daily, 07:00 Berlin
    _serve_today(bot)
    bot.profile("spec.yaml", SPEC_PROFILE)
    assert bot.run("once").returncode == 0
    # The state says the last run was three scheduled runs ago.
    now = datetime.now(ZONE)
    last_fire = now.replace(hour=7, minute=0, second=0, microsecond=0)
    if last_fire > now:
        last_fire -= timedelta(days=1)
    three_ago = (last_fire - timedelta(days=3) + timedelta(minutes=5)).astimezone(UTC)
    db = sqlite3.connect(bot.state)
    with db:
        db.execute("UPDATE fetches SET at = ?", (three_ago.isoformat(timespec="seconds"),))
    db.close()
    fetches_before = len(bot.hf.requests_to("/api/daily_papers"))

    with daemon(bot, tmp_path / "daemon.log") as d:
        d.wait_for(lambda: len(d.runs()) >= 1)
        time.sleep(2)  # a second catch-up would have started by now
        assert len(d.runs()) == 1
        assert any("hf_daily: 3 scheduled run(s) missed since" in m for m in d.messages())
        d.stop()
    assert len(bot.hf.requests_to("/api/daily_papers")) > fetches_before


def test_a_daemon_with_nothing_missed_waits_for_its_schedule(bot: Bot, tmp_path: Path) -> None:
    _schedule(bot, "0 7 1 1 *")  # once a year
    _serve_today(bot)
    bot.profile("spec.yaml", SPEC_PROFILE)
    assert bot.run("once").returncode == 0
    fetches_before = len(bot.hf.requests_to("/api/daily_papers"))
    with daemon(bot, tmp_path / "daemon.log") as d:
        d.wait_for(lambda: "digestbot daemon started" in " ".join(d.messages()))
        time.sleep(1.5)
        d.stop()
    assert d.runs() == []
    assert len(bot.hf.requests_to("/api/daily_papers")) == fetches_before
