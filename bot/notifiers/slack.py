"""Slack: one digest becomes one message (plus thread replies when it is long), via slack-sdk.

This module owns everything Slack-specific: the Block Kit layout of a digest (`build_messages`,
pure and deterministic), Slack's size limits, posting with `chat.postMessage`, and translating
slack-sdk's and urllib's exceptions into `DeliveryError` with a hint.

Slack's limits, and where each number comes from:

    constant                value    source
    MAX_BLOCKS              50       Block Kit reference, "Blocks": up to 50 blocks per message
    MAX_SECTION_TEXT        3,000    Block Kit reference, section block: `text` max 3000 chars
    MAX_HEADER_TEXT         150      Block Kit reference, header block: `text` max 150 chars
    MAX_MESSAGE_TEXT        40,000   chat.postMessage reference: longer `text` -> msg_too_long
    MAX_BLOCKS_JSON         12,000   undocumented: Slack answers `msg_blocks_too_long` for ~13,200
                                     characters of blocks (slackapi/bolt-js#2509, #2867; Slack staff
                                     there: "12,000 text characters with a buffer for containers")

The undocumented limit is measured conservatively: as `json.dumps(blocks)`, i.e. the JSON
slack-sdk puts on the wire, containers and `\\uXXXX` escapes included.

Paper text comes from the internet. Every piece of it goes through `escape_mrkdwn` (and link
targets through `_link_target`), so a title like `<!channel>` shows as text and never pings.
The bot token is read from the environment variable the settings name; it is never formatted
into a message, a hint, a log line or a repr. With `webhook_env` instead of a token, `create()`
hands over to an incoming webhook (`slack_webhook.py`), which reuses the layout built here.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, ValidationInfo, field_validator
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.errors import DeliveryError
from bot.models import Check, Delivery, Match, fold_whitespace
from bot.notifiers.base import Notifier
from bot.render import escape_mrkdwn, headline, paper_url, short_authors, truncate, why_line
from bot.schema import Strict

log = logging.getLogger(__name__)

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_MESSAGE_TEXT = 40_000
MAX_BLOCKS_JSON = 12_000
POST_INTERVAL = 1.0  # seconds between two posts to one channel (Slack: about 1 per second)
METADATA_EVENT = "digestbot_digest"  # message metadata event_type carrying the delivery key
HISTORY_LOOKBACK = 200  # recent messages searched for a crashed run's post

# Our own budgets, well inside Slack's: one paper's section never takes more than this much of
# a message's JSON (so one paper always fits next to the header), and a link target longer
# than this is shown as plain bold text rather than risking the section limit.
_MAX_PAPER_JSON = 4000
_MAX_LINK_TARGET = 1000
_MAX_FALLBACK_NAME = 150  # the profile name in the fallback text; the date always follows
# (title, authors, why) limits in characters of escaped text, tried in order until the
# section fits; the last tier always fits.
_CLIP_TIERS: tuple[tuple[int, int, int], ...] = ((400, 300, 300), (200, 150, 150), (80, 60, 60))

# Slack `error` codes that retrying will not heal (the pipeline drops the papers for this
# destination), and the ones that it will. Codes in neither set are treated as transient:
# an unknown error keeps the digest queued rather than losing it.
PERMANENT_ERRORS: frozenset[str] = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
    }
)
TRANSIENT_ERRORS: frozenset[str] = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)

# What to do next, per error code. `{env}` is the NAME of the token variable, never its value.
_HINTS: Mapping[str, str] = {
    "invalid_auth": "check the token in ${env}",
    "not_authed": "set ${env} to the bot token (xoxb-...)",
    "account_inactive": "the app or user behind ${env} is deactivated: reinstall the app",
    "token_revoked": "the token in ${env} was revoked: reinstall the app and update ${env}",
    "token_expired": "the token in ${env} expired: refresh it and update ${env}",
    "no_permission": "give the app the chat:write scope and reinstall it",
    "missing_scope": "give the app the chat:write scope and reinstall it",
    "channel_not_found": (
        "check the channel in the profile's notify.slack (a private channel must invite the "
        "bot first: /invite @<bot>)"
    ),
    "not_in_channel": "invite the bot to the channel: /invite @<bot>",
    "is_archived": "the channel is archived: unarchive it or change the profile's notify.slack",
    "restricted_action": "a workspace admin restricts posting in this channel",
    "invalid_blocks": "digestbot built a message Slack refused: please report this as a bug",
    "invalid_blocks_format": "digestbot built a message Slack refused: please report this as a bug",
    "msg_too_long": "digestbot built a message Slack refused: please report this as a bug",
    "msg_blocks_too_long": "digestbot built a message Slack refused: please report this as a bug",
    "no_text": "digestbot built a message Slack refused: please report this as a bug",
    "ratelimited": "Slack is rate-limiting the bot; the digest stays queued for the next run",
}
_TRANSIENT_HINT = "the digest stays queued and is retried on the next run"
# `check --live` reads channels with conversations.info / conversations.list: they need these.
_READ_SCOPES_HINT = (
    "add the channels:read scope (and groups:read for private channels) to the app's Bot "
    "Token Scopes and reinstall it: `check --live` reads channel membership with them "
    "(posting itself only needs chat:write)"
)
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{4,}")  # channel IDs are upper case; names never are
_LIST_PAGE = 1000  # conversations.list `limit` (Slack's maximum; it may answer fewer)
_LIST_MAX_PAGES = 200
_NETWORK_ERRORS = (OSError, http.client.HTTPException, SlackClientError)
_ERROR_CODE = re.compile(r"[a-z0-9_]{1,100}")


class SlackSettings(Strict):
    """The `slack:` section of bot.yaml. The token (or webhook URL) itself is never in the file.

    Either a bot token (`token_env`, the default) or an incoming webhook (`webhook_env`), never
    both: naming `token_env` or `base_url` next to `webhook_env` is an error rather than one of
    them silently ignored.
    """

    # Declared first: pydantic validates in this order, so the validator of `token_env` and
    # `base_url` (which only runs when they are written in the file) can see it.
    webhook_env: str | None = Field(default=None, min_length=1)
    token_env: str = Field(default="SLACK_BOT_TOKEN", min_length=1)
    base_url: str = "https://slack.com/api/"
    timeout: float = Field(default=30, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)

    @field_validator("token_env", "base_url")
    @classmethod
    def _not_with_webhook(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("webhook_env") is not None:
            raise ValueError(
                f"{info.field_name} belongs to a bot token, but webhook_env is set too: keep "
                "either token_env (a bot token) or webhook_env (an incoming webhook)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, e.g. https://slack.com/api/")
        return value if value.endswith("/") else value + "/"


@dataclass(frozen=True)
class SlackMessage:
    """One `chat.postMessage` call: fallback text, blocks, and the papers it carries."""

    text: str
    blocks: list[dict[str, Any]]
    paper_ids: tuple[str, ...]


# --------------------------------------------------------------------------- rendering


def _clip(text: str, limit: int) -> str:
    """`text` escaped for mrkdwn and cut to at most `limit` characters of escaped text.

    Cut character by character so an entity like `&amp;` is never split."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    for ch in text:
        piece = escape_mrkdwn(ch)
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out).rstrip() + "…"


def _link_target(url: str) -> str:
    """A URL made safe inside `<url|text>`: nothing in it can end the link or split it."""
    safe = "".join(
        quote(ch, safe="") if ch in "|<>" or ch.isspace() or not ch.isprintable() else ch
        for ch in url
    )
    return escape_mrkdwn(safe)


def _json_len(value: object) -> int:
    """Characters of `value` as slack-sdk sends it (json.dumps defaults: ASCII, ", " and ": ")."""
    return len(json.dumps(value))


def _mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _facts(match: Match, why_limit: int) -> str:
    facts = [f"score {match.score:.2f}"]
    upvotes = match.paper.extras.get("upvotes")
    if isinstance(upvotes, int) and not isinstance(upvotes, bool):
        facts.append(f"▲ {upvotes} upvote{'' if upvotes == 1 else 's'}")
    why = fold_whitespace(why_line(match))
    if why:
        facts.append("why: " + _clip(why, why_limit))
    return " · ".join(facts)


def _paper_section(match: Match) -> dict[str, Any]:
    """The section for one paper: linked title, authors, facts. Truncated, never dropped."""
    paper = match.paper
    title_text = fold_whitespace(paper.title) or paper.id
    authors_text = fold_whitespace(short_authors(tuple(fold_whitespace(a) for a in paper.authors)))
    target = _link_target(paper_url(paper))
    block: dict[str, Any] = {}
    for title_limit, authors_limit, why_limit in _CLIP_TIERS:
        title = _clip(title_text, title_limit)
        # A title cannot break out of the link: `<` and `>` are escaped, and a `|` after the
        # separator is part of the text.
        if target and len(target) <= _MAX_LINK_TARGET:
            first = f"*<{target}|{title}>*"
        else:
            first = f"*{title}*"
        text = "\n".join((first, _clip(authors_text, authors_limit), _facts(match, why_limit)))
        block = _mrkdwn_section(text)
        if len(text) <= MAX_SECTION_TEXT and _json_len(block) <= _MAX_PAPER_JSON:
            return block
    return block  # the last tier: at most ~80+60+60 characters of text, 6x when \u-escaped


def _header_text(delivery: Delivery) -> str:
    day = delivery.digest_day.isoformat()
    name = fold_whitespace(delivery.profile_name) or delivery.profile_id
    suffix = f" — {day}"
    return truncate(name, MAX_HEADER_TEXT - len(suffix)) + suffix


def _fallback(delivery: Delivery, what: str) -> str:
    name = fold_whitespace(delivery.profile_name) or delivery.profile_id
    return _clip(name, _MAX_FALLBACK_NAME) + escape_mrkdwn(
        f": {what} ({delivery.digest_day.isoformat()})"
    )


def build_messages(delivery: Delivery) -> list[SlackMessage]:
    """The messages for one digest: the first with a header, the rest meant as thread replies.

    Papers keep their order and each appears in exactly one message. A message is closed when
    one more paper would exceed MAX_BLOCKS or MAX_BLOCKS_JSON.
    """
    head: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header_text(delivery)}},
        _mrkdwn_section(escape_mrkdwn(headline(delivery))),
    ]
    papers = [(m.paper.id, _paper_section(m)) for m in delivery.matches]

    # Continuations start with "continued (k/n)"; n is unknown while packing, so reserve room
    # for the widest such block.
    digits = "9" * len(str(len(papers) + 1))
    widest_context = _context(f"continued ({digits}/{digits})")

    groups: list[list[tuple[str, dict[str, Any]]]] = [[]]
    count, size = len(head), _json_len(head)
    for paper_id, block in papers:
        extra = _json_len(block) + 2  # plus the ", " separator
        if groups[-1] and (count + 1 > MAX_BLOCKS or size + extra > MAX_BLOCKS_JSON):
            groups.append([])
            count, size = 1, _json_len([widest_context])
        groups[-1].append((paper_id, block))
        count += 1
        size += extra

    total = len(groups)
    messages: list[SlackMessage] = []
    for k, group in enumerate(groups, start=1):
        if k == 1:
            first: list[dict[str, Any]] = head
            text = _fallback(delivery, headline(delivery))
        else:
            first = [_context(f"continued ({k}/{total})")]
            text = _fallback(delivery, f"continued ({k}/{total})")
        messages.append(
            SlackMessage(
                text=text,
                blocks=[*first, *(block for _, block in group)],
                paper_ids=tuple(paper_id for paper_id, _ in group),
            )
        )
    return messages


# --------------------------------------------------------------------------- sending


class SlackNotifier(Notifier):
    """Posts digests with a `slack_sdk.WebClient` (built by `create()`, or handed in)."""

    name: ClassVar[str] = "slack"
    Settings = SlackSettings
    Target = str  # "#channel-name" or a channel ID like "C0123ABCD"

    def __init__(self, client: WebClient, *, token_env: str = "SLACK_BOT_TOKEN") -> None:
        self._client = client
        self._token_env = token_env
        self._last_post: dict[str, float] = {}  # destination -> monotonic time of last post

    @property
    def client(self) -> WebClient:
        """The WebClient in use (e.g. for an `auth_test()` at start-up)."""
        return self._client

    def __repr__(self) -> str:
        return f"SlackNotifier(base_url={self._client.base_url!r}, token_env={self._token_env!r})"

    @classmethod
    def create(cls, settings: Any, env: Mapping[str, str]) -> tuple[Notifier | None, str]:
        if not isinstance(settings, SlackSettings):
            settings = SlackSettings.model_validate(settings or {})
        if settings.webhook_env is not None:
            # Imported here: slack_webhook imports this module for the layout.
            from bot.notifiers.slack_webhook import SlackWebhookNotifier

            return SlackWebhookNotifier.create(settings, env)
        token = (env.get(settings.token_env) or "").strip()
        if not token:
            return None, f"{settings.token_env} is not set"
        client = WebClient(
            token=token,
            base_url=settings.base_url,
            # slack-sdk annotates `timeout` as int; it only hands it to urlopen, which takes floats.
            timeout=settings.timeout,
            retry_handlers=[
                *default_retry_handlers(),  # connection errors
                RateLimitErrorRetryHandler(max_retry_count=settings.max_retries),  # 429
                ServerErrorRetryHandler(max_retry_count=settings.max_retries),  # 500, 503
            ],
        )
        return cls(client, token_env=settings.token_env), ""

    def already_delivered(self, delivery: Delivery, target: str) -> set[str]:
        """The papers of `delivery` already in the channel: its messages are found in recent
        history by the delivery key in their metadata (needs the channels:history scope, or
        groups:history for private channels)."""
        destination = f"slack:{target}"
        messages = build_messages(delivery)
        try:
            history = self._client.conversations_history(
                channel=target, limit=HISTORY_LOOKBACK, include_all_metadata=True
            )
            found: list[dict[str, Any]] = list(history.get("messages", []))
            root = next((m for m in found if _key_of(m) == delivery.key), None)
            if root is None:
                return set()
            parts = {1}
            if len(messages) > 1:
                replies = self._client.conversations_replies(
                    channel=target, ts=root["ts"], include_all_metadata=True
                )
                thread: list[dict[str, Any]] = list(replies.get("messages", []))
                parts |= {
                    int(m["metadata"]["event_payload"]["part"])
                    for m in thread
                    if _key_of(m) == delivery.key
                }
        except SlackApiError as exc:
            raise self._api_error(exc, destination, " (history lookup)", ()) from exc
        except (OSError, http.client.HTTPException, SlackClientError) as exc:
            raise DeliveryError(
                f"could not reach Slack (history lookup): {type(exc).__name__}",
                destination=destination,
            ) from exc
        return {
            pid for part in parts if part <= len(messages) for pid in messages[part - 1].paper_ids
        }

    def send_text(self, text: str, target: str) -> None:
        """A plain notice (operator alerts): escaped, no blocks."""
        self._post(f"slack:{target}", "", (), channel=target, text=escape_mrkdwn(text))

    def _post(self, destination: str, where: str, delivered: tuple[str, ...], **kwargs: Any) -> Any:
        """chat.postMessage with Slack's and the network's errors turned into DeliveryError,
        at most one post per second per channel (Slack's posting rate)."""
        wait = self._last_post.get(destination, float("-inf")) + POST_INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return self._client.chat_postMessage(unfurl_links=False, unfurl_media=False, **kwargs)
        except SlackApiError as exc:
            raise self._api_error(exc, destination, where, delivered) from exc
        except (OSError, http.client.HTTPException, SlackClientError) as exc:
            raise DeliveryError(
                f"could not reach Slack{where}: {self._redact(f'{type(exc).__name__}: {exc}')}",
                destination=destination,
                permanent=False,
                delivered=delivered,
                hint="check the network and `slack.base_url`; " + _TRANSIENT_HINT,
            ) from exc
        finally:
            self._last_post[destination] = time.monotonic()

    def send(self, delivery: Delivery, target: str) -> None:
        destination = f"slack:{target}"
        messages = build_messages(delivery)
        delivered: list[str] = []
        channel, thread_ts = target, None
        for k, message in enumerate(messages, start=1):
            where = f" (message {k} of {len(messages)})" if len(messages) > 1 else ""
            extra: dict[str, Any] = {} if thread_ts is None else {"thread_ts": thread_ts}
            response = self._post(
                destination,
                where,
                tuple(delivered),
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                # The delivery key travels with the message, so that after a crash between
                # "Slack accepted" and "marked sent" the next run can find it (see below).
                metadata={
                    "event_type": METADATA_EVENT,
                    "event_payload": {"key": delivery.key, "part": k, "parts": len(messages)},
                },
                **extra,
            )
            delivered.extend(message.paper_ids)
            if thread_ts is None:
                # Replies go to the channel ID Slack resolved, under the first message.
                channel = str(response.get("channel") or target)
                thread_ts = str(response["ts"])
            log.debug("slack: %s accepted message %d of %d", destination, k, len(messages))
        log.info(
            "slack: delivered %d papers to %s in %d message(s)",
            len(delivered),
            destination,
            len(messages),
        )

    # ------------------------------------------------------------ check --live

    def probe(self, targets: Sequence[str]) -> Iterator[Check]:
        """`check --live`, posting nothing. `auth.test` proves the token is valid (and, from
        the X-OAuth-Scopes header Slack adds to its answers, that it has chat:write). Then per
        channel, `conversations.info` (for an ID) or `conversations.list` (for a name) proves
        that the channel exists and is visible to the bot, is not archived, and that the bot is
        a member (or, for a public channel, has chat:write.public). Not provable without
        posting: a channel's own posting restrictions (e.g. #general limited to admins)."""
        channels = sorted(dict.fromkeys(targets))
        try:
            auth = self._client.auth_test()
        except (SlackApiError, *_NETWORK_ERRORS) as exc:
            reason, hint = self._probe_error(exc, "auth.test")
            yield Check("slack auth.test", "failed", reason, hint)
            for target in channels:
                yield Check(f"slack {target}", "skipped", "not checked: auth.test failed")
            return
        scopes = _scopes(auth.headers)
        who = f"workspace {auth.get('team')}, bot user {auth.get('user')}"
        if scopes is not None and "chat:write" not in scopes:
            yield Check(
                "slack auth.test",
                "failed",
                f"{who}, but the token lacks the chat:write scope",
                "add chat:write to the app's Bot Token Scopes, reinstall the app and update "
                f"${self._token_env}",
            )
        else:
            granted = "" if scopes is None else "; chat:write granted"
            yield Check("slack auth.test", "ok", f"token valid: {who}{granted}")
        listed: dict[str, dict[str, Any]] | tuple[str, str] | None = None
        for target in channels:
            name = f"slack {target}"
            if _CHANNEL_ID.fullmatch(target):
                try:
                    info = self._client.conversations_info(channel=target)
                except (SlackApiError, *_NETWORK_ERRORS) as exc:
                    yield Check(name, "failed", *self._probe_error(exc, "conversations.info"))
                    continue
                channel: dict[str, Any] | None = info.get("channel")
            else:
                if listed is None:  # one listing serves every channel named by name
                    try:
                        listed = self._list_channels()
                    except (SlackApiError, *_NETWORK_ERRORS) as exc:
                        listed = self._probe_error(exc, "conversations.list")
                if isinstance(listed, tuple):
                    yield Check(name, "failed", *listed)
                    continue
                channel = listed.get(target.lstrip("#").lower())  # names are lower case
            yield _judge_channel(name, channel, scopes)

    def _list_channels(self) -> dict[str, dict[str, Any]]:
        """Every channel the bot can see (archived ones too), by name."""
        found: dict[str, dict[str, Any]] = {}
        cursor = None
        for _ in range(_LIST_MAX_PAGES):
            page = self._client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=False,
                limit=_LIST_PAGE,
                cursor=cursor,
            )
            for channel in page.get("channels") or []:
                found.setdefault(str(channel.get("name")), channel)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return found

    def _probe_error(self, exc: Exception, method: str) -> tuple[str, str]:
        """(reason, hint) for a failed probe call. Never the token."""
        if isinstance(exc, SlackApiError):
            code, status = _error_code(exc)
            what = code or f"HTTP {status} without a Slack error code"
            data = getattr(exc.response, "data", None)
            needed = data.get("needed") if isinstance(data, dict) else None
            if code == "missing_scope":
                if needed:
                    what += f" (needs {needed})"
                hint = _READ_SCOPES_HINT
            else:
                hint = _HINTS.get(code, "Slack may be having trouble: try again later")
            reason = f"Slack answered {what} to {method}"
            return self._redact(reason), hint.replace("{env}", self._token_env)
        reason = f"could not reach Slack ({method}): {type(exc).__name__}: {exc}"
        return self._redact(reason), "check the network and `slack.base_url` in bot.yaml"

    def _api_error(
        self, exc: SlackApiError, destination: str, where: str, delivered: tuple[str, ...]
    ) -> DeliveryError:
        code, status = _error_code(exc)
        # 429 and 5xx answers (after slack-sdk's retries), TRANSIENT_ERRORS and unknown codes
        # all keep the digest queued: only a known-permanent code drops it.
        permanent = code in PERMANENT_ERRORS
        if code and status not in (None, 200):
            what = f"{code} (HTTP {status})"
        else:
            what = code or f"HTTP {status} without a Slack error code"
        hint = _HINTS.get(code, _TRANSIENT_HINT).replace("{env}", self._token_env)
        return DeliveryError(
            self._redact(f"Slack answered {what}{where}"),
            destination=destination,
            permanent=permanent,
            delivered=delivered,
            hint=hint,
        )

    def _redact(self, text: str) -> str:
        """`text` with the token cut out, should a foreign message ever echo it."""
        token = self._client.token
        return text.replace(token, "[redacted]") if token else text


def _error_code(exc: SlackApiError) -> tuple[str, int | None]:
    """Slack's `error` code of a failed call ("" when there is none) and the HTTP status."""
    response = exc.response
    status = getattr(response, "status_code", None)
    data = getattr(response, "data", None)
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    if not _ERROR_CODE.fullmatch(code):
        # Not Slack's answer but e.g. a proxy's HTML page, which slack-sdk puts in `error`
        # as "Received a response in a non-JSON format: ...": report the status instead.
        code = ""
    return code, status


def _scopes(headers: Mapping[str, Any]) -> set[str] | None:
    """The token's scopes from Slack's X-OAuth-Scopes answer header; None without one."""
    for key, value in headers.items():
        if key.lower() == "x-oauth-scopes":
            text = ",".join(value) if isinstance(value, list) else str(value)
            return {s.strip() for s in text.split(",") if s.strip()}
    return None


def _judge_channel(name: str, channel: dict[str, Any] | None, scopes: set[str] | None) -> Check:
    """Whether the bot can post to `channel` (a conversations.info / .list entry)."""
    if not channel:
        return Check(
            name,
            "failed",
            "channel_not_found: no such channel is visible to the bot",
            _HINTS["channel_not_found"],
        )
    cid = channel.get("id")
    if channel.get("is_archived"):
        return Check(name, "failed", f"is_archived: {cid} is archived", _HINTS["is_archived"])
    if channel.get("is_member"):
        return Check(name, "ok", f"{cid}: the bot is a member; not archived")
    if not channel.get("is_private") and scopes is not None and "chat:write.public" in scopes:
        return Check(
            name, "ok", f"{cid}: public; the bot is not a member, chat:write.public lets it post"
        )
    return Check(
        name,
        "failed",
        f"not_in_channel: the bot is not a member of {cid}",
        _HINTS["not_in_channel"]
        + ("" if channel.get("is_private") else " (or give the app chat:write.public)"),
    )


def _key_of(message: Mapping[str, Any]) -> str | None:
    """The digestbot delivery key in a message's metadata, if it has one."""
    meta = message.get("metadata")
    if not isinstance(meta, Mapping) or meta.get("event_type") != METADATA_EVENT:
        return None
    payload = meta.get("event_payload")
    key = payload.get("key") if isinstance(payload, Mapping) else None
    return key if isinstance(key, str) else None
