"""A bad paper, or a broken source, never stops a run: end to end through the CLI.

Every payload here is derived in the test from a real recording (tests/fixtures/SOURCES.md),
changing only what each test names:
- the HF day: the real 2026-07-31 answer, every item re-labelled to the day of the recorded
  arXiv RSS feed (`submittedOnDailyAt` 2026-09-24), so both sources list the same digest day;
  then one item poisoned (a date out of range, a lone surrogate, spoofing characters in its
  title and authors, a huge title, a 5000-digit upvote count, a 1999 listing date);
- the arXiv feed: the real 2026-09-24 RSS feed, unchanged.
"""

from __future__ import annotations

import io
import json
import sqlite3
import textwrap
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app
from bot.config import load_settings
from bot.pipeline import run_once
from bot.sources.hf_daily import HfDaily
from tests.conftest import FIXTURES
from tests.e2e import Bot, posted_ids
from tests.smtp_server import SmtpServer

HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
RSS_0924 = FIXTURES / "arxiv_rss_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_4items_TRANSCRIBED.xml"
FEED_PATH = "/rss/cs.LG+cs.AI+cs.CL+stat.ML"
DAY = "2026-09-24"  # a Thursday: the day of the recorded feed
RSS_IDS = {"2609.26811", "2609.26820", "2205.06398"}  # the feed's new and cross items
POISONED = 3  # the index of the poisoned HF item: 2607.28319 "Fairness Pruning: ..." by Pere Martra
POISONED_ID = "2607.28319"
SPEC_ID = "2607.26627"  # another HF item, by Tianyu Wang
DRIFT_ID = "2609.26811"  # an RSS item, by Fabien Polly
# Followed authors always match: the digest shows whether each source's papers made it.
FOLLOW = """\
name: Followed
description: Papers by the people we follow.
authors: [Pere Martra, Tianyu Wang, Fabien Polly]
notify:
  slack: "#papers-spec"
"""
# Bidi controls (an RLO that reverses what follows, isolates, marks) and zero-width characters.
SPOOF = "\u202e\u2066\u200f\u061c\u200b\u200c\u200d\u2060\ufeff"


def hf_day(poison: Callable[[dict[str, Any]], None] | None = None) -> bytes:
    """The real 2026-07-31 HF answer re-labelled to DAY, item POISONED changed by `poison`."""
    items = json.loads(HF_0731.read_bytes())
    for item in items:
        item["paper"]["submittedOnDailyAt"] = f"{DAY}T00:00:00.000Z"
    if poison is not None:
        poison(items[POISONED])
    # ensure_ascii: a lone surrogate is written as the escape `\ud800`, as a JSON API sends it.
    return json.dumps(items).encode("ascii")


def configure(bot: Bot, extra: str = "", *, rss: bool = True) -> None:
    """Both sources (or HF alone) on the loopback server; Slack on its stand-in."""
    hf = f"""\
  - kind: hf_daily
    base_url: {bot.hf.base_url}
    lookback_days: 0
"""
    arxiv = f"""\
  - kind: arxiv_rss
    categories: [cs.LG, cs.AI, cs.CL, stat.ML]
    base_url: {bot.hf.base_url}
    api_base_url: {bot.hf.base_url}
    min_interval: 0
    lookback_days: 0
"""
    rest = f"""\
slack:
  token_env: SLACK_BOT_TOKEN
  base_url: {bot.slack.base_url}
  max_retries: 1
http: {{timeout: 5, retries: 1, backoff: 0.05, allow_private: true}}
"""
    head = "timezone: America/New_York\nstate: ../data/state.sqlite3\nprofiles: profiles/\n"
    text = head + "sources:\n" + hf + (arxiv if rss else "") + rest + textwrap.dedent(extra)
    bot.config.write_text(text, encoding="utf-8")


def serve(bot: Bot, hf_body: bytes) -> None:
    bot.hf.add(FEED_PATH, RSS_0924)
    bot.hf.serve_hf_day(DAY, hf_body)


def query(bot: Bot, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(bot.state)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def headers(bot: Bot) -> list[str]:
    """The first line of each digest posted to #papers-spec (thread replies left out)."""
    posts = bot.slack.messages_in("#papers-spec")
    return [p.blocks[0]["text"]["text"] for p in posts if p.thread_ts is None]


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def set_date(value: str) -> Callable[[dict[str, Any]], None]:
    def poison(item: dict[str, Any]) -> None:
        item["paper"]["submittedOnDailyAt"] = value

    return poison


def set_title(value: str) -> Callable[[dict[str, Any]], None]:
    def poison(item: dict[str, Any]) -> None:
        item["title"] = item["paper"]["title"] = value

    return poison


TITLE = json.loads(HF_0731.read_bytes())[POISONED]["title"]  # the poisoned item's real title
POISONS = {
    # 9999-12-31 is a valid date, but the day after it is not.
    "date-9999": (
        set_date("9999-12-31T00:00:00.000Z"),
        TITLE,
        f"warning: hf_daily {DAY}: paper {POISONED_ID}: day: listed on 9999-12-31, outside "
        f"the days this fetch covers ({DAY} to {DAY}); digested under {DAY}",
    ),
    # A lone surrogate cannot be written to SQLite (nor encoded as UTF-8 at all).
    "lone-surrogate": (
        set_title("Fairness Pruning \ud800: Locating Demographic Bias"),
        "Fairness Pruning \ufffd: Locating Demographic Bias",
        f"warning: hf_daily {DAY}: paper {POISONED_ID}: title: 1 invalid character "
        "(a lone surrogate) replaced by U+FFFD",
    ),
}


@pytest.mark.parametrize("case", POISONS.values(), ids=POISONS.keys())
def test_a_poison_item_is_mended_and_the_run_records_and_delivers_the_rest(
    bot: Bot, case: tuple[Callable[[dict[str, Any]], None], str, str]
) -> None:
    poison, title, warning = case
    configure(bot)
    bot.profile("follow.yaml", FOLLOW)
    serve(bot, hf_day(poison))

    result = bot.run("once", "--date", DAY)

    assert result.returncode == 0, result.stderr
    assert warnings(result.stderr) == [warning]
    counts = dict(query(bot, "SELECT source, count(*) FROM papers GROUP BY source"))
    assert counts == {"hf_daily": 30, "arxiv_rss": len(RSS_IDS)}
    assert sorted(query(bot, "SELECT source, day, health, error FROM fetches")) == [
        ("arxiv_rss", DAY, "ok", None),
        ("hf_daily", DAY, "ok", None),
    ]
    assert query(bot, f"SELECT title, day FROM papers WHERE id = '{POISONED_ID}'") == [(title, DAY)]
    assert sorted(posted_ids(bot.slack, "#papers-spec")) == sorted([POISONED_ID, SPEC_ID, DRIFT_ID])
    assert headers(bot) == [f"Followed — {DAY}"]


def test_a_paper_listed_in_1999_is_digested_under_the_day_fetched(bot: Bot) -> None:
    configure(bot, rss=False)
    bot.profile("follow.yaml", FOLLOW)
    serve(bot, hf_day())
    assert bot.run("once", "--date", DAY).returncode == 0  # not a fresh install any more
    # The next day: the same HF answer, one item re-listed as of 4 January 1999.
    next_day = "2026-09-25"
    items = json.loads(hf_day())
    for item in items:
        item["paper"]["submittedOnDailyAt"] = f"{next_day}T00:00:00.000Z"
        item["paper"]["id"] = item["paper"]["id"].replace("2607.", "2608.")
    items[POISONED]["paper"]["submittedOnDailyAt"] = "1999-01-04T00:00:00.000Z"
    bot.hf.serve_hf_day(next_day, json.dumps(items).encode())

    result = bot.run("once", "--date", next_day)

    assert result.returncode == 0, result.stderr
    late_id = POISONED_ID.replace("2607.", "2608.")
    assert query(bot, f"SELECT day FROM papers WHERE id = '{late_id}'") == [(next_day,)]
    assert query(bot, "SELECT DISTINCT digest_day FROM deliveries ORDER BY 1") == [
        (DAY,),
        (next_day,),
    ]
    assert headers(bot) == [f"Followed — {DAY}", f"Followed — {next_day}"]
    assert (
        f"warning: hf_daily {next_day}: paper {late_id}: day: listed on 1999-01-04, outside the "
        f"days this fetch covers ({next_day} to {next_day}); digested under {next_day}"
    ) in warnings(result.stderr)


def test_spoofing_characters_never_reach_slack_or_email(tmp_path: Path) -> None:
    from tests.e2e import make_bot

    def poison(item: dict[str, Any]) -> None:
        item["title"] = item["paper"]["title"] = f"{SPOOF[:2]}Fairness{SPOOF[2:]} Pruning"
        item["paper"]["authors"][0]["name"] = "Pere\u202e Martra\u200b"

    with SmtpServer() as smtp:
        email = (
            f"email:\n  host: 127.0.0.1\n  port: {smtp.port}\n  security: none\n"
            "  from: bot@digest.example.org\n"
        )
        with make_bot(tmp_path) as bot:
            configure(bot, email)
            bot.profile("follow.yaml", FOLLOW + "  email: [alice@example.org]\n")
            serve(bot, hf_day(poison))
            result = bot.run("once", "--date", DAY)
            assert result.returncode == 0, result.stderr
            posts = [p.blocks for p in bot.slack.messages_in("#papers-spec")]
            posted = json.dumps(posts, ensure_ascii=False)
            stored = query(bot, f"SELECT title, authors FROM papers WHERE id = '{POISONED_ID}'")
        [message] = smtp.messages
    mail = message.get_body(("plain",)).get_content() + message.get_body(("html",)).get_content()
    authors = ["Pere Martra", "Eugenio Martínez Cámara", "Alfonso Ureña López"]
    assert stored == [("Fairness Pruning", json.dumps(authors))]
    for text in (posted, mail):
        assert "Fairness Pruning" in text and "Pere Martra" in text
        assert not set(SPOOF) & set(text)
    assert f"warning: hf_daily {DAY}: paper {POISONED_ID}: title: 9 invisible or control " in (
        result.stderr
    )


def test_a_huge_title_is_cut_at_parse_with_a_warning(bot: Bot) -> None:
    huge = " ".join([TITLE] * 20_000)  # 1.7 million characters
    configure(bot)
    bot.profile("follow.yaml", FOLLOW)
    serve(bot, hf_day(set_title(huge)))

    result = bot.run("once", "--date", DAY)

    assert result.returncode == 0, result.stderr
    [(title,)] = query(bot, f"SELECT title FROM papers WHERE id = '{POISONED_ID}'")
    assert title == huge[:999].rstrip() + "…"  # 1000 characters at most, ending in "…"
    assert warnings(result.stderr) == [
        f"warning: hf_daily {DAY}: paper {POISONED_ID}: title: {len(huge)} characters, cut to 1000"
    ]
    assert POISONED_ID in posted_ids(bot.slack, "#papers-spec")


def test_a_5000_digit_upvote_count_skips_the_field_not_the_day(bot: Bot) -> None:
    def poison(item: dict[str, Any]) -> None:
        item["paper"]["upvotes"] = "UPVOTES"

    configure(bot)
    bot.profile("follow.yaml", FOLLOW)
    # Written into the JSON text: Python itself refuses to make a 5000-digit int a string.
    serve(bot, hf_day(poison).replace(b'"UPVOTES"', b"9" * 5000))

    result = bot.run("once", "--date", DAY)

    assert result.returncode == 0, result.stderr
    assert query(bot, "SELECT source, health FROM fetches ORDER BY source") == [
        ("arxiv_rss", "ok"),
        ("hf_daily", "ok"),
    ]
    [(extras,)] = query(bot, f"SELECT extras FROM papers WHERE id = '{POISONED_ID}'")
    assert "upvotes" not in json.loads(extras)
    assert warnings(result.stderr) == [
        f"warning: hf_daily {DAY}: paper {POISONED_ID}: upvotes: a number of 5000 digits, skipped"
    ]


# -- one broken source never takes the others down (in process: a source that breaks) -----


class BrokenHf(HfDaily):
    """The real HF source with a bug after its fetch: what an unforeseen failure looks like."""

    def fetch(self, day: date) -> list[Any]:
        papers = super().fetch(day)
        raise RuntimeError(f"a bug met {len(papers)} papers")


@pytest.fixture
def app_with_broken_hf(bot: Bot) -> Iterator[tuple[Bot, Any, io.StringIO]]:
    configure(bot)
    bot.profile("follow.yaml", FOLLOW)
    serve(bot, hf_day())
    console = io.StringIO()
    app = build_app(load_settings(bot.config), env=bot.env, console_stream=console)
    app.sources[0] = BrokenHf(app.sources[0].settings, app.http)
    try:
        yield bot, app, console
    finally:
        app.close()


def test_an_unexpected_error_in_one_source_fails_that_source_only(
    app_with_broken_hf: tuple[Bot, Any, io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    bot, app, _ = app_with_broken_hf

    report = run_once(app, day=date.fromisoformat(DAY))

    hf, rss = report.sources
    assert (hf.name, hf.health, hf.fetched) == ("hf_daily", {DAY: "failed"}, 0)
    assert hf.error == "internal error: RuntimeError: a bug met 30 papers"
    assert (rss.name, rss.health, rss.fetched) == ("arxiv_rss", {DAY: "ok"}, len(RSS_IDS))
    assert report.failed  # the CLI exits 1: a source failed
    assert sorted(query(bot, "SELECT source, health, error FROM fetches")) == [
        ("arxiv_rss", "ok", None),
        ("hf_daily", "failed", "internal error: RuntimeError: a bug met 30 papers"),
    ]
    assert dict(query(bot, "SELECT source, count(*) FROM papers GROUP BY source")) == {
        "arxiv_rss": len(RSS_IDS)
    }
    assert posted_ids(bot.slack, "#papers-spec") == [DRIFT_ID]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors[0] == (
        f"source hf_daily failed for {DAY}: internal error: RuntimeError: a bug met 30 papers "
        "(hint: a bug in digestbot, or an answer it did not foresee: please report it "
        "(-v shows the traceback); the day is fetched again on the next run)"
    )


def test_an_unreadable_day_does_not_hold_back_the_sources_other_days(bot: Bot) -> None:
    """A day whose answer cannot be read fails alone: the source's next day is still fetched
    and delivered, and the unreadable day is fetched again by the next run."""
    configure(bot, rss=False)
    bot.config.write_text(
        bot.config.read_text().replace(
            "lookback_days: 0", "lookback_days: 1\n    fallback_to_page: false"
        ),
        encoding="utf-8",
    )
    bot.profile("follow.yaml", FOLLOW)
    day_before = "2026-09-23"
    # The real answer cut in the middle of an item: the day before is unreadable JSON.
    whole = hf_day()
    bot.hf.serve_hf_day(DAY, whole)
    bot.hf.add("/api/daily_papers", whole[: len(whole) // 2], query={"date": day_before, "p": 0})

    result = bot.run("once", "--date", DAY)

    assert result.returncode == 1, result.stderr  # a source failed
    assert sorted(query(bot, "SELECT day, health FROM fetches")) == [
        (day_before, "failed"),
        (DAY, "ok"),
    ]
    assert query(bot, "SELECT count(*) FROM papers") == [(30,)]
    assert sorted(posted_ids(bot.slack, "#papers-spec")) == sorted([POISONED_ID, SPEC_ID])
    # The next run asks for the unreadable day again (readable now, if empty: noted as such).
    bot.hf.add("/api/daily_papers", b"[]", query={"date": day_before, "p": 0})
    again = bot.run("once", "--date", DAY)
    assert "unexpected empty for 2026-09-23" in again.stderr
    second_run = query(bot, "SELECT day, health FROM fetches ORDER BY rowid")[2:]
    assert second_run == [(day_before, "unexpected_empty"), (DAY, "ok")]
