"""The Slack notifier, end to end through slack-sdk's real WebClient and a loopback stand-in.

Papers are the 30 real items of the recorded Hugging Face Daily Papers payload of 2026-07-31;
the 200-paper digest reuses them under synthetic ids 2607.00000 .. 2607.00199. Golden files
are regenerated with DIGESTBOT_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import re
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.errors import DeliveryError, DigestbotError
from bot.models import Delivery, Match, Paper
from bot.notifiers.slack import SlackNotifier
from bot.notifiers.slack_blocks import (
    MAX_BLOCKS,
    MAX_BLOCKS_JSON,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    SlackMessage,
    build_messages,
)
from bot.notifiers.slack_client import (
    CappedRateLimitRetryHandler,
    GatewayErrorRetryHandler,
    SlackSettings,
)
from bot.notifiers.slack_errors import PERMANENT_ERRORS, TRANSIENT_ERRORS
from bot.notifiers.slack_people import RESOLVE_TTL, People
from tests.e2e import SPEC_ID, SPEC_PROFILE, Bot, posted_ids
from tests.slack_standin import SlackStandIn

HERE = Path(__file__).resolve().parent
FIXTURE_NAME = "hf_daily_papers_2026-07-31_30items.json"
# Prefer the copy in tests/fixtures; the shared one only while that copy does not exist yet.
FIXTURE = (
    HERE / "fixtures" / FIXTURE_NAME
    if (HERE / "fixtures" / FIXTURE_NAME).exists()
    else Path("/work/shared/fixtures/real") / FIXTURE_NAME
)
GOLDEN = HERE / "golden"
REGEN = os.environ.get("DIGESTBOT_REGEN_GOLDEN") == "1"

DAY = date(2026, 7, 31)
PROFILE = "Normalization in transformers"
# Distinctive, so that finding it anywhere in logs or errors is unambiguous.
TOKEN = "xoxb-4711-SECRET-d1g3stb0t-t0k3n"
ARXIV_LINK = re.compile(r"<https://arxiv\.org/abs/([0-9.]+)\|")


# --------------------------------------------------------------------------- data


@cache
def real_papers() -> tuple[Paper, ...]:
    items = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return tuple(
        Paper(
            id=item["paper"]["id"],
            title=item["paper"]["title"],
            abstract=item["paper"]["summary"],
            authors=tuple(a["name"] for a in item["paper"]["authors"]),
            source="hf_daily",
            day=DAY,
            extras={"upvotes": item["paper"]["upvotes"]},
        )
        for item in items
    )


def why_terms(paper: Paper) -> tuple[str, ...]:
    words = [w.strip(":,.()").lower() for w in paper.title.split()]
    return tuple(w for w in words if len(w) > 6)[:2]


def make_delivery(
    papers: list[Paper] | tuple[Paper, ...],
    candidates: int = 30,
    profile_name: str = PROFILE,
) -> Delivery:
    matches = tuple(
        Match(paper=p, profile_id="norm", score=round(0.9 - 0.01 * (i % 80), 2), why=why_terms(p))
        for i, p in enumerate(papers)
    )
    return Delivery(
        profile_id="norm",
        profile_name=profile_name,
        destination="slack:#papers-norm",
        digest_day=DAY,
        matches=matches,
        candidates=candidates,
    )


def many_papers(n: int) -> list[Paper]:
    """`n` papers: the 30 real ones over and over, each under a distinct synthetic id."""
    real = real_papers()
    return [dataclasses.replace(real[i % len(real)], id=f"2607.{i:05d}") for i in range(n)]


def tiny_papers(n: int) -> list[Paper]:
    return [Paper(id=f"2607.{i:05d}", title=f"T{i}", abstract="") for i in range(n)]


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=TOKEN) as server:
        yield server


def notifier_for(
    standin: SlackStandIn, token: str = TOKEN, max_retries: int = 1, timeout: float = 5
) -> SlackNotifier:
    settings = SlackSettings(base_url=standin.base_url, max_retries=max_retries, timeout=timeout)
    notifier, why = SlackNotifier.create(settings, {"SLACK_BOT_TOKEN": token})
    assert why == ""
    assert isinstance(notifier, SlackNotifier)
    return notifier


def send_error(notifier: SlackNotifier, delivery: Delivery, target: str) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        notifier.send(delivery, target)
    return info.value


def within(seconds: float, action: Callable[[], None]) -> float:
    """Run `action` in a thread and fail unless it ends within `seconds` (a test of a wait that
    must not happen then fails instead of hanging); returns how long it took. Whatever the
    action raised is raised here."""
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:
            outcome.append(exc)

    start = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds}s"
    if outcome:
        raise outcome[0]
    return time.monotonic() - start


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def linked_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [m for text in section_texts(blocks) for m in ARXIV_LINK.findall(text)]


def as_json(messages: list[SlackMessage]) -> list[dict[str, Any]]:
    return [{"text": m.text, "blocks": m.blocks, "paper_ids": list(m.paper_ids)} for m in messages]


def check_limits(message: SlackMessage) -> None:
    assert message.text.strip()
    assert len(message.blocks) <= MAX_BLOCKS
    assert len(json.dumps(message.blocks)) <= MAX_BLOCKS_JSON
    for block in message.blocks:
        if block["type"] == "section":
            assert 1 <= len(block["text"]["text"]) <= MAX_SECTION_TEXT
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER_TEXT


# --------------------------------------------------------------------------- the layout


def test_three_papers_arrive_as_one_message(standin: SlackStandIn) -> None:
    papers = real_papers()[:3]
    delivery = make_delivery(papers)
    notifier_for(standin).send(delivery, "#papers-norm")

    [post] = standin.posts
    assert (post.channel, post.thread_ts) == ("C0NORM", None)
    assert post.text == f"{PROFILE}: 3 new papers matched out of 30 (2026-07-31)"
    assert post.params["unfurl_links"] is False
    assert post.params["unfurl_media"] is False
    assert post.blocks[:2] == [
        {"type": "header", "text": {"type": "plain_text", "text": f"{PROFILE} — 2026-07-31"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "3 new papers matched out of 30"}},
    ]
    expected = []
    for i, p in enumerate(papers):
        authors = ", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else "")
        upvotes = p.extras["upvotes"]
        facts = f"score {0.9 - 0.01 * i:.2f} · ▲ {upvotes} upvote{'' if upvotes == 1 else 's'}"
        facts += " · why: " + "; ".join(why_terms(p))
        title = p.title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        expected.append(f"*<https://arxiv.org/abs/{p.id}|{title}>*\n{authors}\n{facts}")
    assert section_texts(post.blocks)[1:] == expected
    assert len(post.blocks) == 5
    # The first paper as a human would check it against the payload:
    assert expected[0] == (
        "*<https://arxiv.org/abs/2607.23193|OmniScope: Modality-Decoupled Token Compression for "
        "Omnimodal Large Language Models>*\nJinsen Su, Yongdong Luo, Yuexiao Ma et al.\n"
        "score 0.90 · ▲ 3 upvotes · why: omniscope; modality-decoupled"
    )


def test_three_paper_digest_matches_golden_file() -> None:
    built = as_json(build_messages(make_delivery(real_papers()[:3])))
    golden = GOLDEN / "slack_digest_3.json"
    if REGEN:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(built, indent=2, ensure_ascii=False) + "\n", "utf-8")
    assert json.loads(golden.read_text("utf-8")) == built


def test_build_messages_is_deterministic() -> None:
    delivery = make_delivery(many_papers(120))
    assert as_json(build_messages(delivery)) == as_json(build_messages(delivery))


def test_paper_without_url_is_bold_without_link() -> None:
    paper = Paper(id="hf_daily:some-slug", title="No arXiv id", abstract="", authors=("A. B.",))
    [message] = build_messages(make_delivery([paper]))
    assert section_texts(message.blocks)[1] == "*No arXiv id*\nA. B.\nscore 0.90"


HOSTILE_TITLES = [
    ("<!channel> alert", "&lt;!channel&gt; alert", "<!channel>"),
    ("hi <@U123>", "hi &lt;@U123&gt;", "<@U123>"),
    ("<https://evil.example|click me>", "&lt;https://evil.example|click me&gt;", "<https://evil"),
    ("a & b", "a &amp; b", "a & b"),
]


def test_hostile_text_is_escaped(standin: SlackStandIn) -> None:
    real = real_papers()
    papers = [
        dataclasses.replace(real[i], title=title) for i, (title, _, _) in enumerate(HOSTILE_TITLES)
    ]
    papers.append(
        dataclasses.replace(
            real[4],
            authors=("<!here>", "Ann <@U999>"),
            url="https://example.org/x?a=1&b=2|<!everyone> y>z",
        )
    )
    delivery = make_delivery(papers)
    delivery = dataclasses.replace(
        delivery,
        matches=(
            *delivery.matches[:4],
            dataclasses.replace(delivery.matches[4], why=("<!subteam^S1>", "x&y")),
        ),
    )
    notifier_for(standin).send(delivery, "#papers-norm")

    [post] = standin.posts
    sections = section_texts(post.blocks)[1:]
    for section, (_, escaped, raw) in zip(sections, HOSTILE_TITLES, strict=False):
        assert escaped in section
        assert raw not in section
    assert sections[4] == (
        "*<https://example.org/x?a=1&amp;b=2%7C%3C!everyone%3E%20y%3Ez|"
        + real[4].title.replace("&", "&amp;")
        + ">*\n&lt;!here&gt;, Ann &lt;@U999&gt;\n"
        + f"score 0.86 · ▲ {real[4].extras['upvotes']} upvotes · why: &lt;!subteam^S1&gt;; x&amp;y"
    )
    everything = json.dumps(post.blocks, ensure_ascii=False) + post.text
    for raw in ("<!channel>", "<@U123>", "<https://evil", "<!here>", "<!everyone>", "<!subteam"):
        assert raw not in everything


def test_hostile_profile_name_is_escaped_in_fallback_text(standin: SlackStandIn) -> None:
    delivery = make_delivery(real_papers()[:1], profile_name="R&D <!here>")
    notifier_for(standin).send(delivery, "#papers-norm")
    [post] = standin.posts
    assert post.text == "R&amp;D &lt;!here&gt;: 1 new paper matched out of 30 (2026-07-31)"
    # plain_text is never parsed for mentions or links, so the header shows the name as is.
    assert post.blocks[0]["text"] == {"type": "plain_text", "text": "R&D <!here> — 2026-07-31"}


def test_long_profile_name_keeps_the_date_in_the_header() -> None:
    [message] = build_messages(make_delivery(real_papers()[:1], profile_name="N" * 400))
    header = message.blocks[0]["text"]["text"]
    assert len(header) == MAX_HEADER_TEXT
    assert header.endswith("N… — 2026-07-31")
    assert message.text == "N" * 149 + "…: 1 new paper matched out of 30 (2026-07-31)"


# --------------------------------------------------------------------------- splitting


def test_two_hundred_papers_arrive_whole_in_a_thread(standin: SlackStandIn) -> None:
    papers = many_papers(200)
    delivery = make_delivery(papers, candidates=400)
    notifier_for(standin).send(delivery, "#papers-norm")

    posts = standin.posts
    assert len(posts) == len(build_messages(delivery)) > 1
    assert all(call.ok for call in standin.requests)  # every message passed the limit checks
    assert len(standin.requests) == len(posts)
    first, replies = posts[0], posts[1:]
    assert first.thread_ts is None
    assert first.blocks[1]["text"]["text"] == "200 new papers matched out of 400"
    assert all(r.thread_ts == first.ts for r in replies)
    assert [r.blocks[0] for r in replies] == [
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"continued ({k}/{len(posts)})"}],
        }
        for k in range(2, len(posts) + 1)
    ]
    seen = [pid for post in posts for pid in linked_ids(post.blocks)]
    assert seen == [p.id for p in papers]  # each once, in order
    assert Counter(seen).most_common(1)[0][1] == 1
    # The thread as Slack would show it.
    thread = WebClient(token=TOKEN, base_url=standin.base_url).conversations_replies(
        channel="C0NORM", ts=first.ts
    )
    assert [m["ts"] for m in thread["messages"]] == [p.ts for p in posts]


@pytest.mark.parametrize(
    ("papers", "first_blocks"),
    [
        pytest.param([], 2, id="no-papers"),
        pytest.param(many_papers(1), 3, id="one"),
        pytest.param(many_papers(30), None, id="thirty-real"),
        pytest.param(many_papers(200), None, id="two-hundred-real"),
        pytest.param(tiny_papers(48), 50, id="tiny-48-fill-one-message"),
        pytest.param(tiny_papers(49), 50, id="tiny-49-spill-one"),
        pytest.param(tiny_papers(300), 50, id="tiny-300-block-limit-binds"),
    ],
)
def test_every_message_keeps_slack_limits(papers: list[Paper], first_blocks: int | None) -> None:
    messages = build_messages(make_delivery(papers))
    for message in messages:
        check_limits(message)
    assert [pid for m in messages for pid in m.paper_ids] == [p.id for p in papers]
    assert messages[0].blocks[0]["type"] == "header"
    assert all(m.blocks[0]["type"] == "context" for m in messages[1:])
    assert all(len(m.paper_ids) == len(m.blocks) - 1 for m in messages[1:])
    if first_blocks is not None:
        assert len(messages[0].blocks) == first_blocks
    if len(papers) == 49:
        assert [len(m.paper_ids) for m in messages] == [48, 1]


LONG = 5000


@pytest.mark.parametrize(
    ("change", "truncated"),
    [
        pytest.param({"title": "x" * LONG}, "x…>*", id="title"),
        pytest.param({"title": "&" * LONG}, "&amp;…>*", id="title-all-escapes"),
        pytest.param({"title": "漢" * LONG}, "漢…>*", id="title-non-ascii"),
        pytest.param({"authors": ("y" * LONG,)}, "y…\n", id="one-long-author"),
        pytest.param({"authors": tuple(f"Author {i}" for i in range(LONG))}, "et al.", id="many"),
        pytest.param({"url": "https://example.org/" + "u" * LONG}, None, id="long-url"),
    ],
)
def test_huge_fields_are_truncated_not_dropped(
    standin: SlackStandIn, change: dict[str, Any], truncated: str | None
) -> None:
    big = dataclasses.replace(real_papers()[0], **change)
    delivery = make_delivery([big, real_papers()[1]])
    notifier_for(standin).send(delivery, "#papers-norm")

    [post] = standin.posts
    sections = section_texts(post.blocks)
    assert len(sections) == 3
    assert all(len(s) <= MAX_SECTION_TEXT for s in sections)
    assert sections[2].startswith(f"*<https://arxiv.org/abs/{real_papers()[1].id}|")
    if truncated is not None:
        assert truncated in sections[1]
    else:  # a link target too long for a section: the title stays, bold, without the link
        assert sections[1].startswith("*OmniScope: Modality-Decoupled")
        assert "<" not in sections[1]


def test_huge_why_terms_are_truncated() -> None:
    delivery = make_delivery(real_papers()[:1])
    match = dataclasses.replace(delivery.matches[0], why=("z" * LONG, "w" * LONG))
    [message] = build_messages(dataclasses.replace(delivery, matches=(match,)))
    check_limits(message)
    assert section_texts(message.blocks)[1].endswith("z…")


# --------------------------------------------------------------------------- failures


def test_rate_limited_once_then_delivered(standin: SlackStandIn) -> None:
    standin.fail_next(status=429, headers={"Retry-After": "1"})
    notifier_for(standin).send(make_delivery(real_papers()[:3]), "#papers-norm")
    assert len(standin.posts) == 1
    assert [(c.status, c.error) for c in standin.requests] == [(429, "ratelimited"), (200, None)]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_once_then_delivered(standin: SlackStandIn, status: int) -> None:
    standin.fail_next(status=status)  # 502 and 504: what a gateway in front of Slack answers
    notifier_for(standin).send(make_delivery(real_papers()[:3]), "#papers-norm")
    assert len(standin.posts) == 1
    assert [c.status for c in standin.requests] == [status, 200]


def test_long_retry_after_fails_now_as_transient(standin: SlackStandIn) -> None:
    standin.fail_next(status=429, headers={"Retry-After": "3600"})
    notifier = notifier_for(standin, max_retries=3)  # max_retry_after: 300 by default

    def send() -> None:
        err = send_error(notifier, make_delivery(real_papers()[:1]), "#papers-norm")
        assert (err.permanent, err.delivered) == (False, ())
        assert str(err) == (
            "slack:#papers-norm: Slack answered ratelimited (HTTP 429), asked to retry after 3600s"
        )
        assert err.hint == (
            "Slack is rate-limiting the bot; the digest stays queued for the next run"
        )

    assert within(10, send) < 5  # not an hour
    assert [(c.status, c.error) for c in standin.requests] == [(429, "ratelimited")]
    # A wait within the cap is still waited out.
    standin.fail_next(status=429, headers={"Retry-After": "1"})
    notifier_for(standin, max_retries=1).send(make_delivery(real_papers()[:1]), "#papers-norm")
    assert len(standin.posts) == 1


@pytest.mark.parametrize("value", ["0.5", "Thu, 01 Jan 1970 00:00:00 GMT"])
def test_retry_after_in_other_forms_is_waited_out(standin: SlackStandIn, value: str) -> None:
    # slack-sdk's own handler reads Retry-After with int(): these raised ValueError there.
    standin.fail_next(status=429, headers={"Retry-After": value})
    within(10, lambda: notifier_for(standin).send(make_delivery(real_papers()[:1]), "C0NORM"))
    assert [c.status for c in standin.requests] == [429, 200]


def test_persistent_server_error_is_transient(standin: SlackStandIn) -> None:
    standin.fail_next(status=500, times=2)  # one more than max_retries=1
    err = send_error(notifier_for(standin, max_retries=1), make_delivery(real_papers()[:3]), "C0")
    assert (err.permanent, err.delivered, err.destination) == (False, (), "slack:C0")
    assert str(err) == "slack:C0: Slack answered HTTP 500 without a Slack error code"
    assert [c.status for c in standin.requests] == [500, 500]
    assert standin.posts == []


def test_wrong_token_is_permanent_and_names_the_variable(standin: SlackStandIn) -> None:
    wrong = "xoxb-0000-WRONG-t0k3n-value"
    notifier = notifier_for(standin, token=wrong)
    err = send_error(notifier, make_delivery(real_papers()[:3]), "#papers-norm")
    assert err.permanent is True
    assert str(err) == "slack:#papers-norm: Slack answered invalid_auth"
    assert err.hint == "check the token in $SLACK_BOT_TOKEN"
    for text in (str(err), repr(err), err.hint, repr(notifier), *traceback.format_exception(err)):
        assert wrong not in text


def test_ready_client_without_token_is_not_authed(standin: SlackStandIn) -> None:
    notifier = SlackNotifier(WebClient(base_url=standin.base_url))
    err = send_error(notifier, make_delivery(real_papers()[:1]), "#papers-norm")
    assert (err.permanent, err.hint) == (True, "set $SLACK_BOT_TOKEN to the bot token (xoxb-...)")


def test_unknown_channel_is_permanent(standin: SlackStandIn) -> None:
    err = send_error(notifier_for(standin), make_delivery(real_papers()[:1]), "#nope")
    assert (err.permanent, err.destination) == (True, "slack:#nope")
    assert "channel_not_found" in str(err)
    assert err.hint is not None and "notify.slack" in err.hint


ERROR_CODES = [
    ("invalid_auth", True, "$SLACK_BOT_TOKEN"),
    ("not_authed", True, "$SLACK_BOT_TOKEN"),
    ("account_inactive", True, "reinstall"),
    ("token_revoked", True, "$SLACK_BOT_TOKEN"),
    ("token_expired", True, "$SLACK_BOT_TOKEN"),
    ("no_permission", True, "chat:write"),
    ("missing_scope", True, "chat:write"),
    ("channel_not_found", True, "notify.slack"),
    ("not_in_channel", True, "invite the bot to the channel: /invite @<bot>"),
    ("is_archived", True, "archived"),
    ("restricted_action", True, "admin"),
    ("invalid_blocks", True, "bug"),
    ("invalid_blocks_format", True, "bug"),
    ("msg_too_long", True, "bug"),
    ("msg_blocks_too_long", True, "bug"),
    ("no_text", True, "bug"),
    ("user_not_found", True, "member ID"),
    ("user_not_visible", True, "may not see this person"),
    ("user_disabled", True, "deactivated"),
    ("users_not_found", True, "email address"),
    ("ratelimited", False, "rate-limiting"),
    ("internal_error", False, "queued"),
    ("fatal_error", False, "queued"),
    ("service_unavailable", False, "queued"),
    ("request_timeout", False, "queued"),
    ("a_code_slack_adds_next_year", False, "queued"),
]


@pytest.mark.parametrize(("code", "permanent", "hint_part"), ERROR_CODES)
def test_slack_error_codes(
    standin: SlackStandIn, code: str, permanent: bool, hint_part: str
) -> None:
    standin.fail_next(error=code)
    err = send_error(notifier_for(standin), make_delivery(real_papers()[:2]), "#papers-norm")
    assert (err.permanent, err.delivered) == (permanent, ())
    assert str(err) == f"slack:#papers-norm: Slack answered {code}"
    assert err.hint is not None and hint_part in err.hint
    assert len(standin.requests) == 1  # an `ok: false` answer is never retried by slack-sdk


def test_error_table_covers_every_known_code() -> None:
    assert not PERMANENT_ERRORS & TRANSIENT_ERRORS
    assert {code for code, permanent, _ in ERROR_CODES if permanent} == PERMANENT_ERRORS
    assert {code for code, permanent, _ in ERROR_CODES if not permanent} > TRANSIENT_ERRORS


@pytest.mark.parametrize(
    ("code", "permanent"), [("service_unavailable", False), ("not_in_channel", True)]
)
def test_failing_continuation_reports_what_was_delivered(
    standin: SlackStandIn, code: str, permanent: bool
) -> None:
    delivery = make_delivery(many_papers(100))
    messages = build_messages(delivery)
    assert len(messages) >= 3
    standin.fail_next(error=code, after=1)
    err = send_error(notifier_for(standin), delivery, "#papers-norm")
    assert (err.permanent, err.delivered) == (permanent, messages[0].paper_ids)
    assert f"(message 2 of {len(messages)})" in str(err)
    assert len(standin.posts) == 1


def test_dropped_connection_is_transient(standin: SlackStandIn) -> None:
    standin.fail_next(disconnect=True, times=2)  # slack-sdk retries a connection error once
    err = send_error(notifier_for(standin), make_delivery(real_papers()[:1]), "#papers-norm")
    assert err.permanent is False
    assert str(err).startswith("slack:#papers-norm: could not reach Slack: ")
    assert [c.status for c in standin.requests] == [0, 0]


def test_timeout_is_transient(standin: SlackStandIn) -> None:
    standin.fail_next(delay=3)
    notifier = notifier_for(standin, timeout=0.3)
    err = send_error(notifier, make_delivery(real_papers()[:1]), "#papers-norm")
    assert err.permanent is False
    assert "timed out" in str(err)
    assert standin.posts == []


def test_unreachable_host_is_transient() -> None:
    with SlackStandIn(token=TOKEN) as gone:
        pass  # closed: nothing listens on its port any more
    notifier = notifier_for(gone, max_retries=0)
    err = send_error(notifier, make_delivery(real_papers()[:1]), "#papers-norm")
    assert err.permanent is False
    assert "could not reach Slack" in str(err)


# --------------------------------------------------------------------------- create()


@pytest.mark.parametrize(
    ("settings", "env", "why"),
    [
        (SlackSettings(), {}, "SLACK_BOT_TOKEN is not set"),
        (SlackSettings(), {"SLACK_BOT_TOKEN": "  "}, "SLACK_BOT_TOKEN is not set"),
        (
            SlackSettings(token_env="TEAM_TOKEN"),
            {"SLACK_BOT_TOKEN": TOKEN},
            "TEAM_TOKEN is not set",
        ),
    ],
)
def test_create_without_token(settings: SlackSettings, env: dict[str, str], why: str) -> None:
    assert SlackNotifier.create(settings, env) == (None, why)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("xoxb-4711-\nSECRET-d1g3stb0t", "it contains a line break"),
        ("xoxb-4711-\u2019SECRET-d1g3stb0t", "it contains a character outside ASCII"),
        ("xoxb-4711 SECRET-d1g3stb0t", "it contains a space"),
        ("Bearer xoxb-4711-SECRET-d1g3stb0t", "it contains a space"),
        ("4711-SECRET-d1g3stb0t", "it does not look like a Slack token (xoxb-...)"),
    ],
)
def test_create_refuses_a_malformed_token_naming_the_variable(value: str, problem: str) -> None:
    """A token that cannot be an HTTP header value used to reach the Authorization header and
    crash there, printed whole (`Invalid header value b'Bearer xoxb-...'`)."""
    with pytest.raises(DigestbotError) as caught:
        SlackNotifier.create(SlackSettings(token_env="TEAM_TOKEN"), {"TEAM_TOKEN": value})
    err = caught.value
    assert str(err) == f"$TEAM_TOKEN is malformed: {problem}"
    assert err.hint is not None and "$TEAM_TOKEN" in err.hint
    assert "SECRET" not in str(err) + err.hint


def test_create_with_token_configures_the_client() -> None:
    settings = SlackSettings(
        token_env="TEAM_TOKEN", base_url="http://127.0.0.1:9/api", timeout=7.5, max_retries=4
    )
    notifier, why = SlackNotifier.create(settings, {"TEAM_TOKEN": TOKEN})
    assert why == ""
    assert isinstance(notifier, SlackNotifier)
    client = notifier.client
    assert (client.token, client.base_url, client.timeout) == (
        TOKEN,
        "http://127.0.0.1:9/api/",
        7.5,
    )
    handlers = [(type(h), h.max_retry_count) for h in client.retry_handlers]
    assert handlers == [
        (ConnectionErrorRetryHandler, 1),
        (CappedRateLimitRetryHandler, 4),
        (GatewayErrorRetryHandler, 4),
    ]
    assert isinstance(client.retry_handlers[1], CappedRateLimitRetryHandler)
    assert client.retry_handlers[1].max_retry_after == 300
    assert TOKEN not in repr(notifier)
    # Without an app token, the line also says how to get the vote buttons (test_slack_votes.py).
    assert notifier.describe().startswith("bot token from $TEAM_TOKEN; no vote buttons: ")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"token": TOKEN}, "extra_forbidden"),  # the token never goes in bot.yaml
        ({"max_retries": 11}, "less_than_equal"),
        ({"max_retries": -1}, "greater_than_equal"),
        ({"timeout": 0}, "greater_than"),
        ({"base_url": "slack.com/api/"}, "value_error"),
        ({"token_env": ""}, "string_too_short"),
        ({"max_retry_after": -1}, "greater_than_equal"),
    ],
)
def test_bad_settings_are_rejected(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        SlackSettings.model_validate(data)
    assert [e["type"] for e in info.value.errors()] == [problem]


def test_settings_defaults() -> None:
    assert SlackSettings().model_dump() == {
        "webhook_env": None,
        "webhook_base_url": "https://hooks.slack.com/",
        "token_env": "SLACK_BOT_TOKEN",
        "app_token_env": "SLACK_APP_TOKEN",
        "base_url": "https://slack.com/api/",
        "timeout": 30,
        "max_retries": 3,
        "max_retry_after": 300,
    }


# --------------------------------------------------------------------------- secrets


def test_token_never_reaches_logs_or_errors(
    standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="slack_sdk")
    caplog.set_level(logging.DEBUG, logger="bot")
    notifier = notifier_for(standin)
    delivery = make_delivery(many_papers(100))
    assert len(build_messages(delivery)) > 1

    notifier.send(delivery, "#papers-norm")  # succeeds, in a thread
    standin.fail_next(status=500)  # retried
    notifier.send(delivery, "#papers-norm")
    errors = [send_error(notifier, delivery, "#nope")]
    standin.fail_next(error="invalid_auth", after=1)
    errors.append(send_error(notifier, delivery, "#papers-norm"))
    with SlackStandIn(token="xoxb-another-workspace") as other:
        errors.append(send_error(notifier_for(other), delivery, "C0NORM"))

    # slack-sdk did log at DEBUG (requests, responses, retries), so the check below means something.
    debug = [r for r in caplog.records if r.name.startswith("slack_sdk") and r.levelno == 10]
    assert any("Sending a request" in r.getMessage() for r in debug)
    assert any(r.name == "bot.notifiers.slack" for r in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.args)
        assert TOKEN not in (record.exc_text or "")
    for err in errors:
        for text in (str(err), repr(err), str(err.hint), *traceback.format_exception(err)):
            assert TOKEN not in text
    assert TOKEN not in caplog.text


def test_at_most_one_post_per_second_per_channel(standin: SlackStandIn) -> None:
    notifier = notifier_for(standin)
    long = make_delivery(many_papers(60))
    notifier.send(long, "#papers-norm")  # several messages: the first, then thread replies
    notifier.send(make_delivery(many_papers(2)), "#papers-norm")  # the next digest, same channel
    stamps = [float(p.ts) for p in standin.messages_in("#papers-norm")]
    assert len(stamps) >= 3
    assert all(b - a >= 0.99 for a, b in itertools.pairwise(stamps))
    # Another channel is not held up by this one's pace.
    start = float(standin.posts[-1].ts)
    notifier.send(make_delivery(many_papers(1)), "#papers-agents")
    assert float(standin.messages_in("#papers-agents")[0].ts) - start < 0.9


# --------------------------------------------------------------------------- crash recovery


def calls(standin: SlackStandIn, *methods: str, since: int = 0) -> list[tuple[str, str | None]]:
    """(method, channel) of the requests to `methods` (from request number `since` on)."""
    return [
        (c.method, c.params.get("channel")) for c in standin.requests[since:] if c.method in methods
    ]


LOOKUPS = ("conversations.list", "conversations.history", "conversations.replies")


def test_standin_reads_history_by_channel_id_only(standin: SlackStandIn) -> None:
    """As Slack: conversations.history / .replies answer channel_not_found for a name."""
    client = WebClient(token=TOKEN, base_url=standin.base_url)
    assert client.conversations_history(channel="C0NORM")["ok"] is True
    for channel in ("#papers-norm", "papers-norm"):
        with pytest.raises(SlackApiError) as info:
            client.conversations_history(channel=channel)
        assert info.value.response["error"] == "channel_not_found"
    standin.scopes = "chat:write,channels:read"
    with pytest.raises(SlackApiError) as info:
        client.conversations_history(channel="C0NORM")
    assert (info.value.response["error"], info.value.response["needed"]) == (
        "missing_scope",
        "channels:history",
    )


@pytest.mark.parametrize("target", ["#papers-norm", "papers-norm", "C0NORM"])
def test_crashed_delivery_is_found_by_a_new_process(standin: SlackStandIn, target: str) -> None:
    delivery = make_delivery(many_papers(100))  # a thread: the replies are looked up too
    assert len(build_messages(delivery)) > 2
    notifier_for(standin).send(delivery, target)
    before = len(standin.requests)

    fresh = notifier_for(standin)  # the next run, after the crash: it knows no channel IDs
    have = fresh.already_delivered(delivery, target)

    assert have == {m.paper.id for m in delivery.matches}
    lookups = calls(standin, *LOOKUPS, since=before)
    # conversations.list pages at most 2 channels per answer in the stand-in: 2 pages here.
    listing = [] if target == "C0NORM" else [("conversations.list", None)] * 2
    assert lookups == [
        *listing,
        ("conversations.history", "C0NORM"),
        ("conversations.replies", "C0NORM"),
    ]
    assert all(c.ok for c in standin.requests)  # no channel_not_found for a name
    # The listing is asked once per process: another channel by name comes from the same one.
    fresh.already_delivered(make_delivery(real_papers()[:1]), "#papers-agents")
    assert calls(standin, "conversations.list") == [("conversations.list", None)] * 2
    assert calls(standin, "conversations.history")[-1] == ("conversations.history", "C0AGENTS")


def test_recovery_uses_the_channel_id_slack_answered_the_post_with(
    standin: SlackStandIn,
) -> None:
    notifier = notifier_for(standin)
    notifier.send(make_delivery(real_papers()[:1]), "#papers-norm")
    delivery = make_delivery(real_papers()[1:3])
    notifier.send(delivery, "#papers-norm")
    assert notifier.already_delivered(delivery, "#papers-norm") == {
        p.id for p in real_papers()[1:3]
    }
    assert calls(standin, *LOOKUPS) == [("conversations.history", "C0NORM")]  # no listing


def test_recovery_without_read_scopes_warns_once_then_resends(
    standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    standin.scopes = "chat:write,channels:history,groups:history"  # no channels:read
    delivery = make_delivery(real_papers()[:2])
    notifier_for(standin).send(delivery, "#papers-norm")

    fresh = notifier_for(standin)
    for target in ("#papers-norm", "#papers-agents", "#papers-norm"):
        assert fresh.already_delivered(delivery, target) == set()  # at-least-once

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "slack: cannot find the channel ID of #papers-norm, so what a crashed run posted there "
        "cannot be looked up (Slack answered missing_scope to conversations.list): its digests "
        "are posted again (at-least-once). Add the channels:read scope (groups:read for private "
        "channels) to the app's Bot Token Scopes and reinstall it, or name channels by ID "
        "(C0123ABCD) in profiles"
    ]
    assert calls(standin, *LOOKUPS) == [("conversations.list", None)]  # asked once
    # A channel named by ID needs no listing: it is still looked up.
    assert fresh.already_delivered(delivery, "C0NORM") == {p.id for p in real_papers()[:2]}


def test_recovery_without_history_scope_warns_once_then_resends(
    standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    standin.scopes = "chat:write,channels:read,groups:read"
    delivery = make_delivery(real_papers()[:2])
    notifier = notifier_for(standin)
    notifier.send(delivery, "C0NORM")
    for _ in range(2):
        assert notifier.already_delivered(delivery, "C0NORM") == set()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "slack: cannot read the history of slack:C0NORM to find what a crashed run posted "
        "(Slack answered missing_scope (needs channels:history) to conversations.history): its "
        "digests are posted again (at-least-once). Add the channels:history scope "
        "(groups:history for private channels) to the app's Bot Token Scopes and reinstall it"
    ]


def test_recovery_lookup_unreachable_is_a_delivery_error() -> None:
    with SlackStandIn(token=TOKEN) as gone:
        pass
    notifier = notifier_for(gone, max_retries=0)
    with pytest.raises(DeliveryError) as info:
        notifier.already_delivered(make_delivery(real_papers()[:1]), "#papers-norm")
    assert info.value.permanent is False
    assert str(info.value).startswith(
        "slack:#papers-norm: could not reach Slack (conversations.list): "
    )


# --------------------------------------------------------------------------- direct messages

PEOPLE_LOOKUPS = ("users.list", "users.lookupByEmail", "conversations.open", "chat.postMessage")


def test_a_member_id_gets_a_direct_message(standin: SlackStandIn) -> None:
    papers = real_papers()[:3]
    notifier_for(standin).send(make_delivery(papers), "U0ALICE")

    assert calls(standin, *PEOPLE_LOOKUPS) == [
        ("conversations.open", None),
        ("chat.postMessage", "D0ALICE"),
    ]
    assert standin.requests[0].params["users"] == "U0ALICE"
    [post] = standin.messages_in("D0ALICE")
    assert linked_ids(post.blocks) == [p.id for p in papers]
    assert standin.dm_with("U0ALICE") == "D0ALICE"


@pytest.mark.parametrize(
    ("targets", "user"),
    [
        (("@bob", "@Bob", "@bob.stone"), "U0BOB"),  # display name, any case; username
        (("@Noël Ba", "@noel ba"), "U0NOEL"),  # no display name: the full name Slack shows
        (("bob@lab.example", "@BOB@lab.example"), "U0BOB"),  # the address of their account
    ],
    ids=["handle", "full-name", "email"],
)
def test_a_person_named_by_handle_or_email_is_looked_up_once_and_messaged_directly(
    standin: SlackStandIn, targets: tuple[str, ...], user: str
) -> None:
    notifier = notifier_for(standin)
    for target in targets:
        notifier.send(make_delivery(real_papers()[:1]), target)

    dm = "D" + user[1:]
    by_email = "@" in targets[0][1:]
    # Once: one users.list (6 people, 2 a page) for every handle, one lookup per address.
    lookup = [("users.lookupByEmail", None)] if by_email else [("users.list", None)] * 3
    assert calls(standin, *PEOPLE_LOOKUPS) == [
        *lookup,
        ("conversations.open", None),
        *[("chat.postMessage", dm)] * len(targets),
    ]
    assert len(standin.messages_in(dm)) == len(targets)


PERSON_FAILURES = [
    pytest.param(
        "@nobody",
        "no one in the workspace goes by @nobody",
        "check the spelling: a handle is the name Slack shows for the person",
        id="unknown-handle",
    ),
    pytest.param(
        "@sam",
        "@sam could be any of 2 people: U0SAM1 (Sam Ito), W0SAM2 (Sam Roe)",
        "name the person by member ID instead (U0123ABCD",
        id="ambiguous-handle",
    ),
    pytest.param(
        "@carol",
        "@carol is U0GONE (Carol Gone), a deactivated account",
        "remove them from the profile's notify.slack",
        id="deactivated-handle",
    ),
    pytest.param(
        "nobody@lab.example",
        "no one in the workspace has the email address nobody@lab.example",
        "check the address",
        id="unknown-email",
    ),
    pytest.param(
        "U0GONE",
        "Slack answered user_disabled (conversations.open)",
        "the person's account is deactivated",
        id="deactivated-member-id",
    ),
    pytest.param(
        "U0NOBODY",
        "Slack answered user_not_found (conversations.open)",
        "no such person in the workspace: check the member ID",
        id="unknown-member-id",
    ),
]


@pytest.mark.parametrize(("target", "message", "hint"), PERSON_FAILURES)
def test_a_person_who_cannot_be_reached_is_a_permanent_error_naming_them(
    standin: SlackStandIn, target: str, message: str, hint: str
) -> None:
    err = send_error(notifier_for(standin), make_delivery(real_papers()[:1]), target)
    assert (err.permanent, err.destination, err.delivered) == (True, f"slack:{target}", ())
    assert str(err) == f"slack:{target}: {message}"
    assert err.hint is not None and err.hint.startswith(hint), err.hint
    assert standin.posts == []


@pytest.mark.parametrize(
    ("scopes", "target", "message", "hint"),
    [
        (
            "chat:write,users:read",
            "@bob",
            "Slack answered missing_scope (conversations.open)",
            "add the im:write scope to the app's Bot Token Scopes and reinstall it: direct "
            "messages to people need it (conversations.open)",
        ),
        (
            "chat:write,im:write",
            "@bob",
            "Slack answered missing_scope (users.list)",
            "add the users:read scope to the app's Bot Token Scopes and reinstall it: people "
            'named by "@handle" are looked up with it (users.list)',
        ),
        (
            "chat:write,im:write,users:read",
            "bob@lab.example",
            "Slack answered missing_scope (users.lookupByEmail)",
            "add the users:read.email scope to the app's Bot Token Scopes and reinstall it: "
            "people named by email address are looked up with it (users.lookupByEmail)",
        ),
    ],
    ids=["im:write", "users:read", "users:read.email"],
)
def test_a_missing_scope_for_a_person_names_the_scope(
    standin: SlackStandIn, scopes: str, target: str, message: str, hint: str
) -> None:
    standin.scopes = scopes
    err = send_error(notifier_for(standin), make_delivery(real_papers()[:1]), target)
    assert (err.permanent, str(err), err.hint) == (True, f"slack:{target}: {message}", hint)


def test_a_person_is_one_place_however_named(standin: SlackStandIn) -> None:
    notifier = notifier_for(standin)
    named = ("U0BOB", "@bob", "@Bob", "@bob.stone", "bob@lab.example")
    assert {notifier.place(t) for t in named} == {"U0BOB"}
    assert notifier.place("alice@lab.example") == notifier.place("@alice") == "U0ALICE"
    assert notifier.place("@Nobody") == "@nobody"  # not found: its own place; send says why
    assert (notifier.place("#Papers-Norm"), notifier.place("C0NORM")) == ("#papers-norm", "C0NORM")
    assert calls(standin, *PEOPLE_LOOKUPS) == [
        *[("users.list", None)] * 3,  # the workspace listed once, for every handle
        ("users.lookupByEmail", None),
        ("users.lookupByEmail", None),
    ]


def test_a_handle_is_looked_up_again_after_a_run(standin: SlackStandIn) -> None:
    """`digestbot run` keeps its notifier for days: a handle is resolved once per run."""
    now = [0.0]
    notifier = notifier_for(standin)
    notifier._people = People(notifier.client, clock=lambda: now[0])  # the daemon's clock
    assert notifier.place("@dana") == "@dana"  # not yet in the workspace
    standin.add_user("U0DANA", name="dana", real_name="Dana Wu", display_name="dana")
    now[0] += RESOLVE_TTL - 1
    assert notifier.place("@dana") == "@dana"  # the same run
    now[0] += 2
    assert notifier.place("@dana") == "U0DANA"  # the next one
    assert len(calls(standin, "users.list")) == 3 + 4  # 6 people, then 7: 2 a page


def test_a_person_who_cannot_be_looked_up_is_asked_about_once_a_run(standin: SlackStandIn) -> None:
    """Grouping asks where every queued paper lands: a missing scope costs one call, not one
    per paper (users.list is rate-limited)."""
    standin.scopes = "chat:write,im:write"  # no users:read
    notifier = notifier_for(standin)
    assert [notifier.place("@bob") for _ in range(20)] == ["@bob"] * 20
    assert calls(standin, *PEOPLE_LOOKUPS) == [("users.list", None)]


def test_a_name_from_slack_is_one_plain_line_in_errors(standin: SlackStandIn) -> None:
    standin.add_user(
        "U0EVE1", name="eve", real_name="Eve\nerror: forged\x1b[2J", display_name="eve"
    )
    standin.add_user("U0EVE2", name="eve2", real_name="Eve " + "x" * 200, display_name="Eve")
    err = send_error(notifier_for(standin), make_delivery(real_papers()[:1]), "@eve")
    assert str(err) == (
        "slack:@eve: @eve could be any of 2 people: U0EVE1 (Eve error: forged [2J), "
        f"U0EVE2 (Eve {'x' * 75}…)"
    )


@pytest.mark.parametrize("target", ["U0ALICE", "@alice", "alice@lab.example"])
def test_a_crashed_direct_message_is_found_by_a_new_process(
    standin: SlackStandIn, target: str
) -> None:
    delivery = make_delivery(many_papers(100))  # a thread: the replies are looked up too
    notifier_for(standin).send(delivery, target)
    before = len(standin.requests)

    fresh = notifier_for(standin)
    assert fresh.already_delivered(delivery, target) == {m.paper.id for m in delivery.matches}
    lookups = calls(standin, "conversations.open", *LOOKUPS, since=before)
    assert lookups == [
        ("conversations.open", None),
        ("conversations.history", "D0ALICE"),
        ("conversations.replies", "D0ALICE"),
    ]
    assert all(c.ok for c in standin.requests)


def test_a_direct_message_without_im_history_warns_once_then_resends(
    standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    standin.scopes = "chat:write,im:write,users:read,channels:history"
    delivery = make_delivery(real_papers()[:2])
    notifier = notifier_for(standin)
    notifier.send(delivery, "@bob")
    for target in ("@bob", "U0ALICE"):
        assert notifier.already_delivered(delivery, target) == set()  # at-least-once
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "slack: cannot read the history of slack:@bob to find what a crashed run posted "
        "(Slack answered missing_scope (needs im:history) to conversations.history): its "
        "digests are posted again (at-least-once). Add the im:history scope to the app's Bot "
        "Token Scopes and reinstall it"
    ]


def test_operator_alerts_reach_a_person_too(standin: SlackStandIn) -> None:
    notifier_for(standin).send_text("hf_daily failed <!channel>", "@alice")
    [post] = standin.messages_in("D0ALICE")
    assert post.text == "hf_daily failed &lt;!channel&gt;"


# --------------------------------------------------------------------------- the real CLI


def test_check_says_a_bot_token_is_configured_and_from_where(bot: Bot) -> None:
    result = bot.run("check")
    assert result.returncode == 0, result.stderr
    [line] = [ln for ln in result.stdout.splitlines() if ln.startswith("slack: ")]
    assert line.startswith("slack: configured (bot token from $SLACK_BOT_TOKEN; ")
    assert bot.env["SLACK_BOT_TOKEN"] not in result.stdout + result.stderr


def test_long_retry_after_keeps_the_digest_queued_through_the_cli(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY.isoformat(), FIXTURE)
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.slack.fail_next(status=429, headers={"Retry-After": "3600"})

    start = time.monotonic()
    failed = bot.run("once", "--date", DAY.isoformat(), timeout=60)
    assert time.monotonic() - start < 30  # not an hour
    assert failed.returncode == 1
    error = "slack:#papers-spec: Slack answered ratelimited (HTTP 429), asked to retry after 3600s"
    assert error in failed.stderr
    [line] = [ln for ln in bot.run("status").stdout.splitlines() if "#papers-spec" in ln]
    assert line.startswith("destination slack:#papers-spec: 0 sent, 0 pending, 1 failed")
    assert f"last error: {error}; next attempt " in line
    # The next attempt waits what Slack asked for, not just the outbox's first backoff (5 min).
    next_attempt = datetime.fromisoformat(line.rsplit("; next attempt ", 1)[1])
    assert next_attempt - datetime.now(UTC) > timedelta(minutes=59)
    assert bot.slack.posts == []
    assert [c.status for c in bot.slack.requests] == [429]  # not retried within the run


def test_several_targets_and_a_person_named_two_ways_get_each_paper_once(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY.isoformat(), FIXTURE)
    bot.profile(
        "spec.yaml",
        SPEC_PROFILE.replace(
            'slack: "#papers-spec"',
            'slack:\n    - "#papers-spec"\n    - U0ALICE\n    - "@bob"',
        ),
    )
    # The same interest, for Bob by his email address: his DM is one place.
    bot.profile(
        "drafting.yaml",
        SPEC_PROFILE.replace("name: Speculative decoding", "name: Drafting").replace(
            'slack: "#papers-spec"', "slack: bob@lab.example"
        ),
    )
    first = bot.run("once", "--date", DAY.isoformat())
    assert first.returncode == 0, first.stderr
    second = bot.run("once", "--date", DAY.isoformat())
    assert second.returncode == 0, second.stderr

    for channel in ("#papers-spec", "D0ALICE", "D0BOB"):
        assert posted_ids(bot.slack, channel) == [SPEC_ID], channel
    [to_bob] = bot.slack.messages_in("D0BOB")
    assert "also matches: Speculative decoding" in json.dumps(to_bob.blocks)  # profile order
    assert [ln for ln in bot.run("status").stdout.splitlines() if "destination" in ln] == [
        "destination slack:#papers-spec: 1 sent, 0 pending, 0 failed (will retry), 0 dead",
        "destination slack:@bob: 1 sent, 0 pending, 0 failed (will retry), 0 dead (1 listed "
        "under another profile whose digest went there)",
        "destination slack:U0ALICE: 1 sent, 0 pending, 0 failed (will retry), 0 dead",
        "destination slack:bob@lab.example: 1 sent, 0 pending, 0 failed (will retry), 0 dead",
    ]


def test_a_handle_that_names_no_one_is_dead_and_named(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY.isoformat(), FIXTURE)
    bot.profile(
        "spec.yaml",
        SPEC_PROFILE.replace('slack: "#papers-spec"', 'slack: ["#papers-spec", "@bobby"]'),
    )
    result = bot.run("once", "--date", DAY.isoformat())

    assert result.returncode == 1
    assert "slack:@bobby: no one in the workspace goes by @bobby" in result.stderr
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]  # the other target is served
    [line] = [ln for ln in bot.run("status").stdout.splitlines() if "@bobby" in ln]
    assert line.startswith(
        "destination slack:@bobby: 0 sent, 0 pending, 0 failed (will retry), 1 dead"
    )
