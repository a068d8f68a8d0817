"""A loopback stand-in for the Slack Web API: a real HTTP server that checks what Slack checks.

Point a `slack_sdk.WebClient(base_url=standin.base_url)` at it. It implements `auth.test`,
`chat.postMessage`, `conversations.history` and `conversations.replies`, accepts JSON and
form-encoded bodies, and answers like Slack: HTTP 200 with `{"ok": false, "error": ...}` for
API errors. Limits checked on chat.postMessage (and the error Slack gives for each):

    missing token / wrong token                      not_authed / invalid_auth
    unknown channel                                  channel_not_found
    neither text nor blocks                          no_text
    blocks not a JSON array of objects               invalid_blocks_format
    > 50 blocks, unknown block type, section text
    > 3000, header text > 150, empty text objects    invalid_blocks
    blocks JSON > 12,000 characters                  msg_blocks_too_long (what Slack answers,
                                                     see slackapi/bolt-js#2509)
    text > 40,000 characters                         msg_too_long
    thread_ts not a message of that channel          thread_not_found

Scripted failures (`fail_next`) are consumed, in order, by the next chat.postMessage calls.

Waiting on events, not on time: `arrived(method)` counts the requests that reached the stand-in,
as they come in (before any scripted delay, hold or failure), and `wait_until(predicate)` blocks
until the stand-in's records satisfy a predicate (a crash test kills the bot when its post has
arrived, not after a guess of how long that takes).

Channels (for `check --live`): `set_channel` archives one, takes the bot out of it or makes it
private. chat.postMessage then answers `is_archived` / `not_in_channel` (a public channel takes
posts from a non-member when the token has chat:write.public). Every authenticated answer carries
`X-OAuth-Scopes: <scopes>` (set `scopes` to change them). `conversations.info` takes channel IDs
only and `conversations.list` pages at most `list_page_cap` channels per answer, as Slack may;
a private channel the bot is not in is invisible to both; both need channels:read.

`conversations.history` and `conversations.replies` take channel IDs only, like Slack: a name
("#papers-norm") answers `channel_not_found` (only chat.postMessage resolves names). They need
channels:history (groups:history for a private channel, im:history for a direct message), else
`missing_scope` with `needed` (and `provided`), as every scope check here answers.

People (`users`, more with `add_user`; see DEFAULT_USERS), answering with Slack's shapes (the
user object of users.list / users.lookupByEmail: id, team_id, name, deleted, real_name, is_bot,
profile with display_name, real_name, their *_normalized forms and, with users:read.email only,
email) and errors (slack-ruby/slack-api-ref's copies of Slack's method docs):

    method               needs              errors
    users.list           users:read         pages at most `users_page_cap` people per answer
                                            (deactivated ones too, `deleted: true`, as Slack)
    users.lookupByEmail  users:read.email   users_not_found (the address matched without case)
    conversations.open   im:write           `users` one user ID (a group DM is not modelled):
                                            user_not_found, user_disabled (deactivated),
                                            users_list_not_supplied; answers
                                            {"channel": {"id": "D..."}}, and when the DM is
                                            already open `no_op` and `already_open` too

chat.postMessage takes an opened DM's ID ("D..."); a user ID as `channel` is not modelled (the
notifier opens the DM first) and answers channel_not_found.

Socket Mode (`socket_mode()` starts it): `apps.connections.open` takes the app-level token
(`app_token`; a bot token answers `not_allowed_token_type`, another one `invalid_auth`, a token
without connections:write in `app_scopes` `missing_scope`) and answers a `ws://127.0.0.1:<port>/link/`
URL of a real WebSocket server (the `websockets` package's threaded server), as slack-sdk's
own tests do. That server greets with Slack's `hello`, `send()` pushes an envelope down every
open connection, and what the app sends back (the acknowledgements) is in `acks`.
`chat.postEphemeral` (channel, user, text; thread_ts optional) answers `channel_not_found` /
`user_not_found` like Slack and records what it accepted in `ephemerals`. Vote buttons are
checked as Slack checks an `actions` block: 1..25 elements, a button's plain_text text at most 75
characters, action_id at most 255 and unique in its block, value at most 2000, block_ids unique
in the message (`invalid_blocks`).

Incoming webhooks: `POST /services/T000/B000/XXXX` (`webhook_url`; more with `add_webhook`)
posts to the hook's one channel and answers like Slack's hooks: HTTP 200 with the body `ok`,
else a status and the error code as the body. Checked (status, body):

    unknown hook path                                404 no_service
    body not a JSON object (JSON, or form `payload`) 400 invalid_payload
    neither text nor blocks                          400 no_text
    blocks not an array of objects                   400 invalid_blocks_format
    the block and text limits above                  400 invalid_blocks / msg_blocks_too_long /
                                                     msg_too_long
    > 100 attachments                                400 too_many_attachments

`fail_next_webhook` scripts failures for webhook posts (429 + Retry-After, 500, 404
channel_not_found, 403 action_prohibited, 410 channel_is_archived...). Accepted webhook posts
are in `posts` (no thread: `thread_ts` is None), every webhook request in `requests` as method
"webhook".
"""

from __future__ import annotations

import hmac
import json
import sys
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_MESSAGE_TEXT = 40_000
# Measured on the decoded blocks, compactly re-serialised: never more than what the notifier
# measures (json.dumps defaults), so the two agree on what fits.
MAX_BLOCKS_JSON = 12_000
MAX_ACTIONS = 25  # elements of an actions block
MAX_BUTTON_TEXT = 75
MAX_ACTION_ID = 255
MAX_BUTTON_VALUE = 2000
MAX_ATTACHMENTS = 100  # incoming webhooks: more -> 400 too_many_attachments
WEBHOOK_PATH = "/services/T000/B000/XXXX"
TEAM_ID = "T0TEST"
# User ID -> name (the legacy username), real_name, display_name, email; `deleted` optional.
DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "U0ALICE": {
        "name": "alice",
        "real_name": "Alice Liu",
        "display_name": "Alice",
        "email": "alice@lab.example",
    },
    "U0BOB": {
        "name": "bob.stone",
        "real_name": "Bob Stone",
        "display_name": "bob",
        "email": "bob@lab.example",
    },
    # Two people who show as "sam": a handle that names neither for sure.
    "U0SAM1": {
        "name": "sam",
        "real_name": "Sam Ito",
        "display_name": "sam",
        "email": "s1@lab.example",
    },
    "W0SAM2": {
        "name": "samuel",
        "real_name": "Sam Roe",
        "display_name": "Sam",
        "email": "s2@lab.example",
    },
    # No display name: Slack shows the full name.
    "U0NOEL": {
        "name": "noel",
        "real_name": "Noël Ba",
        "display_name": "",
        "email": "n@lab.example",
    },
    "U0GONE": {
        "name": "carol",
        "real_name": "Carol Gone",
        "display_name": "carol",
        "email": "carol@lab.example",
        "deleted": True,
    },
}
WEBHOOK_CHANNEL = "C0HOOK"
BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)


@dataclass(frozen=True)
class Post:
    """A message the stand-in accepted."""

    channel: str  # the channel ID
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    ts: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Call:
    """Any request the stand-in answered, accepted or not."""

    method: str  # "chat.postMessage"
    params: dict[str, Any]
    status: int
    ok: bool
    error: str | None


@dataclass(frozen=True)
class Ephemeral:
    """An ephemeral message the stand-in accepted (only `user` would see it)."""

    channel: str
    user: str
    text: str
    thread_ts: str | None


# Slack's greeting on a new Socket Mode connection (shape as in slack-sdk's
# tests/slack_sdk/socket_mode/mock_socket_mode_server.py).
HELLO = {
    "type": "hello",
    "num_connections": 1,
    "debug_info": {"host": "applink-standin", "build_number": 1},
    "connection_info": {"app_id": "A0DIGEST"},
}


class SocketModeStandIn:
    """A loopback WebSocket server speaking Slack's side of Socket Mode."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._connections: list[ServerConnection] = []
        self._received: list[str] = []
        self.connects = 0
        self._server: Server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode-standin", daemon=True
        )
        self._thread.start()
        port = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/link/"

    def _handle(self, connection: ServerConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            self.connects += 1
        self._notify()
        try:
            connection.send(json.dumps(HELLO))
            for message in connection:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                with self._lock:
                    self._received.append(text)
                self._notify()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)
            self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    @property
    def connected(self) -> int:
        with self._lock:
            return len(self._connections)

    def send(self, message: str | dict[str, Any]) -> None:
        """Push `message` (an envelope, or any text) down every open connection."""
        text = message if isinstance(message, str) else json.dumps(message)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.send(text)

    @property
    def acks(self) -> list[dict[str, Any]]:
        """What the app sent back that is a JSON object (its acknowledgements)."""
        out = []
        with self._lock:
            received = list(self._received)
        for text in received:
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out

    def wait_until(self, predicate: Callable[[SocketModeStandIn], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    error: str | None
    times: int
    after: int
    disconnect: bool
    delay: float


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    posts: list[Post] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    arrivals: list[str] = field(default_factory=list)  # API methods, as requests come in
    failures: deque[_Failure] = field(default_factory=deque)
    archived: set[str] = field(default_factory=set)  # channel IDs
    outside: set[str] = field(default_factory=set)  # channel IDs the bot is not a member of
    private: set[str] = field(default_factory=set)  # channel IDs
    dms: dict[str, str] = field(default_factory=dict)  # opened DM channel ID -> user ID
    ephemerals: list[Ephemeral] = field(default_factory=list)
    webhook_failures: deque[_Failure] = field(default_factory=deque)
    last_us: int = 0


class SlackStandIn:
    """A real HTTP server on 127.0.0.1 speaking enough of the Slack Web API for the notifier."""

    # The token's scopes, sent as X-OAuth-Scopes with every authenticated answer.
    scopes = (
        "chat:write,channels:read,groups:read,channels:history,groups:history,im:write,"
        "im:history,users:read,users:read.email"
    )
    app_scopes = "connections:write"  # the app-level token's scopes (apps.connections.open)
    list_page_cap = 2  # conversations.list answers at most this many channels per page
    users_page_cap = 2  # users.list answers at most this many people per page

    def __init__(
        self,
        token: str = "xoxb-test-token",
        channels: dict[str, str] | None = None,
        webhooks: dict[str, str] | None = None,
        users: dict[str, dict[str, Any]] | None = None,
        app_token: str = "xapp-1-A0DIGEST-test-app-token",
    ) -> None:
        self.token = token
        self.app_token = app_token
        self._socket: SocketModeStandIn | None = None
        self._users: dict[str, dict[str, Any]] = {}
        for user_id, fields in (DEFAULT_USERS if users is None else users).items():
            self.add_user(user_id, **fields)
        channels = (
            {"#papers-norm": "C0NORM", "#papers-agents": "C0AGENTS"}
            if channels is None
            else channels
        )
        # Names ("#papers-norm", "papers-norm") and IDs ("C0NORM") all resolve to the ID.
        self._channels: dict[str, str] = {}
        for name, channel_id in channels.items():
            self._channels[name] = channel_id
            self._channels[name.lstrip("#")] = channel_id
            self._channels[channel_id] = channel_id
        # Incoming webhooks: path -> the channel ID the hook posts to.
        self._webhooks: dict[str, str] = {}
        for path, channel in (
            {WEBHOOK_PATH: WEBHOOK_CHANNEL} if webhooks is None else webhooks
        ).items():
            self._add_hook(path, channel)
        self._state = _State()
        self._holds: deque[float] = deque()
        # Notified after every change of the records (own lock: predicates read the state).
        self._changed = threading.Condition()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-standin",
            daemon=True,
        )
        self._thread.start()
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}/api/"
        self.root_url = f"http://127.0.0.1:{port}"

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> SlackStandIn:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()  # wakes handlers sleeping on a scripted delay
        if self._socket is not None:
            self._socket.close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def socket_mode(self) -> SocketModeStandIn:
        """The Socket Mode server apps.connections.open points to (started on first use)."""
        if self._socket is None:
            self._socket = SocketModeStandIn()
        return self._socket

    @property
    def ephemerals(self) -> list[Ephemeral]:
        with self._state.lock:
            return list(self._state.ephemerals)

    @property
    def webhook_url(self) -> str:
        """The URL of the default incoming webhook (it posts to WEBHOOK_CHANNEL)."""
        return self.root_url + WEBHOOK_PATH

    def add_webhook(self, path: str, channel: str = WEBHOOK_CHANNEL) -> str:
        """Create an incoming webhook at `path` posting to `channel`; returns its URL."""
        self._add_hook(path, channel)
        return self.root_url + path

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str = "",
        display_name: str = "",
        email: str = "",
        deleted: bool = False,
        is_bot: bool = False,
    ) -> None:
        """A person of the workspace (or `deleted`: deactivated)."""
        self._users[user_id] = {
            "name": name,
            "real_name": real_name,
            "display_name": display_name,
            "email": email,
            "deleted": deleted,
            "is_bot": is_bot,
        }

    def dm_with(self, user_id: str) -> str | None:
        """The ID of the DM the bot opened with `user_id`, if it did."""
        with self._state.lock:
            return next((d for d, u in self._state.dms.items() if u == user_id), None)

    def _add_hook(self, path: str, channel: str) -> None:
        channel_id = self._channels.setdefault(channel, channel)
        self._channels.setdefault(channel_id, channel_id)
        self._webhooks[path] = channel_id

    # ---------------------------------------------------------------- scripting and records

    def fail_next(
        self,
        status: int = 200,
        headers: dict[str, str] | None = None,
        *,
        error: str | None = None,
        times: int = 1,
        after: int = 0,
        disconnect: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Make the next `times` chat.postMessage calls fail (after letting `after` through).

        status 200 + error: Slack's `{"ok": false, "error": error}`. status 429: JSON
        `ratelimited` unless `error` says otherwise. Other statuses without `error`: an HTML
        body, as a load balancer would send. `disconnect`: close the connection unanswered.
        `delay`: wait that long before answering (for client timeouts)."""
        with self._state.lock:
            self._state.failures.append(
                _Failure(status, dict(headers or {}), error, times, after, disconnect, delay)
            )

    def fail_next_webhook(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        *,
        error: str | None = None,
        times: int = 1,
        after: int = 0,
        disconnect: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Make the next `times` webhook posts fail (after letting `after` through).

        The answer is `status` with `error` as the body (429 without `error`: `rate_limited`);
        other statuses without `error` get an HTML page, as from a load balancer. `disconnect`
        and `delay` as for `fail_next`."""
        with self._state.lock:
            self._state.webhook_failures.append(
                _Failure(status, dict(headers or {}), error, times, after, disconnect, delay)
            )

    def set_channel(
        self, channel: str, *, member: bool = True, archived: bool = False, private: bool = False
    ) -> None:
        """Whether the bot is in `channel` (name or ID), and whether it is archived or private."""
        channel_id = self._channels[channel]
        with self._state.lock:
            for flag, ids in (
                (not member, self._state.outside),
                (archived, self._state.archived),
                (private, self._state.private),
            ):
                if flag:
                    ids.add(channel_id)
                else:
                    ids.discard(channel_id)

    def hold_after_accept(self, seconds: float) -> None:
        """Accept the next chat.postMessage (it is recorded) but hold the answer back for
        `seconds`: the window a crash test kills the bot in."""
        with self._state.lock:
            self._holds.append(seconds)

    def _next_hold(self) -> float | None:
        with self._state.lock:
            return self._holds.popleft() if self._holds else None

    @property
    def failures_left(self) -> int:
        """Scripted chat.postMessage failures not reached yet (one is taken when its call
        arrives, before any `delay`)."""
        with self._state.lock:
            return len(self._state.failures)

    @property
    def posts(self) -> list[Post]:
        with self._state.lock:
            return list(self._state.posts)

    @property
    def requests(self) -> list[Call]:
        with self._state.lock:
            return list(self._state.calls)

    def arrived(self, method: str) -> int:
        """How many `method` requests reached the stand-in, counted as they come in: a request
        held by a scripted delay or hold counts at once (`requests` records it when answered)."""
        with self._state.lock:
            return self._state.arrivals.count(method)

    def wait_until(self, predicate: Callable[[SlackStandIn], bool], timeout: float) -> bool:
        """Block until `predicate(self)` holds, re-checked at every change of the records
        (a request arriving, a post accepted, an answer recorded); False after `timeout`."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _arrive(self, method: str) -> None:
        with self._state.lock:
            self._state.arrivals.append(method)
        self._notify()

    def messages_in(self, channel: str) -> list[Post]:
        """Accepted posts in a channel (name or ID), thread replies included, oldest first."""
        channel_id = self._channels.get(channel, channel)
        return [p for p in self.posts if p.channel == channel_id]

    # ---------------------------------------------------------------- the API

    def _next_failure(self, webhook: bool = False) -> _Failure | None:
        with self._state.lock:
            failures = self._state.webhook_failures if webhook else self._state.failures
            if not failures:
                return None
            head = failures[0]
            if head.after > 0:
                head.after -= 1
                return None
            head.times -= 1
            if head.times <= 0:
                failures.popleft()
            return head

    def _next_ts(self) -> str:
        with self._state.lock:
            now_us = time.time_ns() // 1000
            self._state.last_us = max(now_us, self._state.last_us + 1)
            us = self._state.last_us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _auth_error(self, authorization: str | None, params: dict[str, Any]) -> str | None:
        given: str | None = None
        if authorization and authorization.startswith("Bearer "):
            given = authorization.removeprefix("Bearer ").strip()
        elif isinstance(params.get("token"), str):
            given = params["token"]
        if not given:
            return "not_authed"
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return "invalid_auth"
        return None

    def _post_message(self, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """(answer, error) for chat.postMessage with authenticated `params`."""
        channel_id = self._channels.get(str(params.get("channel") or "")) or self._dm_id(
            str(params.get("channel") or "")
        )
        if channel_id is None:
            return {}, "channel_not_found"
        channel = self._channel_object(channel_id)
        if channel is None:
            return {}, "channel_not_found"
        if channel["is_archived"]:
            return {}, "is_archived"
        public_ok = not channel["is_private"] and "chat:write.public" in self.scopes.split(",")
        if not channel["is_member"] and not public_ok:
            return {}, "not_in_channel"
        text = params.get("text")
        text = text if isinstance(text, str) else ""
        blocks: Any = params.get("blocks")
        if isinstance(blocks, str):  # form-encoded: blocks arrive as a JSON string
            try:
                blocks = json.loads(blocks) if blocks.strip() else None
            except json.JSONDecodeError:
                return {}, "invalid_blocks_format"
        if blocks is not None and (
            not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks)
        ):
            return {}, "invalid_blocks_format"
        if not text and not blocks:
            return {}, "no_text"
        if len(text) > MAX_MESSAGE_TEXT:
            return {}, "msg_too_long"
        if blocks:
            error = _check_blocks(blocks)
            if error:
                return {}, error
        thread_ts = params.get("thread_ts")
        thread_ts = str(thread_ts) if thread_ts else None
        with self._state.lock:
            known = {p.ts for p in self._state.posts if p.channel == channel_id}
        if thread_ts is not None and thread_ts not in known:
            return {}, "thread_not_found"
        ts = self._next_ts()
        post = Post(channel_id, text, list(blocks or []), thread_ts, ts, dict(params))
        with self._state.lock:
            self._state.posts.append(post)
        self._notify()
        message = {"type": "message", "text": text, "ts": ts, "blocks": post.blocks}
        if thread_ts:
            message["thread_ts"] = thread_ts
        return {"ok": True, "channel": channel_id, "ts": ts, "message": message}, None

    def _connections_open(self, authorization: str | None) -> tuple[dict[str, Any], str | None]:
        """apps.connections.open: only an app-level token, with connections:write."""
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not given:
            return {}, "not_authed"
        if hmac.compare_digest(given.encode(), self.token.encode()):
            return {}, "not_allowed_token_type"
        if not hmac.compare_digest(given.encode(), self.app_token.encode()):
            return {}, "invalid_auth"
        if "connections:write" not in self.app_scopes.split(","):
            return {"needed": "connections:write", "provided": self.app_scopes}, "missing_scope"
        if self._socket is None:
            return {}, "internal_error"  # the test did not start Socket Mode
        return {"ok": True, "url": self._socket.url}, None

    def _post_ephemeral(self, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        channel_id = self._channels.get(str(params.get("channel") or "")) or self._dm_id(
            str(params.get("channel") or "")
        )
        if channel_id is None or self._channel_object(channel_id) is None:
            return {}, "channel_not_found"
        user = str(params.get("user") or "")
        if user not in self._users:
            return {}, "user_not_found"
        text = params.get("text")
        if not isinstance(text, str) or not text:
            return {}, "no_text"
        thread_ts = params.get("thread_ts")
        ephemeral = Ephemeral(channel_id, user, text, str(thread_ts) if thread_ts else None)
        with self._state.lock:
            self._state.ephemerals.append(ephemeral)
        self._notify()
        return {"ok": True, "message_ts": self._next_ts()}, None

    def _webhook_post(self, path: str, payload: dict[str, Any] | None) -> tuple[int, str]:
        """(status, body) for an incoming-webhook post of `payload` (None: unreadable)."""
        channel_id = self._webhooks.get(path)
        if channel_id is None:
            return 404, "no_service"
        if payload is None:
            return 400, "invalid_payload"
        text = payload.get("text")
        if text is not None and not isinstance(text, str):
            return 400, "invalid_payload"
        text = text or ""
        blocks = payload.get("blocks")
        if blocks is not None and (
            not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks)
        ):
            return 400, "invalid_blocks_format"
        attachments = payload.get("attachments")
        if isinstance(attachments, list) and len(attachments) > MAX_ATTACHMENTS:
            return 400, "too_many_attachments"
        if not text.strip() and not blocks and not attachments:
            return 400, "no_text"
        if len(text) > MAX_MESSAGE_TEXT:
            return 400, "msg_too_long"
        if blocks:
            error = _check_blocks(blocks)
            if error:
                return 400, error
        post = Post(channel_id, text, list(blocks or []), None, self._next_ts(), dict(payload))
        with self._state.lock:
            self._state.posts.append(post)
        self._notify()
        return 200, "ok"

    def _dm_id(self, channel_id: str) -> str | None:
        with self._state.lock:
            return channel_id if channel_id in self._state.dms else None

    def _channel_object(self, channel_id: str) -> dict[str, Any] | None:
        """The channel as conversations.info shows it; None if the bot cannot see it."""
        with self._state.lock:
            user = self._state.dms.get(channel_id)
        if user is not None:  # a DM the bot opened: Slack's IM object
            return {
                "id": channel_id,
                "is_im": True,
                "user": user,
                "is_private": True,
                "is_archived": False,
                "is_member": True,
            }
        with self._state.lock:
            member = channel_id not in self._state.outside
            archived = channel_id in self._state.archived
            private = channel_id in self._state.private
        if private and not member:
            return None
        names = [k for k, v in self._channels.items() if v == channel_id and k != channel_id]
        name = next((k for k in names if not k.startswith("#")), channel_id)
        return {
            "id": channel_id,
            "name": name,
            "is_channel": True,
            "is_private": private,
            "is_archived": archived,
            "is_member": member,
        }

    def _conversations(
        self, params: dict[str, Any], info: bool
    ) -> tuple[dict[str, Any], str | None]:
        """(answer, error) for conversations.info (IDs only, like Slack) or .list (paged)."""
        if "channels:read" not in self.scopes.split(","):
            return {}, "missing_scope"
        if info:
            channel_id = str(params.get("channel") or "")
            known = channel_id in self._channels.values()
            channel = self._channel_object(channel_id) if known else None
            if channel is None:
                return {}, "channel_not_found"
            return {"ok": True, "channel": channel}, None
        every = [self._channel_object(c) for c in sorted(set(self._channels.values()))]
        visible = [c for c in every if c is not None]
        start = int(params.get("cursor") or 0)
        limit = min(int(params.get("limit") or 100), self.list_page_cap)
        page = visible[start : start + limit]
        more = start + limit < len(visible)
        return {
            "ok": True,
            "channels": page,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }, None

    def _history(self, params: dict[str, Any], replies: bool) -> tuple[dict[str, Any], str | None]:
        """(answer, error) for conversations.history / .replies: channel IDs only, as Slack."""
        channel_id = str(params.get("channel") or "")
        known = channel_id in self._channels.values() or self._dm_id(channel_id) is not None
        channel = self._channel_object(channel_id) if known else None
        if channel is None:
            return {}, "channel_not_found"
        if channel.get("is_im"):
            needed = "im:history"
        else:
            needed = "groups:history" if channel["is_private"] else "channels:history"
        if needed not in self.scopes.split(","):
            return self._missing(needed)
        posts = self.messages_in(channel_id)
        if replies:
            root = str(params.get("ts") or "")
            if root not in {p.ts for p in posts}:
                return {}, "thread_not_found"
            chosen = [p for p in posts if p.ts == root or p.thread_ts == root]  # oldest first
        else:
            chosen = [p for p in reversed(posts) if p.thread_ts is None]  # newest first
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        messages = [
            {"type": "message", "text": p.text, "ts": p.ts, "blocks": p.blocks}
            | ({"thread_ts": p.thread_ts} if p.thread_ts else {})
            | (
                {"metadata": _metadata(p.params)}
                if with_metadata and "metadata" in p.params
                else {}
            )
            for p in chosen
        ]
        return {"ok": True, "messages": messages, "has_more": False}, None

    def _missing(self, needed: str) -> tuple[dict[str, Any], str | None]:
        """Slack's answer to a token without the scope a method needs."""
        return {"needed": needed, "provided": self.scopes}, "missing_scope"

    def _user_object(self, user_id: str) -> dict[str, Any]:
        """A person as users.list / users.lookupByEmail show them (email with its scope only)."""
        fields = self._users[user_id]
        profile: dict[str, Any] = {
            "real_name": fields["real_name"],
            "real_name_normalized": _normalized(fields["real_name"]),
            "display_name": fields["display_name"],
            "display_name_normalized": _normalized(fields["display_name"]),
            "team": TEAM_ID,
        }
        if "users:read.email" in self.scopes.split(",") and fields["email"]:
            profile["email"] = fields["email"]
        return {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": fields["name"],
            "deleted": fields["deleted"],
            "real_name": fields["real_name"],
            "is_bot": fields["is_bot"],
            "is_app_user": False,
            "profile": profile,
        }

    def _users_list(self, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        if "users:read" not in self.scopes.split(","):
            return self._missing("users:read")
        ids = sorted(self._users)
        start = int(params.get("cursor") or 0)
        limit = min(int(params.get("limit") or 100), self.users_page_cap)
        more = start + limit < len(ids)
        return {
            "ok": True,
            "members": [self._user_object(u) for u in ids[start : start + limit]],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }, None

    def _lookup_by_email(self, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        if "users:read.email" not in self.scopes.split(","):
            return self._missing("users:read.email")
        wanted = str(params.get("email") or "").strip().lower()
        for user_id, fields in self._users.items():
            if wanted and fields["email"].lower() == wanted:
                return {"ok": True, "user": self._user_object(user_id)}, None
        return {}, "users_not_found"

    def _open(self, params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """conversations.open for one user: the DM's ID (the same one every time)."""
        if "im:write" not in self.scopes.split(","):
            return self._missing("im:write")
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            return {}, "users_list_not_supplied"
        if len(users) > 1:
            return {}, "not_modelled_group_dm"
        [user_id] = users
        if user_id not in self._users:
            return {}, "user_not_found"
        if self._users[user_id]["deleted"]:
            return {}, "user_disabled"
        dm_id = "D" + user_id[1:]
        with self._state.lock:
            already = dm_id in self._state.dms
            self._state.dms[dm_id] = user_id
        if already:
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": dm_id}}, None
        return {"ok": True, "channel": {"id": dm_id}}, None


def _normalized(text: str) -> str:
    """A name as Slack's *_normalized fields give it: accents dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _metadata(params: dict[str, Any]) -> Any:
    """A post's `metadata` as Slack returns it (form bodies carry it as a JSON string)."""
    value = params["metadata"]
    return json.loads(value) if isinstance(value, str) else value


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, disconnect) is expected here, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _check_actions(block: dict[str, Any]) -> bool:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_ACTIONS:
        return False
    action_ids: set[str] = set()
    for element in elements:
        if not isinstance(element, dict) or element.get("type") != "button":
            return False  # only buttons are modelled
        action_id = element.get("action_id")
        value = element.get("value", "")
        if not isinstance(action_id, str) or not 1 <= len(action_id) <= MAX_ACTION_ID:
            return False
        if action_id in action_ids:
            return False
        action_ids.add(action_id)
        if not _text_ok(element.get("text"), MAX_BUTTON_TEXT, plain=True):
            return False
        if not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE:
            return False
    return True


def _check_blocks(blocks: list[dict[str, Any]]) -> str | None:
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        return "invalid_blocks"
    for block in blocks:
        kind = block.get("type")
        if not isinstance(kind, str) or kind not in BLOCK_TYPES:
            return "invalid_blocks"
        if kind == "section" and not _text_ok(block.get("text"), MAX_SECTION_TEXT):
            return "invalid_blocks"
        if kind == "header" and not _text_ok(block.get("text"), MAX_HEADER_TEXT, plain=True):
            return "invalid_blocks"
        if kind == "actions" and not _check_actions(block):
            return "invalid_blocks"
        if kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
                return "invalid_blocks"
            if not all(_text_ok(e, MAX_SECTION_TEXT) for e in elements):
                return "invalid_blocks"
    if len(json.dumps(blocks, ensure_ascii=False, separators=(",", ":"))) > MAX_BLOCKS_JSON:
        return "msg_blocks_too_long"
    return None


def _text_ok(obj: object, limit: int, plain: bool = False) -> bool:
    if not isinstance(obj, dict):
        return False
    kinds = ("plain_text",) if plain else ("plain_text", "mrkdwn")
    text = obj.get("text")
    return obj.get("type") in kinds and isinstance(text, str) and 1 <= len(text) <= limit


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any] | None:
    kind = content_type.split(";")[0].strip().lower()
    if not raw:
        return {}
    if kind == "application/json":
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        return value if isinstance(value, dict) else None
    if kind in ("application/x-www-form-urlencoded", ""):
        pairs = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        return {k: v[-1] for k, v in pairs.items()}
    return None


def _webhook_payload(content_type: str, raw: bytes) -> dict[str, Any] | None:
    """A webhook body as Slack reads it: JSON, or a form with the JSON in `payload`."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("application/x-www-form-urlencoded", ""):
        form = _parse_body("application/x-www-form-urlencoded", raw)
        raw = str((form or {}).get("payload", "")).encode("utf-8")
    elif kind != "application/json":
        return None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _handler_for(standin: SlackStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "SlackStandIn/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request lines on stderr."""

        def do_GET(self) -> None:
            self._answer(query=True)

        def do_POST(self) -> None:
            self._answer(query=False)

        def _answer(self, query: bool) -> None:
            parts = urlsplit(self.path)
            method = parts.path.removeprefix("/api/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not parts.path.startswith("/api/"):
                self._webhook(parts.path, raw)
                return
            standin._arrive(method)
            params = _parse_body(self.headers.get("Content-Type", ""), raw)
            if params is None:
                self._finish(method, {}, 200, {"ok": False, "error": "invalid_form_data"})
                return
            if parts.query:
                params |= {k: v[-1] for k, v in parse_qs(parts.query).items()}

            if method == "chat.postMessage":
                failure = standin._next_failure()
                if failure is not None and self._fail(method, params, failure):
                    return
            if method == "apps.connections.open":  # the app-level token, not the bot's
                answer, error = standin._connections_open(self.headers.get("Authorization"))
                body = {"ok": False, "error": error, **answer} if error else answer
                self._finish(method, params, 200, body)
                return
            auth_error = standin._auth_error(self.headers.get("Authorization"), params)
            if method not in (
                "auth.test",
                "chat.postMessage",
                "chat.postEphemeral",
                "users.list",
                "users.lookupByEmail",
            ) and not method.startswith("conversations."):
                self._finish(method, params, 404, {"ok": False, "error": "unknown_method"})
                return
            if auth_error:
                self._finish(method, params, 200, {"ok": False, "error": auth_error})
                return
            if method == "auth.test":
                answer: dict[str, Any] = {
                    "ok": True,
                    "url": "https://digestbot-test.slack.com/",
                    "team": "Digestbot Test",
                    "user": "digestbot",
                    "team_id": TEAM_ID,
                    "user_id": "U0BOT",
                    "bot_id": "B0BOT",
                }
                error = None
            elif method == "chat.postMessage":
                answer, error = standin._post_message(params)
                hold = standin._next_hold() if error is None else None
                if hold and standin._closing.wait(hold):  # accepted, answer held back
                    self.close_connection = True
                    return
            elif method == "chat.postEphemeral":
                answer, error = standin._post_ephemeral(params)
            elif method == "conversations.history":
                answer, error = standin._history(params, replies=False)
            elif method == "conversations.replies":
                answer, error = standin._history(params, replies=True)
            elif method in ("conversations.info", "conversations.list"):
                info = method == "conversations.info"
                answer, error = standin._conversations(params, info=info)
            elif method == "conversations.open":
                answer, error = standin._open(params)
            elif method == "users.list":
                answer, error = standin._users_list(params)
            elif method == "users.lookupByEmail":
                answer, error = standin._lookup_by_email(params)
            else:
                answer, error = {}, "unknown_method"
            # An error answer may carry more, as Slack's do (missing_scope: `needed`).
            body = {"ok": False, "error": error, **answer} if error else answer
            self._finish(method, params, 200, body, {"X-OAuth-Scopes": standin.scopes})

        def _webhook(self, path: str, raw: bytes) -> None:
            payload = _webhook_payload(self.headers.get("Content-Type", ""), raw)
            params = payload if payload is not None else {}
            standin._arrive("webhook")
            failure = standin._next_failure(webhook=True) if path in standin._webhooks else None
            if failure is not None:
                if failure.delay and standin._closing.wait(failure.delay):
                    self.close_connection = True
                    return
                if failure.disconnect:
                    self._record("webhook", params, 0, None)
                    self.close_connection = True
                    return
                if failure.status != 200 or failure.error is not None:
                    error = failure.error or ("rate_limited" if failure.status == 429 else None)
                    if error is None:
                        page = f"<html><body>{failure.status} upstream error</body></html>"
                        self._record("webhook", params, failure.status, None)
                        self._send(
                            failure.status,
                            "text/html; charset=utf-8",
                            page.encode(),
                            failure.headers,
                        )
                    else:
                        self._record("webhook", params, failure.status, error)
                        self._send(failure.status, "text/html", error.encode(), failure.headers)
                    return
            status, body = standin._webhook_post(path, payload)
            self._record("webhook", params, status, None if status == 200 else body)
            self._send(status, "text/html", body.encode(), {})

        def _fail(self, method: str, params: dict[str, Any], failure: _Failure) -> bool:
            """Answer with a scripted failure; False if the failure was only a delay."""
            if failure.delay and standin._closing.wait(failure.delay):
                self.close_connection = True
                return True
            if failure.disconnect:
                self._record(method, params, 0, None)
                self.close_connection = True
                return True
            if failure.status == 200 and failure.error is None:
                return False  # a pure delay: answer normally
            error = failure.error or ("ratelimited" if failure.status == 429 else None)
            if error is not None:
                self._finish(
                    method, params, failure.status, {"ok": False, "error": error}, failure.headers
                )
            else:
                page = f"<html><body>{failure.status} upstream error</body></html>".encode()
                self._record(method, params, failure.status, None)
                self._send(failure.status, "text/html; charset=utf-8", page, failure.headers)
            return True

        def _finish(
            self,
            method: str,
            params: dict[str, Any],
            status: int,
            body: dict[str, Any],
            headers: dict[str, str] | None = None,
        ) -> None:
            ok = bool(body.get("ok"))
            self._record(method, params, status, None if ok else str(body.get("error")))
            payload = json.dumps(body).encode("utf-8")
            self._send(status, "application/json; charset=utf-8", payload, headers or {})

        def _record(
            self, method: str, params: dict[str, Any], status: int, error: str | None
        ) -> None:
            call = Call(method, dict(params), status, status == 200 and error is None, error)
            with standin._state.lock:
                standin._state.calls.append(call)
            standin._notify()

        def _send(
            self, status: int, content_type: str, payload: bytes, headers: dict[str, str]
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler
