"""Secrets stay secret: the real CLI, with a Slack bot token, a webhook URL and an SMTP password in
its environment and `-v` (debug logs, tracebacks), never shows them on stdout or stderr and never
writes them into the state file (nor its -wal), whether the run succeeds or fails in the ways
that tend to leak them: Slack invalid_auth, webhook 403 and 404, SMTP 535, refused connections,
and `check`, `status`, `retry`.

The secrets are fresh random values for each test session, so a hit is never a coincidence. The
check itself is tested first on planted secrets: a search that cannot fail proves nothing.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.e2e import SPEC_ID, Bot, make_bot, posted_ids
from tests.slack_standin import WEBHOOK_CHANNEL
from tests.smtp_server import SmtpServer, free_port, self_signed
from tests.test_slack_webhook import use_webhook

DAY = "2026-07-31"
HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"

TOKEN = f"xoxb-{secrets.token_hex(6)}-{secrets.token_hex(12)}"
HOOK_SECRET = secrets.token_hex(12)
HOOK_PATH = (
    f"/services/T{secrets.token_hex(5).upper()}/B{secrets.token_hex(5).upper()}/{HOOK_SECRET}"
)
PASSWORD = f"pw-{secrets.token_hex(12)}"
# The two halves of a malformed token (a line break or a curly quote between them), and of the
# webhook URL with a line break before its secret part.
BROKEN_A, BROKEN_B = secrets.token_hex(8), secrets.token_hex(8)
MALFORMED = {
    "token-newline": ("SLACK_BOT_TOKEN", f"xoxb-{BROKEN_A}\n{BROKEN_B}"),
    "token-non-latin-1": ("SLACK_BOT_TOKEN", f"xoxb-{BROKEN_A}\u2019{BROKEN_B}"),
    "webhook-newline": (
        "SLACK_WEBHOOK_URL",
        f"https://hooks.slack.com{HOOK_PATH.removesuffix(HOOK_SECRET)}\n{HOOK_SECRET}",
    ),
}
SMTP_USER = "bot"
_VERBOSE_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (DEBUG|INFO|WARNING|ERROR) bot\.", re.M)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Name -> value. The password also as SMTP AUTH sends it (LOGIN: base64 of the password; PLAIN:
# base64 of NUL user NUL password), should an SMTP dialogue ever be logged.
SECRETS: Mapping[str, str] = {
    "Slack bot token": TOKEN,
    "webhook URL path": HOOK_PATH,
    "webhook secret": HOOK_SECRET,
    "SMTP password": PASSWORD,
    "SMTP password (AUTH LOGIN)": _b64(PASSWORD),
    "SMTP password (AUTH PLAIN)": _b64(f"\0{SMTP_USER}\0{PASSWORD}"),
    "malformed token (first half)": BROKEN_A,
    "malformed token (second half)": BROKEN_B,
}

PROFILE = """\
name: Speculative decoding
description: Faster LLM inference by drafting tokens and verifying them with the target model.
keywords: [speculative decoding, draft model, lossy verification]
min_score: 0.95  # a percentile: only the best of the 30 papers (29/30)
notify:
  slack: "#papers-spec"
  email: alice@example.org
"""


# --------------------------------------------------------------------------- the check


def found_secrets(blob: bytes, where: str) -> list[str]:
    """'<secret> in <where>' for every secret in `blob`, as UTF-8 or UTF-16 (SQLite stores text
    in the database's encoding)."""
    hits = []
    for name, value in SECRETS.items():
        forms = (value.encode("utf-8"), value.encode("utf-16-le"), value.encode("utf-16-be"))
        if any(form in blob for form in forms):
            hits.append(f"{name} in {where}")
    return hits


def state_files(state: Path) -> list[Path]:
    """The state file and whatever lies next to it under its name: its write-ahead log,
    rollback journal, shared memory, heartbeat..."""
    if not state.parent.is_dir():
        return []
    return sorted(p for p in state.parent.iterdir() if p.name.startswith(state.name))


def assert_no_secrets(outputs: Mapping[str, str], state: Path) -> None:
    """Fail, naming the secret and where, if any secret is in `outputs` or the state files."""
    hits = [h for where, text in outputs.items() for h in found_secrets(text.encode(), where)]
    for path in state_files(state):
        hits += found_secrets(path.read_bytes(), path.name)
    assert not hits, "secrets leaked: " + "; ".join(hits)


def test_the_check_finds_planted_secrets(tmp_path: Path) -> None:
    clean = {"stderr": "error: slack:#x: Slack answered invalid_auth", "stdout": ""}
    state = tmp_path / "state.sqlite3"
    assert_no_secrets(clean, state)  # nothing there, no state file: passes

    with pytest.raises(AssertionError, match="Slack bot token in once -v: stderr"):
        assert_no_secrets({"once -v: stderr": f"Authorization: Bearer {TOKEN}"}, state)
    url = f"https://hooks.slack.com{HOOK_PATH}"
    assert found_secrets(f"POST {url}".encode(), "x") == [
        "webhook URL path in x",
        "webhook secret in x",
    ]
    plain = base64.b64encode(f"\0{SMTP_USER}\0{PASSWORD}".encode())
    assert found_secrets(b"AUTH PLAIN " + plain, "x") == ["SMTP password (AUTH PLAIN) in x"]

    # In the -wal of an open WAL database, then in the database file after the checkpoint.
    db = sqlite3.connect(state)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("CREATE TABLE deliveries (last_error TEXT)")
    db.execute("INSERT INTO deliveries VALUES (?)", (f"could not post to {url}",))
    db.commit()
    assert state.with_name(state.name + "-wal").exists()
    with pytest.raises(AssertionError, match=r"webhook URL path in state\.sqlite3-wal"):
        assert_no_secrets(clean, state)
    db.close()  # the last connection checkpoints the log into the file and removes it
    assert not state.with_name(state.name + "-wal").exists()
    with pytest.raises(AssertionError, match=r"webhook secret in state\.sqlite3"):
        assert_no_secrets(clean, state)

    # A UTF-16 database stores the password as UTF-16.
    wide = tmp_path / "wide.sqlite3"
    with sqlite3.connect(wide) as db16:
        db16.execute("PRAGMA encoding = 'UTF-16le'")
        db16.execute("CREATE TABLE t (x TEXT)")
        db16.execute("INSERT INTO t VALUES (?)", (PASSWORD,))
    db16.close()
    assert PASSWORD.encode() not in wide.read_bytes()
    with pytest.raises(AssertionError, match=r"SMTP password in wide\.sqlite3"):
        assert_no_secrets({}, wide)


# --------------------------------------------------------------------------- the harness


@dataclass
class Runs:
    """The CLI runs of one test, all with -v, and everything they printed."""

    bot: Bot
    outputs: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.bot.run(*args, "-v")
        name = f"{len(self.outputs) // 2 + 1}: {' '.join(args)} -v"
        self.outputs[f"{name}: stdout"] = result.stdout
        self.outputs[f"{name}: stderr"] = result.stderr
        return result

    def assert_clean(self) -> None:
        assert self.outputs, "no run captured"
        # -v was in effect: its log format (time, level, logger) is there, and our loggers
        # were at DEBUG (the debug lines themselves come with successful posts).
        assert any(_VERBOSE_LINE.search(text) for text in self.outputs.values())
        assert_no_secrets(self.outputs, self.bot.state)


@contextmanager
def secret_bot(
    tmp_path: Path, *, slack: str, smtp: str, operator: bool = False
) -> Iterator[tuple[Runs, Bot]]:
    """A bot with all three secrets in its environment.

    slack: "token" (accepted), "bad-token" (invalid_auth), "token-refused" (nothing listens),
    "webhook" (the hook exists), "webhook-unknown" (404 no_service), "webhook-refused", or a
    key of MALFORMED (that variable holds that malformed value).
    smtp: "ok" (STARTTLS, the password accepted), "535" (refused), "refused" (nothing listens).
    """
    cert, key = self_signed(tmp_path)
    with ExitStack() as stack:
        if smtp == "refused":
            port = free_port()
        else:
            users = {SMTP_USER: PASSWORD if smtp == "ok" else f"other-{secrets.token_hex(8)}"}
            port = stack.enter_context(SmtpServer(tls=(cert, key), users=users)).port
        extra = textwrap.dedent(f"""\
            email:
              host: 127.0.0.1
              port: {port}
              security: starttls
              username: {SMTP_USER}
              password_env: SMTP_PASSWORD
              from: bot@digest.example.org
              ca_file: {cert}
              timeout: 5
            """)
        if operator:
            extra += 'operator:\n  slack: "#ops"\n  email: ops@example.org\n'
        bot = stack.enter_context(make_bot(tmp_path / "bot", extra))
        bot.profile("spec.yaml", PROFILE)
        bot.slack.token = f"xoxb-{secrets.token_hex(8)}" if slack == "bad-token" else TOKEN
        webhook_url = bot.slack.add_webhook(HOOK_PATH)
        if slack == "token-refused":
            text = bot.config.read_text(encoding="utf-8")
            closed = f"http://127.0.0.1:{free_port()}/api/"
            bot.config.write_text(text.replace(bot.slack.base_url, closed), encoding="utf-8")
        if slack == "webhook-unknown":
            webhook_url = bot.slack.root_url + HOOK_PATH + "0"  # never created
        if slack == "webhook-refused":
            webhook_url = f"http://127.0.0.1:{free_port()}{HOOK_PATH}"
        if slack.startswith("webhook"):
            use_webhook(bot, base=webhook_url.removesuffix(HOOK_PATH + "0").removesuffix(HOOK_PATH))
        bot.env.update(
            {"SLACK_BOT_TOKEN": TOKEN, "SLACK_WEBHOOK_URL": webhook_url, "SMTP_PASSWORD": PASSWORD}
        )
        if slack in MALFORMED:
            variable, value = MALFORMED[slack]
            bot.env[variable] = value
        runs = Runs(bot)
        yield runs, bot
        runs.assert_clean()


# --------------------------------------------------------------------------- the runs


def test_successful_runs_with_the_bot_token(tmp_path: Path) -> None:
    with secret_bot(tmp_path, slack="token", smtp="ok") as (run, bot):
        bot.hf.serve_hf_day(DAY, HF_0731)
        assert run("check").returncode == 0
        first = run("once", "--date", DAY)
        assert first.returncode == 0, first.stderr
        assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]
        assert run("once", "--date", DAY).returncode == 0
        assert "sent" in run("status").stdout
        assert run("retry").returncode == 0


def test_invalid_auth_and_smtp_535(tmp_path: Path) -> None:
    with secret_bot(tmp_path, slack="bad-token", smtp="535") as (run, bot):
        bot.hf.serve_hf_day(DAY, HF_0731)
        failed = run("once", "--date", DAY)
        assert failed.returncode == 1
        assert "Slack answered invalid_auth" in failed.stderr
        assert "SMTP 535" in failed.stderr
        assert "dead" in run("status").stdout
        assert run("retry").returncode == 0
        assert run("once", "--date", DAY).returncode == 1  # the same again, retried
        assert run("check").returncode == 0


def test_successful_runs_with_the_webhook(tmp_path: Path) -> None:
    with secret_bot(tmp_path, slack="webhook", smtp="ok") as (run, bot):
        bot.hf.serve_hf_day(DAY, HF_0731)
        assert "slack: configured" in run("check").stdout
        first = run("once", "--date", DAY)
        assert first.returncode == 0, first.stderr
        assert posted_ids(bot.slack, WEBHOOK_CHANNEL) == [SPEC_ID]
        assert run("once", "--date", DAY).returncode == 0
        run("status")


def test_webhook_403_and_404_with_smtp_refused(tmp_path: Path) -> None:
    with secret_bot(tmp_path, slack="webhook", smtp="refused") as (run, bot):
        bot.hf.serve_hf_day(DAY, HF_0731)
        bot.slack.fail_next_webhook(403, error="action_prohibited")
        first = run("once", "--date", DAY)
        assert first.returncode == 1
        assert "action_prohibited (HTTP 403)" in first.stderr
        assert "cannot reach 127.0.0.1" in first.stderr
        assert run("retry", "slack:#papers-spec").returncode == 0
        bot.slack.fail_next_webhook(404, error="channel_not_found")
        second = run("once", "--date", DAY)
        assert "channel_not_found (HTTP 404)" in second.stderr
        assert "dead" in run("status").stdout


def test_unknown_webhook(tmp_path: Path) -> None:
    with secret_bot(tmp_path, slack="webhook-unknown", smtp="ok") as (run, bot):
        bot.hf.serve_hf_day(DAY, HF_0731)
        failed = run("once", "--date", DAY)
        assert failed.returncode == 1
        assert "no_service (HTTP 404)" in failed.stderr
        assert run("retry").returncode == 0
        run("status")


@pytest.mark.parametrize("slack", ["token-refused", "webhook-refused"])
def test_refused_connections_and_operator_alerts(tmp_path: Path, slack: str) -> None:
    with secret_bot(tmp_path, slack=slack, smtp="refused", operator=True) as (run, bot):
        bot.hf.add("/api/daily_papers", "Service Unavailable", status=503)
        bot.hf.add("/papers", "Service Unavailable", status=503)
        failed = run("once", "--date", DAY)  # the source fails: the alerts cannot be sent
        assert failed.returncode == 1
        assert "operator alert to slack:#ops failed" in failed.stderr
        assert "operator alert to email:ops@example.org failed" in failed.stderr
        bot.hf.serve_hf_day(DAY, HF_0731)
        again = run("once", "--date", DAY)  # digests fail to go out now
        assert again.returncode == 1
        assert "could not reach" in again.stderr
        run("status")
        run("retry")


@pytest.mark.parametrize("slack", sorted(MALFORMED))
def test_malformed_secrets_are_named_never_shown(tmp_path: Path, slack: str) -> None:
    """A token with a line break used to be printed whole by the internal error line
    (`Invalid header value b'Bearer xoxb-...'`); a malformed webhook URL was taken for none."""
    variable = MALFORMED[slack][0]
    with secret_bot(tmp_path, slack=slack, smtp="ok") as (run, bot):
        bot.hf.serve_hf_day(DAY, HF_0731)
        checked = run("check")
        assert checked.returncode == 2
        assert f"error: ${variable} is malformed: it contains " in checked.stderr
        failed = run("once", "--date", DAY)
        assert failed.returncode == 1
        assert "internal error" not in failed.stderr
        assert f"${variable} is malformed" in failed.stderr
        assert "dead" in run("status").stdout
        assert run("retry").returncode == 0
        assert run("once", "--date", DAY).returncode == 1
        assert bot.slack.posts == []


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """The CLI's logging set-up replaces the root logger's handlers: put them back after."""
    root, ours = logging.getLogger(), logging.getLogger("bot")
    saved = (root.handlers[:], root.level, ours.level)
    try:
        yield
    finally:
        root.handlers[:], _, _ = saved
        root.setLevel(saved[1])
        ours.setLevel(saved[2])


def test_the_internal_error_line_and_the_logs_are_redacted(
    cli_logging: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Whatever a foreign library puts in an exception, a token in it is cut out before the
    CLI prints it: the internal error line, its traceback (-v) and every log line. These
    values were never read from the environment: their shape gives them away."""
    from bot.cli.base import _guard, _setup_logging

    leak = f"Invalid header value b'Bearer xoxb-{BROKEN_A}\\n{BROKEN_B}'"
    hook = f"https://hooks.slack.com{HOOK_PATH}"

    @_guard
    def command(verbose: bool) -> int:
        logging.getLogger("bot.somewhere").error("posting to %s failed: %s", hook, leak)
        logging.getLogger("slack_sdk").critical("Authorization: Bearer xapp-1-%s", BROKEN_A)
        raise ValueError(leak)

    _setup_logging(verbose=True, daemon=False)
    assert command(verbose=True) == 1
    err = capsys.readouterr().err
    assert "error: internal error: ValueError: Invalid header value b'Bearer [redacted]'" in err
    assert "Traceback" in err  # -v
    # (Secrets read by other tests of this process may be cut out too, so only the shape:)
    assert re.search(r"posting to \S*services/\[redacted\] failed", err), err
    assert_no_secrets({"stderr": err}, tmp_path / "no-state")
