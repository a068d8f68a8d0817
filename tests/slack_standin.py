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
"""

from __future__ import annotations

import hmac
import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_MESSAGE_TEXT = 40_000
# Measured on the decoded blocks, compactly re-serialised: never more than what the notifier
# measures (json.dumps defaults), so the two agree on what fits.
MAX_BLOCKS_JSON = 12_000
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
    failures: deque[_Failure] = field(default_factory=deque)
    last_us: int = 0


class SlackStandIn:
    """A real HTTP server on 127.0.0.1 speaking enough of the Slack Web API for the notifier."""

    def __init__(
        self,
        token: str = "xoxb-test-token",
        channels: dict[str, str] | None = None,
    ) -> None:
        self.token = token
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
        self._state = _State()
        self._holds: deque[float] = deque()
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
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

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

    def hold_after_accept(self, seconds: float) -> None:
        """Accept the next chat.postMessage (it is recorded) but hold the answer back for
        `seconds`: the window a crash test kills the bot in."""
        with self._state.lock:
            self._holds.append(seconds)

    def _next_hold(self) -> float | None:
        with self._state.lock:
            return self._holds.popleft() if self._holds else None

    @property
    def posts(self) -> list[Post]:
        with self._state.lock:
            return list(self._state.posts)

    @property
    def requests(self) -> list[Call]:
        with self._state.lock:
            return list(self._state.calls)

    def messages_in(self, channel: str) -> list[Post]:
        """Accepted posts in a channel (name or ID), thread replies included, oldest first."""
        channel_id = self._channels.get(channel, channel)
        return [p for p in self.posts if p.channel == channel_id]

    # ---------------------------------------------------------------- the API

    def _next_failure(self) -> _Failure | None:
        with self._state.lock:
            failures = self._state.failures
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
        channel_id = self._channels.get(str(params.get("channel") or ""))
        if channel_id is None:
            return {}, "channel_not_found"
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
        message = {"type": "message", "text": text, "ts": ts, "blocks": post.blocks}
        if thread_ts:
            message["thread_ts"] = thread_ts
        return {"ok": True, "channel": channel_id, "ts": ts, "message": message}, None

    def _history(self, params: dict[str, Any], replies: bool) -> tuple[dict[str, Any], str | None]:
        channel_id = self._channels.get(str(params.get("channel") or ""))
        if channel_id is None:
            return {}, "channel_not_found"
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


def _check_blocks(blocks: list[dict[str, Any]]) -> str | None:
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        kind = block.get("type")
        if not isinstance(kind, str) or kind not in BLOCK_TYPES:
            return "invalid_blocks"
        if kind == "section" and not _text_ok(block.get("text"), MAX_SECTION_TEXT):
            return "invalid_blocks"
        if kind == "header" and not _text_ok(block.get("text"), MAX_HEADER_TEXT, plain=True):
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
            auth_error = standin._auth_error(self.headers.get("Authorization"), params)
            if method not in ("auth.test", "chat.postMessage") and not method.startswith(
                "conversations."
            ):
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
                    "team_id": "T0TEST",
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
            elif method == "conversations.history":
                answer, error = standin._history(params, replies=False)
            elif method == "conversations.replies":
                answer, error = standin._history(params, replies=True)
            else:
                answer, error = {}, "unknown_method"
            body = {"ok": False, "error": error} if error else answer
            self._finish(method, params, 200, body)

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
