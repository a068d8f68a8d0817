"""The vote buttons' listener: clicks on "More like this" / "Less like this" reach the daemon over
Slack's Socket Mode and become votes in the state.

Socket Mode needs no public URL: the daemon opens a WebSocket to Slack (apps.connections.open,
with the app-level token named by `slack.app_token_env`, scope connections:write) and Slack sends
every interaction down it as an *envelope* the app must acknowledge within 3 seconds.

The client is slack-sdk's builtin `slack_sdk.socket_mode.SocketModeClient`: it needs nothing
beyond slack-sdk (the `websocket_client`, `websockets` and `aiohttp` variants each need another
package, and the last two an event loop the daemon does not have), it reconnects by itself
(`auto_reconnect_enabled`, also when Slack asks with a `disconnect` message) and runs its own
threads. Talking to Slack otherwise (which channel a profile's destination is, the reply to the
clicker) goes through a SlackNotifier of the listener's own, built from the same settings.

Threads: the client calls `_on_message` on its worker threads. It acknowledges the envelope at
once (before any work, so that a slow state or Slack never makes Slack resend it) and hands it
to the listener's ONE worker thread through a queue. That thread owns a Store of its own,
opened on the state file (a second SQLite connection of the same process: the daemon's Store
stays with the scheduler's thread, and SQLite's WAL and busy timeout serialise the two
writers), and does everything else in order, so a duplicate is always seen as one.

What a click must prove before it counts (anything else is logged in one line, with at most a
short excerpt of what arrived, and dropped; it is acknowledged all the same so that Slack does
not send it again):

    the envelope       type `interactive`, payload type `block_actions`, an envelope id not
                       handled before (Slack resends an unacknowledged envelope: one vote)
    the action         action id VOTE_UP or VOTE_DOWN (another app's buttons are not ours)
    the clicker        a Slack user id (`U...` / `W...`)
    the value          `[profile id, paper id]` as slack_blocks.vote_value wrote it
    the profile        exists now (its file is read at the click)
    the paper          was delivered to that profile in the channel the click came from: an
                       outbox row (sent or sending) for (paper, profile) whose destination is
                       that channel (a name is resolved to its ID, a person to their DM)

A vote is `Vote(profile, paper, +1 or -1, "slack:<user id>", "slack", today in the bot's time
zone)`; a person's later vote on the same paper replaces the earlier one. The clicker is told
it counted with an ephemeral message in the channel (only they see it): the digest is shared by
everyone in the channel, so it is not edited for one reader's vote.

The app token is never logged: it goes to slack-sdk only, and the CLI's log filter cuts any
`xapp-` token out of every line regardless.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient

from bot.config import Settings, load_profiles
from bot.errors import DigestbotError
from bot.models import fold_whitespace
from bot.notifiers.slack import SlackNotifier, read_app_token
from bot.notifiers.slack_blocks import VOTE_DOWN, VOTE_UP, read_vote_value
from bot.notifiers.slack_client import SlackSettings, retry_handlers
from bot.relevance.votes import Vote
from bot.render import escape_mrkdwn, truncate
from bot.state.store import Store

log = logging.getLogger(__name__)

SEEN_ENVELOPES = 2000  # envelope ids remembered to drop a resent one
# A first connection that fails (Slack or the network down when the daemon starts, before
# slack-sdk's own reconnecting takes over) is tried again after this many seconds, doubling.
CONNECT_RETRY_FIRST = 2.0
CONNECT_RETRY_MAX = 300.0
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_ENVELOPE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_EXCERPT = 40  # characters of a foreign value a log line may show


def _excerpt(value: object) -> str:
    """A short, one-line, repr'd excerpt of something that arrived (never the whole payload)."""
    text = repr(value)
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


class VoteListener:
    """The Socket Mode connection and the worker that turns clicks into votes."""

    def __init__(self, settings: Settings, app_token: str, notifier: SlackNotifier) -> None:
        self._settings = settings
        self._notifier = notifier
        slack = settings.notifiers["slack"]
        assert isinstance(slack, SlackSettings)
        self._client = SocketModeClient(
            app_token=app_token,
            # apps.connections.open is asked at the configured base_url (a stand-in in tests).
            web_client=WebClient(
                base_url=slack.base_url,
                timeout=int(slack.timeout),
                retry_handlers=retry_handlers(slack),
            ),
            auto_reconnect_enabled=True,
            logger=logging.getLogger(__name__ + ".sdk"),
        )
        self._client.message_listeners.append(self._on_message)
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._worker = threading.Thread(target=self._work, name="slack-votes", daemon=True)
        self._closing = threading.Event()
        self._connector = threading.Thread(
            target=self._connect, name="slack-votes-connect", daemon=True
        )

    @classmethod
    def create(cls, settings: Settings, env: Mapping[str, str]) -> VoteListener | None:
        """A listener when Slack has a bot token and an app token, else None (said in the log).
        Not started."""
        slack = settings.notifiers.get("slack")
        if not isinstance(slack, SlackSettings) or slack.webhook_env is not None:
            return None  # no bot token configured: digests carry no buttons
        app_token, problem = read_app_token(slack, env)
        if app_token is None:
            if not problem:
                log.info(
                    "slack: %s is not set: digests carry no vote buttons and nothing listens "
                    "for them",
                    slack.app_token_env,
                )
            return None
        try:
            notifier, why = SlackNotifier.create(slack, env)
        except DigestbotError as exc:  # a malformed bot token: said at start-up already
            log.error("slack: vote buttons are not heard: %s", exc)
            return None
        if not isinstance(notifier, SlackNotifier):
            log.info("slack: vote buttons are not heard: %s", why or "no bot token")
            return None
        return cls(settings, app_token, notifier)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the worker and connect, in the background: the daemon does not wait for Slack.
        Once connected, slack-sdk reconnects by itself (`auto_reconnect_enabled`)."""
        self._worker.start()
        self._connector.start()

    def _connect(self) -> None:
        """Connect, trying again (CONNECT_RETRY_FIRST, doubling up to CONNECT_RETRY_MAX) while
        apps.connections.open fails: slack-sdk's own reconnecting only starts after a first
        connection. The first failure is an error in the log, the next ones are quieter."""
        wait, failures = CONNECT_RETRY_FIRST, 0
        while not self._closing.is_set():
            try:
                self._client.connect()
            except Exception as exc:  # anything: the daemon runs on, digests go out
                failures += 1
                log.log(
                    logging.ERROR if failures == 1 else logging.INFO,
                    "slack: cannot open the Socket Mode connection for the vote buttons (%s); "
                    "trying again in %.0fs. Check $%s (an app-level token with "
                    "connections:write) and `digestbot check --live`; digests are delivered "
                    "all the same",
                    type(exc).__name__,
                    wait,
                    self._app_token_env,
                )
                if self._closing.wait(wait):
                    return
                wait = min(wait * 2, CONNECT_RETRY_MAX)
                continue
            log.info("slack: listening for vote buttons over Socket Mode")
            return

    @property
    def _app_token_env(self) -> str:
        slack = self._settings.notifiers["slack"]
        return slack.app_token_env if isinstance(slack, SlackSettings) else "SLACK_APP_TOKEN"

    def close(self) -> None:
        """Close the connection, then let the worker finish what it was handed."""
        self._closing.set()
        if self._connector.is_alive():
            self._connector.join(timeout=10)
        try:
            self._client.close()
        finally:
            self._inbox.put(None)
            if self._worker.is_alive():
                self._worker.join(timeout=10)
            self._notifier.close()

    # ------------------------------------------------------------ the client's threads

    def _on_message(
        self, client: BaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        """Acknowledge first (Slack waits 3 s at most), then hand the envelope to the worker."""
        kind = message.get("type") if isinstance(message, dict) else None
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if isinstance(envelope_id, str) and _ENVELOPE_ID.fullmatch(envelope_id):
            try:
                client.send_socket_mode_response({"envelope_id": envelope_id})
            except Exception as exc:  # the connection dropped: Slack sends it again, deduped
                log.warning(
                    "slack: could not acknowledge envelope %s (%s); handling it anyway",
                    envelope_id,
                    type(exc).__name__,
                )
        elif kind in ("hello", "disconnect"):
            return  # the connection's own messages: slack-sdk handles them
        else:
            log.warning(
                "slack: ignored a Socket Mode message without a usable envelope id "
                "(type %s, %d characters)",
                _excerpt(kind),
                len(raw or ""),
            )
            return
        self._inbox.put(message)

    # ------------------------------------------------------------ the worker

    def _work(self) -> None:
        store: Store | None = None
        try:
            while True:
                envelope = self._inbox.get()
                if envelope is None:
                    return
                try:
                    if store is None:
                        store = Store.open(self._settings.state)
                    self._handle(envelope, store)
                except DigestbotError as exc:
                    hint = f" (hint: {exc.hint})" if exc.hint else ""
                    log.error("slack: a vote could not be handled: %s%s", exc, hint)
                except Exception:
                    log.exception("slack: a vote could not be handled; listening on")
        finally:
            if store is not None:
                store.close()

    def _handle(self, envelope: dict[str, Any], store: Store) -> None:
        envelope_id = str(envelope["envelope_id"])
        if envelope_id in self._seen:
            log.info("slack: envelope %s arrived again: handled once already", envelope_id)
            return
        self._seen[envelope_id] = None
        while len(self._seen) > SEEN_ENVELOPES:
            self._seen.popitem(last=False)

        payload = envelope.get("payload")
        if envelope.get("type") != "interactive" or not isinstance(payload, dict):
            kind = _excerpt(envelope.get("type"))
            log.info("slack: ignored a %s envelope (not a button click)", kind)
            return
        if payload.get("type") != "block_actions":
            log.info("slack: ignored an interaction of type %s", _excerpt(payload.get("type")))
            return
        user = payload.get("user")
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            log.warning("slack: ignored a click without a user id (user %s)", _excerpt(user_id))
            return
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            log.warning("slack: ignored a click without actions (from %s)", user_id)
            return
        container = payload.get("container")
        container = container if isinstance(container, dict) else {}
        channel = container.get("channel_id")
        if not isinstance(channel, str) or not channel:
            channel_obj = payload.get("channel")
            channel = channel_obj.get("id") if isinstance(channel_obj, dict) else None
        if not isinstance(channel, str) or not re.fullmatch(r"[CDG][A-Z0-9]{2,30}", channel):
            log.warning("slack: ignored a click from %s outside a channel", user_id)
            return
        thread_ts = container.get("thread_ts")
        thread_ts = thread_ts if isinstance(thread_ts, str) and thread_ts else None
        for action in actions:
            self._vote(action, user_id, channel, thread_ts, store)

    def _vote(
        self,
        action: object,
        user_id: str,
        channel: str,
        thread_ts: str | None,
        store: Store,
    ) -> None:
        if not isinstance(action, dict):
            log.warning("slack: ignored a click whose action is %s", _excerpt(action))
            return
        action_id = action.get("action_id")
        if action_id not in (VOTE_UP, VOTE_DOWN):
            log.info("slack: ignored action %s: not a digestbot vote button", _excerpt(action_id))
            return
        claim = read_vote_value(action.get("value"))
        if claim is None:
            log.warning(
                "slack: ignored a vote by %s with a malformed value %s",
                user_id,
                _excerpt(action.get("value")),
            )
            return
        profile_id, paper_id = claim
        profiles, _ = load_profiles(self._settings.profiles_dir, self._settings.notifiers)
        profile = next((p for p in profiles if p.id == profile_id), None)
        if profile is None:
            log.warning(
                "slack: ignored a vote by %s for an unknown profile %s",
                user_id,
                _excerpt(profile_id),
            )
            return
        if not self._posted_here(store, paper_id, profile_id, channel):
            log.warning(
                "slack: ignored a vote by %s: %s was not delivered for profile %s in %s",
                user_id,
                _excerpt(paper_id),
                profile_id,
                channel,
            )
            return
        value = 1 if action_id == VOTE_UP else -1
        today = datetime.now(ZoneInfo(self._settings.timezone)).date()
        changed = store.votes.record(
            Vote(profile_id, paper_id, value, f"slack:{user_id}", "slack", today)
        )
        log.info(
            "slack: %s voted %s on %s for profile %s%s",
            user_id,
            "+1" if value > 0 else "-1",
            paper_id,
            profile_id,
            "" if changed else " (the same vote again: unchanged)",
        )
        name = escape_mrkdwn(truncate(fold_whitespace(profile.name) or profile_id, 80))
        what = "👍 more like" if value > 0 else "👎 less like"
        text = (
            f"{what} {escape_mrkdwn(paper_id)} noted for *{name}*"
            + ("" if changed else " (you had voted so already)")
            + ": it counts from the next digest on. Click the other button to change it."
        )
        try:
            self._notifier.tell(channel, user_id, text, thread_ts)
        except DigestbotError as exc:  # the vote is in; only the confirmation is lost
            log.warning("slack: the vote is recorded, but telling %s failed: %s", user_id, exc)

    def _posted_here(self, store: Store, paper_id: str, profile_id: str, channel: str) -> bool:
        """Whether the outbox shows `paper_id` delivered for the profile in `channel`."""
        for destination in store.outbox.posted_to(paper_id, profile_id):
            kind, _, target = destination.partition(":")
            if kind != "slack" or not target:
                continue
            if target == channel or self._notifier.channel_of(target) == channel:
                return True
        return False
