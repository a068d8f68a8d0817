"""Vote links in email digests (issue 16 item 3): with `web.public_url` and the `web.secret_env`
key, every paper of an email (plain text and HTML, grouped or not) carries "more like this" /
"less like this" links whose tokens verify to that paper, profile and recipient for 60 days;
without them, no links, and `check` says how to get them. Mail goes through aiosmtpd on
loopback; the notifiers are wired by bot/app.py's `build_notifiers` from a real bot.yaml."""

from __future__ import annotations

import logging
import re
import textwrap
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.app import build_notifiers
from bot.config import load_settings
from bot.models import Delivery, Match
from bot.notifiers.base import Notifier
from bot.sources.hf_daily import parse_api
from bot.web.tokens import BadToken, VoteIntent, verify
from tests.conftest import FIXTURES
from tests.smtp_server import SmtpServer

PAPERS = parse_api((FIXTURES / "hf_daily_papers_2026-06-12_30items.json").read_bytes())
SECRET = "k3Jx9-vQ2pLmN8rT5wYz1aBcDeFgHiJk"
URL = "https://papers.lab.example/digestbot"
ENV = {"DIGESTBOT_WEB_SECRET": SECRET}
WEB = f"web:\n  public_url: {URL}/\n  secret_env: DIGESTBOT_WEB_SECRET\n"
DAY = date(2026, 7, 31)


def email_notifier(tmp_path: Path, port: int, web: str, env: dict[str, str]) -> Notifier:
    """The email notifier as `digestbot once` builds it from bot.yaml and the environment."""
    path = tmp_path / "bot.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        email:
          host: 127.0.0.1
          port: {port}
          security: none
          from: bot@lab.example
          group: recipient
        """)
        + web,
        encoding="utf-8",
    )
    notifiers, unusable, malformed = build_notifiers(load_settings(path), env)
    assert (unusable, malformed) == ({}, {})
    return notifiers["email"]


def digest(profile_id: str, name: str, papers: list[int], **changes: object) -> Delivery:
    matches = tuple(Match(PAPERS[i], profile_id, 0.5, ("keyword RMSNorm",)) for i in papers)
    d = Delivery(profile_id, name, "email:alice@lab.example", DAY, matches, 30)
    return replace(d, **changes)  # type: ignore[arg-type]


class Anchors(HTMLParser):
    """(href, text) of every <a> of an HTML document, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.anchors.append((self._href, " ".join(self._text.split())))
            self._href = None


def html_vote_links(msg: EmailMessage) -> list[tuple[str, str]]:
    parser = Anchors()
    parser.feed(msg.get_body(("html",)).get_content())
    return [(text, href) for href, text in parser.anchors if text.endswith("like this")]


def text_vote_links(msg: EmailMessage) -> list[tuple[str, str]]:
    text = msg.get_body(("plain",)).get_content()
    return re.findall(r"^ +(more like this|less like this): (\S+)\r?$", text, flags=re.M)


def intents(links: list[tuple[str, str]], now: datetime) -> list[VoteIntent]:
    """Each link's token verified with the key: the intents, in the order of the links."""
    found = []
    for text, href in links:
        assert href.startswith(f"{URL}/v/"), href
        intent = verify(href.removeprefix(f"{URL}/v/"), SECRET.encode(), now)
        assert intent.vote == (1 if text == "more like this" else -1)
        found.append(intent)
    return found


def expected(profile_papers: list[tuple[str, list[int]]], expires: date) -> list[VoteIntent]:
    return [
        VoteIntent(profile, PAPERS[i].id, vote, "alice@lab.example", expires)
        for profile, papers in profile_papers
        for i in papers
        for vote in (1, -1)
    ]


def test_a_grouped_email_carries_links_for_each_paper_profile_and_recipient(
    tmp_path: Path,
) -> None:
    deliveries = [
        digest("norm", "Normalization", [0, 1, 2]),
        digest("rag", "Retrieval", [5, 1]),  # paper 1 is in both: a link for each profile
    ]
    with SmtpServer() as server:
        email = email_notifier(tmp_path, server.port, WEB, ENV)
        before = datetime.now(UTC)
        email.send_group(deliveries, "Alice Liu <alice@lab.example>")
        after = datetime.now(UTC)
        [msg] = server.messages
    expires = {(before + timedelta(days=60)).date(), (after + timedelta(days=60)).date()}
    assert len(expires) == 1  # (not run across midnight UTC)
    want = expected([("norm", [0, 1, 2]), ("rag", [5, 1])], expires.pop())
    for links in (text_vote_links(msg), html_vote_links(msg)):
        assert intents(links, after) == want
    # Still valid on the 60th day after sending, not after.
    [(_, href), *_] = html_vote_links(msg)
    token = href.removeprefix(f"{URL}/v/")
    assert verify(token, SECRET.encode(), after + timedelta(days=60)).paper_id == PAPERS[0].id
    with pytest.raises(BadToken) as info:
        verify(token, SECRET.encode(), after + timedelta(days=61))
    assert info.value.reason == "expired"


def test_one_profile_per_email_carries_links_too(tmp_path: Path) -> None:
    with SmtpServer() as server:
        email = email_notifier(tmp_path, server.port, WEB, ENV)
        email.send(digest("norm", "Normalization", [3, 4]), "bob@lab.example")
        [msg] = server.messages
    now = datetime.now(UTC)
    got = intents(text_vote_links(msg), now)
    assert [(i.profile_id, i.paper_id, i.vote, i.recipient) for i in got] == [
        ("norm", PAPERS[3].id, 1, "bob@lab.example"),
        ("norm", PAPERS[3].id, -1, "bob@lab.example"),
        ("norm", PAPERS[4].id, 1, "bob@lab.example"),
        ("norm", PAPERS[4].id, -1, "bob@lab.example"),
    ]
    assert intents(html_vote_links(msg), now) == got


NOT_CONFIGURED = [
    pytest.param("", ENV, id="no-web-section"),
    pytest.param("web: {}\n", ENV, id="neither-key"),
    pytest.param(f"web:\n  public_url: {URL}\n", ENV, id="no-secret-env"),
    pytest.param("web:\n  secret_env: DIGESTBOT_WEB_SECRET\n", ENV, id="no-public-url"),
    pytest.param(WEB, {}, id="secret-unset"),
]


@pytest.mark.parametrize(("web", "env"), NOT_CONFIGURED)
def test_no_links_without_public_url_and_secret(
    tmp_path: Path, web: str, env: dict[str, str]
) -> None:
    with SmtpServer() as server:
        email = email_notifier(tmp_path, server.port, web, env)
        email.send_group([digest("norm", "Normalization", [0, 1])], "alice@lab.example")
        [msg] = server.messages
    for part in ("plain", "html"):
        body = msg.get_body((part,)).get_content()
        assert "like this" not in body and "/v/" not in body
    assert PAPERS[0].title in msg.get_body(("plain",)).get_content()


def test_a_malformed_secret_sends_the_digest_without_links_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with SmtpServer() as server, caplog.at_level(logging.ERROR):
        email = email_notifier(tmp_path, server.port, WEB, {"DIGESTBOT_WEB_SECRET": "tooshort"})
        email.send_group([digest("norm", "Normalization", [0])], "alice@lab.example")
        [msg] = server.messages
    assert "like this" not in msg.get_body(("plain",)).get_content()
    assert "$DIGESTBOT_WEB_SECRET is malformed" in caplog.text and "tooshort" not in caplog.text
    assert "without vote links" in caplog.text


def test_check_says_whether_emails_carry_vote_links(tmp_path: Path) -> None:
    with SmtpServer() as server:
        on = email_notifier(tmp_path, server.port, WEB, ENV).describe()
        off = email_notifier(tmp_path, server.port, "", ENV).describe()
        unset = email_notifier(tmp_path, server.port, WEB, {}).describe()
    assert on == f"vote links to {URL}"
    assert off == "no vote links: to get them, set web.public_url and web.secret_env"
    assert unset == "no vote links: $DIGESTBOT_WEB_SECRET is not set"


HOSTILE_TITLES = [
    '"><script>alert(1)</script>',
    '</a><a href="javascript:alert(1)">more like this</a>',
    "more like this: https://evil.example/v/x",
    "a\n   more like this: https://evil.example/v/y\n",  # a line of its own, if not folded
    "<!-- ' \" & -->",
]


def test_hostile_titles_and_ids_break_neither_the_links_nor_the_html(tmp_path: Path) -> None:
    papers = [
        replace(PAPERS[i], title=title, id=f"feed:x{i}\"'<>&\n</a>")
        for i, title in enumerate(HOSTILE_TITLES)
    ]
    matches = tuple(Match(p, "norm", 0.5, ("keyword x",)) for p in papers)
    d = Delivery("norm", "<b>Norm</b>", "email:alice@lab.example", DAY, matches, 30)
    with SmtpServer() as server:
        email = email_notifier(tmp_path, server.port, WEB, ENV)
        email.send_group([d], "alice@lab.example")
        [msg] = server.messages
    now = datetime.now(UTC)
    want = [(p.id, v) for p in papers for v in (1, -1)]
    # The HTML: exactly two vote links per paper, each for its own paper; titles are text.
    html = msg.get_body(("html",)).get_content()
    assert [(i.paper_id, i.vote) for i in intents(html_vote_links(msg), now)] == want
    parser = Anchors()
    parser.feed(html)
    assert all(href.startswith(("https://", "mailto:")) for href, _ in parser.anchors)
    assert "<script>" not in html
    # The text: a title's own "more like this:" line is on the title's line, indented as a
    # title is, not as a link: only the bot's lines match, each a link for its paper.
    assert [(i.paper_id, i.vote) for i in intents(text_vote_links(msg), now)] == want


def test_vote_links_end_to_end_through_the_cli(tmp_path: Path) -> None:
    """`check` then `once` on a config with email and `web:`: each recipient's email carries
    links verifying to its own address, the profile and the paper sent."""
    from tests.e2e import make_bot

    with SmtpServer() as server:
        extra = (
            f"email:\n  host: 127.0.0.1\n  port: {server.port}\n  security: none\n"
            "  from: bot@digest.example.org\n" + WEB
        )
        with make_bot(tmp_path, extra) as bot:
            bot.env["DIGESTBOT_WEB_SECRET"] = SECRET
            bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
            bot.profile(
                "spec.yaml",
                "name: Speculative decoding\n"
                "keywords: [speculative decoding, draft model, lossy verification]\n"
                "min_score: 0.95\nnotify:\n  email: [alice@example.org, Bob <bob@example.org>]\n",
            )
            check = bot.run("check")
            assert check.returncode == 0, check.stderr
            assert f"email: configured (vote links to {URL})" in check.stdout
            assert (
                f"web: configured (listens on 127.0.0.1:8080; no password; vote links in emails "
                f"to {URL}, signed with $DIGESTBOT_WEB_SECRET)"
            ) in check.stdout
            assert SECRET not in check.stdout + check.stderr
            once = bot.run("once", "--date", "2026-07-31")
            assert once.returncode == 0, once.stderr
        messages = server.messages
    now = datetime.now(UTC)
    by_recipient = {}
    for msg in messages:
        got = intents(text_vote_links(msg), now)
        assert intents(html_vote_links(msg), now) == got
        by_recipient[str(msg["To"])] = [
            (i.profile_id, i.paper_id, i.vote, i.recipient) for i in got
        ]
    assert by_recipient == {
        "alice@example.org": [
            ("spec", "2607.26627", 1, "alice@example.org"),
            ("spec", "2607.26627", -1, "alice@example.org"),
        ],
        "Bob <bob@example.org>": [
            ("spec", "2607.26627", 1, "bob@example.org"),
            ("spec", "2607.26627", -1, "bob@example.org"),
        ],
    }
