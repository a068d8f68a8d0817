"""Slack with a bot token: digests posted with `chat.postMessage` to channels and people, and
found again after a crash.

The notifier is assembled from modules it shares with the incoming webhook (`slack_webhook.py`)
or keeps apart for size:

    slack_blocks.py     the Block Kit layout of a digest and Slack's limits (shared)
    slack_client.py     the `slack:` settings, slack-sdk's retry handlers, the pace (shared)
    slack_errors.py     what Slack's answers mean, and the DeliveryError told (shared)
    slack_channels.py   channel IDs and names, the paged listing, `check --live` (token only)
    slack_targets.py    what a `notify.slack` entry names: a channel or a person (shared)
    slack_people.py     a person: handle or address -> user ID, the direct message (token only)

This module owns the rest: posting a digest, a long one threaded under its first message, and
looking a crashed run's posts up in the channel's history.

A person (a member ID `U0123ABCD`, an `@handle`, an email address) gets the digest as a direct
message from the bot: the entry is resolved to a user ID (once per run), the conversation is
opened with conversations.open (scope im:write) and the digest posted to its ID (`D...`). The
outbox keeps the entry as written (`slack:@bob`); `place()` is the user ID, so a paper two
profiles send to `U0BOB` and `@bob` reaches Bob once. An entry that names no one is a permanent
error naming it.

Recovery after a crash between "Slack accepted" and "marked sent": every post carries the
delivery key in its message metadata, and `already_delivered` searches the channel's recent
history (conversations.history, then .replies for a thread) for it. Those two methods take
channel IDs only (a name answers `channel_not_found`), so a channel a profile names by name is
resolved to its ID first: from chat.postMessage's answer when this process posted there, else
from one paged conversations.list per process (the bot is restarted after a crash, so in
practice once per run). A direct message's history is read by the ID conversations.open gives.
Scopes: channels:history / groups:history / im:history to read the history, and for channels
named by name channels:read / groups:read to list them. Without them the digest is posted again
(at-least-once), after ONE warning naming the missing scope.

Vote buttons: when the app-level token (`slack.app_token_env`, default SLACK_APP_TOKEN, an
`xapp-` token with connections:write) is set, every paper carries "More like this" / "Less like
this" (slack_blocks.py) and the daemon hears the clicks over Socket Mode (slack_socket.py).
Without it there are no buttons (one nobody listens to would be a lie); a malformed one is
reported (check, the log) and the digests go out without buttons rather than not at all.
`check --live` proves the app token with apps.connections.open.

The bot token is read from the environment variable the settings name (bot/secrets.py: a value
that is not a header-safe `xoxb-...` token raises SecretError naming the variable); it is never
formatted into a message, a hint, a log line or a repr. With `webhook_env` instead of a token,
`create()` hands over to an incoming webhook (`slack_webhook.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import DeliveryError, SecretError
from bot.http import SharedSlot
from bot.models import Check, Delivery
from bot.notifiers.base import Notifier
from bot.notifiers.slack_blocks import build_messages
from bot.notifiers.slack_channels import Listing, channel_name, list_channels
from bot.notifiers.slack_channels import probe as probe_channels
from bot.notifiers.slack_client import Pace, SlackSettings, retry_handlers
from bot.notifiers.slack_errors import (
    NETWORK_ERRORS,
    TRANSIENT_HINT,
    api_error,
    api_error_code,
    redactor,
    unreachable,
)
from bot.notifiers.slack_people import NoSuchPerson, People
from bot.notifiers.slack_targets import SlackTargets, is_channel_id, is_person, kind_of
from bot.notifiers.slack_webhook import SlackWebhookNotifier
from bot.render import escape_mrkdwn
from bot.secrets import read_secret, slack_app_token, slack_token

log = logging.getLogger(__name__)

METADATA_EVENT = "digestbot_digest"  # message metadata event_type carrying the delivery key
HISTORY_LOOKBACK = 200  # recent messages searched for a crashed run's post


class SlackNotifier(Notifier):
    """Posts digests with a `slack_sdk.WebClient` (built by `create()`, or handed in)."""

    name: ClassVar[str] = "slack"
    Settings = SlackSettings
    Target: ClassVar[Any] = SlackTargets  # channels and people, one or a list (slack_targets)

    def __init__(
        self,
        client: WebClient,
        *,
        token_env: str = "SLACK_BOT_TOKEN",
        app_token: str | None = None,
        app_token_env: str = "SLACK_APP_TOKEN",
        app_token_problem: str = "",
    ) -> None:
        self._client = client
        self._token_env = token_env
        # The app-level token: digests carry vote buttons only with it (see the docstring).
        self._app_token = app_token
        self._app_token_env = app_token_env
        self._app_token_problem = app_token_problem  # why a set app token is unusable
        self._pace = Pace()  # per destination
        self._redact = redactor((client.token or "", app_token or ""))
        # Channel name (without "#", lower case) -> ID, from chat.postMessage's answers and
        # from the listing; the listing itself (conversations.list by name) once per process.
        self._channel_ids: dict[str, str] = {}
        self._listed: Listing | None = None
        self._warned: set[str] = set()  # what recovery already warned about (once each)
        self._people = People(client)  # who handles name, the direct messages opened

    def share_pacing(self, slot: SharedSlot) -> None:
        self._pace.shared = slot  # 1 post per second per channel, across workers too

    @property
    def client(self) -> WebClient:
        """The WebClient in use (e.g. for an `auth_test()` at start-up)."""
        return self._client

    def __repr__(self) -> str:
        return f"SlackNotifier(base_url={self._client.base_url!r}, token_env={self._token_env!r})"

    @property
    def buttons(self) -> bool:
        """Whether digests carry the vote buttons (an app-level token is set)."""
        return self._app_token is not None

    def describe(self) -> str:
        how = f"bot token from ${self._token_env}"
        if self._app_token is not None:
            return f"{how}; vote buttons on, heard over Socket Mode (app token from " + (
                f"${self._app_token_env})"
            )
        if self._app_token_problem:
            return f"{how}; no vote buttons: {self._app_token_problem}"
        return (
            f"{how}; no vote buttons: to get them, set ${self._app_token_env} to an app-level "
            "token (xapp-) with the connections:write scope and turn on Socket Mode and "
            "Interactivity in the Slack app (README: Buttons in Slack)"
        )

    def place(self, target: str) -> str:
        """A channel: its ID, or its name as Slack compares names ("#Papers" is "papers").
        (A channel named by name in one profile and by ID in another is not recognised as one:
        that would take a lookup.) A person: their user ID ("@bob" and U0BOB are one place),
        looked up once per run; one that cannot be looked up now is its own place (sending
        to it will say why)."""
        kind = kind_of(target)
        if kind == "channel_id":
            return target
        if kind == "channel":
            return "#" + channel_name(target)
        return self._people.place(target)

    @classmethod
    def create(cls, settings: Any, env: Mapping[str, str]) -> tuple[Notifier | None, str]:
        if not isinstance(settings, SlackSettings):
            settings = SlackSettings.model_validate(settings or {})
        if settings.webhook_env is not None:
            return SlackWebhookNotifier.create(settings, env)
        token = read_secret(env, settings.token_env, slack_token)  # SecretError if malformed
        if token is None:
            return None, f"{settings.token_env} is not set"
        client = WebClient(
            token=token,
            base_url=settings.base_url,
            # slack-sdk annotates `timeout` as int; it only hands it to urlopen, which takes floats.
            timeout=settings.timeout,
            retry_handlers=retry_handlers(settings),
        )
        app_token, problem = read_app_token(settings, env)
        if problem:
            # The digests still go out, without buttons: a wrong app token must not stop them.
            log.error("slack: %s", problem)
        return cls(
            client,
            token_env=settings.token_env,
            app_token=app_token,
            app_token_env=settings.app_token_env,
            app_token_problem=problem,
        ), ""

    # ------------------------------------------------------------ sending

    def send(self, delivery: Delivery, target: str) -> None:
        destination = f"slack:{target}"
        messages = build_messages(delivery, buttons=self.buttons)
        delivered: list[str] = []
        channel, thread_ts = self._conversation(target, destination), None
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
                channel = self._learn_channel(target, response)
                thread_ts = str(response["ts"])
            log.debug("slack: %s accepted message %d of %d", destination, k, len(messages))
        log.info(
            "slack: delivered %d papers to %s in %d message(s)",
            len(delivered),
            destination,
            len(messages),
        )

    def send_text(self, text: str, target: str) -> None:
        """A plain notice (operator alerts): escaped, no blocks."""
        destination = f"slack:{target}"
        channel = self._conversation(target, destination)
        response = self._post(destination, "", (), channel=channel, text=escape_mrkdwn(text))
        self._learn_channel(target, response)

    def _conversation(self, target: str, destination: str) -> str:
        """Where chat.postMessage sends `target`'s messages: a channel as named, a person's
        direct message by its ID. Raises DeliveryError (permanent when no one is named)."""
        if not is_person(target):
            return target
        where = f" ({People.method(target) or 'conversations.open'})"
        try:
            person = self._people.resolve(target)
            where = " (conversations.open)"
            return self._people.dm(person.user_id)
        except NoSuchPerson as exc:
            raise DeliveryError(
                self._redact(str(exc)),
                destination=destination,
                permanent=True,
                hint=exc.hint,
            ) from exc
        except SlackApiError as exc:
            raise self._api_error(exc, destination, where, ()) from exc
        except NETWORK_ERRORS as exc:
            raise self._unreachable(exc, destination, where, ()) from exc

    def _post(self, destination: str, where: str, delivered: tuple[str, ...], **kwargs: Any) -> Any:
        """chat.postMessage with Slack's and the network's errors turned into DeliveryError,
        at most one post per second per channel (Slack's posting rate)."""
        with self._pace.slot(destination):
            try:
                return self._client.chat_postMessage(
                    unfurl_links=False, unfurl_media=False, **kwargs
                )
            except SlackApiError as exc:
                raise self._api_error(exc, destination, where, delivered) from exc
            except NETWORK_ERRORS as exc:
                raise self._unreachable(exc, destination, where, delivered) from exc

    def _learn_channel(self, target: str, response: Any) -> str:
        """The channel ID chat.postMessage answered with (remembered for a name), else `target`."""
        channel = str(response.get("channel") or "")
        if not channel:
            return target
        if kind_of(target) == "channel":
            self._channel_ids[channel_name(target)] = channel
        return channel

    # ------------------------------------------------------------ votes (slack_socket.py)

    def channel_of(self, target: str) -> str | None:
        """The channel ID `target`'s messages land in (a channel's ID, a person's direct
        message), or None when it cannot be known (see `_channel_id`). Raises DeliveryError when
        Slack cannot be asked now."""
        return self._channel_id(target, f"slack:{target}")

    def tell(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """An ephemeral message (only `user` sees it) in `channel`, under `thread_ts` when the
        message it answers is a thread reply. `text` is mrkdwn the caller escaped. Raises
        DeliveryError."""
        destination = f"slack:{channel}"
        extra: dict[str, Any] = {} if thread_ts is None else {"thread_ts": thread_ts}
        try:
            self._client.chat_postEphemeral(channel=channel, user=user, text=text, **extra)
        except SlackApiError as exc:
            raise self._api_error(exc, destination, " (chat.postEphemeral)", ()) from exc
        except NETWORK_ERRORS as exc:
            raise self._unreachable(exc, destination, " (chat.postEphemeral)", ()) from exc

    # ------------------------------------------------------------ recovery

    def already_delivered(self, delivery: Delivery, target: str) -> set[str]:
        """The papers of `delivery` already in the channel: its messages are found in recent
        history by the delivery key in their metadata. Needs channels:history (groups:history
        for a private channel, im:history for a person's direct message) and, for a channel
        named by name, its ID (`_channel_id`)."""
        destination = f"slack:{target}"
        channel = self._channel_id(target, destination)
        if channel is None:
            log.info("slack: cannot look %s up after a crash: sending again", destination)
            return set()
        messages = build_messages(delivery, buttons=self.buttons)
        where = " (history lookup)"
        try:
            history = self._client.conversations_history(
                channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True
            )
            found: list[dict[str, Any]] = list(history.get("messages", []))
            root = next((m for m in found if _key_of(m) == delivery.key), None)
            if root is None:
                return set()
            parts = {1}
            if len(messages) > 1:
                replies = self._client.conversations_replies(
                    channel=channel, ts=root["ts"], include_all_metadata=True
                )
                thread: list[dict[str, Any]] = list(replies.get("messages", []))
                parts |= {
                    int(m["metadata"]["event_payload"]["part"])
                    for m in thread
                    if _key_of(m) == delivery.key
                }
        except SlackApiError as exc:
            if api_error_code(exc)[0] == "missing_scope":
                person = is_person(target)
                self._warn_once(
                    "im-history" if person else "history",
                    "slack: cannot read the history of %s to find what a crashed run posted "
                    "(%s): its digests are posted again (at-least-once). Add the %s to the "
                    "app's Bot Token Scopes and reinstall it",
                    destination,
                    self._scope_problem(exc, "conversations.history"),
                    "im:history scope"
                    if person
                    else "channels:history scope (groups:history for private channels)",
                )
                return set()
            raise self._api_error(exc, destination, where, ()) from exc
        except NETWORK_ERRORS as exc:
            raise self._unreachable(exc, destination, where, ()) from exc
        return {
            pid for part in parts if part <= len(messages) for pid in messages[part - 1].paper_ids
        }

    def _channel_id(self, target: str, destination: str) -> str | None:
        """The channel ID of `target` (an ID already, or a name to resolve; a person's direct
        message), or None when it cannot be known: the listing is refused (missing scope) or
        does not show the name. Each of those is warned about once; a network failure, or a
        person that cannot be reached, raises DeliveryError."""
        if is_channel_id(target):
            return target
        if is_person(target):
            return self._conversation(target, destination)
        name = channel_name(target)
        if name in self._channel_ids:
            return self._channel_ids[name]
        if "list" in self._warned:
            return None
        try:
            listed = self._listing()
        except SlackApiError as exc:
            if api_error_code(exc)[0] in ("missing_scope", "no_permission"):
                self._warn_once(
                    "list",
                    "slack: cannot find the channel ID of %s, so what a crashed run posted there "
                    "cannot be looked up (%s): its digests are posted again (at-least-once). "
                    "Add the channels:read scope (groups:read for private channels) to the "
                    "app's Bot Token Scopes and reinstall it, or name channels by ID "
                    "(C0123ABCD) in profiles",
                    target,
                    self._scope_problem(exc, "conversations.list"),
                )
                return None
            raise self._api_error(exc, destination, " (conversations.list)", ()) from exc
        except NETWORK_ERRORS as exc:
            raise self._unreachable(exc, destination, " (conversations.list)", ()) from exc
        channel_id = self._channel_ids.get(name)
        if channel_id is None:
            self._warn_once(
                f"name:{name}",
                "slack: %s is not among the %d channels the bot can list, so what a crashed run "
                "posted there cannot be looked up: its digests are posted again "
                "(at-least-once). For a private channel add the groups:read scope, or name the "
                "channel by ID (C0123ABCD) in profiles",
                target,
                len(listed),
            )
        return channel_id

    def _listing(self) -> Listing:
        """Every channel the bot can see, by name (`list_channels`), asked once per process;
        its IDs are remembered. Raises SlackApiError or a network error."""
        if self._listed is None:
            self._listed = list_channels(self._client)
            for name, channel in self._listed.items():
                if channel.get("id"):
                    # What chat.postMessage answered in this process wins over the listing.
                    self._channel_ids.setdefault(name, str(channel["id"]))
        return self._listed

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning(message, *args)

    def _scope_problem(self, exc: SlackApiError, method: str) -> str:
        """`Slack answered missing_scope (needs channels:read) to conversations.list`."""
        data = getattr(exc.response, "data", None)
        needed = data.get("needed") if isinstance(data, dict) else None
        code = api_error_code(exc)[0]
        wanted = f" (needs {needed})" if isinstance(needed, str) and needed else ""
        return self._redact(f"Slack answered {code}{wanted} to {method}")

    # ------------------------------------------------------------ check --live

    def probe(self, targets: Sequence[str]) -> Iterator[Check]:
        """`check --live`, posting nothing: the token (auth.test), each channel
        (conversations.info / .list) and each person (conversations.open); see
        slack_channels.py."""
        yield from probe_channels(
            self._client,
            targets,
            token_env=self._token_env,
            listing=self._listing,
            people=self._people,
            redact=self._redact,
        )
        yield self._probe_app_token()

    def _probe_app_token(self) -> Check:
        """The app-level token opens a Socket Mode connection (apps.connections.open issues a
        WebSocket URL, which is left unused)."""
        name, env = "slack app token", f"${self._app_token_env}"
        if self._app_token is None:
            return Check(
                name,
                "failed" if self._app_token_problem else "skipped",
                self._app_token_problem or f"{env} is not set: digests carry no vote buttons",
                f"to get vote buttons, set {env} to an app-level token (xapp-) with the "
                "connections:write scope; turn on Socket Mode and Interactivity in the app",
            )
        try:
            self._client.apps_connections_open(app_token=self._app_token)
        except SlackApiError as exc:
            code = api_error_code(exc)[0] or "an error"
            hints = {
                "missing_scope": f"the app token in {env} lacks the connections:write scope: "
                "add it to the app-level token (Basic Information > App-Level Tokens), or "
                "generate a new one with it",
                "not_allowed_token_type": f"{env} holds a token of another kind: Socket Mode "
                "takes an app-level token (xapp-, Basic Information > App-Level Tokens)",
            }
            return Check(
                name,
                "failed",
                self._redact(f"Slack answered {code} to apps.connections.open"),
                hints.get(
                    code,
                    f"set {env} to a valid app-level token (xapp-) with connections:write, "
                    "and turn on Socket Mode in the app's settings",
                ),
            )
        except NETWORK_ERRORS as exc:
            return Check(
                name,
                "failed",
                self._redact(f"Slack is unreachable ({type(exc).__name__})"),
                "check the network and `slack.base_url`",
            )
        return Check(
            name,
            "ok",
            f"apps.connections.open accepted the app token from {env}: vote buttons are heard "
            "over Socket Mode while `digestbot run` is up",
        )

    # ------------------------------------------------------------ errors

    def _api_error(
        self, exc: SlackApiError, destination: str, where: str, delivered: tuple[str, ...]
    ) -> DeliveryError:
        return api_error(
            exc,
            destination=destination,
            where=where,
            delivered=delivered,
            token_env=self._token_env,
            redact=self._redact,
        )

    def _unreachable(
        self, exc: Exception, destination: str, where: str, delivered: tuple[str, ...]
    ) -> DeliveryError:
        return unreachable(
            "Slack",
            exc,
            destination=destination,
            where=where,
            delivered=delivered,
            hint="check the network and `slack.base_url`; " + TRANSIENT_HINT,
            redact=self._redact,
        )


def read_app_token(settings: SlackSettings, env: Mapping[str, str]) -> tuple[str | None, str]:
    """(the app-level token, "") when set and well formed; (None, "") when unset; (None, why)
    when set but malformed (naming the variable, never the value)."""
    try:
        return read_secret(env, settings.app_token_env, slack_app_token), ""
    except SecretError as exc:
        return None, f"{exc}: digests carry no vote buttons until it is fixed"


def _key_of(message: Mapping[str, Any]) -> str | None:
    """The digestbot delivery key in a message's metadata, if it has one."""
    meta = message.get("metadata")
    if not isinstance(meta, Mapping) or meta.get("event_type") != METADATA_EVENT:
        return None
    payload = meta.get("event_payload")
    key = payload.get("key") if isinstance(payload, Mapping) else None
    return key if isinstance(key, str) else None
