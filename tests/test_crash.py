"""Crash safety, end to end: the real CLI in a subprocess, killed with SIGKILL at the worst
moments, then run again. Every match is delivered, none twice.

The window that matters is between "Slack accepted the post" and "the outbox marked it sent".
The stand-in accepts and records a post, then holds its answer back; the test kills the bot
inside that hold. The next run finds the rows still `sending`, looks the delivery key up in the
channel's history (message metadata), and marks them sent instead of posting again. The profile
names its channel by name, as the README's examples do: conversations.history takes channel IDs
only (the stand-in answers `channel_not_found` for a name, like Slack), so the next run first
finds the ID in conversations.list; without the scope for that, it posts again after one warning.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES, ROOT
from tests.e2e import Bot, posted_ids

DAY = "2026-07-31"
HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
PROFILE = """\
name: Retrieval
description: Retrieval-augmented generation, BM25 and sparse retrieval at scale.
keywords: [BM25, retrieval augmented generation]
min_score: 0.05
notify:
  slack: "#papers-spec"
"""


def statuses(bot: Bot) -> dict[str, int]:
    conn = sqlite3.connect(bot.state)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status"))
    finally:
        conn.close()


def run_and_kill_when(bot: Bot, ready: Callable[[Any], bool], *, on: Any = None) -> None:
    """Run `once` and SIGKILL it as soon as the records of `on` (a server with `wait_until`:
    the Slack stand-in by default, or the SMTP server) satisfy `ready`.

    The kill waits on the stand-in's event (re-checked whenever a request arrives or a post is
    recorded), never on elapsed time or on the bot's own state: on a loaded machine the bot can
    be descheduled for seconds between marking its rows `sending` and writing its request."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "once", "--date", DAY, "--config", str(bot.config)],
        cwd=ROOT,
        env=bot.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        # Slices only so that a bot dying early fails fast instead of after the deadline.
        server = bot.slack if on is None else on
        while not server.wait_until(ready, timeout=0.5):
            assert proc.poll() is None, f"the bot exited ({proc.returncode}) before the crash point"
            assert time.monotonic() < deadline, "the bot never reached the crash point"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_killed_after_slack_accepted_is_not_posted_again(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("rag.yaml", PROFILE)
    bot.slack.hold_after_accept(120)

    run_and_kill_when(bot, lambda slack: len(slack.posts) == 1)
    assert statuses(bot) == {"sending": len(posted_ids(bot.slack, "#papers-spec"))}

    again = bot.run("once", "--date", DAY)
    assert again.returncode == 0, again.stderr
    assert len(bot.slack.posts) == 1  # found in the history: not posted twice
    ids = posted_ids(bot.slack, "#papers-spec")
    assert statuses(bot) == {"sent": len(ids)}
    lookups = [
        (c.method, c.params.get("channel"), c.ok)
        for c in bot.slack.requests
        if c.method.startswith("conversations.")
    ]
    # The name is resolved once (the stand-in pages 2 channels at a time: 3 channels, 2 pages),
    # then the history is read by ID.
    assert lookups == [
        ("conversations.list", None, True),
        ("conversations.list", None, True),
        ("conversations.history", "C0SPEC", True),
    ]
    assert "warning:" not in again.stderr


def test_killed_without_channels_read_is_posted_again_after_one_warning(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("rag.yaml", PROFILE)
    bot.slack.scopes = "chat:write,channels:history,groups:history"  # no channels:read
    bot.slack.hold_after_accept(120)

    run_and_kill_when(bot, lambda slack: len(slack.posts) == 1)
    again = bot.run("once", "--date", DAY)

    assert again.returncode == 0, again.stderr
    assert len(bot.slack.posts) == 2  # at-least-once: the ID of #papers-spec is unknown
    warnings = [line for line in again.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "channels:read" in warnings[0] and "#papers-spec" in warnings[0]
    assert "at-least-once" in warnings[0]
    ids = posted_ids(bot.slack, "#papers-spec")
    assert statuses(bot) == {"sent": len(set(ids))}


def test_killed_before_slack_answered_is_posted_once(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("rag.yaml", PROFILE)
    bot.slack.fail_next(delay=120)  # the request hangs, unanswered and unrecorded

    # The post reached the stand-in (which now holds it, unanswered): the crash point.
    run_and_kill_when(bot, lambda slack: slack.arrived("chat.postMessage") == 1)
    assert bot.slack.posts == []
    assert list(statuses(bot)) == ["sending"]

    again = bot.run("once", "--date", DAY)
    assert again.returncode == 0, again.stderr
    ids = posted_ids(bot.slack, "#papers-spec")
    assert len(bot.slack.posts) == 1 and ids and len(ids) == len(set(ids))
    assert statuses(bot) == {"sent": len(ids)}


def test_a_shared_paper_killed_after_slack_accepted_is_posted_once(bot: Bot) -> None:
    """Two profiles on one channel: one row delivers the papers they share, the other's rows
    are merged into it. A crash in the window leaves only delivering rows `sending`; recovery
    finds the post and marks them sent, and the merged rows count as sent with them."""
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("rag.yaml", PROFILE)
    bot.profile("rag_too.yaml", PROFILE.replace("name: Retrieval", "name: Retrieval too"))
    bot.slack.hold_after_accept(120)

    run_and_kill_when(bot, lambda slack: len(slack.posts) == 1)
    before = statuses(bot)
    assert set(before) == {"sending", "merged"}, before

    again = bot.run("once", "--date", DAY)
    assert again.returncode == 0, again.stderr
    assert len(bot.slack.posts) == 1
    ids = posted_ids(bot.slack, "#papers-spec")
    assert statuses(bot) == {"sent": len(ids), "merged": len(ids)}
    assert f"{2 * len(ids)} sent" in bot.run("status").stdout


def test_a_grouped_email_killed_after_the_server_accepted_is_sent_again_once(
    tmp_path: Path,
) -> None:
    """Three profiles, one reader: one email (`email.group: recipient`), its rows all marked
    `sending` together. Killed between the server's "250 OK" and "marked sent": the next run
    sends that one email again, with the same Message-ID (email cannot be asked whether it
    arrived), and no other."""
    from tests.test_deliver import DAY as DELIVER_DAY
    from tests.test_deliver import bot_with_email, reader_profiles

    with bot_with_email(tmp_path) as (bot, smtp):
        reader_profiles(bot)
        smtp.hold_after_accept(120)
        run_and_kill_when(bot, lambda server: len(server.raw) == 1, on=smtp)
        before = statuses(bot)
        assert set(before) == {"sending", "merged"}, before

        again = bot.run("once", "--date", DELIVER_DAY)
        assert again.returncode == 0, again.stderr
        first, second = smtp.messages
        assert first["Message-ID"] == second["Message-ID"]
        assert first.get_body(("plain",)).get_content() == second.get_body(("plain",)).get_content()
        assert statuses(bot) == {"sent": before["sending"], "merged": before["merged"]}
        assert bot.run("once", "--date", DELIVER_DAY).returncode == 0
        assert len(smtp.messages) == 2
