"""Slack through an incoming webhook: the alternative to a bot token, for one fixed channel.

Used when the `slack:` settings name `webhook_env` instead of `token_env` (`SlackNotifier.create`
hands over to this module), so profiles keep writing `notify: {slack: "#channel"}` and the
outbox keys stay `slack:#channel`. A webhook posts to the one channel it was created for,
whatever channel a profile names; the first time two different channels are named in a run,
that is logged once (info). A person (`U0123ABCD`, `@bob`, an email address: slack_targets.py)
cannot be reached by a webhook: profiles naming one next to `webhook_env` fail `check` (config
error), and a delivery queued for one before the switch to a webhook is refused, for good.

The layout is the bot token's (`build_messages` in slack_blocks.py: the same blocks, limits and
escaping). A webhook cannot thread, so a long digest is several messages in a row, each sent
after the previous one was accepted; posts are at most one per second (`Pace`), all of them
going to the webhook's one channel. Posting uses slack-sdk's `WebhookClient` with the bot
token's retry policy (slack_client.py): connection errors once, 429 after `Retry-After` unless
that is longer than `max_retry_after`, and 500, 502, 503 and 504; failures are worded as the
bot token's are (slack_errors.py).

What a webhook answers, and what it means for the outbox (HTTP 200 with the body `ok` is the
only success):

    HTTP    body, e.g.                                     outbox
    200     ok                                             sent
    400     invalid_payload, no_text, invalid_blocks,      dead (permanent)
            too_many_attachments
    403     action_prohibited, invalid_token               dead
    404     channel_not_found, no_service, no_team         dead
    410     channel_is_archived, no_active_hooks           dead
    429     (after the retries, or at once when            failed: retried next run
            Retry-After > max_retry_after)
    5xx     (after the retries of 500, 502, 503, 504)      failed
    other   any other status, or 200 without `ok`         failed: an unknown answer keeps the
                                                           digest queued rather than losing it
    -       refused, dropped, timed out                    failed

A webhook cannot read its channel, so after a crash between "Slack accepted" and "marked sent"
the digest is posted again (at-least-once: the default `already_delivered`). Nor can it be
proven without posting: `check --live` says the URL is well-formed, and that this is all.

The webhook URL is a secret (whoever has it can post): it is read from the variable
`webhook_env` names (bot/secrets.py: a URL not under `webhook_base_url`, by default
https://hooks.slack.com/, or with characters a request line cannot carry, raises SecretError
naming the variable: a config error at `check`, a dead delivery at send time) and never
formatted into a message, a hint, a log line or a repr, and slack-sdk's own log lines (it logs
the URL it posts to) pass through a filter that cuts URLs out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

from slack_sdk.webhook import WebhookClient

from bot.errors import DeliveryError
from bot.http import SharedSlot
from bot.models import Check, Delivery
from bot.notifiers.base import Notifier
from bot.notifiers.slack_blocks import build_messages
from bot.notifiers.slack_client import Pace, SlackSettings, retry_after, retry_handlers
from bot.notifiers.slack_errors import (
    BUG_HINT,
    NETWORK_ERRORS,
    TRANSIENT_HINT,
    describe_answer,
    error_code,
    redactor,
    unreachable,
)
from bot.notifiers.slack_targets import SlackTargets, is_person
from bot.render import escape_mrkdwn
from bot.secrets import read_secret, webhook_url

log = logging.getLogger(__name__)

SUCCESS_BODY = "ok"
# Answers that retrying will not heal: the papers of that destination are marked dead.
PERMANENT_STATUSES: frozenset[int] = frozenset({400, 403, 404, 410})

# What to do next, by the error code in the body, else by status. `{env}` is the NAME of the
# variable holding the URL, never the URL.
_HINTS: Mapping[str, str] = {
    "invalid_payload": BUG_HINT,
    "no_text": BUG_HINT,
    "invalid_blocks": BUG_HINT,
    "invalid_blocks_format": BUG_HINT,
    "msg_too_long": BUG_HINT,
    "msg_blocks_too_long": BUG_HINT,
    "too_many_attachments": BUG_HINT,
    "action_prohibited": "a workspace admin restricts what this webhook may post",
    "posting_to_general_channel_denied": (
        "only admins may post in the webhook's channel: create a webhook for another channel "
        "and put its URL in ${env}"
    ),
    "invalid_token": "the webhook in ${env} was revoked: create a new one and update ${env}",
    "channel_not_found": (
        "the webhook's channel no longer exists: create a webhook for another channel and "
        "update ${env}"
    ),
    "no_service": (
        "no such webhook (removed, or a wrong URL in ${env}): create one and update ${env}"
    ),
    "no_team": "the webhook's workspace is gone: create a new webhook and update ${env}",
    "team_disabled": "the webhook's workspace is disabled",
    "channel_is_archived": (
        "the webhook's channel is archived: unarchive it, or create a webhook for another "
        "channel and update ${env}"
    ),
    "no_active_hooks": (
        "incoming webhooks are turned off for the app: turn them on again, or create a new "
        "webhook and update ${env}"
    ),
    "rate_limited": "Slack is rate-limiting the webhook; the digest stays queued for the next run",
}
_STATUS_HINTS: Mapping[int, str] = {
    400: BUG_HINT,
    403: "Slack refuses this webhook: check it, or create a new one and update ${env}",
    404: "no such webhook (removed, or a wrong URL in ${env}): create one and update ${env}",
    410: "the webhook or its channel is gone: create a new webhook and update ${env}",
}
# Anything that looks like a URL, or the path of a Slack hook, in slack-sdk's log lines.
_URLISH = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+|/(?:services|triggers|workflows)/[^\s'\"<>]+"
)


class _CutUrls(logging.Filter):
    """slack-sdk's webhook client logs the URL it posts to (at debug, and on retries); here
    every URL-like piece of its lines is replaced before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _URLISH.sub("[url]", record.getMessage())
        record.args = ()
        return True


# A child of `slack_sdk`, so the CLI's level for slack-sdk applies to it.
_SDK_LOG = logging.getLogger("slack_sdk.webhook.digestbot")
_SDK_LOG.addFilter(_CutUrls())


class SlackWebhookNotifier(Notifier):
    """Posts digests with a `slack_sdk.webhook.WebhookClient` (built by `create()`, or given)."""

    name: ClassVar[str] = "slack"
    Settings = SlackSettings
    Target: ClassVar[Any] = SlackTargets  # what profiles name; posts go to the hook's channel

    def __init__(self, client: WebhookClient, *, webhook_env: str = "SLACK_WEBHOOK_URL") -> None:
        self._client = client
        self._webhook_env = webhook_env
        self._pace = Pace()  # one channel, one pace: every post takes the same slot
        self._targets: set[str] = set()
        url = client.url
        path = urlsplit(url).path
        secret = path.rstrip("/").rsplit("/", 1)[-1]
        # The redactor cuts the longest first: the URL goes whole before its path is looked for.
        self._redact = redactor(
            tuple(s for s in (url, path, secret if len(secret) >= 8 else "") if len(s) > 1)
        )

    def share_pacing(self, slot: SharedSlot) -> None:
        self._pace.shared = slot  # the webhook's one channel, across workers too

    @property
    def client(self) -> WebhookClient:
        return self._client

    def __repr__(self) -> str:
        return f"SlackWebhookNotifier(webhook_env={self._webhook_env!r})"

    def describe(self) -> str:
        return f"incoming webhook from ${self._webhook_env}"

    def place(self, target: str) -> str:
        """One place, whatever channel a profile names: the webhook's own channel."""
        return "webhook"

    @classmethod
    def create(cls, settings: Any, env: Mapping[str, str]) -> tuple[Notifier | None, str]:
        if not isinstance(settings, SlackSettings):
            settings = SlackSettings.model_validate(settings or {})
        variable = settings.webhook_env or "SLACK_WEBHOOK_URL"
        # A URL that is set but malformed raises SecretError: it is not "no webhook".
        url = read_secret(env, variable, webhook_url(settings.webhook_base_url))
        if url is None:
            return None, f"{variable} is not set"
        client = WebhookClient(
            url=url,
            # slack-sdk annotates `timeout` as int; it only hands it to urlopen, which takes floats.
            timeout=settings.timeout,
            logger=_SDK_LOG,
            retry_handlers=retry_handlers(settings),
        )
        return cls(client, webhook_env=variable), ""

    def send(self, delivery: Delivery, target: str) -> None:
        destination = f"slack:{target}"
        self._refuse_person(target, destination)
        self._note_target(target)
        messages = build_messages(delivery)
        delivered: list[str] = []
        for k, message in enumerate(messages, start=1):
            where = f" (message {k} of {len(messages)})" if len(messages) > 1 else ""
            self._post(destination, where, tuple(delivered), message.text, message.blocks)
            delivered.extend(message.paper_ids)
            log.debug("slack webhook: %s accepted message %d of %d", destination, k, len(messages))
        log.info(
            "slack: delivered %d papers to %s in %d message(s) through the incoming webhook",
            len(delivered),
            destination,
            len(messages),
        )

    def send_text(self, text: str, target: str) -> None:
        """A plain notice (operator alerts): escaped, no blocks."""
        self._refuse_person(target, f"slack:{target}")
        self._note_target(target)
        self._post(f"slack:{target}", "", (), escape_mrkdwn(text), None)

    def probe(self, targets: Sequence[str]) -> Iterator[Check]:
        """`check --live`: an incoming webhook has no call that proves it without posting
        (nothing reads a hook), so the one thing known is said, and what is not."""
        yield Check(
            "slack webhook",
            "ok",
            f"URL in ${self._webhook_env} well-formed; not provable without posting",
        )

    def _refuse_person(self, target: str, destination: str) -> None:
        """A person's digest would land in the webhook's channel, for everyone to read."""
        if is_person(target):
            raise DeliveryError(
                f"{target} is a person, and an incoming webhook cannot send direct messages",
                destination=destination,
                permanent=True,
                hint="use a bot token (slack.token_env) to reach people, or name a channel in "
                "the profile's notify.slack",
            )

    def _note_target(self, target: str) -> None:
        if target in self._targets:
            return
        self._targets.add(target)
        if len(self._targets) == 2:
            log.info(
                "slack: profiles name different channels (%s), but an incoming webhook posts "
                "to its own channel: all of them go there",
                ", ".join(sorted(self._targets)),
            )

    def _post(
        self,
        destination: str,
        where: str,
        delivered: tuple[str, ...],
        text: str,
        blocks: list[dict[str, Any]] | None,
    ) -> None:
        """One webhook post, at most one per second; anything but 200 `ok` -> DeliveryError."""
        with self._pace.slot("webhook"):
            try:
                response = self._client.send(
                    text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
                )
            except NETWORK_ERRORS as exc:
                raise unreachable(
                    "the Slack webhook",
                    exc,
                    destination=destination,
                    where=where,
                    delivered=delivered,
                    hint="check the network; " + TRANSIENT_HINT,
                    redact=self._redact,
                ) from exc
        if response.status_code == 200 and response.body == SUCCESS_BODY:
            return
        # Not Slack's answer but e.g. a proxy's HTML page (which may quote the URL): only the
        # status is reported (`error_code` gives "").
        code = error_code(response.body)
        what = describe_answer(code, response.status_code, response.headers)
        hint = _HINTS.get(code) or _STATUS_HINTS.get(response.status_code, TRANSIENT_HINT)
        raise DeliveryError(
            self._redact(f"Slack webhook answered {what}{where}"),
            destination=destination,
            permanent=response.status_code in PERMANENT_STATUSES,
            delivered=delivered,
            hint=hint.replace("{env}", self._webhook_env),
            retry_after=retry_after(response.headers) if response.status_code == 429 else None,
        )
