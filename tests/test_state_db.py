"""The state file in trouble: a full disk, a read-only file or folder, a file that is not SQLite,
a lock held by another program. Each is one line saying what is wrong and what to do (never an
internal error), and nothing is lost: the state still opens, the next run completes, and each
paper is delivered once.

Every condition is real. The full disk: the CLI runs under RLIMIT_FSIZE, so the kernel refuses
to grow a file past the limit as a full disk does (SQLite then reports SQLITE_IOERR_WRITE, as
for an exceeded quota), and in-process SQLite's own SQLITE_FULL comes from `PRAGMA
max_page_count` on the store's connection. Read-only: real file modes; root ignores them, so as
root the CLI runs without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (setpriv) and obeys them
like any user.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.errors import StateError
from bot.models import Paper
from bot.state.db import state_error
from bot.state.fetch_log import FetchOutcome
from bot.state.store import Store
from tests.conftest import FIXTURES, ROOT
from tests.e2e import SPEC_ID, SPEC_PROFILE, Bot, posted_ids

HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
HF_0803 = FIXTURES / "hf_daily_papers_2026-08-03_3items_reindented.json"
ALL_PROFILE = """\
name: Anything about language models
description: language models training data benchmark evaluation agents reasoning
min_score: 0.01
max_per_digest: 50
notify:
  slack: "#papers-spec"
"""
NOTHING_LOST = (
    "nothing was lost: the failed write was rolled back, so what this run fetched is fetched "
    "again and what is queued stays queued"
)

# Runs the CLI with RLIMIT_FSIZE set: no file it writes may grow past argv[1] bytes.
_FSIZE = (
    "import os, resource, sys; n = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (n, n)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'bot', *sys.argv[2:]])"
)


def run_with_file_limit(bot: Bot, limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _FSIZE, str(limit), *args, "--config", str(bot.config)],
        cwd=ROOT,
        env={**bot.env, "PYTHONDONTWRITEBYTECODE": "1"},  # the limit applies to .pyc files too
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_as_a_user(bot: Bot, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user bound by file modes (root without the capabilities that bypass them)."""
    prefix = (
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    )
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bot", *args, "--config", str(bot.config)],
        cwd=ROOT,
        env=bot.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def errors(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(("error:", "  hint:"))]


def test_a_full_disk_is_one_line_and_loses_nothing(bot: Bot) -> None:
    bot.profile("all.yaml", ALL_PROFILE)
    bot.hf.serve_hf_day("2026-07-31", HF_0731)
    bot.hf.serve_hf_day("2026-08-03", HF_0803)
    assert bot.run("once", "--date", "2026-07-31").returncode == 0
    sent = posted_ids(bot.slack, "#papers-spec")
    assert sent

    # 64 KiB: the lock note and SQLite's 32 KiB shared-memory file fit, the run's write does not.
    full = run_with_file_limit(bot, 64 * 1024, "once", "--date", "2026-08-03")
    assert full.returncode == 1
    assert errors(full.stderr) == [
        f"error: could not write the state file {bot.state}: disk I/O error (SQLITE_IOERR_WRITE)",
        "  hint: the disk may be full, over quota or failing (see `df` and the system log): "
        f"make room, then run again; {NOTHING_LOST}",
    ]
    assert posted_ids(bot.slack, "#papers-spec") == sent
    # No room at all: not even the lock's note of its holder, nor SQLite's shared memory.
    none = run_with_file_limit(bot, 0, "once", "--date", "2026-08-03")
    assert none.returncode == 1
    [error, hint] = errors(none.stderr)
    assert error.startswith(f"error: could not write the state file {bot.state}: disk I/O error")
    assert hint.endswith(NOTHING_LOST)

    status = bot.run("status")  # the state opens, as it was before the failed runs
    assert status.returncode == 0, status.stderr
    assert f"state: {bot.state} (30 papers)" in status.stdout

    back = bot.run("once", "--date", "2026-08-03")
    assert back.returncode == 0, back.stderr
    after = posted_ids(bot.slack, "#papers-spec")
    assert after[: len(sent)] == sent and len(after) > len(sent)
    assert len(after) == len(set(after))  # each paper once
    assert bot.run("once", "--date", "2026-08-03").returncode == 0
    assert posted_ids(bot.slack, "#papers-spec") == after


def test_sqlite_full_in_the_run_write_is_one_line_and_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = Store.open(path)
    try:
        # The file may not grow by a page: a full disk, as SQLite itself reports it.
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")
        papers = [_paper(f"2607.{n:05d}") for n in range(50)]
        outcome = FetchOutcome("hf_daily", date(2026, 7, 31), 50)
        with pytest.raises(StateError) as caught:
            store.record(papers, [outcome], [], digest_day=date(2026, 7, 31))
        assert str(caught.value) == (
            f"the disk holding the state file {path} is full (database or disk is full)"
        )
        assert caught.value.hint == (
            "free some space on it (or point `state:` in bot.yaml at another disk), then run "
            f"again; {NOTHING_LOST}"
        )
    finally:
        store.close()
    store = Store.open(path)  # nothing half-written, and the same run can be recorded
    try:
        assert store.paper_count() == 0
        assert store.fetches.last_ok_day("hf_daily") is None
        store.record(papers, [outcome], [], digest_day=date(2026, 7, 31))
        assert store.paper_count() == 50
    finally:
        store.close()


def _paper(pid: str) -> Paper:
    return Paper(
        id=pid,
        title=f"A title {pid}",
        abstract="An abstract about speculative decoding and draft models. " * 20,
        authors=("A. Author",),
        url=f"https://arxiv.org/abs/{pid}",
        day=date(2026, 7, 31),
        source="hf_daily",
    )


def test_a_state_that_is_not_sqlite_is_named_and_left_alone(bot: Bot) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.state.parent.mkdir(parents=True)
    bot.state.write_text("timezone: UTC\n", encoding="utf-8")  # `state:` pointed at a YAML file
    for args in (["status"], ["once", "--date", "2026-07-31"], ["once", "--dry-run"]):
        result = bot.run(*args)
        assert result.returncode == 1, args
        assert errors(result.stderr) == [
            f"error: {bot.state} is not a SQLite database (file is not a database)",
            "  hint: `state:` in bot.yaml names the file digestbot keeps for itself: was it "
            "pointed at another file? Point it at a new path (created on the next run) or move "
            "this file away; it was not changed",
        ], args
    assert bot.state.read_text(encoding="utf-8") == "timezone: UTC\n"
    assert bot.hf.requests == []  # refused before fetching anything


@pytest.fixture
def read_only(bot: Bot) -> Iterator[Callable[[bool], None]]:
    """Make the state file (and its folder, if asked) read-only; restored after the test."""

    def make(folder_too: bool) -> None:
        bot.state.chmod(0o444)
        if folder_too:
            bot.state.parent.chmod(0o555)

    yield make
    bot.state.parent.chmod(0o755)
    bot.state.chmod(0o644)


@pytest.mark.parametrize("folder_too", [False, True], ids=["file", "file-and-folder"])
def test_a_read_only_state_still_reads_and_a_run_says_what_to_do(
    bot: Bot, read_only: Callable[[bool], None], folder_too: bool
) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.hf.serve_hf_day("2026-07-31", HF_0731)
    bot.hf.serve_hf_day("2026-08-03", HF_0803)
    assert bot.run("once", "--date", "2026-07-31").returncode == 0
    read_only(folder_too)

    status = run_as_a_user(bot, "status")
    assert status.returncode == 0, status.stderr
    assert f"state: {bot.state} (30 papers)" in status.stdout
    assert "destination slack:#papers-spec: 1 sent, 0 pending" in status.stdout
    dry = run_as_a_user(bot, "once", "--dry-run", "--date", "2026-08-03")
    assert dry.returncode == 0, dry.stderr

    asked = len(bot.hf.requests)
    run = run_as_a_user(bot, "once", "--date", "2026-08-03")
    assert run.returncode == 1
    what = ("the folder of the state file" if folder_too else "the state file") + f" {bot.state}"
    assert errors(run.stderr) == [
        f"error: {what} is read-only for this user (attempt to write a readonly database)",
        "  hint: let the user running digestbot write the state file and its folder (chown or "
        "chmod), or run digestbot as their owner; `status` and `--dry-run` only read it",
    ]
    assert len(bot.hf.requests) == asked  # refused before fetching anything

    bot.state.parent.chmod(0o755)
    bot.state.chmod(0o644)
    assert bot.run("once", "--date", "2026-08-03").returncode == 0
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]


def _full(tmp: Path) -> sqlite3.Error:
    conn = sqlite3.connect(tmp / "full.sqlite3")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA max_page_count = 2")
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute("INSERT INTO t VALUES (randomblob(100000))")
    conn.close()
    return caught.value


def _not_a_database(tmp: Path) -> sqlite3.Error:
    (tmp / "x.yaml").write_text("timezone: UTC\n")
    conn = sqlite3.connect(tmp / "x.yaml")
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute("PRAGMA user_version")
    conn.close()
    return caught.value


def _read_only(tmp: Path) -> sqlite3.Error:
    sqlite3.connect(tmp / "ro.sqlite3").execute("CREATE TABLE t (x)").connection.close()
    conn = sqlite3.connect(f"{(tmp / 'ro.sqlite3').as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    return caught.value


def _locked(tmp: Path) -> sqlite3.Error:
    holder = sqlite3.connect(tmp / "busy.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(tmp / "busy.sqlite3", timeout=0)
    with pytest.raises(sqlite3.Error) as caught:
        other.execute("SELECT 1 FROM sqlite_master")
    other.close()
    holder.close()
    return caught.value


def _missing_folder(tmp: Path) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        sqlite3.connect(tmp / "no" / "such" / "state.sqlite3")
    return caught.value


def _damaged(tmp: Path) -> sqlite3.Error:
    path = tmp / "damaged.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 50)
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # the table's first page
    path.write_bytes(bytes(data))
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute("SELECT count(*), max(x) FROM t").fetchone()
    conn.close()
    return caught.value


# (a real SQLite error, the message after the path, words of the hint)
STATE_ERRORS = [
    pytest.param(_full, "is full (database or disk is full)", "free some space", id="full"),
    pytest.param(
        _not_a_database, "is not a SQLite database (file is not a database)", "`state:`", id="nota"
    ),
    pytest.param(
        _read_only,
        "is read-only for this user (attempt to write a readonly database)",
        "chown or chmod",
        id="read-only",
    ),
    pytest.param(
        _locked,
        "is locked by another program (database is locked)",
        "close it and run again",
        id="locked",
    ),
    pytest.param(
        _missing_folder, "cannot be opened (unable to open database file)", "folder", id="cantopen"
    ),
    pytest.param(_damaged, "is damaged (database disk image is malformed)", "backup", id="damaged"),
]


@pytest.mark.parametrize(("make", "message", "hint"), STATE_ERRORS)
def test_each_sqlite_error_a_deployment_can_cause_is_one_line_with_a_hint(
    tmp_path: Path, make: Callable[[Path], sqlite3.Error], message: str, hint: str
) -> None:
    path = tmp_path / "state.sqlite3"
    error = state_error(make(tmp_path), path)
    assert error is not None
    assert str(error).endswith(message), str(error)
    assert str(path) in str(error) and "\n" not in str(error)
    assert error.hint is not None and hint in error.hint


def test_a_bug_is_not_dressed_up_as_a_state_problem(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.Error) as caught:
        conn.execute("SELEC 1")
    assert state_error(caught.value, tmp_path / "state.sqlite3") is None


def test_a_heartbeat_that_cannot_be_written_is_one_line(bot: Bot) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    heartbeat = bot.state.with_name(bot.state.name + ".heartbeat")
    heartbeat.with_name(heartbeat.name + ".tmp").mkdir(parents=True)  # in the way of its write
    daemon = bot.run("run", timeout=60)
    assert daemon.returncode == 1
    assert errors(daemon.stderr) == [
        f"error: cannot write the heartbeat file {heartbeat}: Is a directory",
        "  hint: make room on its disk and let this user write its folder (the state's); "
        "until then `digestbot health` reports the daemon unhealthy",
    ]
