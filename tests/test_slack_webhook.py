"""Slack incoming webhooks, through slack-sdk's real WebhookClient and the loopback stand-in.

Papers are the real items of the recorded Hugging Face Daily Papers payload of 2026-07-31 (the
helpers of test_slack.py); the 200-paper digest reuses them under synthetic ids. The last tests
run the real CLI (tests/e2e.py) with `slack: {webhook_env: ...}`.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import textwrap
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from bot.config import load_settings
from bot.errors import ConfigErrors, DeliveryError, DigestbotError
from bot.models import Delivery
from bot.notifiers.slack import SlackNotifier
from bot.notifiers.slack_blocks import SlackMessage, build_messages
from bot.notifiers.slack_client import (
    CappedRateLimitRetryHandler,
    GatewayErrorRetryHandler,
    SlackSettings,
)
from bot.notifiers.slack_webhook import SlackWebhookNotifier
from tests.conftest import FIXTURES
from tests.e2e import SPEC_ID, SPEC_PROFILE, TOKEN, Bot, posted_ids
from tests.slack_standin import MAX_ATTACHMENTS, WEBHOOK_CHANNEL, SlackStandIn
from tests.test_slack import (
    check_limits,
    linked_ids,
    make_delivery,
    many_papers,
    real_papers,
    within,
)

ENV = "SLACK_WEBHOOK_URL"
DAY = "2026-07-31"
HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
# A hook whose last part looks like a real one, so that finding it anywhere is unambiguous.
SECRET_PATH = "/services/T0DIGEST/B0DIGEST/w3bh00kS3cr3tV4lu3xYz9Q"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=TOKEN) as server:
        yield server


def webhook_notifier(url: str, max_retries: int = 1, timeout: float = 5) -> SlackWebhookNotifier:
    """Built the way the app builds it: SlackNotifier.create with `webhook_env` set."""
    base = url.split("/services/", 1)[0] + "/"  # the stand-in's (or a closed port's) root
    settings = SlackSettings(
        webhook_env=ENV, webhook_base_url=base, max_retries=max_retries, timeout=timeout
    )
    notifier, why = SlackNotifier.create(settings, {ENV: url, "SLACK_BOT_TOKEN": TOKEN})
    assert why == ""
    assert isinstance(notifier, SlackWebhookNotifier)
    return notifier


def send_error(notifier: SlackWebhookNotifier, delivery: Delivery, target: str) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        notifier.send(delivery, target)
    return info.value


def statuses(standin: SlackStandIn) -> list[tuple[int, str | None]]:
    return [(c.status, c.error) for c in standin.requests if c.method == "webhook"]


# --------------------------------------------------------------------------- delivering


def test_digest_arrives_whole_in_the_webhooks_channel(standin: SlackStandIn) -> None:
    delivery = make_delivery(real_papers()[:3])
    webhook_notifier(standin.webhook_url).send(delivery, "#papers-norm")

    [message] = build_messages(delivery)
    [post] = standin.posts
    assert (post.channel, post.thread_ts) == (WEBHOOK_CHANNEL, None)
    assert (post.text, post.blocks) == (message.text, message.blocks)
    assert post.params == {
        "text": message.text,
        "blocks": message.blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
    assert linked_ids(post.blocks) == [p.id for p in real_papers()[:3]]
    assert statuses(standin) == [(200, None)]
    assert [c.method for c in standin.requests] == ["webhook"]  # no Web API call at all


def test_two_hundred_papers_arrive_as_several_messages_in_order(standin: SlackStandIn) -> None:
    papers = many_papers(200)
    delivery = make_delivery(papers, candidates=400)
    messages = build_messages(delivery)
    webhook_notifier(standin.webhook_url).send(delivery, "#papers-norm")

    posts = standin.posts
    assert len(posts) == len(messages) > 1
    assert statuses(standin) == [(200, None)] * len(messages)  # every one passed the checks
    for post, message in zip(posts, messages, strict=True):
        assert post.thread_ts is None  # webhooks cannot thread: messages in a row
        assert (post.text, post.blocks) == (message.text, message.blocks)
        check_limits(SlackMessage(post.text, post.blocks, ()))
    assert posts[0].blocks[1]["text"]["text"] == "200 new papers matched out of 400"
    assert [p.blocks[0]["elements"][0]["text"] for p in posts[1:]] == [
        f"continued ({k}/{len(posts)})" for k in range(2, len(posts) + 1)
    ]
    seen = [pid for post in posts for pid in linked_ids(post.blocks)]
    assert seen == [p.id for p in papers]  # none lost, in order
    assert Counter(seen).most_common(1)[0][1] == 1  # none twice
    stamps = [float(p.ts) for p in posts]
    assert all(b - a >= 0.99 for a, b in itertools.pairwise(stamps))  # one post per second


def test_operator_alert_is_escaped_plain_text(standin: SlackStandIn) -> None:
    webhook_notifier(standin.webhook_url).send_text(
        "digestbot: source hf_daily failed <!channel> & more", "#ops"
    )
    [post] = standin.posts
    assert (post.channel, post.blocks) == (WEBHOOK_CHANNEL, [])
    assert post.text == "digestbot: source hf_daily failed &lt;!channel&gt; &amp; more"


def test_different_channels_are_logged_once(
    standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.notifiers.slack_webhook")
    notifier = webhook_notifier(standin.webhook_url)
    for target in ("#papers-norm", "#papers-norm", "#papers-agents", "#ops"):
        notifier.send_text("hello", target)
    told = [r.getMessage() for r in caplog.records if "different channels" in r.getMessage()]
    assert told == [
        "slack: profiles name different channels (#papers-agents, #papers-norm), but an "
        "incoming webhook posts to its own channel: all of them go there"
    ]
    assert {p.channel for p in standin.posts} == {WEBHOOK_CHANNEL}


# --------------------------------------------------------------------------- failures


def test_rate_limited_once_then_delivered_once_after_waiting(standin: SlackStandIn) -> None:
    standin.fail_next_webhook(429, {"Retry-After": "1"})
    start = time.monotonic()
    webhook_notifier(standin.webhook_url).send(make_delivery(real_papers()[:3]), "#papers-norm")
    assert time.monotonic() - start >= 1.0  # Retry-After was honoured
    assert len(standin.posts) == 1
    assert statuses(standin) == [(429, "rate_limited"), (200, None)]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_once_then_delivered(standin: SlackStandIn, status: int) -> None:
    standin.fail_next_webhook(status)  # 502 and 504: what a gateway in front of Slack answers
    webhook_notifier(standin.webhook_url).send(make_delivery(real_papers()[:3]), "#papers-norm")
    assert len(standin.posts) == 1
    assert statuses(standin) == [(status, None), (200, None)]


def test_long_retry_after_fails_now_as_transient(standin: SlackStandIn) -> None:
    standin.fail_next_webhook(429, {"Retry-After": "3600"})
    notifier = webhook_notifier(standin.webhook_url, max_retries=3)  # max_retry_after: 300

    def send() -> None:
        err = send_error(notifier, make_delivery(real_papers()[:1]), "#papers-norm")
        assert (err.permanent, err.delivered) == (False, ())
        assert str(err) == (
            "slack:#papers-norm: Slack webhook answered rate_limited (HTTP 429), asked to retry "
            "after 3600s"
        )

    assert within(10, send) < 5  # not an hour
    assert statuses(standin) == [(429, "rate_limited")]
    assert standin.posts == []


# (status, body, what the error says, a word of the hint)
PERMANENT = [
    (404, "channel_not_found", "channel_not_found (HTTP 404)", "$SLACK_WEBHOOK_URL"),
    (410, "channel_is_archived", "channel_is_archived (HTTP 410)", "archived"),
    (410, "no_active_hooks", "no_active_hooks (HTTP 410)", "turned off"),
    (403, "action_prohibited", "action_prohibited (HTTP 403)", "admin"),
    (403, "invalid_token", "invalid_token (HTTP 403)", "revoked"),
    (400, "invalid_payload", "invalid_payload (HTTP 400)", "bug"),
    (400, "too_many_attachments", "too_many_attachments (HTTP 400)", "bug"),
    (404, None, "HTTP 404 without a Slack error code", "$SLACK_WEBHOOK_URL"),
]


@pytest.mark.parametrize(("status", "body", "what", "hint_part"), PERMANENT)
def test_permanent_answers_are_dead_and_not_retried(
    standin: SlackStandIn, status: int, body: str | None, what: str, hint_part: str
) -> None:
    standin.fail_next_webhook(status, error=body)
    notifier = webhook_notifier(standin.webhook_url, max_retries=3)
    err = send_error(notifier, make_delivery(real_papers()[:2]), "#papers-norm")
    assert (err.permanent, err.delivered) == (True, ())
    assert str(err) == f"slack:#papers-norm: Slack webhook answered {what}"
    assert err.hint is not None and hint_part in err.hint
    assert len(standin.requests) == 1
    assert standin.posts == []


# (scripted failures, max_retries, what the error says)
TRANSIENT = [
    pytest.param([(500, None, 2)], 1, "HTTP 500 without a Slack error code", id="500-twice"),
    pytest.param([(503, "service_unavailable", 2)], 1, "service_unavailable (HTTP 503)", id="503"),
    pytest.param([(502, None, 2)], 1, "HTTP 502 without a Slack error code", id="502"),
    pytest.param([(504, None, 2)], 1, "HTTP 504 without a Slack error code", id="504"),
    pytest.param(
        [(429, None, 1)],
        0,
        "rate_limited (HTTP 429), asked to retry after 0s",
        id="429-no-retries-left",
    ),
    pytest.param([(200, "not_ok", 1)], 1, "not_ok (HTTP 200)", id="200-without-ok"),
    pytest.param([(401, None, 1)], 1, "HTTP 401 without a Slack error code", id="unknown"),
]


@pytest.mark.parametrize(("failures", "max_retries", "what"), TRANSIENT)
def test_transient_answers_keep_the_digest_queued(
    standin: SlackStandIn, failures: list[tuple[int, str | None, int]], max_retries: int, what: str
) -> None:
    for status, body, times in failures:
        standin.fail_next_webhook(status, {"Retry-After": "0"}, error=body, times=times)
    notifier = webhook_notifier(standin.webhook_url, max_retries=max_retries)
    err = send_error(notifier, make_delivery(real_papers()[:2]), "#papers-norm")
    assert (err.permanent, err.delivered) == (False, ())
    assert str(err) == f"slack:#papers-norm: Slack webhook answered {what}"
    assert standin.posts == []


def test_unknown_hook_is_dead_and_its_url_is_not_told(standin: SlackStandIn) -> None:
    url = standin.root_url + SECRET_PATH  # never created: Slack answers 404 no_service
    err = send_error(webhook_notifier(url), make_delivery(real_papers()[:1]), "#papers-norm")
    assert err.permanent is True
    assert str(err) == "slack:#papers-norm: Slack webhook answered no_service (HTTP 404)"
    assert err.hint == (
        "no such webhook (removed, or a wrong URL in $SLACK_WEBHOOK_URL): create one and "
        "update $SLACK_WEBHOOK_URL"
    )
    for text in (str(err), repr(err), *traceback.format_exception(err)):
        assert "w3bh00kS3cr3t" not in text


def test_failing_continuation_reports_what_was_delivered(standin: SlackStandIn) -> None:
    delivery = make_delivery(many_papers(60))
    messages = build_messages(delivery)
    assert len(messages) >= 2
    standin.fail_next_webhook(410, error="channel_is_archived", after=1)
    err = send_error(webhook_notifier(standin.webhook_url), delivery, "#papers-norm")
    assert (err.permanent, err.delivered) == (True, messages[0].paper_ids)
    assert f"(message 2 of {len(messages)})" in str(err)
    assert len(standin.posts) == 1


def test_dropped_connection_is_transient(standin: SlackStandIn) -> None:
    standin.fail_next_webhook(0, disconnect=True, times=2)  # slack-sdk retries one drop
    err = send_error(
        webhook_notifier(standin.webhook_url), make_delivery(real_papers()[:1]), "#papers-norm"
    )
    assert err.permanent is False
    assert str(err).startswith("slack:#papers-norm: could not reach the Slack webhook: ")
    assert [c.status for c in standin.requests] == [0, 0]


def test_timeout_is_transient(standin: SlackStandIn) -> None:
    standin.fail_next_webhook(200, delay=3)
    notifier = webhook_notifier(standin.webhook_url, timeout=0.3)
    err = send_error(notifier, make_delivery(real_papers()[:1]), "#papers-norm")
    assert err.permanent is False
    assert "timed out" in str(err)
    assert standin.posts == []


def test_refused_connection_is_transient_and_does_not_show_the_url() -> None:
    with SlackStandIn(token=TOKEN) as gone:
        url = gone.root_url + SECRET_PATH
    # closed: nothing listens on its port any more
    err = send_error(webhook_notifier(url, max_retries=0), make_delivery(real_papers()[:1]), "#x")
    assert err.permanent is False
    assert "could not reach the Slack webhook" in str(err)
    assert "w3bh00kS3cr3t" not in str(err) + repr(err)


def test_url_never_reaches_logs_or_errors(
    standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="slack_sdk")
    caplog.set_level(logging.DEBUG, logger="bot")
    url = standin.add_webhook(SECRET_PATH)
    notifier = webhook_notifier(url)
    delivery = make_delivery(real_papers()[:2])
    notifier.send(delivery, "#papers-norm")
    standin.fail_next_webhook(500)  # retried
    notifier.send(delivery, "#papers-norm")
    standin.fail_next_webhook(0, disconnect=True)  # retried
    notifier.send(delivery, "#papers-norm")
    errors = []
    for status, body in ((404, "channel_not_found"), (403, "action_prohibited")):
        standin.fail_next_webhook(status, error=body)
        errors.append(send_error(notifier, delivery, "#papers-norm"))
    standin.close()
    errors.append(send_error(webhook_notifier(url, max_retries=0), delivery, "#papers-norm"))

    # slack-sdk did log the request (with its URL, before the filter), so the check means something.
    assert any("Sending a request - url: [url]" in r.getMessage() for r in caplog.records)
    assert any("Failed to send a request" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert SECRET_PATH not in record.getMessage()
        assert "w3bh00kS3cr3t" not in repr(record.args) + (record.exc_text or "")
    for err in errors:
        for text in (str(err), repr(err), str(err.hint), *traceback.format_exception(err)):
            assert "w3bh00kS3cr3t" not in text
    assert "w3bh00kS3cr3t" not in caplog.text + repr(notifier)


# --------------------------------------------------------------------------- create() and settings


@pytest.mark.parametrize("value", [None, "  "])
def test_create_without_a_webhook_url(value: str | None) -> None:
    env = {"SLACK_BOT_TOKEN": TOKEN} | ({ENV: value} if value is not None else {})
    notifier, reason = SlackNotifier.create(SlackSettings(webhook_env=ENV), env)
    assert (notifier, reason) == (None, "SLACK_WEBHOOK_URL is not set")


_NOT_UNDER = "it is not a webhook URL under https://hooks.slack.com/ (slack.webhook_base_url)"
MALFORMED_URLS = [
    ("hooks.slack.com/services/T0/B0/w3bh00kS3cr3t", _NOT_UNDER),
    ("ftp://hooks.slack.com/services/T0/B0/w3bh00kS3cr3t", _NOT_UNDER),
    ("http://hooks.slack.com/services/T0/B0/w3bh00kS3cr3t", _NOT_UNDER),
    ("https:///services/T0/B0/w3bh00kS3cr3t", _NOT_UNDER),
    ("https://hooks.slack.com.evil.example/services/T0/B0/w3bh00kS3cr3t", _NOT_UNDER),
    ("https://evil.example/services/T0/B0/w3bh00kS3cr3t", _NOT_UNDER),
    ("https://hooks.slack.com/", _NOT_UNDER),
    ("https://hooks.slack.com:8443/services/T0/B0/w3bh00kS3cr3t", _NOT_UNDER),
    ("https://hooks.slack.com:x/services/T0/B0/w3bh00kS3cr3t", _NOT_UNDER),
    ("https://hooks.slack.com/services/T0/B0/w3bh00k S3cr3t", "it contains a space"),
    ("https://hooks.slack.com/services/T0/B0/\nw3bh00kS3cr3t", "it contains a line break"),
    (
        "https://hooks.slack.com/services/T0/B0/\u00e9w3bh00kS3cr3t",
        "it contains a character outside ASCII",
    ),
]


@pytest.mark.parametrize(("value", "problem"), MALFORMED_URLS)
def test_create_refuses_a_malformed_webhook_url_naming_the_variable(
    value: str, problem: str
) -> None:
    """A URL that is set but unusable is an error, not "not configured": it used to send the
    digests to the console and mark them sent."""
    env = {"SLACK_BOT_TOKEN": TOKEN, ENV: value}
    with pytest.raises(DigestbotError) as caught:
        SlackNotifier.create(SlackSettings(webhook_env=ENV), env)
    err = caught.value
    assert str(err) == f"${ENV} is malformed: {problem}"
    assert err.hint is not None and f"${ENV}" in err.hint
    assert "w3bh00k" not in str(err) + err.hint


def test_the_default_port_may_be_written_out() -> None:
    url = "https://hooks.slack.com:443" + SECRET_PATH
    notifier, why = SlackNotifier.create(SlackSettings(webhook_env=ENV), {ENV: url})
    assert (isinstance(notifier, SlackWebhookNotifier), why) == (True, "")


def test_create_configures_slack_sdks_webhook_client() -> None:
    settings = SlackSettings(webhook_env="TEAM_HOOK", timeout=7.5, max_retries=4)
    url = "https://hooks.slack.com" + SECRET_PATH
    notifier, why = SlackNotifier.create(settings, {"TEAM_HOOK": url + "\n"})
    assert why == ""
    assert isinstance(notifier, SlackWebhookNotifier)
    client = notifier.client
    assert (client.url, client.timeout) == (url, 7.5)
    handlers = [(type(h), h.max_retry_count) for h in client.retry_handlers]
    assert handlers == [
        (ConnectionErrorRetryHandler, 1),
        (CappedRateLimitRetryHandler, 4),
        (GatewayErrorRetryHandler, 4),
    ]
    assert repr(notifier) == "SlackWebhookNotifier(webhook_env='TEAM_HOOK')"
    assert notifier.describe() == "incoming webhook from $TEAM_HOOK"


SLACK_SECTIONS = [
    pytest.param(
        "slack:\n  webhook_env: HOOK\n  token_env: SLACK_BOT_TOKEN\n",
        "slack.token_env",
        4,
        id="both",
    ),
    pytest.param(
        "slack:\n  token_env: SLACK_BOT_TOKEN\n  webhook_env: HOOK\n",
        "slack.token_env",
        3,
        id="both-other-order",
    ),
    pytest.param(
        "slack:\n  webhook_env: HOOK\n  base_url: https://slack.com/api/\n",
        "slack.base_url",
        4,
        id="base-url",
    ),
]


@pytest.mark.parametrize(("section", "field", "line"), SLACK_SECTIONS)
def test_token_and_webhook_together_are_a_config_error(
    tmp_path: Path, section: str, field: str, line: int
) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("timezone: UTC\n" + section, encoding="utf-8")
    with pytest.raises(ConfigErrors) as info:
        load_settings(path)
    [err] = info.value.errors
    name = field.rsplit(".", 1)[1]
    assert str(err) == (
        f"{path}:{line}: {field}: {name} belongs to a bot token, but webhook_env is set too: "
        "keep either token_env (a bot token) or webhook_env (an incoming webhook)"
    )


def test_webhook_settings_load_and_make_a_webhook_notifier(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text("slack:\n  webhook_env: HOOK\n  timeout: 5\n", encoding="utf-8")
    settings = load_settings(path).notifiers["slack"]
    assert isinstance(settings, SlackSettings)
    assert (settings.webhook_env, settings.timeout) == ("HOOK", 5)
    url = "https://hooks.slack.com" + SECRET_PATH
    notifier, _ = SlackNotifier.create(settings, {"HOOK": url, "SLACK_BOT_TOKEN": TOKEN})
    assert isinstance(notifier, SlackWebhookNotifier)
    # Without webhook_env, the bot token as before.
    token, _ = SlackNotifier.create(SlackSettings(), {ENV: url, "SLACK_BOT_TOKEN": TOKEN})
    assert type(token) is SlackNotifier


def test_empty_webhook_env_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        SlackSettings.model_validate({"webhook_env": ""})
    assert [e["type"] for e in info.value.errors()] == ["string_too_short"]


# --------------------------------------------------------------------------- the stand-in


def _section(i: int) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"paper {i}"}}


# (path, content type, body, status, answer)
STANDIN_CHECKS = [
    pytest.param(None, "application/json", {"text": "hi"}, 200, "ok", id="ok"),
    pytest.param(None, "form", {"text": "hi"}, 200, "ok", id="ok-form-payload"),
    pytest.param("/services/T0/B0/nope", "application/json", {"text": "hi"}, 404, "no_service"),
    pytest.param(None, "application/json", b"{not json", 400, "invalid_payload", id="not-json"),
    pytest.param(None, "text/plain", b'{"text": "hi"}', 400, "invalid_payload", id="not-json-2"),
    pytest.param(None, "application/json", b"[1]", 400, "invalid_payload", id="not-an-object"),
    pytest.param(None, "application/json", {}, 400, "no_text", id="empty"),
    pytest.param(None, "application/json", {"text": "  "}, 400, "no_text", id="blank"),
    pytest.param(
        None, "application/json", {"blocks": "x"}, 400, "invalid_blocks_format", id="bad-blocks"
    ),
    pytest.param(
        None,
        "application/json",
        {"text": "x", "blocks": [_section(i) for i in range(51)]},
        400,
        "invalid_blocks",
        id="51-blocks",
    ),
    pytest.param(
        None,
        "application/json",
        {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
        400,
        "invalid_blocks",
        id="long-section",
    ),
    pytest.param(
        None,
        "application/json",
        {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 300}}] * 45},
        400,
        "msg_blocks_too_long",
        id="blocks-json-too-long",
    ),
    pytest.param(None, "application/json", {"text": "x" * 40_001}, 400, "msg_too_long"),
    pytest.param(
        None,
        "application/json",
        {"text": "x", "attachments": [{"text": "a"}] * (MAX_ATTACHMENTS + 1)},
        400,
        "too_many_attachments",
    ),
]


@pytest.mark.parametrize(("path", "kind", "body", "status", "answer"), STANDIN_CHECKS)
def test_standin_checks_what_slack_checks_for_webhooks(
    standin: SlackStandIn, path: str | None, kind: str, body: Any, status: int, answer: str
) -> None:
    url = standin.root_url + path if path else standin.webhook_url
    if kind == "form":
        response = httpx.post(url, data={"payload": json.dumps(body)})
    else:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = httpx.post(url, content=content, headers={"Content-Type": kind})
    assert (response.status_code, response.text) == (status, answer)
    assert len(standin.posts) == (1 if status == 200 else 0)


# --------------------------------------------------------------------------- the real CLI


def use_webhook(bot: Bot, extra: str = "", base: str | None = None) -> None:
    """Rewrite the harness's `slack:` section to an incoming webhook under `base` (default: the
    stand-in's root); the token stays set in the environment: with webhook_env it is not used."""
    text = bot.config.read_text(encoding="utf-8")
    base = base or bot.slack.root_url
    section = (
        f"slack:\n  webhook_env: SLACK_WEBHOOK_URL\n  webhook_base_url: {base}\n  max_retries: 1\n"
    )
    new = re.sub(r"^slack:\n(?:  .*\n)+", section, text, flags=re.MULTILINE)
    assert new != text
    bot.config.write_text(new + textwrap.dedent(extra), encoding="utf-8")
    bot.env[ENV] = bot.slack.webhook_url


def test_digest_reaches_the_webhook_through_the_cli_once(bot: Bot) -> None:
    use_webhook(bot)
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)

    check = bot.run("check")
    assert check.returncode == 0, check.stderr
    assert (
        "slack: configured (incoming webhook from $SLACK_WEBHOOK_URL)" in check.stdout.splitlines()
    )
    assert bot.slack.webhook_url not in check.stdout + check.stderr

    first = bot.run("once", "--date", DAY)
    assert first.returncode == 0, first.stderr
    assert posted_ids(bot.slack, WEBHOOK_CHANNEL) == [SPEC_ID]
    [post] = bot.slack.posts
    assert post.blocks[0]["text"]["text"] == f"Speculative decoding — {DAY}"
    assert [c.method for c in bot.slack.requests] == ["webhook"]  # never the Web API

    second = bot.run("once", "--date", DAY)
    assert second.returncode == 0, second.stderr
    assert len(bot.slack.posts) == 1  # nothing posted twice
    assert "new=0" in second.stderr


def test_dead_webhook_delivery_is_kept_until_retry(bot: Bot) -> None:
    use_webhook(bot)
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.slack.fail_next_webhook(404, error="channel_not_found")

    dead = bot.run("once", "--date", DAY)
    assert dead.returncode == 1
    assert "slack:#papers-spec: Slack webhook answered channel_not_found (HTTP 404)" in dead.stderr
    assert "$SLACK_WEBHOOK_URL" in dead.stderr  # the hint names the variable
    assert "1 dead" in bot.run("status").stdout
    assert bot.run("once", "--date", DAY).returncode == 0  # dead rows are not retried
    assert bot.slack.posts == []
    assert len(bot.slack.requests) == 1

    assert bot.run("retry", "slack:#papers-spec").returncode == 0
    assert bot.run("once", "--date", DAY).returncode == 0
    assert posted_ids(bot.slack, WEBHOOK_CHANNEL) == [SPEC_ID]


def test_operator_alert_goes_through_the_webhook(bot: Bot) -> None:
    use_webhook(bot, 'operator:\n  slack: "#ops"\n')
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.hf.add("/api/daily_papers", "Service Unavailable", status=503)
    bot.hf.add("/papers", "Service Unavailable", status=503)

    failed = bot.run("once", "--date", DAY)
    assert failed.returncode == 1
    [alert] = bot.slack.posts
    assert alert.channel == WEBHOOK_CHANNEL
    assert alert.text.startswith("digestbot: source hf_daily")
    assert alert.blocks == []


def test_cli_refuses_token_and_webhook_together(bot: Bot) -> None:
    text = bot.config.read_text(encoding="utf-8")
    bot.config.write_text(
        text.replace(
            "  token_env: SLACK_BOT_TOKEN\n", "  token_env: SLACK_BOT_TOKEN\n  webhook_env: HOOK\n"
        ),
        encoding="utf-8",
    )
    result = bot.run("check")
    assert result.returncode == 2
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "token_env" in ln)
    assert (
        f"{bot.config}:{line}: slack.token_env: token_env belongs to a bot token" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_live_check_of_a_webhook_is_one_honest_line(bot: Bot) -> None:
    use_webhook(bot, 'operator:\n  slack: "#ops"\n')
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.hf.serve_hf_day(DAY, HF_0731)
    url = bot.slack.add_webhook(SECRET_PATH)
    bot.env[ENV] = url

    result = bot.run("check", "--live")

    assert result.returncode == 0, result.stdout + result.stderr
    slack = [line for line in result.stdout.splitlines() if line.startswith("slack")]
    assert slack == [
        "slack: configured (incoming webhook from $SLACK_WEBHOOK_URL)",
        "slack webhook: ok (URL in $SLACK_WEBHOOK_URL well-formed; not provable without posting)",
    ]
    assert bot.slack.requests == []  # nothing posted, not even a probe
    assert "w3bh00kS3cr3t" not in result.stdout + result.stderr


def test_a_malformed_webhook_url_is_a_config_error_and_its_digest_dead(bot: Bot) -> None:
    """It used to be taken for "no webhook": the digest went to the console, marked sent."""
    use_webhook(bot)
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.env[ENV] = "hooks.slack.com" + SECRET_PATH  # no scheme

    check = bot.run("check")
    assert check.returncode == 2, check.stdout + check.stderr
    assert f"error: ${ENV} is malformed: " in check.stderr
    assert "w3bh00k" not in check.stdout + check.stderr

    once = bot.run("once", "--date", DAY)
    assert once.returncode == 1, once.stderr
    assert f"${ENV} is malformed" in once.stderr
    assert "Speculative decoding —" not in once.stdout  # not on the console
    assert bot.slack.requests == []
    status = bot.run("status").stdout
    assert "destination slack:#papers-spec: 0 sent, 0 pending, 0 failed (will retry), 1 dead" in (
        status
    )
    assert "w3bh00k" not in once.stdout + once.stderr + status


def test_a_person_next_to_a_webhook_fails_check_naming_the_entry(bot: Bot) -> None:
    """A webhook posts only to its own channel: a digest for a person would land there."""
    use_webhook(bot, 'operator:\n  slack: ["#ops", "@alice"]\n')
    profile = bot.profile(
        "spec.yaml",
        SPEC_PROFILE.replace(
            'slack: "#papers-spec"', 'slack:\n    - "#papers-spec"\n    - U0ALICE'
        ),
    )
    result = bot.run("check")

    assert result.returncode == 2
    line = len(bot.config.read_text(encoding="utf-8").splitlines())  # operator's, the last
    because = (
        "is a person, but `slack:` in bot.yaml is an incoming webhook (webhook_env), which "
        "posts only to its own channel and cannot send direct messages: name a channel, or use "
        "a bot token (token_env) to reach people"
    )
    assert f"error: {bot.config}:{line}: operator.slack[1]: @alice {because}" in result.stderr
    bot.config.write_text(bot.config.read_text().replace(', "@alice"', ""), encoding="utf-8")
    result = bot.run("check")
    assert result.returncode == 2
    assert f"error: {profile}:8: notify.slack[1]: U0ALICE {because}" in result.stderr
    assert bot.slack.requests == []


def test_a_delivery_for_a_person_is_refused_by_a_webhook(standin: SlackStandIn) -> None:
    """Rows queued for a person by a bot token, then `slack:` switched to a webhook."""
    notifier = webhook_notifier(standin.webhook_url)
    for send in (
        lambda: notifier.send(make_delivery(real_papers()[:1]), "@alice"),
        lambda: notifier.send_text("an alert", "U0ALICE"),
    ):
        with pytest.raises(DeliveryError) as info:
            send()
        assert info.value.permanent is True
        assert "is a person, and an incoming webhook cannot send direct messages" in str(info.value)
    assert standin.posts == [] and standin.requests == []
