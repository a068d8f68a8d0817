"""A new profile speaks at once: the real CLI in a subprocess, the recorded Hugging Face days of
2026-06-12 and 2026-07-31 served on 127.0.0.1, the Slack stand-in, a real state file.

What these prove: a profile added after the papers of the day were stored gets, at the next
run, the stored papers of the latest digest day that match it (what `preview` lists for that
day), marked "first digest: ..."; once (a third run sends nothing); never older days; a paper
that a channel already got from another profile is not posted there again; a profile that was
already served (it simply matched nothing) gets no first digest; a renamed file is a new
profile; a fresh install is served by the normal path, without the note.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest

from tests.e2e import SPEC_ID, SPEC_PROFILE, Bot, posted_ids
from tests.fixture_server import FIXTURES

JUNE, DAY = "2026-06-12", "2026-07-31"
NOTE = "first digest: from today's papers already seen"

RAG_PROFILE = """\
name: Retrieval
description: Retrieval-augmented generation, BM25 and sparse retrieval at scale.
keywords: [BM25, retrieval augmented generation]
min_score: 0.2
notify:
  slack: "#papers-rag"
"""
# Broad: it matches papers of both stored days, and shares its channel with RAG_PROFILE.
BROAD_PROFILE = """\
name: Language models
description: Large language models, their training, reasoning, agents and evaluation.
keywords: [language model, LLM, reasoning, benchmark]
min_score: 0.5
max_per_digest: 50
notify:
  slack: "#papers-rag"
"""


def _ids_in(fixture: str) -> set[str]:
    items = json.loads((FIXTURES / fixture).read_bytes())
    return {item["paper"]["id"] for item in items}


def _preview_sent(bot: Bot, profile: str) -> dict[str, list[str]]:
    """Day -> the ids `digestbot preview` says the profile would be sent that day."""
    result = bot.run("preview", profile, "--since", JUNE, "--format", "json")
    assert result.returncode == 0, result.stderr
    return {d["day"]: [p["id"] for p in d["sent"]] for d in json.loads(result.stdout)["days"]}


def _new_posts(bot: Bot, channel: str, before: int) -> list[str]:
    """The arXiv ids of the papers posted to `channel` after its first `before` messages."""
    ids = []
    for post in bot.slack.messages_in(channel)[before:]:
        for block in post.blocks:
            text = block.get("text", {}).get("text", "") if block.get("type") == "section" else ""
            if text.startswith("*<https://arxiv.org/abs/"):
                ids.append(text.split("/abs/", 1)[1].split("|", 1)[0])
    return ids


@pytest.fixture
def two_days(bot: Bot) -> Iterator[Bot]:
    """A bot whose state holds two days of papers, stored by two runs with RAG_PROFILE only."""
    # Only the day asked for is fetched: the weeks between the two recorded days stay unasked.
    bot.config.write_text(
        bot.config.read_text().replace("lookback_days: 0", "lookback_days: 0\n    catchup_days: 0")
    )
    bot.hf.serve_hf_day(JUNE, FIXTURES / "hf_daily_papers_2026-06-12_30items.json")
    bot.hf.serve_hf_day(DAY, FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
    bot.profile("rag.yaml", RAG_PROFILE)
    for day in (JUNE, DAY):
        done = bot.run("once", "--date", day)
        assert done.returncode == 0, done.stderr
    yield bot


def test_a_new_profile_gets_the_latest_day_already_seen_once(two_days: Bot) -> None:
    bot = two_days
    rag_posts = len(bot.slack.messages_in("#papers-rag"))
    rag_sent = set(posted_ids(bot.slack, "#papers-rag"))
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.profile("broad.yaml", BROAD_PROFILE)
    broad = _preview_sent(bot, "broad")
    assert broad[JUNE] and broad[DAY]  # it would match papers of both days
    assert _preview_sent(bot, "spec")[DAY] == [SPEC_ID]

    first = bot.run("once", "--date", DAY)  # nothing new to fetch
    assert first.returncode == 0, first.stderr
    assert "new=0 matches=" in first.stderr

    # spec: its paper of the latest day, with the note as its first reason.
    [post] = bot.slack.messages_in("#papers-spec")
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
    assert post.blocks[0]["text"]["text"] == f"Speculative decoding — {DAY}"
    assert f"why: {NOTE}; " in json.dumps(post.blocks, ensure_ascii=False)
    # broad: what preview listed for the latest day, never a paper of June; those the channel
    # already had from the Retrieval profile are not posted there again.
    posted = _new_posts(bot, "#papers-rag", rag_posts)
    assert set(posted) == set(broad[DAY]) - rag_sent
    assert set(broad[DAY]) & rag_sent  # the shared channel case did occur
    assert not set(posted) & _ids_in("hf_daily_papers_2026-06-12_30items.json")
    status = bot.run("status").stdout
    shared = len(set(broad[DAY]) & rag_sent)
    assert f"({shared} listed under another profile whose digest went there)" in status

    # Never twice.
    posts = len(bot.slack.posts)
    again = bot.run("once", "--date", DAY)
    assert again.returncode == 0, again.stderr
    assert len(bot.slack.posts) == posts


def test_a_profile_already_served_gets_no_first_digest_and_a_renamed_one_does(
    two_days: Bot,
) -> None:
    bot = two_days
    # rag was served by both runs; with a lower threshold it would now match more papers of
    # the latest day, but it is not new: nothing is sent.
    rag = bot.root / "config" / "profiles" / "rag.yaml"
    rag.write_text(RAG_PROFILE.replace("min_score: 0.2", "min_score: 0.01"), encoding="utf-8")
    posts = len(bot.slack.posts)
    assert bot.run("once", "--date", DAY).returncode == 0
    assert len(bot.slack.posts) == posts
    assert _rows(bot, "retrieval") == {}

    # Renamed, it is a new profile: a first digest, in which the papers its channel already
    # has (from `rag`, the same file under its old name) are not posted again.
    rag.rename(rag.with_name("retrieval.yaml"))
    would = set(_preview_sent(bot, "retrieval")[DAY])
    had = set(_rows(bot, "rag"))
    rag_posts = len(bot.slack.messages_in("#papers-rag"))
    renamed = bot.run("once", "--date", DAY)
    assert renamed.returncode == 0, renamed.stderr
    assert _rows(bot, "retrieval") == {p: "merged" if p in had else "sent" for p in would}
    assert set(_new_posts(bot, "#papers-rag", rag_posts)) == would - had


def _rows(bot: Bot, profile_id: str) -> dict[str, str]:
    """Paper -> status of the profile's outbox rows."""
    db = sqlite3.connect(bot.state)
    try:
        rows = db.execute(
            "SELECT paper_id, status FROM deliveries WHERE profile_id = ?", (profile_id,)
        )
        return dict(rows)
    finally:
        db.close()


def test_a_fresh_install_is_served_by_the_normal_path(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
    bot.profile("spec.yaml", SPEC_PROFILE)
    done = bot.run("once", "--date", DAY)
    assert done.returncode == 0, done.stderr
    [post] = bot.slack.messages_in("#papers-spec")
    assert "first digest" not in json.dumps(post.blocks)
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]


def test_settle_puts_the_note_first_and_merges_into_what_the_place_has() -> None:
    from datetime import date

    from bot.first_digest import settle
    from bot.models import Match, Paper
    from bot.state.outbox import Queued

    today = date(2026, 7, 31)
    a, b = Paper("2607.00001", "A", "a"), Paper("2607.00002", "B", "b")
    queued = [
        Queued(Match(a, "new", 0.99, ("terms x",)), "slack:#papers", "New", today, 30),
        Queued(Match(b, "new", 0.98, ("terms y",)), "slack:C0PAPERS", "New", today, 30),
        Queued(Match(a, "new", 0.99, ("terms x",)), "console", "New", date(2026, 7, 30), 9),
    ]
    # `old` delivered paper a to #papers (the same place as C0PAPERS), and b to #other.
    stored = [("2607.00001", "old", "slack:#papers"), ("2607.00002", "old", "slack:#other")]
    places = {"slack:#papers": "slack:C0PAPERS", "slack:C0PAPERS": "slack:C0PAPERS"}

    settled = settle(queued, stored, lambda d: places.get(d, d), today)
    assert [(q.match.why, q.merged_into) for q in settled] == [
        ((NOTE, "terms x"), ("old", "slack:#papers")),
        ((NOTE, "terms y"), None),
        (("first digest: from the papers of 2026-07-30 already seen", "terms x"), None),
    ]
