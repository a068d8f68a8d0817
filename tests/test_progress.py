"""Long work shows a progress bar on a terminal and plain log lines otherwise: `replay` run by
the real CLI with its stderr on a pseudo-terminal, then on a pipe."""

from __future__ import annotations

import logging
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.progress import progress
from tests.conftest import ROOT
from tests.test_replay import ARCHIVE, write_profiles

# Three days of the replay archive (the progress, not the scoring, is under test here): two
# arXiv RSS listings and a Saturday's empty one.
DAYS = ["2026-04-27.xml", "2026-08-01.xml", "2026-09-24.xml"]


def _replay_args(tmp_path: Path) -> list[str]:
    profiles = write_profiles(tmp_path / "profiles")
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in DAYS:
        shutil.copyfile(ARCHIVE / name, archive / name)
    # --offline: example papers from the archive only (else they are asked of arXiv).
    return [
        *[sys.executable, "-m", "bot", "replay", str(archive), "--profiles", str(profiles)],
        "--offline",
    ]


def test_replay_on_a_terminal_shows_a_bar(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK", "DIGESTBOT"))}
    proc = subprocess.Popen(
        [*_replay_args(tmp_path), "--jobs", "1"],
        cwd=ROOT,
        env={**env, "COLUMNS": "100", "TERM": "xterm"},
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=120) == 0
    text = seen.decode("utf-8", "replace")
    assert "replay" in text
    assert "━" in text  # rich's bar
    assert "/3" in text  # n of the archive's 3 days


def test_replay_on_a_pipe_logs_plain_lines(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK", "DIGESTBOT"))}
    done = subprocess.run(
        [*_replay_args(tmp_path), "--jobs", "1", "-v"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "━" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if "replay: " in ln and "/3 " in ln]
    assert [ln.split("replay: ", 1)[1] for ln in lines] == [
        "1/3 2026-04-27",
        "2/3 2026-08-01",
        "3/3 2026-09-24",
    ]


def test_progress_off_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    with progress("work", 3, enabled=False) as step:
        for item in "abc":
            step(item)
    assert caplog.records == []
