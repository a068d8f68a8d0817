"""Source health, incidents, catch-up and `status`, end to end through the CLI, on the recorded
Hugging Face days served over loopback.

What these prove: a failing, stale or unexpectedly empty source exits 1, opens one incident and
tells the operator once (and once more when it recovers); `status` shows it; missed days are
fetched after downtime and each paper is delivered once, in the digest of its own day; a fresh
install sends one day's digest, not its whole look-back.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.sources.base import cron_trigger, latest_fire
from tests.conftest import FIXTURES
from tests.e2e import Bot, make_bot, posted_ids

HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
HF_0803 = FIXTURES / "hf_daily_papers_2026-08-03_3items_reindented.json"
HF_0612 = FIXTURES / "hf_daily_papers_2026-06-12_30items.json"
OPERATOR = 'operator:\n  slack: "#ops"\n'

ALL_PROFILE = """\
name: Anything about language models
description: language models training data benchmark evaluation agents reasoning
min_score: 0.01
max_per_digest: 50
notify:
  slack: "#papers-spec"
"""


def headers(bot: Bot, channel: str) -> list[str]:
    return [
        p.blocks[0]["text"]["text"]
        for p in bot.slack.messages_in(channel)
        if p.thread_ts is None and p.blocks and p.blocks[0].get("type") == "header"
    ]


def test_incident_is_told_once_then_recovery_once_and_status_shows_it(tmp_path: Path) -> None:
    with make_bot(tmp_path, OPERATOR) as bot:
        bot.profile("all.yaml", ALL_PROFILE)
        bot.hf.add("/api/daily_papers", "upstream down", status=503)
        bot.hf.add("/papers", "upstream down", status=503)

        for _ in range(2):  # the same trouble on two runs: one alert
            assert bot.run("once", "--date", "2026-07-31").returncode == 1
        [alert] = bot.slack.messages_in("#ops")
        assert "source hf_daily is in trouble (failed) for 2026-07-31" in alert.text
        assert "503" in alert.text

        status = bot.run("status")
        assert status.returncode == 0, status.stderr
        [line] = [ln for ln in status.stdout.splitlines() if ln.startswith("source hf_daily:")]
        assert "last good day never" in line
        assert "last incident: failed for 2026-07-31 (OPEN since" in line
        assert "API: HTTP 503; page: HTTP 503" in line

        bot.hf.serve_hf_day("2026-07-31", HF_0731)
        recovered = bot.run("once", "--date", "2026-07-31")
        assert recovered.returncode == 0, recovered.stderr
        texts = [p.text for p in bot.slack.messages_in("#ops")]
        assert len(texts) == 2 and "source hf_daily recovered (failed since" in texts[1]
        assert headers(bot, "#papers-spec") == ["Anything about language models — 2026-07-31"]

        status = bot.run("status").stdout
        assert "source hf_daily: last good day 2026-07-31; 30 papers stored" in status
        assert "(closed " in status
        assert "destination slack:#papers-spec: " in status and " 0 pending" in status


def test_unexpected_empty_weekday_and_expected_empty_weekend(bot: Bot) -> None:
    bot.profile("all.yaml", ALL_PROFILE)
    bot.hf.add("/api/daily_papers", "[]")  # HF answers, with nothing, every day

    weekend = bot.run("once", "--date", "2026-08-01")  # a Saturday
    assert weekend.returncode == 0, weekend.stderr
    assert "hf_daily: expected_empty" in weekend.stderr

    weekday = bot.run("once", "--date", "2026-08-04")  # a Tuesday
    assert weekday.returncode == 1
    assert "no papers on a day that should have some" in weekday.stderr
    assert "last incident: unexpected empty for 2026-08-03" in bot.run("status").stdout


def test_the_same_batch_for_a_new_day_is_stale(bot: Bot) -> None:
    bot.profile("all.yaml", ALL_PROFILE)
    bot.hf.add("/api/daily_papers", HF_0731.read_bytes())  # whatever day is asked
    assert bot.run("once", "--date", "2026-07-31").returncode == 0

    stale = bot.run("once", "--date", "2026-08-03")
    assert stale.returncode == 1
    assert "the same papers as the previous day (stale)" in stale.stderr
    # The first day owed after 07-31 (Saturday 08-01) already got the same batch again.
    assert "last incident: stale for 2026-08-01" in bot.run("status").stdout


def test_catch_up_after_downtime_delivers_each_day_once_under_its_own_day(bot: Bot) -> None:
    bot.profile("all.yaml", ALL_PROFILE)
    bot.hf.serve_hf_day("2026-06-12", HF_0612)
    bot.hf.serve_hf_day("2026-07-31", HF_0731)
    bot.hf.serve_hf_day("2026-08-03", HF_0803)
    bot.config.write_text(
        bot.config.read_text().replace("lookback_days: 0", "lookback_days: 0\n    catchup_days: 60")
    )

    assert bot.run("once", "--date", "2026-06-12").returncode == 0  # a first run, then down
    # ... until 2026-08-03: every day since is owed; the weekdays without a recording are
    # answered [] by the server and reported as unexpected empties, the weekends are fine.
    back = bot.run("once", "--date", "2026-08-03")
    asked = {r.query["date"] for r in bot.hf.requests_to("/api/daily_papers")}
    assert {"2026-06-13", "2026-07-04", "2026-07-31", "2026-08-01", "2026-08-03"} <= asked
    assert back.returncode == 1  # the unrecorded weekdays are unexpected empties
    assert headers(bot, "#papers-spec") == [
        "Anything about language models — 2026-06-12",
        "Anything about language models — 2026-07-31",
        "Anything about language models — 2026-08-03",
    ]
    ids = posted_ids(bot.slack, "#papers-spec")
    assert len(ids) == len(set(ids))  # nothing twice

    posts = len(bot.slack.posts)
    again = bot.run("once", "--date", "2026-08-03")
    assert len(bot.slack.posts) == posts
    assert again.returncode == 1  # the unrecorded weekdays are still owed, and still empty


def test_fresh_install_sends_one_days_digest_and_keeps_the_rest_as_corpus(bot: Bot) -> None:
    bot.profile("all.yaml", ALL_PROFILE)
    bot.hf.serve_hf_day("2026-07-31", HF_0731)
    bot.hf.serve_hf_day("2026-08-03", HF_0803)
    text = bot.config.read_text().replace("lookback_days: 0", "lookback_days: 3")
    bot.config.write_text(text)

    first = bot.run("once", "--date", "2026-08-03")
    assert first.returncode == 0, first.stderr
    assert headers(bot, "#papers-spec") == ["Anything about language models — 2026-08-03"]
    assert set(posted_ids(bot.slack, "#papers-spec")) <= {"2607.26654", "2607.28229", "2607.27851"}
    assert "state:" in (status := bot.run("status").stdout) and "(33 papers)" in status

    # The older day's papers stay corpus: a profile added later gets its first digest from the
    # latest day only (bot/first_digest.py), never the older day's papers.
    bot.profile("late.yaml", textwrap.dedent(ALL_PROFILE).replace("#papers-spec", "#papers-rag"))
    bot.run("once", "--date", "2026-08-03")
    assert headers(bot, "#papers-rag") == ["Anything about language models — 2026-08-03"]
    assert set(posted_ids(bot.slack, "#papers-rag")) <= {"2607.26654", "2607.28229", "2607.27851"}


def test_days_beyond_catchup_days_are_named_once_shown_in_status_and_can_be_fetched(
    bot: Bot,
) -> None:
    bot.profile("all.yaml", ALL_PROFILE)
    bot.hf.serve_hf_day("2026-06-12", HF_0612)
    bot.hf.serve_hf_day("2026-07-31", HF_0731)
    bot.hf.serve_hf_day("2026-08-03", HF_0803)
    assert bot.run("once", "--date", "2026-06-12").returncode == 0  # a good run, then 66 days down

    # Back on Monday 2026-08-17: catchup_days (14, the default) reaches back to 2026-08-03.
    back = bot.run("once", "--date", "2026-08-17")
    asked = {r.query["date"] for r in bot.hf.requests_to("/api/daily_papers")}
    assert min(asked - {"2026-06-12"}) == "2026-08-03"
    skipped = (
        "warning: source hf_daily: 51 day(s) not fetched (2026-06-13..2026-08-02): more than"
        " catchup_days (14) before 2026-08-17; to fetch them, run `digestbot once --date"
        " 2026-08-02` (that day and the 14 before it), or raise catchup_days (at most 60)"
    )
    assert [ln for ln in back.stderr.splitlines() if "not fetched" in ln] == [skipped]
    status = bot.run("status").stdout
    assert "51 day(s) skipped by catch-up (2026-06-13..2026-08-02)" in status

    # Said once: the next run does not skip them again.
    again = bot.run("once", "--date", "2026-08-17")
    assert "not fetched" not in again.stderr

    # The hint works: 2026-08-02 and the 14 days before it are fetched; 2026-07-31 is delivered.
    fill = bot.run("once", "--date", "2026-08-02")
    assert "not fetched" not in fill.stderr
    assert [r.query["date"] for r in bot.hf.requests_to("/api/daily_papers")].count(
        "2026-07-19"
    ) == 1
    assert "Anything about language models — 2026-07-31" in headers(bot, "#papers-spec")
    status = bot.run("status").stdout
    assert "36 day(s) skipped by catch-up (2026-06-13..2026-07-18)" in status


@pytest.mark.parametrize(
    ("schedule", "horizon"),
    [
        ("*/2 * * * * *", timedelta(hours=2)),  # every 2 s: 3,600 firings to step through
        ("0 9 * * mon-fri", timedelta(days=8)),
        ("30 8 * * 1", timedelta(days=8)),
        ("0 0 1 1 *", timedelta(days=8)),  # yearly: none within the horizon
    ],
)
def test_the_latest_firing_is_what_stepping_through_every_firing_finds(
    schedule: str, horizon: timedelta
) -> None:
    """`latest_fire` (the heartbeat's last due run, the fetch claims' firing) looks back in
    doubling windows instead of stepping through days of firings; it finds what a full step
    through the horizon finds, at times on and between firings, across a DST change."""
    trigger = cron_trigger(schedule, ZoneInfo("Europe/Berlin"))
    berlin = ZoneInfo("Europe/Berlin")
    for before in (
        datetime(2026, 10, 26, 9, 0, 0, tzinfo=berlin),  # a firing itself, the day after DST
        datetime(2026, 10, 26, 9, 0, 1, tzinfo=berlin),
        datetime(2026, 10, 24, 12, 13, 14, tzinfo=berlin),  # a Saturday
        datetime(2026, 11, 3, 8, 29, 59, tzinfo=berlin),
    ):
        stepped = None
        fire = trigger.get_next_fire_time(None, before - horizon)
        while fire is not None and fire <= before:
            stepped = fire
            fire = trigger.get_next_fire_time(fire, fire)
        assert latest_fire(trigger, before, horizon) == stepped, (schedule, before)
