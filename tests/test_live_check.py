"""`digestbot check --live` through the real CLI, against loopback stand-ins: the Slack Web API
(tests/slack_standin.py), an SMTP server with STARTTLS and login (aiosmtpd), and the recorded
sources (tests/fixture_server.py). Nothing may be posted or mailed; each failure is one line with
its reason and a hint; secrets never appear; a source is asked once, without retries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.e2e import SPEC_PROFILE, TOKEN, Bot, make_bot
from tests.smtp_server import SmtpServer, free_port, self_signed

PASSWORD = "smtp-pass-0123-SECRET"
RSS_CL = FIXTURES / "arxiv_rss_cs.CL_2026-04-27_3items.xml"
ATOM_QUERY = FIXTURES / "arxiv_api_query_2026-06-14_all-transformer_cs.LG.atom.xml"
RAG_BY_ID = 'name: Retrieval\ndescription: BM25 and dense retrieval.\nnotify:\n  slack: "C0RAG"\n'
PREFIXES = ("slack ", "email ", "source ", "  hint: ")


def live_lines(stdout: str) -> list[str]:
    """The live part of check's output (the offline lines say `slack:`, `profile x:`...)."""
    return [line for line in stdout.splitlines() if line.startswith(PREFIXES)]


@contextmanager
def live_bot(tmp_path: Path, email: str = "", operator: bool = True) -> Iterator[Bot]:
    extra = email + ('operator:\n  slack: "#ops"\n' if operator else "")
    with make_bot(tmp_path, extra) as bot:
        bot.profile("spec.yaml", SPEC_PROFILE)
        bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
        yield bot


def add_arxiv_sources(bot: Bot) -> None:
    url = bot.hf.base_url
    bot.config.write_text(
        bot.config.read_text().replace(
            "sources:\n",
            "sources:\n"
            f"  - {{kind: arxiv_rss, categories: [cs.CL], base_url: {url}, min_interval: 0}}\n"
            f"  - {{kind: arxiv_query, query: 'all:transformer', base_url: {url}, "
            "min_interval: 0}\n",
        )
    )
    bot.hf.add("/rss/cs.CL", RSS_CL)
    bot.hf.add("/api/query", ATOM_QUERY)


def test_all_ok_is_one_ok_line_per_check_and_nothing_is_sent(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with SmtpServer(tls=(cert, key), users={"bot": PASSWORD}) as smtp:
        email = (
            f"email:\n  host: 127.0.0.1\n  port: {smtp.port}\n  security: starttls\n"
            f"  username: bot\n  password_env: SMTP_PASSWORD\n  ca_file: {cert}\n"
            "  from: bot@digest.example.org\n"
        )
        with live_bot(tmp_path / "bot", email) as bot:
            add_arxiv_sources(bot)
            bot.profile("rag.yaml", RAG_BY_ID)
            bot.profile("mail.yaml", "name: Mail\nkeywords: [x]\nnotify:\n  email: a@example.org\n")
            bot.env["SMTP_PASSWORD"] = PASSWORD
            bot.slack.socket_mode()  # the app token's apps.connections.open answers a ws:// URL
            bot.env["SLACK_APP_TOKEN"] = bot.slack.app_token
            result = bot.run("check", "--live")
            url = bot.hf.base_url
            requests = [r.path for r in bot.hf.requests]
            posts = bot.slack.posts
        mailed = smtp.messages

    assert result.returncode == 0, result.stdout + result.stderr
    assert live_lines(result.stdout) == [
        "slack auth.test: ok (token valid: workspace Digestbot Test, bot user digestbot; "
        "chat:write granted)",
        "slack #ops: ok (C0OPS: the bot is a member; not archived)",
        "slack #papers-spec: ok (C0SPEC: the bot is a member; not archived)",
        "slack C0RAG: ok (C0RAG: the bot is a member; not archived)",
        "slack app token: ok (apps.connections.open accepted the app token from "
        "$SLACK_APP_TOKEN: vote buttons are heard over Socket Mode while `digestbot run` is up)",
        f"email 127.0.0.1:{smtp.port}: ok (connected, STARTTLS, logged in as bot; no mail sent)",
        f"source arxiv_rss: ok ({url}/rss/cs.CL: feed readable, listing of 2026-04-27, "
        "3 item(s) kept)",
        f"source arxiv_query: ok ({url}/api/query: the query is accepted (28946 result(s) in all))",
        f"source hf_daily: ok ({url}/api/daily_papers?limit=1: HTTP 200, the daily papers API "
        "answered)",
    ]
    assert sorted(requests) == ["/api/daily_papers", "/api/query", "/rss/cs.CL"]
    assert posts == [] and mailed == []
    assert TOKEN not in result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert bot.env["SLACK_APP_TOKEN"] not in result.stdout + result.stderr


def test_bad_token_closed_smtp_port_and_a_failing_source_are_each_reported(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    email = (
        f"email:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n"
        "  from: bot@digest.example.org\n"
    )
    with live_bot(tmp_path, email, operator=False) as bot:
        wrong = "xoxb-wrong-0123-SECRET"
        bot.env["SLACK_BOT_TOKEN"] = wrong
        bot.hf.add("/api/daily_papers", "Internal Server Error", status=500)
        result = bot.run("check", "--live")
        url = bot.hf.base_url
        asked = len(bot.hf.requests_to("/api/daily_papers"))

    assert result.returncode == 1
    lines = live_lines(result.stdout)
    assert lines[:4] == [
        "slack auth.test: failed: Slack answered invalid_auth to auth.test",
        "  hint: check the token in $SLACK_BOT_TOKEN",
        "slack #papers-spec: skipped (not checked: auth.test failed)",
        "slack app token: skipped ($SLACK_APP_TOKEN is not set: digests carry no vote buttons)",
    ]
    assert lines[4].startswith(
        f"email 127.0.0.1:{port}: failed: cannot reach 127.0.0.1:{port} (ConnectionRefusedError"
    )
    assert lines[5:] == [
        "  hint: check email.host, email.port and the network",
        f"source hf_daily: failed: HTTP 500 at {url}/api/daily_papers?limit=1",
        "  hint: the source may be down: try again later; if it persists, check its base_url",
    ]
    assert asked == 1  # one attempt: no retries in a check
    assert "3 live check(s) failed" in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


CHANNEL_PROFILES = {
    "archived.yaml": "#papers-rag",
    "outside.yaml": "#papers-spec",
    "private.yaml": "C0OPS",
    "unknown.yaml": "#nowhere",
}


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        (
            "chat:write,channels:read,groups:read",
            [
                "slack auth.test: ok (token valid: workspace Digestbot Test, bot user digestbot; "
                "chat:write granted)",
                "slack #nowhere: failed: channel_not_found: no such channel is visible to the bot",
                "  hint: check the channel in the profile's notify.slack (a private channel must "
                "invite the bot first: /invite @<bot>)",
                "slack #papers-rag: failed: is_archived: C0RAG is archived",
                "  hint: the channel is archived: unarchive it or change the profile's "
                "notify.slack",
                "slack #papers-spec: failed: not_in_channel: the bot is not a member of C0SPEC",
                "  hint: invite the bot to the channel: /invite @<bot> (or give the app "
                "chat:write.public)",
                "slack C0OPS: failed: Slack answered channel_not_found to conversations.info",
                "  hint: check the channel in the profile's notify.slack (a private channel must "
                "invite the bot first: /invite @<bot>)",
            ],
        ),
        (
            "chat:write,chat:write.public,channels:read",
            [
                "slack auth.test: ok (token valid: workspace Digestbot Test, bot user digestbot; "
                "chat:write granted)",
                "slack #nowhere: failed: channel_not_found: no such channel is visible to the bot",
                "  hint: check the channel in the profile's notify.slack (a private channel must "
                "invite the bot first: /invite @<bot>)",
                "slack #papers-rag: failed: is_archived: C0RAG is archived",
                "  hint: the channel is archived: unarchive it or change the profile's "
                "notify.slack",
                "slack #papers-spec: ok (C0SPEC: public; the bot is not a member, "
                "chat:write.public lets it post)",
                "slack C0OPS: failed: Slack answered channel_not_found to conversations.info",
                "  hint: check the channel in the profile's notify.slack (a private channel must "
                "invite the bot first: /invite @<bot>)",
            ],
        ),
        (
            "channels:history",
            [
                "slack auth.test: failed: workspace Digestbot Test, bot user digestbot, but the "
                "token lacks the chat:write scope",
                "  hint: add chat:write to the app's Bot Token Scopes, reinstall the app and "
                "update $SLACK_BOT_TOKEN",
                *[
                    line
                    for channel, method in (
                        ("#nowhere", "conversations.list"),
                        ("#papers-rag", "conversations.list"),
                        ("#papers-spec", "conversations.list"),
                        ("C0OPS", "conversations.info"),
                    )
                    for line in (
                        f"slack {channel}: failed: Slack answered missing_scope to {method}",
                        "  hint: add the channels:read scope (and groups:read for private "
                        "channels) to the app's Bot Token Scopes and reinstall it: `check --live` "
                        "reads channel membership with them (posting itself only needs "
                        "chat:write)",
                    )
                ],
            ],
        ),
    ],
    ids=["read-scopes", "chat-write-public", "no-scopes"],
)
def test_what_each_channel_state_is_reported_as(
    tmp_path: Path, scopes: str, expected: list[str]
) -> None:
    with live_bot(tmp_path, operator=False) as bot:
        (bot.root / "config" / "profiles" / "spec.yaml").unlink()
        for file, channel in CHANNEL_PROFILES.items():
            bot.profile(file, f'name: {file}\nkeywords: [x]\nnotify:\n  slack: "{channel}"\n')
        bot.slack.scopes = scopes
        bot.slack.set_channel("#papers-rag", archived=True)
        bot.slack.set_channel("#papers-spec", member=False)
        bot.slack.set_channel("#ops", member=False, private=True)
        result = bot.run("check", "--live")
        methods = [c.method for c in bot.slack.requests]

    assert result.returncode == 1
    assert live_lines(result.stdout)[: len(expected)] == expected
    # One paged listing serves every channel named by name (list_page_cap is 2: 2 pages here).
    listings = methods.count("conversations.list")
    assert listings == (1 if scopes == "channels:history" else 2)
    assert "chat.postMessage" not in methods


def test_destinations_that_cannot_be_served_fail(tmp_path: Path) -> None:
    with live_bot(tmp_path) as bot:
        del bot.env["SLACK_BOT_TOKEN"]
        bot.profile("mail.yaml", "name: Mail\nkeywords: [x]\nnotify:\n  email: a@example.org\n")
        result = bot.run("check", "--live")

    assert result.returncode == 1
    unusable = [
        line
        for channel in ("#papers-spec", "#ops")
        for line in (
            f"slack {channel}: failed: slack is not usable (SLACK_BOT_TOKEN is not set): this "
            "digest goes to the console",
            "  hint: set it in the bot's environment (see the README), then check again",
        )
    ]
    assert live_lines(result.stdout)[:6] == [
        *unusable,
        "email a@example.org: failed: bot.yaml has no `email:` section: this digest goes to the "
        "console",
        f"  hint: add the `email:` section to {bot.config} (see the README)",
    ]
    assert bot.slack.requests == []


def test_config_errors_exit_2_even_when_the_world_is_fine(tmp_path: Path) -> None:
    with live_bot(tmp_path) as bot:
        bot.profile("broken.yaml", "name: Broken\ndescription: x\nmin_score: high\n")
        broken = bot.run("check", "--live")
        bot.config.write_text(bot.config.read_text() + "colour: blue\n")
        bad_yaml = bot.run("check", "--live")
        requests = bot.slack.requests

    assert broken.returncode == 2
    assert "slack #papers-spec: ok" in broken.stdout  # the valid profiles are still checked
    assert bad_yaml.returncode == 2
    assert "colour: unknown key" in bad_yaml.stderr
    assert live_lines(bad_yaml.stdout) == []
    assert len(requests) == 3  # auth.test, then one listing of two pages, for the first run


PEOPLE_PROFILES = {
    "alice.yaml": ["U0ALICE", "alice@lab.example"],
    "bob.yaml": ["@bob", "@nobody"],
    "gone.yaml": ["@sam", "@carol", "U0GONE"],
}


def test_each_kind_of_person_is_checked_without_posting(tmp_path: Path) -> None:
    with live_bot(tmp_path, operator=False) as bot:
        (bot.root / "config" / "profiles" / "spec.yaml").unlink()
        for file, people in PEOPLE_PROFILES.items():
            entries = "".join(f'    - "{p}"\n' for p in people)
            bot.profile(file, f"name: {file}\nkeywords: [x]\nnotify:\n  slack:\n{entries}")
        result = bot.run("check", "--live")
        methods = [c.method for c in bot.slack.requests]

    assert result.returncode == 1
    assert live_lines(result.stdout)[:-1] == [  # the last: the source
        "slack auth.test: ok (token valid: workspace Digestbot Test, bot user digestbot; "
        "chat:write granted)",
        "slack @bob: ok (@bob is U0BOB (Bob Stone); the bot can open a direct message with them)",
        "slack @carol: failed: @carol is U0GONE (Carol Gone), a deactivated account",
        "  hint: remove them from the profile's notify.slack, or name someone else",
        "slack @nobody: failed: no one in the workspace goes by @nobody",
        "  hint: check the spelling: a handle is the name Slack shows for the person (their "
        "display name, or full name when they set none) or their username; or name the person "
        "by member ID instead (U0123ABCD; in Slack: their profile, ⋮, Copy member ID)",
        "slack @sam: failed: @sam could be any of 2 people: U0SAM1 (Sam Ito), W0SAM2 (Sam Roe)",
        "  hint: name the person by member ID instead (U0123ABCD; in Slack: their profile, ⋮, "
        "Copy member ID)",
        "slack U0ALICE: ok (the bot can open a direct message with U0ALICE)",
        "slack U0GONE: failed: Slack answered user_disabled to conversations.open",
        "  hint: the person's account is deactivated: remove them from the profile's notify.slack",
        "slack alice@lab.example: ok (alice@lab.example is U0ALICE (Alice Liu); the bot can open "
        "a direct message with them)",
        "slack app token: skipped ($SLACK_APP_TOKEN is not set: digests carry no vote buttons)",
    ]
    assert methods.count("users.list") == 3  # the workspace listed once (2 people a page)
    assert "chat.postMessage" not in methods


def test_a_missing_scope_for_people_is_named_by_check(tmp_path: Path) -> None:
    with live_bot(tmp_path, operator=False) as bot:
        (bot.root / "config" / "profiles" / "spec.yaml").unlink()
        bot.profile(
            "people.yaml",
            'name: P\nkeywords: [x]\nnotify:\n  slack: ["@bob", U0ALICE, alice@lab.example]\n',
        )
        bot.slack.scopes = "chat:write,channels:read"
        result = bot.run("check", "--live")
        url = bot.hf.base_url

    assert result.returncode == 1
    assert live_lines(result.stdout)[1:] == [
        "slack @bob: failed: Slack answered missing_scope (needs users:read) to users.list",
        "  hint: add the users:read scope to the app's Bot Token Scopes and reinstall it: people "
        'named by "@handle" are looked up with it (users.list)',
        "slack U0ALICE: failed: Slack answered missing_scope (needs im:write) to "
        "conversations.open",
        "  hint: add the im:write scope to the app's Bot Token Scopes and reinstall it: direct "
        "messages to people need it (conversations.open)",
        "slack alice@lab.example: failed: Slack answered missing_scope (needs users:read.email) "
        "to users.lookupByEmail",
        "  hint: add the users:read.email scope to the app's Bot Token Scopes and reinstall it: "
        "people named by email address are looked up with it (users.lookupByEmail)",
        "slack app token: skipped ($SLACK_APP_TOKEN is not set: digests carry no vote buttons)",
        f"source hf_daily: ok ({url}/api/daily_papers?limit=1: HTTP 200, the daily papers API "
        "answered)",
    ]
