"""bot.http.Http against a real loopback server: retries, Retry-After, timeouts, size cap, UA."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from bot.errors import FetchError
from bot.http import Http, HttpSettings, Pace, ratelimit_seconds, retry_after_seconds
from bot.netgate import AddressGate
from tests.fixture_server import FixtureServer, Reply

PATH = "/feed"


def make_http(sleeps: list[float], **overrides: object) -> Http:
    """An Http with small, explicit settings whose waits are recorded instead of slept; the
    loopback test servers are private addresses, so they are allowed."""
    values: dict[str, object] = {
        "timeout": 5.0,
        "retries": 2,
        "backoff": 0.01,
        "allow_private": True,
    }
    values.update(overrides)
    return Http(HttpSettings.model_validate(values), sleep=sleeps.append)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_503_then_200_succeeds_on_the_second_request(fixture_server: FixtureServer) -> None:
    fixture_server.script(PATH, [Reply(503, b"busy"), Reply(200, b"payload")])
    sleeps: list[float] = []
    with make_http(sleeps) as http:
        response = http.get(fixture_server.url(PATH), {"day": "2026-07-31", "n": 3})

    assert (response.status, response.content) == (200, b"payload")
    assert [(r.method, r.path, r.query) for r in fixture_server.requests] == [
        ("GET", PATH, {"day": "2026-07-31", "n": "3"}),
        ("GET", PATH, {"day": "2026-07-31", "n": "3"}),
    ]
    assert sleeps == [0.01]


def test_429_waits_at_least_what_retry_after_asks(fixture_server: FixtureServer) -> None:
    fixture_server.script(PATH, [Reply(429, b"slow down", {"Retry-After": "2"}), Reply(200, b"ok")])
    sleeps: list[float] = []
    with make_http(sleeps) as http:
        response = http.get(fixture_server.url(PATH))

    assert response.content == b"ok"
    assert len(fixture_server.requests) == 2
    assert sleeps == [2.0]  # the backoff (0.01 s) is shorter, so Retry-After wins


def test_persistent_503_fails_after_retries_plus_one_requests(
    fixture_server: FixtureServer,
) -> None:
    fixture_server.add(PATH, b"down", status=503)
    sleeps: list[float] = []
    with make_http(sleeps, retries=2) as http, pytest.raises(FetchError) as caught:
        http.get(fixture_server.url(PATH))

    err = caught.value
    assert (str(err), err.status, err.retryable, err.unreachable) == ("HTTP 503", 503, True, False)
    assert err.url == fixture_server.url(PATH)
    assert len(fixture_server.requests) == 3
    assert sleeps == [0.01, 0.02]  # backoff doubles


def test_404_is_not_retried(fixture_server: FixtureServer) -> None:
    fixture_server.add(PATH, b"nope", status=404)
    sleeps: list[float] = []
    with make_http(sleeps) as http, pytest.raises(FetchError) as caught:
        http.get(fixture_server.url(PATH))

    err = caught.value
    assert (str(err), err.status, err.retryable) == ("HTTP 404", 404, False)
    assert err.hint == "check the source's base_url and settings in bot.yaml"
    assert len(fixture_server.requests) == 1
    assert sleeps == []


def test_retry_after_longer_than_the_cap_fails_at_once(fixture_server: FixtureServer) -> None:
    fixture_server.add(PATH, b"later", status=429, headers={"Retry-After": "600"})
    sleeps: list[float] = []
    with make_http(sleeps, max_retry_after=300.0) as http, pytest.raises(FetchError) as caught:
        http.get(fixture_server.url(PATH))

    err = caught.value
    assert (str(err), err.status) == ("HTTP 429, asked to retry after 600s", 429)
    assert err.hint == "the source will be asked again on the next run"
    assert len(fixture_server.requests) == 1
    assert sleeps == []


def test_a_timeout_is_retried_then_fails(fixture_server: FixtureServer) -> None:
    fixture_server.script(PATH, [Reply(200, b"too late", delay_s=2.0)])
    sleeps: list[float] = []
    with make_http(sleeps, timeout=0.2, retries=1) as http, pytest.raises(FetchError) as caught:
        http.get(fixture_server.url(PATH))

    err = caught.value
    assert str(err).startswith("timed out after ")
    assert (err.status, err.retryable, err.unreachable) == (None, True, False)
    assert len(fixture_server.requests) == 2
    assert sleeps == [0.01]


@pytest.mark.parametrize(
    ("size", "content_length", "fits"),
    [
        (100, True, True),  # exactly the cap is fine
        (101, True, False),  # refused from the declared Content-Length
        (100, False, True),
        (101, False, False),  # no Content-Length: refused while streaming
    ],
)
def test_body_size_cap(
    fixture_server: FixtureServer, size: int, content_length: bool, fits: bool
) -> None:
    body = b"x" * size
    fixture_server.script(PATH, [Reply(200, body, content_length=content_length)])
    sleeps: list[float] = []
    with make_http(sleeps, max_bytes=100) as http:
        if fits:
            assert http.get(fixture_server.url(PATH)).content == body
        else:
            with pytest.raises(FetchError) as caught:
                http.get(fixture_server.url(PATH))
            err = caught.value
            assert (str(err), err.retryable) == ("response larger than 100 bytes", False)
    assert len(fixture_server.requests) == 1


@pytest.mark.parametrize(
    ("contact", "suffix"),
    [
        ("", ""),
        ("ops@example.org", " (+ops@example.org)"),
        ("you@example.org", ""),  # the shipped placeholder names nobody: nothing is added
    ],
)
def test_user_agent_names_the_bot(fixture_server: FixtureServer, contact: str, suffix: str) -> None:
    fixture_server.add(PATH, b"ok")
    with make_http([], contact=contact) as http:
        http.get(fixture_server.url(PATH))

    agent = fixture_server.requests[0].headers["user-agent"]
    assert agent.startswith("digestbot/")
    assert agent.endswith(suffix)
    assert agent.count(" ") == suffix.count(" ")


def test_connection_refused_is_unreachable() -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed"
    sleeps: list[float] = []
    with make_http(sleeps, retries=1) as http, pytest.raises(FetchError) as caught:
        http.get(url)

    err = caught.value
    assert str(err).startswith("cannot connect (")
    assert (err.url, err.status, err.unreachable) == (url, None, True)
    assert err.hint == "check the network, or the source's base_url in bot.yaml"
    assert sleeps == [0.01]  # transport errors are retried like 5xx


def test_a_name_that_does_not_resolve_gets_one_quick_retry() -> None:
    # Offline, every name fails to resolve: the full backoff (2 + 4 + 8 s by default) would
    # only delay the error. The resolver is the gate's one seam (the system resolver would be
    # refused by the network guard); it fails the way getaddrinfo does offline.
    asked: list[str] = []

    def offline(host: str, port: int) -> list[str]:
        asked.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    sleeps: list[float] = []
    settings = HttpSettings(retries=3, backoff=2.0)  # the defaults
    with (
        Http(settings, sleep=sleeps.append, gate=AddressGate(resolve=offline)) as http,
        pytest.raises(FetchError) as caught,
    ):
        http.get("https://huggingface.co/api/daily_papers")

    err = caught.value
    assert str(err) == (
        "cannot connect (cannot resolve huggingface.co: "
        "[Errno -3] Temporary failure in name resolution)"
    )
    assert (err.unreachable, err.url) == (True, "https://huggingface.co/api/daily_papers")
    assert asked == ["huggingface.co", "huggingface.co"]  # the first try and one retry
    assert sleeps == [1.0]


def test_a_refused_connection_still_gets_the_full_backoff() -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed"
    sleeps: list[float] = []
    with make_http(sleeps, retries=3, backoff=2.0) as http, pytest.raises(FetchError):
        http.get(url)
    assert sleeps == [2.0, 4.0, 8.0]  # a server restarting may be back in a few seconds


NOW = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("-5", 0.0),  # never a negative wait
        ("Wed, 21 Oct 2015 07:29:30 GMT", 90.0),  # an HTTP-date 90 s after NOW
        ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),  # already past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == expected


@pytest.mark.parametrize("contact", ["ops@example.org\r\nX-Injected: 1", "opérateur@example.org"])
def test_a_contact_that_cannot_be_a_header_is_a_config_error(contact: str) -> None:
    with pytest.raises(ValidationError) as caught:
        HttpSettings(contact=contact)
    assert "printable ASCII" in str(caught.value)


# ------------------------------------------------------------------ RateLimit headers


def test_429_waits_for_the_reset_of_the_ratelimit_header(fixture_server: FixtureServer) -> None:
    # Hugging Face's answer: no Retry-After, only the IETF draft's RateLimit field.
    limited = Reply(429, b"rate limited", {"RateLimit": '"api";r=0;t=5'})
    fixture_server.script(PATH, [limited, Reply(200, b"ok")])
    sleeps: list[float] = []
    with make_http(sleeps) as http:
        assert http.get(fixture_server.url(PATH)).content == b"ok"
    assert sleeps == [5.0]


@pytest.mark.parametrize(
    ("retry_after", "reset", "waited"),
    [("2", "5", 5.0), ("7", "5", 7.0), (None, "0", 0.01)],  # the larger wins; backoff at least
)
def test_the_longer_of_retry_after_and_ratelimit_wins(
    fixture_server: FixtureServer, retry_after: str | None, reset: str, waited: float
) -> None:
    headers = {"RateLimit": f'"api";r=0;t={reset}'}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    fixture_server.script(PATH, [Reply(429, b"", headers), Reply(200, b"ok")])
    sleeps: list[float] = []
    with make_http(sleeps) as http:
        http.get(fixture_server.url(PATH))
    assert sleeps == [waited]


def test_a_ratelimit_reset_past_the_cap_fails_at_once(fixture_server: FixtureServer) -> None:
    fixture_server.add(PATH, b"", status=429, headers={"RateLimit": '"api";r=0;t=600'})
    sleeps: list[float] = []
    with make_http(sleeps, max_retry_after=300.0) as http, pytest.raises(FetchError) as caught:
        http.get(fixture_server.url(PATH))
    assert str(caught.value) == "HTTP 429, asked to retry after 600s"
    assert len(fixture_server.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ratelimit": '"api";r=0;t=5'}, 5.0),  # draft 08+: a List of policies
        ({"ratelimit": '"day";r=100;t=3600, "burst";r=0;t=10'}, 10.0),  # the exhausted one
        ({"ratelimit": '"a";r=0;t=10, "b";r=0;t=30'}, 30.0),  # two exhausted: the later
        ({"ratelimit": '"a";r=3;t=20'}, 20.0),  # none says exhausted: its reset all the same
        ({"ratelimit": "default;t=12"}, 12.0),  # a Token names the policy just as well
        ({"ratelimit": '"api";r=0'}, None),  # no reset given
        ({"ratelimit": "limit=10, remaining=0, reset=7"}, 7.0),  # draft 07: a Dictionary
        ({"ratelimit-reset": "9"}, 9.0),  # drafts 03-06: a field of its own
        ({"ratelimit-reset": "9", "ratelimit": '"api";r=0;t=4'}, 9.0),
        ({"ratelimit": '"api";r=0;t=-5'}, None),  # not a delay
        ({"ratelimit": '"api";r=0;t=?1'}, None),  # a boolean is not a number
        ({"ratelimit": '"api";r=0;t=2.5'}, 2.5),
        ({"ratelimit": "api;r=0;t=5 garbage"}, None),  # not a structured field: ignored
        ({"ratelimit": "reset=5, reset=9"}, 9.0),  # a repeated key: the last one counts
        ({"ratelimit-policy": '"api";q=1000;w=300'}, None),  # a policy says no wait
        ({}, None),
    ],
)
def test_ratelimit_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert ratelimit_seconds(headers) == expected


# ------------------------------------------------------------------ deadlines


def test_a_dripping_answer_stops_at_the_request_deadline(fixture_server: FixtureServer) -> None:
    # One byte every 0.2 s is never 5 s of silence: only a total deadline ends the wait.
    fixture_server.script(PATH, [Reply(200, b"x" * 300, drip_s=0.2)])
    sleeps: list[float] = []
    with make_http(sleeps, request_deadline=1) as http, pytest.raises(FetchError) as caught:
        http.get(fixture_server.url(PATH))
    err = caught.value
    assert str(err) == "gave up: the answer took longer than http.request_deadline (1 s)"
    assert (err.url, err.retryable) == (fixture_server.url(PATH), False)
    assert err.hint == REQUEST_HINT
    assert len(fixture_server.requests) == 1  # not asked again: it would drip again
    assert sleeps == []


def test_dripping_headers_stop_at_the_request_deadline() -> None:
    # The status line and headers, a byte at a time, never complete: the client must give up
    # before the body is even reached.
    with _HeaderDripper() as url:
        sleeps: list[float] = []
        with make_http(sleeps, request_deadline=1) as http, pytest.raises(FetchError) as caught:
            http.get(url)
    assert str(caught.value) == "gave up: the answer took longer than http.request_deadline (1 s)"


def test_a_retry_wait_past_the_day_deadline_fails_now(fixture_server: FixtureServer) -> None:
    fixture_server.script(PATH, [Reply(503, b"", {"Retry-After": "100"}), Reply(200, b"ok")])
    sleeps: list[float] = []
    with (
        make_http(sleeps, day_deadline=10) as http,
        http.day_deadline(),
        pytest.raises(FetchError) as caught,
    ):
        http.get(fixture_server.url(PATH))
    err = caught.value
    assert str(err) == "gave up: waiting 100 s to retry would pass http.day_deadline (10 s)"
    assert (err.retryable, err.status) == (False, None)
    assert err.hint == DAY_HINT
    assert len(fixture_server.requests) == 1
    assert sleeps == []  # not slept at all


def test_a_pacing_wait_counts_against_the_day_deadline(fixture_server: FixtureServer) -> None:
    fixture_server.add(PATH, b"ok")
    sleeps: list[float] = []
    pace = Pace("slow", 100.0)
    with make_http(sleeps, day_deadline=10) as http, http.day_deadline():
        http.get(fixture_server.url(PATH), pace=pace)
        with pytest.raises(FetchError) as caught:
            http.get(fixture_server.url(PATH), pace=pace)
    assert str(caught.value).startswith("gave up: waiting ")
    assert str(caught.value).endswith(" s for its turn would pass http.day_deadline (10 s)")
    assert len(fixture_server.requests) == 1
    assert sleeps == []


def test_the_earlier_deadline_wins(fixture_server: FixtureServer) -> None:
    # Inside a run, the run's deadline can come before the day's.
    fixture_server.script(PATH, [Reply(503, b"", {"Retry-After": "50"}), Reply(200, b"ok")])
    sleeps: list[float] = []
    with (
        make_http(sleeps, run_deadline=20, day_deadline=100) as http,
        http.run_deadline(),
        http.day_deadline(),
        pytest.raises(FetchError) as caught,
    ):
        http.get(fixture_server.url(PATH))
    assert str(caught.value) == "gave up: waiting 50 s to retry would pass http.run_deadline (20 s)"
    assert caught.value.hint == RUN_HINT


def test_a_passed_deadline_fails_before_asking(fixture_server: FixtureServer) -> None:
    fixture_server.add(PATH, b"ok")
    with make_http([], run_deadline=0.05) as http, http.run_deadline():
        time.sleep(0.1)
        with pytest.raises(FetchError) as caught:
            http.get(fixture_server.url(PATH))
    assert str(caught.value) == (
        "gave up: the run's fetching took longer than http.run_deadline (0.05 s)"
    )
    assert fixture_server.requests == []


REQUEST_HINT = (
    "the source answers too slowly; the day is fetched again on the next run "
    "(raise http.request_deadline in bot.yaml if it is legitimately slow)"
)
DAY_HINT = (
    "the day is fetched again on the next run "
    "(raise http.day_deadline in bot.yaml if this source is legitimately slow)"
)
RUN_HINT = (
    "the sources not fetched are fetched on the next run "
    "(raise http.run_deadline in bot.yaml if runs are legitimately this long)"
)


class _HeaderDripper:
    """A raw loopback server that sends an endless status line and headers, a byte every 0.2 s,
    to one connection at a time; a context manager giving its URL."""

    def __enter__(self) -> str:
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve)
        self._thread.start()
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/feed"

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                line = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 10_000
                for i in range(len(line)):
                    if self._stop.wait(0.2):
                        return
                    try:
                        conn.sendall(line[i : i + 1])
                    except OSError:
                        break
