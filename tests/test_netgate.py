"""The address gate (bot/netgate.py): which URLs and addresses the bot may fetch.

The policy is table-driven on addresses (no packet is sent for those). The gate is then proved
through the real `Http` client on loopback only: 127.0.0.2 and `localhost` stand for "a private
address"; a server listening on the refused address shows that no request reached it. No test
here resolves a real name or connects off loopback (tests/netguard/ would fail it).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from bot.errors import FetchError
from bot.http import Http, HttpSettings
from bot.netgate import AddressGate, redirect_refusal
from tests.conftest import FIXTURES
from tests.e2e import SPEC_ID, SPEC_PROFILE, Bot, make_bot, posted_ids
from tests.fixture_server import FixtureServer

HINT = "set `http.allow_private: true` in bot.yaml for a mirror on your own network"

# (address, refused without allow_private, refused with it)
ADDRESSES = [
    ("93.184.215.14", None, None),  # a public address: fine (never connected to here)
    ("2606:4700::6810:84e5", None, None),
    ("169.254.169.254", "a cloud metadata address", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address", "a cloud metadata address"),
    ("169.254.10.1", "a link-local address", "a link-local address"),
    ("fe80::1", "a link-local address", "a link-local address"),
    ("0.0.0.0", "not a host address", "not a host address"),
    ("::", "not a host address", "not a host address"),
    ("224.0.0.1", "not a host address", "not a host address"),
    ("255.255.255.255", "not a host address", "not a host address"),
    ("127.0.0.1", "a loopback address", None),
    ("127.0.0.2", "a loopback address", None),
    ("::1", "a loopback address", None),
    ("10.0.0.1", "a private address", None),
    ("172.16.5.4", "a private address", None),
    ("192.168.1.1", "a private address", None),
    ("100.64.0.1", "a private address", None),  # carrier-grade NAT, not global
    ("fd12:3456::1", "a private address", None),
    # IPv4 inside IPv6: judged as the IPv4 address it carries
    ("::ffff:127.0.0.1", "a loopback address", None),
    ("::ffff:169.254.169.254", "a cloud metadata address", "a cloud metadata address"),
    ("::ffff:10.0.0.1", "a private address", None),
    ("64:ff9b::a00:1", "a private address", None),  # NAT64 of 10.0.0.1
    ("2002:a00:1::", "a private address", None),  # 6to4 of 10.0.0.1
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "a private address", None),  # Teredo, 10.0.0.1
]


@pytest.mark.parametrize(("address", "strict", "relaxed"), ADDRESSES)
def test_address_policy(address: str, strict: str | None, relaxed: str | None) -> None:
    ip = ipaddress.ip_address(address)
    assert AddressGate(allow_private=False).refusal(ip) == strict
    assert AddressGate(allow_private=True).refusal(ip) == relaxed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[::ffff:127.0.0.1]:8080/feed", "::ffff:127.0.0.1 is a loopback address"),
        ("http://10.0.0.1/feed", "10.0.0.1 is a private address"),
        ("http://100.64.0.1/feed", "100.64.0.1 is a private address"),
        ("file:///etc/passwd", "only http and https URLs are fetched, not file:"),
        ("ftp://example.org/x", "only http and https URLs are fetched, not ftp:"),
        ("gopher://127.0.0.1:70/", "only http and https URLs are fetched, not gopher:"),
        ("http:///feed", "the URL has no host"),
    ],
)
def test_check_url_refuses_without_resolving(url: str, message: str) -> None:
    def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(f"resolved {host}")

    with pytest.raises(FetchError) as caught:
        AddressGate(allow_private=False, resolve=no_dns).check_url(url)
    err = caught.value
    assert (str(err), err.url, err.retryable) == (f"refused: {message}", url, False)


def test_check_url_passes_names_to_the_connection_time_check() -> None:
    # A name is judged by what it resolves to when the connection is made, not before.
    gate = AddressGate(allow_private=False, resolve=lambda host, port: ["127.0.0.1"])
    gate.check_url("https://mirror.example/api")  # no error: nothing resolved yet
    with pytest.raises(FetchError) as caught:
        gate.addresses("mirror.example", 443)
    assert str(caught.value) == "refused: mirror.example resolves to 127.0.0.1, a loopback address"
    assert caught.value.hint == HINT


@pytest.mark.parametrize(
    ("origin", "target", "refused"),
    [
        ("http://export.arxiv.org/api/query", "https://export.arxiv.org/api/query?x=1", None),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b", None),  # same host, other port
        ("https://Huggingface.co/api", "https://huggingface.co/api/", None),  # case
        (
            "https://export.arxiv.org/api",
            "http://export.arxiv.org/api",
            "a redirect from https to http is refused",
        ),
        (
            "https://huggingface.co/api",
            "https://evil.example/api",
            "a redirect to another host (evil.example) is refused",
        ),
        (
            "http://127.0.0.1:8000/a",
            "http://localhost:8000/a",
            "a redirect to another host (localhost) is refused",
        ),
        (
            "https://huggingface.co/api",
            "file:///etc/passwd",
            "a redirect to a file: URL is refused",
        ),
    ],
)
def test_redirect_policy(origin: str, target: str, refused: str | None) -> None:
    assert redirect_refusal(origin, target) == refused


# ------------------------------------------------------------------ through the real client


def strict_http(**overrides: object) -> Http:
    """An Http with the shipped address policy (no allow_private) and waits not slept."""
    values: dict[str, object] = {"timeout": 5.0, "retries": 2, "backoff": 0.01}
    values.update(overrides)
    return Http(HttpSettings.model_validate(values), sleep=lambda _: None)


def test_a_private_address_is_refused_before_any_connection() -> None:
    with FixtureServer(host="127.0.0.2") as server:
        server.add("/feed", b"secret")
        url = server.url("/feed")
        with strict_http() as http, pytest.raises(FetchError) as caught:
            http.get(url)
        assert server.requests == []
    err = caught.value
    assert (str(err), err.url, err.retryable, err.status) == (
        "refused: 127.0.0.2 is a loopback address",
        url,
        False,
        None,
    )
    assert err.hint == HINT


def test_a_mapped_loopback_address_is_refused(fixture_server: FixtureServer) -> None:
    fixture_server.add("/feed", b"secret")
    port = fixture_server.base_url.rsplit(":", 1)[1]
    url = f"http://[::ffff:127.0.0.1]:{port}/feed"
    with strict_http() as http, pytest.raises(FetchError) as caught:
        http.get(url)
    assert str(caught.value) == "refused: ::ffff:127.0.0.1 is a loopback address"
    assert fixture_server.requests == []


def test_metadata_address_is_refused_even_with_allow_private() -> None:
    # Refused before a socket is opened (the network guard would fail the test otherwise).
    url = "http://169.254.169.254/latest/meta-data/"
    with strict_http(allow_private=True) as http, pytest.raises(FetchError) as caught:
        http.get(url)
    assert str(caught.value) == "refused: 169.254.169.254 is a cloud metadata address"


def test_a_name_is_judged_by_the_address_it_resolves_to(fixture_server: FixtureServer) -> None:
    # `localhost` passes any check of the URL's text; only its resolved address says loopback.
    fixture_server.add("/feed", b"secret")
    url = fixture_server.base_url.replace("127.0.0.1", "localhost") + "/feed"
    with strict_http() as http, pytest.raises(FetchError) as caught:
        http.get(url)
    assert str(caught.value).startswith("refused: localhost resolves to ")
    assert str(caught.value).endswith(", a loopback address")
    assert caught.value.url == url
    assert fixture_server.requests == []


def test_the_connection_goes_to_the_address_that_was_checked(
    fixture_server: FixtureServer,
) -> None:
    # One lookup per connection, and the socket is opened to the very address it vetted: a
    # second lookup (DNS rebinding) never happens. The name is not a real one: a lookup through
    # the system resolver would be refused by the network guard.
    fixture_server.add("/feed", b"mirrored")
    port = int(fixture_server.base_url.rsplit(":", 1)[1])
    lookups: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append((host, port))
        return ["127.0.0.1"]

    settings = HttpSettings(allow_private=True, retries=0)
    gate = AddressGate(allow_private=True, resolve=resolve)
    with Http(settings, gate=gate) as http:
        response = http.get(f"http://mirror.example:{port}/feed")
    assert response.content == b"mirrored"
    assert lookups == [("mirror.example", port)]
    assert fixture_server.requests[0].headers["host"] == f"mirror.example:{port}"

    strict = AddressGate(allow_private=False, resolve=resolve)
    with Http(settings, gate=strict) as http, pytest.raises(FetchError) as caught:
        http.get(f"http://mirror.example:{port}/feed")
    assert str(caught.value) == "refused: mirror.example resolves to 127.0.0.1, a loopback address"
    assert len(fixture_server.requests) == 1


def test_a_redirect_to_another_host_is_refused(fixture_server: FixtureServer) -> None:
    port = fixture_server.base_url.rsplit(":", 1)[1]
    elsewhere = f"http://localhost:{port}/inside"
    fixture_server.add("/feed", b"", status=302, headers={"Location": elsewhere})
    fixture_server.add("/inside", b"secret")
    with strict_http(allow_private=True) as http, pytest.raises(FetchError) as caught:
        http.get(fixture_server.url("/feed"))
    err = caught.value
    assert str(err) == "a redirect to another host (localhost) is refused"
    assert (err.url, err.retryable) == (fixture_server.url("/feed"), False)
    assert [r.path for r in fixture_server.requests] == ["/feed"]


def test_a_redirect_to_a_refused_address_is_refused(fixture_server: FixtureServer) -> None:
    # Not followed: no socket is opened to the metadata address (the network guard would see it).
    fixture_server.add(
        "/feed", b"", status=301, headers={"Location": "http://169.254.169.254/meta"}
    )
    with strict_http(allow_private=True) as http, pytest.raises(FetchError) as caught:
        http.get(fixture_server.url("/feed"))
    assert str(caught.value) == "a redirect to another host (169.254.169.254) is refused"
    assert [r.path for r in fixture_server.requests] == ["/feed"]


def test_a_redirect_to_the_same_host_is_followed(fixture_server: FixtureServer) -> None:
    # Like arXiv's http -> https: the same host on another port (and path) is the source's own.
    with FixtureServer() as other:
        other.add("/final", b"the feed")
        fixture_server.add("/feed", b"", status=301, headers={"Location": other.url("/final")})
        with strict_http(allow_private=True) as http:
            response = http.get(fixture_server.url("/feed"), {"day": "2026-07-31"})
        assert (response.url, response.status, response.content) == (
            other.url("/final"),
            200,
            b"the feed",
        )
        assert [r.path for r in other.requests] == ["/final"]
    assert [(r.path, r.query) for r in fixture_server.requests] == [
        ("/feed", {"day": "2026-07-31"})
    ]


def test_too_many_redirects_fail(fixture_server: FixtureServer) -> None:
    fixture_server.add("/loop", b"", status=302, headers={"Location": "/loop"})
    with strict_http(allow_private=True) as http, pytest.raises(FetchError) as caught:
        http.get(fixture_server.url("/loop"))
    assert str(caught.value) == "more than 5 redirects"
    assert len(fixture_server.requests) == 6


# ------------------------------------------------------------------ a run, end to end


def test_a_source_on_a_private_address_fails_with_one_clear_line(bot: Bot, tmp_path: Path) -> None:
    """The shipped policy (no allow_private) against a base_url on loopback: the source fails
    before any request, the run says why and how to allow it."""
    bot.hf.add("/api/daily_papers", b"[]")
    lines = bot.config.read_text(encoding="utf-8").splitlines(keepends=True)
    bot.config.write_text("".join(x for x in lines if "allow_private" not in x), encoding="utf-8")

    result = bot.run("once", "--date", "2026-07-31")

    assert result.returncode == 1
    assert bot.hf.requests == []
    lines = [line for line in result.stderr.splitlines() if "refused" in line]
    assert lines == [
        "error: source hf_daily failed for 2026-07-31: refused: 127.0.0.1 is a loopback address at "
        f"{bot.hf.base_url}/api/daily_papers (hint: {HINT})"
    ], result.stderr


def test_example_paper_lookups_go_through_the_same_gate(tmp_path: Path) -> None:
    """A profile's example paper is looked up at `arxiv_api.base_url`; pointed at the metadata
    address it is refused before any connection, and the run goes on without the example."""
    extra = "arxiv_api:\n  base_url: http://169.254.169.254\n"
    with make_bot(tmp_path, extra) as bot:
        bot.profile("spec.yaml", SPEC_PROFILE + 'papers: ["2401.01234"]\n')
        bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")

        result = bot.run("once", "--date", "2026-07-31")

        assert result.returncode == 0, result.stderr
        assert (
            "warning: could not fetch example papers 2401.01234 from arXiv: "
            "refused: 169.254.169.254 is a cloud metadata address"
        ) in result.stderr.splitlines()
        assert SPEC_ID in posted_ids(bot.slack, "#papers-spec")
