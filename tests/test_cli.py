"""End to end: the real `digestbot` CLI in a subprocess, against a loopback HTTP server serving
recorded Hugging Face responses and a loopback Slack Web API stand-in, with a real SQLite file.

What these prove: a profile written for one paper of 2026-07-31 gets that paper in Slack; a second
run posts nothing; hostile titles stay text; a persistent HF outage exits 1 and the day is fetched
again on the next run; a broken profile does not stop the others; without a token the digest goes
to the console; --dry-run writes nothing; check and run behave; no traceback on bad input.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.e2e import BM25_ID, SPEC_ID, SPEC_PROFILE, TOKEN, Bot, posted_ids
from tests.fixture_server import FixtureServer

DAY = "2026-07-31"
HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"

RAG_PROFILE = """\
name: Retrieval
description: Retrieval-augmented generation, BM25 and sparse retrieval at scale.
keywords: [BM25, retrieval augmented generation]
min_score: 0.2
notify:
  slack: "#papers-rag"
"""


def test_profile_gets_its_paper_in_slack_once(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.profile("rag.yaml", RAG_PROFILE)

    first = bot.run("once", "--date", DAY)
    assert first.returncode == 0, first.stderr
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
    assert posted_ids(bot.slack, "#papers-rag")[0] == BM25_ID
    [spec_post] = bot.slack.messages_in("#papers-spec")
    assert spec_post.blocks[0]["text"]["text"] == f"Speculative decoding — {DAY}"
    assert "1 new paper matched out of 30" in json.dumps(spec_post.blocks)
    assert "new=30" in first.stderr  # the summary line
    asked = sorted({r.query.get("date", "") for r in bot.hf.requests_to("/api/daily_papers")})
    assert asked == [DAY]

    posts_before = len(bot.slack.posts)
    second = bot.run("once", "--date", DAY)
    assert second.returncode == 0, second.stderr
    assert len(bot.slack.posts) == posts_before  # nothing is sent twice
    assert "new=0" in second.stderr


def test_hostile_titles_stay_text(bot: Bot, tmp_path: Path) -> None:
    # The real recorded day with one title replaced by mentions and a disguised link.
    items = json.loads(HF_0731.read_bytes())
    hostile = "<!channel> <@U123> <https://evil.example|click> Speculative decoding & more"
    for item in items:
        if item["paper"]["id"] == SPEC_ID:
            item["title"] = item["paper"]["title"] = hostile
    payload = tmp_path / "hostile.json"
    payload.write_text(json.dumps(items), encoding="utf-8")
    bot.hf.serve_hf_day(DAY, payload)
    bot.profile("spec.yaml", SPEC_PROFILE)

    result = bot.run("once", "--date", DAY)
    assert result.returncode == 0, result.stderr
    [post] = bot.slack.messages_in("#papers-spec")
    raw = json.dumps(post.blocks) + post.text
    for needle in ("<!channel>", "<@U123>", "<https://evil.example"):
        assert needle not in raw
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt;" in raw
    assert "&amp; more" in raw


def test_persistent_hf_outage_exits_1_and_the_day_is_fetched_next_run(bot: Bot) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.hf.add("/api/daily_papers", "Service Unavailable", status=503)
    bot.hf.add("/papers", "Service Unavailable", status=503)

    failed = bot.run("once", "--date", DAY)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, failed.stderr
    assert "hf_daily" in errors[0] and "503" in errors[0]
    assert bot.slack.posts == []
    api_calls = len(bot.hf.requests_to("/api/daily_papers"))
    assert api_calls == 3  # first try + 2 retries, then the source is reported failed

    # HF is back. The next run is for the next day, and still fetches the failed days.
    bot.hf.serve_hf_day(DAY, HF_0731)
    recovered = bot.run("once", "--date", "2026-08-01")
    assert recovered.returncode == 0, recovered.stderr
    asked = {r.query.get("date") for r in bot.hf.requests_to("/api/daily_papers")[api_calls:]}
    assert asked == {DAY, "2026-08-01"}  # the failed day, and the (Saturday) digest day
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]


def test_broken_profile_does_not_stop_the_others(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)
    broken = bot.profile("broken.yaml", "name: Broken\ndescription: x\nmin_score: high\n")

    result = bot.run("once", "--date", DAY)
    assert result.returncode == 2  # bad config, reported after serving the good profiles
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
    assert f"{broken}:3: min_score:" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_token_the_digest_goes_to_the_console(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)
    del bot.env["SLACK_BOT_TOKEN"]

    result = bot.run("once", "--date", DAY)
    assert result.returncode == 0, result.stderr
    assert bot.slack.requests == []
    assert "Speculative decoding — 2026-07-31" in result.stdout
    assert "Revisiting Lossy Verification in Speculative Decoding" in result.stdout
    assert f"https://arxiv.org/abs/{SPEC_ID}" in result.stdout
    assert "console: sent=1" in result.stderr  # the summary line


FOLLOW_PROFILE = """\
name: Jinsen Su's papers
authors: [Jinsen Su]
notify:
  slack: "#papers-spec"
"""
OMNI_ID = "2607.23193"  # OmniScope, by Jinsen Su, Yongdong Luo, ...


def test_a_followed_author_match_says_so_and_shows_no_score(bot: Bot) -> None:
    # A profile that only follows an author has no words to score with: its papers score 0,
    # and "score 0.00" next to a paper that was sent reads as a bug. It says who it follows.
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("follow.yaml", FOLLOW_PROFILE)

    result = bot.run("once", "--date", DAY)
    assert result.returncode == 0, result.stderr
    assert posted_ids(bot.slack, "#papers-spec") == [OMNI_ID]
    [post] = bot.slack.messages_in("#papers-spec")
    [section] = [b for b in post.blocks if OMNI_ID in b.get("text", {}).get("text", "")]
    facts = section["text"]["text"].split("\n")[-1]
    assert facts == "▲ 3 upvotes · why: followed author Jinsen Su"

    del bot.env["SLACK_BOT_TOKEN"]  # the console says the same
    bot.state.unlink()
    printed = bot.run("once", "--date", DAY)
    assert printed.returncode == 0, printed.stderr
    assert "   ▲ 3 upvotes · why: followed author Jinsen Su\n" in printed.stdout
    assert "score" not in printed.stdout


def test_dry_run_prints_and_writes_nothing(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)

    result = bot.run("once", "--date", DAY, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not bot.state.exists()
    assert bot.slack.requests == []
    assert "Revisiting Lossy Verification" in result.stdout

    bot.run("once", "--date", DAY)  # a real run, then a dry run on the existing state
    before = bot.state.stat().st_mtime_ns, len(bot.slack.posts)
    again = bot.run("once", "--date", DAY, "--dry-run")
    assert again.returncode == 0, again.stderr
    assert (bot.state.stat().st_mtime_ns, len(bot.slack.posts)) == before
    assert "0 new papers matched out of 0" in again.stdout


def test_slack_outage_keeps_the_digest_queued(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.slack.fail_next(status=500, times=2)  # the first try and its one retry

    failed = bot.run("once", "--date", DAY)
    assert failed.returncode == 1
    assert "slack:#papers-spec" in failed.stderr
    assert TOKEN not in failed.stderr + failed.stdout
    assert bot.slack.posts == []

    retried = bot.run("once", "--date", DAY)
    assert retried.returncode == 0, retried.stderr
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
    assert TOKEN.encode() not in bot.state.read_bytes()


def test_unreachable_source_is_one_clear_line(bot: Bot, tmp_path: Path) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    closed = FixtureServer().start()
    url = closed.base_url
    closed.stop()  # nothing listens there any more
    bot.config.write_text(bot.config.read_text().replace(bot.hf.base_url, url))

    result = bot.run("once", "--date", DAY)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert "hf_daily" in line and "cannot connect" in line and url in line


def test_check(bot: Bot) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    ok = bot.run("check")
    assert ok.returncode == 0, ok.stderr
    assert "profile spec: ok" in ok.stdout

    a = bot.profile("a.yaml", "name: A\ndescription: d\nkeyword: [x]\n")
    b = bot.profile("b.yaml", "name: B\ndescription: d\nnotify:\n  slack: #nope\n")
    bad = bot.run("check")
    assert bad.returncode == 2
    assert f"{a}:3: keyword: unknown key" in bad.stderr
    assert f"{b}:4: notify.slack:" in bad.stderr
    assert "2 error(s) in 2 file(s)" in bad.stderr


def test_shipped_config_checks_clean() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK", "DIGESTBOT"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "profile normalization: ok" in result.stdout
    assert "SLACK_BOT_TOKEN is not set" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["once", "--date", "31/07/2026"], 2, "Invalid value for '--date'"),
        (["nonsense"], 2, "No such command"),
        (["once", "--config", "/nonexistent/bot.yaml"], 2, "cannot read"),
    ],
)
def test_usage_errors(args: list[str], code: int, needle: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == code
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_daemon_starts_and_stops_on_sigterm(bot: Bot) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(bot.config)],
        cwd=ROOT,
        env=bot.env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "daemon started" in line or not line:
                break
        assert any("daemon started" in ln for ln in lines), lines
        assert any("scheduled: fetch hf_daily, next at" in ln for ln in lines), lines
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - start < 5
        assert "daemon stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_config_from_environment_variable(bot: Bot) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    env = {**bot.env, "DIGESTBOT_CONFIG": str(bot.config)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=bot.root,  # no config/bot.yaml here: only the variable can lead to it
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"{bot.config}: ok" in result.stdout
    assert "profile spec: ok" in result.stdout


def test_retry_requeues_dead_deliveries(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.slack.fail_next(error="channel_not_found")  # permanent: the rows are dead

    dead = bot.run("once", "--date", DAY)
    assert dead.returncode == 1
    assert "1 dead" in bot.run("status").stdout
    assert bot.run("once", "--date", DAY).returncode == 0  # dead rows are not retried
    assert bot.slack.posts == []

    again = bot.run("retry", "slack:#papers-spec")
    assert again.returncode == 0, again.stderr
    assert "1 paper(s) queued again for slack:#papers-spec" in again.stdout
    assert bot.run("once", "--date", DAY).returncode == 0
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version() -> None:
    from importlib.metadata import version

    result = _cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"digestbot, version {version('digestbot')}\n"


def test_help_names_every_channel() -> None:
    result = _cli("--help")
    assert result.returncode == 0, result.stderr
    intro = " ".join(result.stdout.split("Options:")[0].split())  # unwrapped
    assert "in Slack, by email or on the console" in intro, intro


def test_retry_of_an_unknown_destination_names_the_known_ones(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)
    assert bot.run("once", "--date", DAY).returncode == 0

    result = bot.run("retry", "slack:nope")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: no delivery for slack:nope in the state: nothing to retry",
        "  hint: known destinations: slack:#papers-spec (or no argument: all of them)",
    ]
    known = bot.run("retry", "slack:#papers-spec")  # known, nothing failed: 0, and exit 0
    assert known.returncode == 0, known.stderr
    assert "0 paper(s) queued again for slack:#papers-spec" in known.stdout


def test_once_prints_its_summary_line_also_when_a_source_failed(bot: Bot) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.hf.add("/api/daily_papers", "Service Unavailable", status=503)
    bot.hf.add("/papers", "Service Unavailable", status=503)

    failed = bot.run("once", "--date", DAY)
    assert failed.returncode == 1
    summary = "run: hf_daily: failed fetched=0 new=0; new=0 matches=0"
    assert failed.stderr.splitlines()[-1] == summary

    broken = bot.profile("broken.yaml", "name: Broken\ndescription: x\nmin_score: high\n")
    bot.hf.serve_hf_day(DAY, HF_0731)
    partly = bot.run("once", "--date", DAY)
    assert partly.returncode == 2  # a broken profile, after serving the others
    assert f"{broken}:3: min_score:" in partly.stderr
    assert partly.stderr.splitlines()[-1].startswith("run: hf_daily: ok fetched=30 new=30; ")
