"""arXiv politeness, measured: paced requests start >= 3 s after the previous one ended, and
never overlap, whether they come from one source's paging or from two threads at once.

FixtureServer does not record times, so this file has its own tiny loopback server that notes,
for each request, when its handler started and when it had written the whole answer (the
server's own clock: `time.monotonic()`, shared with the client in this process). Each answer
is held back a moment (`HOLD`) so that two requests served at once would visibly overlap.

These tests sleep for real (about 10 s in all): the pace is the thing under test.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.http import Http, HttpSettings, Pace, pace_for
from bot.sources.arxiv_rss import ArxivRss, ArxivRssSettings
from tests.fixture_server import FIXTURES

INTERVAL = 3.0
HOLD = 0.2  # seconds each answer is held back
# The client marks "ended" once it has read the last byte; the server notes its end just after
# writing it, so on a busy machine the server's mark can trail the client's by a hair.
CLOCK_SLACK = 0.05

SEP24 = FIXTURES / "arxiv_rss_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_4items_TRANSCRIBED.xml"
REC = "arxiv_api_recorded-2026-04_"
Q_S0 = FIXTURES / f"{REC}q_testing_s0_m10_bc5a6c384fe9.http.json"
Q_S10 = FIXTURES / f"{REC}q_testing_s10_m10_34e56e15aaac.http.json"


@dataclass(frozen=True)
class Visit:
    path: str
    query: dict[str, str]
    start: float
    end: float


class _TimingServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, bodies: dict[tuple[str, str], bytes]) -> None:
        super().__init__(("127.0.0.1", 0), _TimingHandler)
        self.bodies = bodies  # (path, value of `start` or "") -> body
        self.visits: list[Visit] = []
        self.lock = threading.Lock()


class _TimingHandler(BaseHTTPRequestHandler):
    server: _TimingServer
    protocol_version = "HTTP/1.0"  # one request per connection

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        start = time.monotonic()
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = self.server.bodies.get((parts.path, query.get("start", "")), b"")
        time.sleep(HOLD)
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        end = time.monotonic()
        with self.server.lock:
            self.server.visits.append(Visit(parts.path, query, start, end))


@pytest.fixture
def timing_server() -> Iterator[_TimingServer]:
    server = _TimingServer({})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def base_url(server: _TimingServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def recorded_body(path: Path) -> bytes:
    """The exact body bytes of an arxiv.py `.http.json` recording (stored as latin-1 text)."""
    body: str = json.loads(path.read_text(encoding="utf-8"))["body"]
    return body.encode("latin-1")


def visits_of(server: _TimingServer, count: int) -> list[Visit]:
    """The server's visits once it has noted `count` (a handler notes its visit just after its
    last byte, which the client may have read already: on a busy machine, a moment later)."""
    limit = time.monotonic() + 10
    while len(server.visits) < count and time.monotonic() < limit:
        time.sleep(0.01)
    with server.lock:
        return list(server.visits)


def assert_paced(visits: list[Visit]) -> None:
    ordered = sorted(visits, key=lambda v: v.start)
    for before, after in itertools.pairwise(ordered):
        assert after.start > before.end, "two requests of the group overlapped"
        assert after.start - before.start >= INTERVAL + HOLD
        assert after.start - before.end >= INTERVAL - CLOCK_SLACK


def test_rss_catch_up_paging_is_paced(timing_server: _TimingServer) -> None:
    # One fetch, three requests in the "arxiv" group: the feed (showing Thursday 24 Sep),
    # then two API pages for Tuesday 22 Sep (recorded pages served by `start`).
    timing_server.bodies.update(
        {
            ("/rss/cs.LG", ""): SEP24.read_bytes(),
            ("/api/query", "0"): recorded_body(Q_S0),
            ("/api/query", "10"): recorded_body(Q_S10),
        }
    )
    url = base_url(timing_server)
    settings = ArxivRssSettings(
        kind="arxiv_rss",
        categories=["cs.LG"],
        base_url=url,
        api_base_url=url,
        min_interval=INTERVAL,
        max_catchup_results=20,
    )
    with Http(HttpSettings(timeout=5.0, allow_private=True)) as http:
        papers = ArxivRss(settings, http).fetch(date(2026, 9, 22))

    assert len(papers) == 20
    visits = visits_of(timing_server, 3)
    assert [(v.path, v.query.get("start")) for v in visits] == [
        ("/rss/cs.LG", None),
        ("/api/query", "0"),
        ("/api/query", "10"),
    ]
    assert_paced(visits)


def test_two_threads_take_turns(timing_server: _TimingServer) -> None:
    timing_server.bodies[("/rss/cs.LG", "")] = SEP24.read_bytes()
    url = base_url(timing_server) + "/rss/cs.LG"
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    with Http(HttpSettings(timeout=10.0, allow_private=True)) as http:

        def one_request() -> None:
            barrier.wait()  # both ask at the same moment
            try:
                http.get(url, pace=Pace("arxiv", INTERVAL))
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=one_request) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert errors == []
    visits = visits_of(timing_server, 2)
    assert len(visits) == 2
    assert_paced(visits)


@pytest.mark.parametrize(
    ("url", "asked", "paced"),
    [
        ("https://export.arxiv.org/api/query", None, Pace("arxiv", 3.0)),
        ("https://rss.arxiv.org/rss/cs.LG", Pace("arxiv", 0.0), Pace("arxiv", 3.0)),
        ("https://arxiv.org/abs/2604.21935", Pace("arxiv", 5.0), Pace("arxiv", 5.0)),
        ("http://127.0.0.1:8080/rss/cs.LG", Pace("arxiv", 0.0), Pace("arxiv", 0.0)),
        ("https://huggingface.co/api/daily_papers", None, None),
        ("https://notarxiv.org/feed", None, None),
    ],
)
def test_arxiv_hosts_are_always_paced_at_3_seconds(
    url: str, asked: Pace | None, paced: Pace | None
) -> None:
    assert pace_for(url, asked) == paced
