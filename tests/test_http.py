"""bot.http.Http against a real loopback server: retries, Retry-After, timeouts, size cap, UA."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from bot.errors import FetchError
from bot.http import Http, HttpSettings, retry_after_seconds
from tests.fixture_server import FixtureServer, Reply

PATH = "/feed"


def make_http(sleeps: list[float], **overrides: object) -> Http:
    """An Http with small, explicit settings whose waits are recorded instead of slept."""
    values: dict[str, object] = {"timeout": 5.0, "retries": 2, "backoff": 0.01}
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
    [("", ""), ("ops@example.org", " (+ops@example.org)")],
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
