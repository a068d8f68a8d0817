"""Fetch deadlines, end to end through the CLI: a source that drips its answer (one byte every
0.2 s, never silent long enough for a timeout) fails with one clear line, and the sources after
it are still fetched and delivered; when the run's deadline passes, what was fetched is kept and
delivered, the sources not fetched fail and are fetched by the next run.

The recorded Hugging Face day 2026-07-31 is served over loopback; the slow source is a second
`hf_daily` source whose base_url is a path of the same server that drips that same recording.
Durations are never asserted: the outcome is (a run without deadlines would still be dripping
when the subprocess timeout of 60 s ends the test).
"""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import FIXTURES
from tests.e2e import SPEC_ID, SPEC_PROFILE, Bot, posted_ids
from tests.fixture_server import Reply

DAY = "2026-07-31"
HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
API = "/api/daily_papers"


def configure(bot: Bot, sources: list[tuple[str, str]], deadlines: str) -> None:
    """bot.yaml with `hf_daily` sources (name, base_url path) in this order."""
    listed = "".join(
        f"  - {{kind: hf_daily, name: {name}, base_url: {bot.hf.base_url}{path}, "
        "lookback_days: 0, fallback_to_page: false}\n"
        for name, path in sources
    )
    bot.config.write_text(
        textwrap.dedent("""\
        timezone: Europe/Berlin
        state: ../data/state.sqlite3
        profiles: profiles/
        sources:
        """)
        + listed
        + textwrap.dedent(f"""\
        slack:
          token_env: SLACK_BOT_TOKEN
          base_url: {bot.slack.base_url}
          max_retries: 1
        http:
          timeout: 5
          retries: 2
          backoff: 0.05
          allow_private: true
        """)
        + textwrap.indent(textwrap.dedent(deadlines), "  "),
        encoding="utf-8",
    )


def source_lines(stderr: str, name: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"error: source {name} ")]


@pytest.mark.parametrize(
    ("deadlines", "message", "hint"),
    [
        (
            "request_deadline: 1\nday_deadline: 60\n",
            "gave up: the answer took longer than http.request_deadline (1 s)",
            "the source answers too slowly; the day is fetched again on the next run "
            "(raise http.request_deadline in bot.yaml if it is legitimately slow)",
        ),
        (
            "request_deadline: 60\nday_deadline: 1.5\n",
            "gave up: this day's fetch took longer than http.day_deadline (1.5 s)",
            "the day is fetched again on the next run "
            "(raise http.day_deadline in bot.yaml if this source is legitimately slow)",
        ),
    ],
)
def test_a_dripping_source_fails_and_the_next_one_is_delivered(
    bot: Bot, deadlines: str, message: str, hint: str
) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.hf.script("/slow" + API, [Reply(200, HF_0731, drip_s=0.2)])
    bot.hf.serve_hf_day(DAY, HF_0731)
    configure(bot, [("slow", "/slow"), ("hf", "")], deadlines)

    result = bot.run("once", "--date", DAY, timeout=60)

    assert result.returncode == 1, result.stderr
    assert source_lines(result.stderr, "slow") == [
        f"error: source slow failed for {DAY}: {message} at {bot.hf.base_url}/slow{API} "
        f"(hint: {hint})"
    ]
    assert len(bot.hf.requests_to("/slow" + API)) == 1  # not asked again within the run
    assert source_lines(result.stderr, "hf") == []
    assert [r.query["date"] for r in bot.hf.requests_to(API)] == [DAY]
    assert SPEC_ID in posted_ids(bot.slack, "#papers-spec")


def test_the_run_deadline_keeps_what_was_fetched_and_leaves_the_rest_for_the_next_run(
    bot: Bot,
) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.hf.script("/slow" + API, [Reply(200, HF_0731, drip_s=0.2)])
    bot.hf.serve_hf_day(DAY, HF_0731, path="/last" + API)
    configure(
        bot,
        [("first", ""), ("slow", "/slow"), ("last", "/last")],
        "request_deadline: 60\nday_deadline: 60\nrun_deadline: 5\n",
    )

    first = bot.run("once", "--date", DAY, timeout=60)

    message = "gave up: the run's fetching took longer than http.run_deadline (5 s)"
    hint = (
        "the sources not fetched are fetched on the next run "
        "(raise http.run_deadline in bot.yaml if runs are legitimately this long)"
    )
    assert first.returncode == 1, first.stderr
    assert source_lines(first.stderr, "slow") == [
        f"error: source slow failed for {DAY}: {message} at {bot.hf.base_url}/slow{API} "
        f"(hint: {hint})"
    ]
    assert source_lines(first.stderr, "last") == [
        f"error: source last failed for {DAY}: {message} at {bot.hf.base_url}/last{API} "
        f"(hint: {hint})"
    ]
    assert bot.hf.requests_to("/last" + API) == []  # never asked: the deadline had passed
    assert SPEC_ID in posted_ids(bot.slack, "#papers-spec")  # the first source's, delivered
    assert source_lines(first.stderr, "first") == []

    # The slow source is quick again: the next run fetches the days both still owe.
    bot.hf.serve_hf_day(DAY, HF_0731, path="/slow" + API)
    second = bot.run("once", "--date", DAY, timeout=60)

    assert second.returncode == 0, second.stderr
    assert [r.query["date"] for r in bot.hf.requests_to("/last" + API)] == [DAY]
    [summary] = [line for line in second.stderr.splitlines() if line.startswith("run: ")]
    assert "first: ok" in summary and "slow: ok" in summary and "last: ok" in summary
    ids = posted_ids(bot.slack, "#papers-spec")
    assert len(ids) == len(set(ids))  # nothing delivered twice
