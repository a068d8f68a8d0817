"""A real HTTP server on 127.0.0.1 that replays recorded payloads to the code under test.

Tests talk to it through the real `bot.http.Http` client, so retries, timeouts, headers and size
caps are exercised over a real socket instead of a mocked transport.

    with FixtureServer() as server:
        server.add("/papers", FIXTURES / "hf_papers_page_date-2024-08-01.html")
        server.script("/api/daily_papers", [Reply(503), Reply(200, b"[]")])
        server.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
        ... server.base_url ...
        assert [r.query for r in server.requests] == [...]

Routing: a request goes to one route of its path whose `query` filter it matches (every filter
key present with that value as its first value; other params are ignored). Routes with a filter
are tried before routes without one, and within each group the route added LAST wins, so a test
can override a default. A path or query that matches nothing answers 404. GET and POST only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures"  # recorded payloads (see SOURCES.md)

Body = bytes | str | Path


def _bytes(body: Body) -> bytes:
    if isinstance(body, Path):
        return body.read_bytes()
    if isinstance(body, str):
        return body.encode("utf-8")
    return body


@dataclass(frozen=True)
class Reply:
    """One canned answer. `delay_s` waits before anything is sent (to trip client timeouts);
    `content_length=False` omits the header so the body ends when the connection closes;
    `drip_s` sends the body one byte at a time, `drip_s` apart (never silent for long, so
    only a total deadline stops a client from waiting for all of it)."""

    status: int = 200
    body: Body = b""
    headers: Mapping[str, str] | None = None
    delay_s: float = 0.0
    content_length: bool = True
    drip_s: float = 0.0


@dataclass(frozen=True)
class Request:
    """One request as the server saw it. `query` holds the first value of each parameter."""

    method: str
    path: str
    query: dict[str, str]
    query_all: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class _Route:
    query: dict[str, str] | None
    replies: list[Reply]
    then: Reply | None
    served: int = 0

    def matches(self, query: Mapping[str, str]) -> bool:
        return self.query is None or all(query.get(k) == v for k, v in self.query.items())

    def next_reply(self) -> Reply:
        if self.served < len(self.replies):
            reply = self.replies[self.served]
        else:
            reply = self.then if self.then is not None else self.replies[-1]
        self.served += 1
        return reply


@dataclass
class _State:
    routes: dict[str, list[_Route]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    # Handler threads are joined by server_close(), so no socket outlives the server.
    daemon_threads = False
    block_on_close = True

    def __init__(self, state: _State, host: str) -> None:
        super().__init__((host, 0), _Handler)
        self.state = state


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: no idle keep-alive threads

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _answer(self) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        query_all = parse_qs(parts.query, keep_blank_values=True)
        query = {k: v[0] for k, v in query_all.items()}
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=parts.path,
            query=query,
            query_all=query_all,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        with state.lock:
            state.requests.append(request)
            route = _pick(state.routes.get(parts.path, []), query)
            reply = route.next_reply() if route else Reply(404, b"no fixture for this request")
        if reply.delay_s:
            state.stopping.wait(reply.delay_s)  # cut short when the server stops
        body = _bytes(reply.body)
        try:
            self.send_response(reply.status)
            headers = dict(reply.headers or {})
            if reply.content_length:
                headers.setdefault("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if reply.drip_s:
                self._drip(body, reply.drip_s)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def _drip(self, body: bytes, interval: float) -> None:
        self.wfile.flush()
        for i in range(len(body)):
            if self.server.state.stopping.wait(interval):
                return  # the server stops: end the answer short
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()


def _pick(routes: list[_Route], query: Mapping[str, str]) -> _Route | None:
    filtered = [r for r in routes if r.query is not None]
    unfiltered = [r for r in routes if r.query is None]
    for route in [*reversed(filtered), *reversed(unfiltered)]:
        if route.matches(query):
            return route
    return None


class FixtureServer:
    """A loopback HTTP server serving canned replies; a context manager (start/stop).
    `host` is the loopback address it listens on (127.0.0.2 and so on also work on Linux)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FixtureServer:
        if self._server is None:
            self._state.stopping.clear()
            self._server = _Server(self._state, self._host)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FixtureServer is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- routes ----------------------------------------------------------------------------

    def add(
        self,
        path: str,
        body: Body,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str | int] | None = None,
    ) -> None:
        """Serve the same reply to every request for `path` (matching `query`, if given)."""
        self.script(path, [Reply(status, body, headers)], query=query)

    def script(
        self,
        path: str,
        replies: Sequence[Reply],
        then: Reply | None = None,
        query: Mapping[str, str | int] | None = None,
    ) -> None:
        """Serve `replies` in order, one per request; afterwards `then`, or the last again."""
        if not replies:
            raise ValueError("script() needs at least one reply")
        wanted = None if query is None else {k: str(v) for k, v in query.items()}
        with self._state.lock:
            self._state.routes.setdefault(path, []).append(_Route(wanted, list(replies), then))

    def serve_hf_day(
        self,
        day: str,
        fixture: Body,
        *,
        page_size: int | None = None,
        path: str = "/api/daily_papers",
    ) -> None:
        """Serve a recorded `/api/daily_papers` array for `date=day`; `[]` for other days.

        `fixture` is the recording (a path, or its bytes). Without `page_size` its bytes are
        served unchanged for `p=0`. With it, the array is split into pages of `page_size`
        items (re-serialized, items unchanged) served for `p=0`, `p=1`, ...; every other page
        of every date is `[]`. The `[]` default is (re-)added as the newest unfiltered route
        of `path`, so it replaces an earlier `add(path, ...)` made without a query.
        """
        self.add(path, b"[]")
        if page_size is None:
            self.add(path, fixture, query={"date": day, "p": 0})
            return
        items = json.loads(_bytes(fixture))
        for page, start in enumerate(range(0, len(items), page_size)):
            chunk = json.dumps(items[start : start + page_size]).encode("utf-8")
            self.add(path, chunk, query={"date": day, "p": page})

    # -- what happened ---------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """Every request received so far, in arrival order (a copy)."""
        with self._state.lock:
            return list(self._state.requests)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]
