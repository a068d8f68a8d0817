"""Vote buttons in Slack digests and the Socket Mode listener that turns clicks into votes.

Real parts throughout: digests are posted by the real CLI (`python -m bot once`) to the Slack
stand-in; the listener is slack-sdk's builtin SocketModeClient connected to the stand-in's
loopback WebSocket server (apps.connections.open answers its ws://127.0.0.1 URL); clicks are the
recorded-shape envelope tests/fixtures/slack_socket_block_actions_envelope.json filled in from
the message the bot really posted; votes are read from the real state file. The last test runs
the real daemon (`python -m bot run`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.notifiers.slack import SlackNotifier
from bot.notifiers.slack_blocks import (
    MAX_BUTTON_VALUE,
    VOTE_DOWN,
    VOTE_UP,
    build_messages,
    read_vote_value,
    vote_value,
)
from bot.notifiers.slack_client import SlackSettings
from bot.notifiers.slack_socket import VoteListener
from tests.conftest import FIXTURES, ROOT
from tests.e2e import SPEC_ID, SPEC_PROFILE, Bot
from tests.slack_standin import Post, SlackStandIn, SocketModeStandIn
from tests.test_slack import (
    DAY,
    FIXTURE,
    TOKEN,
    check_limits,
    make_delivery,
    many_papers,
    tiny_papers,
)

APP_TOKEN = "xapp-1-A0DIGEST-4711-SECRET-app-t0k3n"  # distinctive: found anywhere, it leaked
ENVELOPE = FIXTURES / "slack_socket_block_actions_envelope.json"
WAIT = 15  # seconds: an upper bound for events on loopback, never a sleep


# --------------------------------------------------------------------------- helpers


def vote_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if b.get("type") == "actions"]


def click(
    post: Post,
    *,
    button: int = 0,
    action_id: str = VOTE_UP,
    user: str = "U0ALICE",
    envelope_id: str | None = None,
) -> dict[str, Any]:
    """The recorded-shape envelope of a click on `post`'s `button`-th vote block."""
    envelope: dict[str, Any] = json.loads(ENVELOPE.read_text(encoding="utf-8"))
    block = vote_blocks(post.blocks)[button]
    element = next(e for e in block["elements"] if e["action_id"] == action_id)
    payload = envelope["payload"]
    envelope["envelope_id"] = envelope_id or str(uuid.uuid4())
    payload["user"]["id"] = user
    payload["container"].update(channel_id=post.channel, message_ts=post.ts)
    payload["channel"]["id"] = post.channel
    payload["message"].update(text=post.text, ts=post.ts, blocks=copy.deepcopy(post.blocks))
    payload["actions"][0].update(
        action_id=element["action_id"],
        block_id=block["block_id"],
        text=element["text"],
        value=element["value"],
    )
    return envelope


def votes_in(state: Path) -> list[tuple[str, str, str, int, str]]:
    db = sqlite3.connect(state)
    try:
        return list(
            db.execute(
                "SELECT profile_id, paper_id, voter, vote, origin FROM votes ORDER BY 1, 2, 3"
            )
        )
    finally:
        db.close()


def acked(sock: SocketModeStandIn, envelope_id: str) -> bool:
    return {"envelope_id": envelope_id} in sock.acks


@pytest.fixture
def voting(bot: Bot) -> Bot:
    """A bot with an app token whose first digest (one paper, SPEC_ID, in #papers-spec) is
    posted, buttons and all; the stand-in's Socket Mode server is up."""
    bot.slack.app_token = APP_TOKEN
    bot.slack.socket_mode()
    bot.env["SLACK_APP_TOKEN"] = APP_TOKEN
    bot.hf.serve_hf_day(DAY.isoformat(), FIXTURE)
    bot.profile("spec.yaml", SPEC_PROFILE)
    result = bot.run("once", "--date", DAY.isoformat())
    assert result.returncode == 0, result.stderr
    return bot


@pytest.fixture
def listener(voting: Bot) -> Iterator[VoteListener]:
    """The listener, in this process, connected to the stand-in."""
    found = VoteListener.create(load_settings(voting.config), voting.env)
    assert found is not None
    found.start()
    sock = voting.slack.socket_mode()
    assert sock.wait_until(lambda s: s.connected == 1, WAIT)
    try:
        yield found
    finally:
        found.close()


def digest_post(bot: Bot) -> Post:
    [post] = bot.slack.messages_in("#papers-spec")
    return post


# --------------------------------------------------------------------------- the buttons


def test_each_paper_carries_more_and_less_like_this_naming_profile_and_paper() -> None:
    papers = many_papers(3)
    [message] = build_messages(make_delivery(papers), buttons=True)
    sections = [b for b in message.blocks if b["type"] == "section"][1:]  # after the headline
    votes = vote_blocks(message.blocks)
    assert len(sections) == len(votes) == 3
    for k, paper in enumerate(papers):
        # Right after its paper's section.
        at = message.blocks.index(votes[k])
        assert message.blocks[at - 1] is sections[k]
        assert votes[k] == {
            "type": "actions",
            "block_id": f"digestbot_vote_{k}",
            "elements": [
                {
                    "type": "button",
                    "action_id": VOTE_UP,
                    "text": {"type": "plain_text", "text": "👍 More like this", "emoji": True},
                    "value": vote_value("norm", paper.id),
                },
                {
                    "type": "button",
                    "action_id": VOTE_DOWN,
                    "text": {"type": "plain_text", "text": "👎 Less like this", "emoji": True},
                    "value": vote_value("norm", paper.id),
                },
            ],
        }
        assert read_vote_value(votes[k]["elements"][0]["value"]) == ("norm", paper.id)
    # Without buttons: the layout as before.
    [plain] = build_messages(make_delivery(papers))
    assert vote_blocks(plain.blocks) == []


@pytest.mark.parametrize(
    "papers",
    [
        pytest.param(many_papers(200), id="two-hundred-real"),
        pytest.param(tiny_papers(21), id="tiny-21"),
        pytest.param(tiny_papers(22), id="tiny-22"),
        pytest.param(tiny_papers(300), id="tiny-300-block-limit-binds"),
    ],
)
def test_buttons_keep_slack_limits_when_split(papers: list[Any]) -> None:
    messages = build_messages(make_delivery(papers), buttons=True)
    for message in messages:
        check_limits(message)
        # Every paper of a message has its buttons in the same message.
        ids = [read_vote_value(b["elements"][0]["value"]) for b in vote_blocks(message.blocks)]
        assert [pid for _, pid in ids] == list(message.paper_ids)
    assert [pid for m in messages for pid in m.paper_ids] == [p.id for p in papers]
    # Buttons take room: more messages than the same digest without them (when it splits).
    if len(papers) > 30:
        assert len(messages) > len(build_messages(make_delivery(papers)))


def test_two_hundred_papers_with_buttons_pass_the_standin_checks() -> None:
    with SlackStandIn(token=TOKEN) as standin:
        notifier, _ = SlackNotifier.create(
            SlackSettings(base_url=standin.base_url),
            {"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": APP_TOKEN},
        )
        assert isinstance(notifier, SlackNotifier)
        notifier.send(make_delivery(many_papers(200), candidates=400), "#papers-norm")
        assert all(call.ok for call in standin.requests), [c.error for c in standin.requests]
        posts = standin.posts
        assert len(posts) > 1
        assert sum(len(vote_blocks(p.blocks)) for p in posts) == 200


def test_a_value_too_long_for_a_button_gets_no_buttons() -> None:
    long_id = "feed:" + "x" * MAX_BUTTON_VALUE
    papers = [*many_papers(1), dataclasses.replace(many_papers(1)[0], id=long_id)]
    [message] = build_messages(make_delivery(papers), buttons=True)
    assert len(vote_blocks(message.blocks)) == 1
    assert message.paper_ids == (papers[0].id, long_id)


@pytest.mark.parametrize(
    "value",
    [None, 42, "", "not json", "[1, 2]", '["only-one"]', '["a", ""]', '{"p": 1}', "x" * 2001],
)
def test_read_vote_value_refuses_anything_vote_value_did_not_write(value: object) -> None:
    assert read_vote_value(value) is None


def test_without_an_app_token_no_buttons_and_check_says_how(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY.isoformat(), FIXTURE)
    bot.profile("spec.yaml", SPEC_PROFILE)
    assert bot.run("once", "--date", DAY.isoformat()).returncode == 0
    [post] = bot.slack.messages_in("#papers-spec")
    assert vote_blocks(post.blocks) == []
    result = bot.run("check")
    assert result.returncode == 0, result.stderr
    assert (
        "slack: configured (bot token from $SLACK_BOT_TOKEN; no vote buttons: to get them, set "
        "$SLACK_APP_TOKEN to an app-level token (xapp-) with the connections:write scope and "
        "turn on Socket Mode and Interactivity in the Slack app (README: Buttons in Slack))"
    ) in result.stdout.splitlines()


def test_with_an_app_token_check_says_buttons_are_on(voting: Bot) -> None:
    result = voting.run("check")
    assert result.returncode == 0, result.stderr
    assert (
        "slack: configured (bot token from $SLACK_BOT_TOKEN; vote buttons on, heard over Socket "
        "Mode (app token from $SLACK_APP_TOKEN))"
    ) in result.stdout.splitlines()
    assert APP_TOKEN not in result.stdout + result.stderr
    assert len(vote_blocks(digest_post(voting).blocks)) == 1


def test_a_webhook_digest_never_has_buttons() -> None:
    with SlackStandIn(token=TOKEN) as standin:
        settings = SlackSettings(
            webhook_env="SLACK_WEBHOOK_URL", webhook_base_url=standin.root_url + "/"
        )
        env = {"SLACK_WEBHOOK_URL": standin.webhook_url, "SLACK_APP_TOKEN": APP_TOKEN}
        notifier, _ = SlackNotifier.create(settings, env)
        assert notifier is not None
        notifier.send(make_delivery(many_papers(3)), "")
        [post] = standin.posts
        assert vote_blocks(post.blocks) == []


def test_app_token_env_belongs_to_a_bot_token() -> None:
    with pytest.raises(ValueError, match="app_token_env belongs to a bot token"):
        SlackSettings.model_validate({"webhook_env": "HOOK", "app_token_env": "APP"})


# --------------------------------------------------------------------------- check --live


def probe_app_token(standin: SlackStandIn, app_token: str | None) -> tuple[str, str, str | None]:
    env = {"SLACK_BOT_TOKEN": TOKEN}
    if app_token is not None:
        env["SLACK_APP_TOKEN"] = app_token
    notifier, _ = SlackNotifier.create(SlackSettings(base_url=standin.base_url), env)
    assert isinstance(notifier, SlackNotifier)
    [check] = [c for c in notifier.probe([]) if c.name == "slack app token"]
    assert APP_TOKEN not in f"{check.detail} {check.hint}"
    return check.status, check.detail, check.hint


def test_check_live_proves_the_app_token_with_apps_connections_open() -> None:
    with SlackStandIn(token=TOKEN, app_token=APP_TOKEN) as standin:
        standin.socket_mode()
        status, detail, _ = probe_app_token(standin, APP_TOKEN)
        assert status == "ok"
        assert detail.startswith("apps.connections.open accepted the app token from $SLACK_")
        assert [c.method for c in standin.requests][-1] == "apps.connections.open"


def test_check_live_names_a_missing_connections_write_scope() -> None:
    with SlackStandIn(token=TOKEN, app_token=APP_TOKEN) as standin:
        standin.socket_mode()
        standin.app_scopes = "authorizations:read"
        status, detail, hint = probe_app_token(standin, APP_TOKEN)
        assert (status, detail) == (
            "failed",
            "Slack answered missing_scope to apps.connections.open",
        )
        assert hint is not None and "lacks the connections:write scope" in hint


def test_check_live_refuses_an_invalid_app_token() -> None:
    with SlackStandIn(token=TOKEN, app_token=APP_TOKEN) as standin:
        status, detail, hint = probe_app_token(standin, "xapp-1-A0DIGEST-revoked")
        assert (status, detail) == (
            "failed",
            "Slack answered invalid_auth to apps.connections.open",
        )
        assert hint is not None and "$SLACK_APP_TOKEN" in hint


def test_check_live_reports_a_malformed_app_token_without_it() -> None:
    with SlackStandIn(token=TOKEN, app_token=APP_TOKEN) as standin:
        status, detail, _ = probe_app_token(standin, "xoxb-a-bot-token-by-mistake")
        assert status == "failed"
        assert detail.startswith("$SLACK_APP_TOKEN is malformed: it does not look like a Slack")
        assert "xoxb-a-bot" not in detail


def test_check_live_without_app_token_says_how_to_get_buttons() -> None:
    with SlackStandIn(token=TOKEN) as standin:
        status, detail, hint = probe_app_token(standin, None)
        assert (status, detail) == (
            "skipped",
            "$SLACK_APP_TOKEN is not set: digests carry no vote buttons",
        )
        assert hint is not None and "connections:write" in hint


# --------------------------------------------------------------------------- the listener


def test_a_click_is_acked_recorded_and_confirmed_to_the_clicker(
    voting: Bot, listener: VoteListener
) -> None:
    sock = voting.slack.socket_mode()
    post = digest_post(voting)
    envelope = click(post, action_id=VOTE_UP)
    sock.send(envelope)
    assert sock.wait_until(lambda s: acked(s, envelope["envelope_id"]), WAIT)
    assert voting.slack.wait_until(lambda s: len(s.ephemerals) == 1, WAIT)
    assert votes_in(voting.state) == [("spec", SPEC_ID, "slack:U0ALICE", 1, "slack")]
    [told] = voting.slack.ephemerals
    assert (told.channel, told.user, told.thread_ts) == (post.channel, "U0ALICE", None)
    assert told.text.startswith(f"👍 more like {SPEC_ID} noted for *Speculative decoding*")

    # The same person changes their mind: the later vote replaces the earlier one.
    down = click(post, action_id=VOTE_DOWN)
    sock.send(down)
    assert voting.slack.wait_until(lambda s: len(s.ephemerals) == 2, WAIT)
    assert votes_in(voting.state) == [("spec", SPEC_ID, "slack:U0ALICE", -1, "slack")]
    # Another reader's vote is their own.
    sock.send(click(post, action_id=VOTE_UP, user="U0BOB"))
    assert voting.slack.wait_until(lambda s: len(s.ephemerals) == 3, WAIT)
    assert votes_in(voting.state) == [
        ("spec", SPEC_ID, "slack:U0ALICE", -1, "slack"),
        ("spec", SPEC_ID, "slack:U0BOB", 1, "slack"),
    ]


def test_a_resent_envelope_counts_once(voting: Bot, listener: VoteListener) -> None:
    sock = voting.slack.socket_mode()
    envelope = click(digest_post(voting), action_id=VOTE_UP)
    sock.send(envelope)
    sock.send(envelope)  # Slack resends what it thinks was not acknowledged
    assert sock.wait_until(
        lambda s: s.acks.count({"envelope_id": envelope["envelope_id"]}) == 2, WAIT
    )
    # A later, good click is handled: both envelopes before it were too, in order.
    sock.send(click(digest_post(voting), action_id=VOTE_UP, user="U0BOB"))
    assert voting.slack.wait_until(lambda s: len(s.ephemerals) == 2, WAIT)
    assert [e.user for e in voting.slack.ephemerals] == ["U0ALICE", "U0BOB"]
    assert votes_in(voting.state) == [
        ("spec", SPEC_ID, "slack:U0ALICE", 1, "slack"),
        ("spec", SPEC_ID, "slack:U0BOB", 1, "slack"),
    ]


def _unknown_profile(envelope: dict[str, Any]) -> None:
    envelope["payload"]["actions"][0]["value"] = vote_value("nosuchprofile", SPEC_ID)


def _forged_paper(envelope: dict[str, Any]) -> None:
    # A paper this profile never delivered (it is in the state: the day's other papers).
    envelope["payload"]["actions"][0]["value"] = vote_value("spec", "2607.26497")


def _other_channel(envelope: dict[str, Any]) -> None:
    envelope["payload"]["container"]["channel_id"] = "C0RAG"
    envelope["payload"]["channel"]["id"] = "C0RAG"


def _foreign_action(envelope: dict[str, Any]) -> None:
    envelope["payload"]["actions"][0]["action_id"] = "approve_request"


def _no_user(envelope: dict[str, Any]) -> None:
    del envelope["payload"]["user"]


def _huge_value(envelope: dict[str, Any]) -> None:
    envelope["payload"]["actions"][0]["value"] = json.dumps(["spec", SPEC_ID + "x" * 5000])


def _garbage_value(envelope: dict[str, Any]) -> None:
    envelope["payload"]["actions"][0]["value"] = "spec 2607.26627"


def _view_submission(envelope: dict[str, Any]) -> None:
    envelope["payload"]["type"] = "view_submission"


def _events_api(envelope: dict[str, Any]) -> None:
    envelope["type"] = "events_api"
    envelope["payload"] = {"event": {"type": "app_mention", "text": "<@U0BOT>"}}


def _payload_a_list(envelope: dict[str, Any]) -> None:
    envelope["payload"] = ["not", "an", "object"]


@pytest.mark.parametrize(
    ("spoil", "logged"),
    [
        pytest.param(
            _unknown_profile, "for an unknown profile 'nosuchprofile'", id="unknown-profile"
        ),
        pytest.param(_forged_paper, "'2607.26497' was not delivered for profile spec", id="forged"),
        pytest.param(_other_channel, "was not delivered for profile spec in C0RAG", id="channel"),
        pytest.param(_foreign_action, "ignored action 'approve_request'", id="foreign-action"),
        pytest.param(_no_user, "ignored a click without a user id", id="no-user"),
        pytest.param(_huge_value, 'with a malformed value \'["spec", "2607.26627xxx', id="huge"),
        pytest.param(_garbage_value, "with a malformed value 'spec 2607.26627'", id="garbage"),
        pytest.param(
            _view_submission, "ignored an interaction of type 'view_submission'", id="view"
        ),
        pytest.param(_events_api, "ignored a 'events_api' envelope", id="events-api"),
        pytest.param(_payload_a_list, "ignored a 'interactive' envelope", id="payload-list"),
    ],
)
def test_a_foreign_or_forged_click_is_acked_logged_and_ignored(
    voting: Bot,
    listener: VoteListener,
    caplog: pytest.LogCaptureFixture,
    spoil: Any,
    logged: str,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.notifiers.slack_socket")
    sock = voting.slack.socket_mode()
    post = digest_post(voting)
    bad = click(post)
    spoil(bad)
    sock.send(bad)
    assert sock.wait_until(lambda s: acked(s, bad["envelope_id"]), WAIT)
    # Still listening: a good click after it counts (and proves the bad one was handled first).
    good = click(post, user="U0BOB")
    sock.send(good)
    assert voting.slack.wait_until(lambda s: len(s.ephemerals) == 1, WAIT)
    assert votes_in(voting.state) == [("spec", SPEC_ID, "slack:U0BOB", 1, "slack")]
    assert [e.user for e in voting.slack.ephemerals] == ["U0BOB"]
    lines = [r.getMessage() for r in caplog.records]
    assert any(logged in line for line in lines), lines
    assert all(len(line) < 300 for line in lines)  # an excerpt, never the payload
    assert all(APP_TOKEN not in line for line in lines)


def test_non_json_and_envelope_less_messages_are_survived(
    voting: Bot, listener: VoteListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.notifiers.slack_socket")
    sock = voting.slack.socket_mode()
    sock.send("this is not JSON at all")
    sock.send('{"type": "interactive", "payload": {}}')  # no envelope id: cannot be acked
    sock.send(click(digest_post(voting)))
    assert voting.slack.wait_until(lambda s: len(s.ephemerals) == 1, WAIT)
    assert votes_in(voting.state) == [("spec", SPEC_ID, "slack:U0ALICE", 1, "slack")]
    lines = [r.getMessage() for r in caplog.records]
    assert any("without a usable envelope id (type 'interactive'" in line for line in lines), lines


# --------------------------------------------------------------------------- the daemon


def test_the_daemon_hears_a_click_over_socket_mode_end_to_end(voting: Bot, tmp_path: Path) -> None:
    sock = voting.slack.socket_mode()
    log = tmp_path / "daemon.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(voting.config)],
            cwd=ROOT,
            env=voting.env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
        try:
            assert sock.wait_until(lambda s: s.connected == 1, WAIT), log.read_text("utf-8")
            post = digest_post(voting)
            envelope = click(post, action_id=VOTE_DOWN)
            sock.send(envelope)
            sock.send(envelope)  # resent: one vote
            sock.send("garbage")
            forged = click(post)
            forged["payload"]["actions"][0]["value"] = vote_value("spec", "2607.26497")
            sock.send(forged)
            assert sock.wait_until(lambda s: acked(s, forged["envelope_id"]), WAIT)
            assert sock.acks.count({"envelope_id": envelope["envelope_id"]}) == 2
            assert voting.slack.wait_until(lambda s: len(s.ephemerals) >= 1, WAIT)
            deadline = time.monotonic() + WAIT
            while "was not delivered for profile spec" not in log.read_text("utf-8"):
                assert time.monotonic() < deadline, log.read_text("utf-8")
                assert proc.poll() is None, log.read_text("utf-8")
                time.sleep(0.05)
            assert proc.poll() is None  # alive
            assert votes_in(voting.state) == [("spec", SPEC_ID, "slack:U0ALICE", -1, "slack")]
            assert [e.user for e in voting.slack.ephemerals] == ["U0ALICE"]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0, log.read_text("utf-8")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert sock.wait_until(lambda s: s.connected == 0, WAIT)  # closed cleanly
    text = log.read_text("utf-8")
    assert "listening for vote buttons over Socket Mode" in text
    assert "Traceback" not in text
    assert APP_TOKEN not in text


WIDE_PROFILE = """\
name: Everything
description: Large language models, learning, training data, benchmarks and agents.
keywords: [model, models, language, learning, training, data, large, agents, benchmark]
min_score: 0.0
max_per_digest: 30
notify:
  slack: "#papers-spec"
"""


def test_a_click_in_a_threaded_continuation_counts_and_is_answered_in_the_thread(
    bot: Bot,
) -> None:
    bot.slack.app_token = APP_TOKEN
    sock = bot.slack.socket_mode()
    bot.env["SLACK_APP_TOKEN"] = APP_TOKEN
    bot.hf.serve_hf_day(DAY.isoformat(), FIXTURE)
    bot.profile("wide.yaml", WIDE_PROFILE)
    result = bot.run("once", "--date", DAY.isoformat())
    assert result.returncode == 0, result.stderr
    first, *replies = bot.slack.messages_in("#papers-spec")
    assert replies, "the digest must be long enough to continue in a thread"
    reply = replies[-1]
    assert reply.thread_ts == first.ts
    [profile_id, paper_id] = json.loads(vote_blocks(reply.blocks)[-1]["elements"][0]["value"])
    assert profile_id == "wide"

    found = VoteListener.create(load_settings(bot.config), bot.env)
    assert found is not None
    found.start()
    try:
        assert sock.wait_until(lambda s: s.connected == 1, WAIT)
        envelope = click(reply, button=-1, action_id=VOTE_DOWN, user="U0BOB")
        envelope["payload"]["container"]["thread_ts"] = first.ts  # as Slack sends it
        sock.send(envelope)
        assert bot.slack.wait_until(lambda s: len(s.ephemerals) == 1, WAIT)
    finally:
        found.close()
    assert votes_in(bot.state) == [("wide", paper_id, "slack:U0BOB", -1, "slack")]
    [told] = bot.slack.ephemerals
    assert (told.channel, told.user, told.thread_ts) == (reply.channel, "U0BOB", first.ts)


def test_a_first_connection_that_fails_is_tried_again(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.notifiers.slack_socket")
    bot.slack.app_token = APP_TOKEN
    bot.env["SLACK_APP_TOKEN"] = APP_TOKEN
    found = VoteListener.create(load_settings(bot.config), bot.env)
    assert found is not None
    found.start()  # Slack's side is not up yet: apps.connections.open fails
    try:
        assert bot.slack.wait_until(
            lambda s: any(c.method == "apps.connections.open" and not c.ok for c in s.requests),
            WAIT,
        )
        sock = bot.slack.socket_mode()
        assert sock.wait_until(lambda s: s.connected == 1, WAIT)
    finally:
        found.close()
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        line.startswith("slack: cannot open the Socket Mode connection for the vote buttons")
        for line in lines
    ), lines
    assert "slack: listening for vote buttons over Socket Mode" in lines
    assert all(APP_TOKEN not in line for line in lines)
