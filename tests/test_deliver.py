"""Delivering the outbox, end to end (the real CLI, the Slack stand-in, aiosmtpd, a real state
file): each delivery's failure is its own, and the queue goes on after it; a paper that two
profiles match goes to a shared channel or mailbox once, listed under one of them with "also
matches: <the others>"; a reader of several profiles gets one email a day with a section per
profile (`email.group: recipient`), whose rows are sent or kept queued together."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from bot.app import build_app
from bot.config import load_settings
from bot.notifiers.email import EmailNotifier
from bot.pipeline import run_once
from tests.conftest import FIXTURES, ROOT
from tests.e2e import SPEC_ID, TOKEN, Bot, make_bot, posted_ids
from tests.slack_standin import WEBHOOK_CHANNEL
from tests.smtp_server import SmtpServer, self_signed
from tests.test_slack_webhook import use_webhook

DAY = "2026-07-31"
HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"


def profile(name: str, notify: str) -> str:
    """A profile written for SPEC_ID of the recorded 2026-07-31 HF day, sending to `notify`."""
    return textwrap.dedent(f"""\
        name: {name}
        description: Faster LLM inference by drafting tokens and verifying them with the target.
        keywords: [speculative decoding, draft model, lossy verification]
        min_score: 0.95  # a percentile: only the best of the 30 papers
        """) + textwrap.indent(notify, "")


def rows(bot: Bot) -> list[tuple[str, str, str, str]]:
    """(paper, profile, destination, status) of every outbox row, sorted."""
    db = sqlite3.connect(bot.state)
    try:
        return sorted(
            db.execute("SELECT paper_id, profile_id, destination, status FROM deliveries")
        )
    finally:
        db.close()


def last_errors(bot: Bot) -> dict[tuple[str, str], str]:
    db = sqlite3.connect(bot.state)
    try:
        return {
            (profile_id, dest): error
            for profile_id, dest, error in db.execute(
                "SELECT profile_id, destination, last_error FROM deliveries"
                " WHERE last_error IS NOT NULL"
            )
        }
    finally:
        db.close()


@contextmanager
def bot_with_email(tmp_path: Path) -> Iterator[tuple[Bot, SmtpServer]]:
    """The harness with an `email:` section pointing at aiosmtpd on loopback (no login)."""
    with SmtpServer() as smtp:
        extra = (
            f"email:\n  host: 127.0.0.1\n  port: {smtp.port}\n  security: none\n"
            "  from: bot@digest.example.org\n  timeout: 5\n"
        )
        with make_bot(tmp_path / "bot", extra) as bot:
            bot.hf.serve_hf_day(DAY, HF_0731)
            yield bot, smtp


# --------------------------------------------------------------------------- one failure, one row


def test_a_closed_console_fails_its_delivery_and_the_queue_goes_on(tmp_path: Path) -> None:
    """The console digest (profile `a`) cannot be printed: stdout is a pipe whose reader is gone.
    rich used to end the process there, silently (exit 1, nothing said): the row stayed
    `sending` and profile `b`'s Slack digest, queued after it, was never posted."""
    with make_bot(tmp_path / "bot") as bot:
        bot.hf.serve_hf_day(DAY, HF_0731)
        bot.profile("a_console.yaml", profile("Console reader", ""))
        bot.profile("b_slack.yaml", profile("Slack reader", 'notify:\n  slack: "#papers-spec"\n'))
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "once", "--date", DAY, "--config", str(bot.config)],
            cwd=ROOT,
            env=bot.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # nobody reads the console
        with proc.stderr:
            stderr = proc.stderr.read()
        assert proc.wait(timeout=120) == 1, stderr

        assert "kept queued for a retry: console: cannot print" in stderr
        assert "BrokenPipeError" in stderr and "Exception ignored" not in stderr
        assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
        assert rows(bot) == [
            (SPEC_ID, "a_console", "console", "failed"),
            (SPEC_ID, "b_slack", "slack:#papers-spec", "sent"),
        ]
        assert "BrokenPipeError" in last_errors(bot)[("a_console", "console")]

        again = bot.run("once", "--date", DAY)  # the console is read now: the failed row goes
        assert again.returncode == 0, again.stderr
        assert "Console reader — 2026-07-31" in again.stdout
        assert {status for *_, status in rows(bot)} == {"sent"}
        assert len(bot.slack.posts) == 1


def test_an_unexpected_exception_fails_its_delivery_and_the_queue_goes_on(tmp_path: Path) -> None:
    """A notifier raising what it does not translate (here smtplib's UnicodeEncodeError for a
    password it cannot send; `create` refuses such a password now, so the notifier is built
    around that check, as a bug elsewhere could) used to end the run: the email row stayed
    `sending` and the Slack digest queued after it was never posted."""
    cert, key = self_signed(tmp_path)
    with SmtpServer(tls=(cert, key), users={"bot": "pw"}) as smtp:
        extra = (
            f"email:\n  host: 127.0.0.1\n  port: {smtp.port}\n  username: bot\n"
            f"  password_env: SMTP_PASSWORD\n  from: bot@digest.example.org\n"
            f"  ca_file: {cert}\n  timeout: 5\n"
        )
        with make_bot(tmp_path / "bot", extra) as bot:
            bot.hf.serve_hf_day(DAY, HF_0731)
            bot.profile(
                "a_email.yaml", profile("Mail reader", "notify:\n  email: bob@example.org\n")
            )
            bot.profile(
                "b_slack.yaml", profile("Slack reader", 'notify:\n  slack: "#papers-spec"\n')
            )
            app = build_app(load_settings(bot.config), env={**bot.env, "SMTP_PASSWORD": "pw"})
            try:
                email = app.notifiers["email"]
                assert isinstance(email, EmailNotifier)
                app.notifiers["email"] = EmailNotifier(email.settings, "p\u00e4ssw\u00f6rd")
                report = run_once(app, day=date.fromisoformat(DAY))
            finally:
                app.close()

            mail = report.destinations["email:bob@example.org"]
            assert (mail.sent, mail.failed) == (0, 1)
            assert mail.error is not None and "UnicodeEncodeError" in mail.error
            assert report.destinations["slack:#papers-spec"].sent == 1
            assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
            assert rows(bot) == [
                (SPEC_ID, "a_email", "email:bob@example.org", "failed"),
                (SPEC_ID, "b_slack", "slack:#papers-spec", "sent"),
            ]
            error = last_errors(bot)[("a_email", "email:bob@example.org")]
            assert error.startswith("email:bob@example.org: UnicodeEncodeError: 'ascii' codec")
            assert smtp.messages == []


def test_a_malformed_slack_token_does_not_block_the_email_queued_after_it(tmp_path: Path) -> None:
    """A token with a line break used to crash building the Authorization header: the row stayed
    `sending` and the email queued after it was never sent, run after run."""
    with bot_with_email(tmp_path) as (bot, smtp):
        bot.profile("a_slack.yaml", profile("Slack reader", 'notify:\n  slack: "#papers-spec"\n'))
        bot.profile("b_email.yaml", profile("Mail reader", "notify:\n  email: bob@example.org\n"))
        bot.env["SLACK_BOT_TOKEN"] = TOKEN[:9] + "\n" + TOKEN[9:]

        first = bot.run("once", "--date", DAY)
        assert first.returncode == 1
        assert "internal error" not in first.stderr
        assert "SLACK_BOT_TOKEN" in first.stderr
        assert TOKEN[9:] not in first.stderr + first.stdout
        assert [m["To"] for m in smtp.messages] == ["bob@example.org"]
        assert rows(bot) == [
            (SPEC_ID, "a_slack", "slack:#papers-spec", "dead"),
            (SPEC_ID, "b_email", "email:bob@example.org", "sent"),
        ]
        assert bot.slack.requests == []
        assert "SLACK_BOT_TOKEN" in bot.run("status").stdout

        # The token is fixed: `retry` queues the Slack digest again, and it goes out once.
        bot.env["SLACK_BOT_TOKEN"] = TOKEN
        assert bot.run("retry").returncode == 0
        fixed = bot.run("once", "--date", DAY)
        assert fixed.returncode == 0, fixed.stderr
        assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
        assert len(smtp.messages) == 1


# --------------------------------------------------------------------------- one paper, one post


def test_two_profiles_on_one_slack_channel_post_the_paper_once(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("decoding.yaml", profile("Decoding", 'notify:\n  slack: "#papers-spec"\n'))
    bot.profile("spec.yaml", profile("Speculative decoding", 'notify:\n  slack: "#papers-spec"\n'))

    first = bot.run("once", "--date", DAY)
    assert first.returncode == 0, first.stderr
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
    [post] = bot.slack.messages_in("#papers-spec")
    blocks = json.dumps(post.blocks)
    owner, other = (
        ("Decoding", "Speculative decoding")
        if post.blocks[0]["text"]["text"].startswith("Decoding —")
        else ("Speculative decoding", "Decoding")
    )
    assert post.blocks[0]["text"]["text"] == f"{owner} — {DAY}"
    assert f"also matches: {other}" in blocks
    statuses = {profile_id: status for _, profile_id, _, status in rows(bot)}
    assert sorted(statuses.values()) == ["merged", "sent"]
    status = bot.run("status").stdout
    assert "destination slack:#papers-spec: 2 sent" in status, status
    assert "1 listed under another profile" in status

    second = bot.run("once", "--date", DAY)
    assert second.returncode == 0, second.stderr
    assert len(bot.slack.posts) == 1


def test_two_profiles_mailing_one_recipient_send_the_paper_once(tmp_path: Path) -> None:
    with bot_with_email(tmp_path) as (bot, smtp):
        mail = "notify:\n  email: alice@example.org\n"
        bot.profile("decoding.yaml", profile("Decoding", mail))
        bot.profile("spec.yaml", profile("Speculative decoding", mail))
        bot.profile("other.yaml", profile("Someone else", "notify:\n  email: bob@example.org\n"))

        first = bot.run("once", "--date", DAY)
        assert first.returncode == 0, first.stderr
        by_recipient = {m["To"]: m for m in smtp.messages}
        assert sorted(m["To"] for m in smtp.messages) == ["alice@example.org", "bob@example.org"]
        alice = by_recipient["alice@example.org"].get_body(("plain",)).get_content()
        assert f"https://arxiv.org/abs/{SPEC_ID}" in alice
        assert "also matches: " in alice
        bob = by_recipient["bob@example.org"].get_body(("plain",)).get_content()
        assert "also matches" not in bob  # another mailbox: its own digest, unchanged
        assert bot.run("once", "--date", DAY).returncode == 0
        assert len(smtp.messages) == 2


def test_a_shared_paper_whose_post_failed_is_posted_once_after_retry(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("decoding.yaml", profile("Decoding", 'notify:\n  slack: "#papers-spec"\n'))
    bot.profile("spec.yaml", profile("Speculative decoding", 'notify:\n  slack: "#papers-spec"\n'))
    bot.slack.fail_next(error="channel_not_found")  # permanent: the row is dead

    assert bot.run("once", "--date", DAY).returncode == 1
    assert sorted(status for *_, status in rows(bot)) == ["dead", "merged"]
    assert "0 sent" in bot.run("status").stdout

    assert bot.run("retry").returncode == 0
    assert sorted(status for *_, status in rows(bot)) == ["merged", "pending"]
    assert bot.run("once", "--date", DAY).returncode == 0
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
    assert "2 sent" in bot.run("status").stdout


def test_one_webhook_is_one_channel_whatever_channels_profiles_name(bot: Bot) -> None:
    use_webhook(bot)
    bot.hf.serve_hf_day(DAY, HF_0731)
    bot.profile("decoding.yaml", profile("Decoding", 'notify:\n  slack: "#papers-a"\n'))
    bot.profile("spec.yaml", profile("Speculative decoding", 'notify:\n  slack: "#papers-b"\n'))

    result = bot.run("once", "--date", DAY)
    assert result.returncode == 0, result.stderr
    assert posted_ids(bot.slack, WEBHOOK_CHANNEL) == [SPEC_ID]


# --------------------------------------------------------------------------- one email per reader

READER_PROFILES = {
    "a_spec.yaml": (
        "name: Speculative decoding\n"
        "description: Faster LLM inference by drafting tokens and verifying them.\n"
        "keywords: [speculative decoding, draft model, lossy verification]\nmin_score: 0.95\n"
    ),
    "b_rag.yaml": (
        "name: Retrieval\n"
        "description: Retrieval-augmented generation, BM25 and sparse retrieval at scale.\n"
        "keywords: [BM25, retrieval augmented generation]\nmin_score: 0.95\n"
    ),
    "c_memory.yaml": (
        "name: Agent memory\n"
        "description: Long-term memory for LLM agents, and faster decoding.\n"
        "keywords: [agent memory, long-term memory, speculative decoding]\nmin_score: 0.9\n"
    ),
}
SECTIONS = ["Speculative decoding", "Retrieval", "Agent memory"]


def reader_profiles(bot: Bot) -> None:
    """Three profiles mailing one reader, written three ways (a display name; the bare
    address; the domain in capitals: the same mailbox)."""
    recipients = [
        '"Alice Liu <alice@example.org>"',
        "alice@example.org",
        "alice@EXAMPLE.org",
    ]
    for (name, text), recipient in zip(READER_PROFILES.items(), recipients, strict=True):
        bot.profile(name, text + f"notify:\n  email: {recipient}\n")


def sections(text: str) -> dict[str, list[str]]:
    """A grouped email's plain text as {section title: arXiv ids linked in it, in order}."""
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("== ") and line.endswith(" =="):
            current = line[3:-3]
            found[current] = []
        elif current is not None and line.strip().startswith("https://arxiv.org/abs/"):
            found[current].append(line.strip().removeprefix("https://arxiv.org/abs/"))
    return found


def expected_sections(bot: Bot) -> dict[str, list[str]]:
    """{profile name: ids of its rows that deliver} from the outbox, in profile order."""
    names = dict(zip(["a_spec", "b_rag", "c_memory"], SECTIONS, strict=True))
    out: dict[str, list[str]] = {}
    for paper_id, profile_id, _, status in rows(bot):
        if status != "merged":
            out.setdefault(names[profile_id], []).append(paper_id)
    return {name: sorted(out[name]) for name in SECTIONS if name in out}


def test_three_profiles_to_one_reader_are_one_email_with_a_section_each(tmp_path: Path) -> None:
    with bot_with_email(tmp_path) as (bot, smtp):
        reader_profiles(bot)
        first = bot.run("once", "--date", DAY)
        assert first.returncode == 0, first.stderr
        [msg] = smtp.messages
        assert smtp.envelopes == [("bot@digest.example.org", ["alice@example.org"])]
        assert msg["To"] == "Alice Liu <alice@example.org>"
        want = expected_sections(bot)
        assert list(want) == SECTIONS  # each profile has its own papers here
        n = sum(len(ids) for ids in want.values())
        assert msg["Subject"] == (
            f"[digestbot] Speculative decoding, Retrieval, Agent memory: {n} new papers — {DAY}"
        )
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        got = sections(text)
        assert {name: sorted(ids) for name, ids in got.items()} == want
        assert list(got) == SECTIONS
        for ids in want.values():
            for paper_id in ids:  # each paper once, in text and in HTML
                assert text.count(f"https://arxiv.org/abs/{paper_id}") == 1
                assert html.count(f'href="https://arxiv.org/abs/{paper_id}"') == 1
        for name in SECTIONS:
            assert html.count(f">{name}</h3>") == 1
        # A paper two profiles match is listed once, under one, naming the other.
        merged = [(pid, prof) for pid, prof, _, status in rows(bot) if status == "merged"]
        assert merged, "the recorded day has a paper both Retrieval and Agent memory match"
        assert text.count("also matches: ") == len(merged)
        statuses = sorted({status for *_, status in rows(bot)})
        assert statuses == ["merged", "sent"]

        second = bot.run("once", "--date", DAY)
        assert second.returncode == 0, second.stderr
        assert len(smtp.messages) == 1


def test_group_profile_keeps_one_email_per_profile(tmp_path: Path) -> None:
    with bot_with_email(tmp_path) as (bot, smtp):
        bot.config.write_text(bot.config.read_text() + "  group: profile\n")
        reader_profiles(bot)
        first = bot.run("once", "--date", DAY)
        assert first.returncode == 0, first.stderr
        subjects = sorted(m["Subject"].split(":")[0] for m in smtp.messages)
        assert subjects == sorted(f"[digestbot] {name}" for name in SECTIONS)
        assert {rcpt for _, [rcpt] in smtp.envelopes} == {"alice@example.org", "alice@EXAMPLE.org"}
        assert all("== " not in m.get_body(("plain",)).get_content() for m in smtp.messages)
        assert bot.run("once", "--date", DAY).returncode == 0
        assert len(smtp.messages) == 3


def test_a_failed_grouped_email_keeps_every_profiles_rows_queued(tmp_path: Path) -> None:
    with bot_with_email(tmp_path) as (bot, smtp):
        reader_profiles(bot)
        smtp.answer_data("451 4.3.0 Try again later")
        first = bot.run("once", "--date", DAY)
        assert first.returncode == 1
        assert smtp.messages == []
        assert sorted({status for *_, status in rows(bot)}) == ["failed", "merged"]
        errors = last_errors(bot)
        assert {profile for profile, _ in errors} == {"a_spec", "b_rag", "c_memory"}
        assert all("SMTP 451" in error for error in errors.values())

        smtp.answer_data("550 5.7.1 Rejected")  # permanent: every row of the email is dead
        assert bot.run("once", "--date", DAY).returncode == 1
        assert sorted({status for *_, status in rows(bot)}) == ["dead", "merged"]

        assert bot.run("retry").returncode == 0
        again = bot.run("once", "--date", DAY)
        assert again.returncode == 0, again.stderr
        [msg] = smtp.messages
        assert list(sections(msg.get_body(("plain",)).get_content())) == SECTIONS
        assert sorted({status for *_, status in rows(bot)}) == ["merged", "sent"]
