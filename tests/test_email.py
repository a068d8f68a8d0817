"""Email digests through a real SMTP server on 127.0.0.1 (aiosmtpd), parsed back with `email`:
structure, headers, escaping and links; what each SMTP answer means for the outbox; STARTTLS
that is not offered fails rather than downgrading; certificates are verified; secrets stay out.
Addresses as people write them (`Alice Liu <alice@lab.example>`), one error per bad one; an
extension the server lacks (AUTH, STARTTLS, SMTPUTF8) named, permanent, in delivery and in
`check --live`; the grouped email of a reader of several profiles (golden files, regenerated
with DIGESTBOT_REGEN_GOLDEN=1)."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_profile, load_settings
from bot.errors import ConfigErrors, DeliveryError, DigestbotError
from bot.models import Delivery, Match
from bot.notifiers import email_address, email_errors
from bot.notifiers.email import EmailNotifier, EmailSettings
from bot.notifiers.email_render import build_group_message, build_message
from bot.sources.hf_daily import parse_api
from tests.conftest import FIXTURES
from tests.smtp_server import SmtpServer, self_signed

PAPERS = parse_api((FIXTURES / "hf_daily_papers_2026-06-12_30items.json").read_bytes())
PASSWORD = "smtp-pass-0123-SECRET"
GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("DIGESTBOT_REGEN_GOLDEN") == "1"


def delivery(n: int = 3, **changes: object) -> Delivery:
    matches = tuple(
        Match(p, "norm", round(0.5 - i / 100, 4), ("keyword RMSNorm", "terms layer norm"))
        for i, p in enumerate(PAPERS[:n])
    )
    base = Delivery(
        "norm",
        "Normalization in transformers",
        "email:alice@example.org",
        date(2026, 7, 31),
        matches,
        30,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def notifier(port: int, **settings: object) -> EmailNotifier:
    values = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "bot@digest.example.org",
        **settings,
    }
    made, why = EmailNotifier.create(
        EmailSettings.model_validate(values), {"SMTP_PASSWORD": PASSWORD}
    )
    assert made is not None, why
    assert isinstance(made, EmailNotifier)
    return made


def test_digest_is_multipart_alternative_with_the_same_papers_in_both() -> None:
    with SmtpServer() as server:
        notifier(server.port, reply_to="team@example.org").send(delivery(), "alice@example.org")
        [msg] = server.messages
    assert server.envelopes == [("bot@digest.example.org", ["alice@example.org"])]
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert msg["Subject"] == (
        "[digestbot] Normalization in transformers: 3 new papers — 2026-07-31"
    )
    assert msg["To"] == "alice@example.org"
    assert msg["From"] == "digestbot <bot@digest.example.org>"
    assert msg["Reply-To"] == "team@example.org"
    assert msg["List-Id"] == "Normalization in transformers <norm.digestbot.digest.example.org>"
    assert msg["List-Unsubscribe"] == "<mailto:team@example.org?subject=unsubscribe%20norm>"
    assert msg["Date"]
    for part in (text.get_content(), html.get_content()):
        for match in delivery().matches:
            assert f"https://arxiv.org/abs/{match.paper.id}" in part
            assert "0.50" in part
        assert "keyword RMSNorm; terms layer norm" in part
        assert "3 new papers matched out of 30" in part
    assert PAPERS[0].extras["ai_summary"][:40] in text.get_content()


def test_message_id_is_deterministic_per_delivery() -> None:
    with SmtpServer() as server:
        sender = notifier(server.port)
        sender.send(delivery(), "alice@example.org")
        sender.send(delivery(), "alice@example.org")
        sender.send(delivery(digest_day=date(2026, 8, 1)), "alice@example.org")
        ids = [m["Message-ID"] for m in server.messages]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0].endswith("@digest.example.org>")


def test_hostile_text_is_text_and_only_http_links_are_links() -> None:
    hostile = replace(
        PAPERS[0],
        title="<script>alert(1)</script> & <b>bold</b>",
        url="javascript:alert(1)",
        id="hf:weird",
    )
    d = delivery(matches=(Match(hostile, "norm", 0.4, ("terms <i>x</i>",)),))
    with SmtpServer() as server:
        notifier(server.port).send(d, "alice@example.org")
        [msg] = server.messages
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "&lt;i&gt;x&lt;/i&gt;" in html
    assert "javascript:" not in html
    assert "<script>alert(1)</script>" in msg.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    ("rcpt", "data", "permanent", "code"),
    [
        ((), ("451 4.3.0 Try again later",), False, "451"),
        (("550 5.1.1 No such user",), (), True, "550"),
        ((), ("554 5.7.1 Rejected",), True, "554"),
        (("421 4.7.0 Too busy",), (), False, "421"),
    ],
)
def test_smtp_answers(
    rcpt: tuple[str, ...], data: tuple[str, ...], permanent: bool, code: str
) -> None:
    with SmtpServer() as server:
        server.answer_rcpt(*rcpt)
        server.answer_data(*data)
        sender = notifier(server.port)
        with pytest.raises(DeliveryError) as caught:
            sender.send(delivery(), "alice@example.org")
        assert caught.value.permanent is permanent
        assert f"SMTP {code}" in str(caught.value)
        assert server.messages == []
        if not permanent:  # the next attempt (next run) goes through: one email in all
            sender.send(delivery(), "alice@example.org")
            assert len(server.messages) == 1


def test_connection_refused_is_transient() -> None:
    with SmtpServer() as server:
        port = server.port
    with pytest.raises(DeliveryError) as caught:
        notifier(port).send(delivery(), "alice@example.org")
    assert not caught.value.permanent
    assert "cannot reach 127.0.0.1" in str(caught.value)


def test_starttls_not_offered_fails_rather_than_downgrading() -> None:
    with SmtpServer() as server:
        with pytest.raises(DeliveryError) as caught:
            notifier(server.port, security="starttls").send(delivery(), "alice@example.org")
        assert caught.value.permanent
        assert "does not offer STARTTLS" in str(caught.value)
        assert server.messages == []


def test_starttls_verifies_the_certificate_and_logs_in(tmp_path: Path, caplog) -> None:
    cert, key = self_signed(tmp_path)
    caplog.set_level(logging.DEBUG)
    with SmtpServer(tls=(cert, key), users={"bot": PASSWORD}) as server:
        with pytest.raises(DeliveryError) as unverified:  # an unknown CA is refused
            notifier(
                server.port, security="starttls", username="bot", password_env="SMTP_PASSWORD"
            ).send(delivery(), "alice@example.org")
        assert unverified.value.permanent and "certificate" in str(unverified.value)

        trusted = notifier(
            server.port,
            security="starttls",
            username="bot",
            password_env="SMTP_PASSWORD",
            ca_file=str(cert),
        )
        trusted.send(delivery(), "alice@example.org")
        assert len(server.messages) == 1

        wrong = EmailNotifier(trusted.settings, "wrong-password")
        with pytest.raises(DeliveryError) as refused:
            wrong.send(delivery(), "alice@example.org")
        assert refused.value.permanent and "SMTP 535" in str(refused.value)
    seen = " ".join(r.getMessage() for r in caplog.records) + repr(trusted)
    seen += str(unverified.value) + str(refused.value)
    assert PASSWORD not in seen


def test_the_tls_context_is_made_once_per_notifier_and_never_without_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the system's CA certificates (~80 ms) was done for every email, also with
    `security: none`: an institution's thousands of emails spent most of their time there."""
    made: list[str | None] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(kwargs.get("cafile"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    cert, key = self_signed(tmp_path)
    with SmtpServer(tls=(cert, key)) as server:
        tls = notifier(server.port, security="starttls", ca_file=str(cert))
        for to in ("alice@example.org", "bob@example.org", "carol@example.org"):
            tls.send(delivery(), to)
        assert len(server.messages) == 3
    assert made.count(str(cert)) == 1  # (the server makes its own, without a CA file)
    made.clear()
    with SmtpServer() as server:
        plain = notifier(server.port, security="none")
        for to in ("alice@example.org", "bob@example.org"):
            plain.send(delivery(), to)
        assert len(server.messages) == 2
    assert made == []


def test_a_stored_hostile_profile_name_and_id_still_make_one_line_headers() -> None:
    """Profiles are checked now, but a row queued by an older version keeps the name it had,
    and a profile's id is its file name: neither may break a header (it crashed List-Id)."""
    hostile = delivery(
        profile_name="Decoding\nweekly\r\nBcc: eve@evil.example\x00",
        profile_id="deco ding\nBcc: eve@evil.example",
    )
    with SmtpServer() as server:
        notifier(server.port).send(hostile, "alice@example.org")
        [msg] = server.messages
    assert server.envelopes == [("bot@digest.example.org", ["alice@example.org"])]
    assert msg["Bcc"] is None
    assert msg["List-Id"] == (
        "Decoding weekly Bcc: eve@evil.example "
        "<deco-ding-Bcc--eve-evil-example.digestbot.digest.example.org>"
    )
    # (A subject this long is folded; parsing it back doubles a space at the fold.)
    assert " ".join(msg["Subject"].split()) == (
        "[digestbot] Decoding weekly Bcc: eve@evil.example: 3 new papers — 2026-07-31"
    )
    assert "\n" not in msg["List-Unsubscribe"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("pw-0123\nSECRET", "a line break"),
        ("pw-0123\x00SECRET", "the control character U+0000"),
        ("pw-0123\u00e9SECRET", "a character outside ASCII"),
    ],
)
def test_create_refuses_a_malformed_password_naming_the_variable(value: str, problem: str) -> None:
    settings = EmailSettings.model_validate(
        {
            "host": "127.0.0.1",
            "from": "bot@example.org",
            "username": "bot",
            "password_env": "SMTP_PASSWORD",
        }
    )
    with pytest.raises(DigestbotError) as caught:
        EmailNotifier.create(settings, {"SMTP_PASSWORD": value})
    err = caught.value
    assert str(err) == f"$SMTP_PASSWORD is malformed: it contains {problem}"
    assert "SECRET" not in str(err) + str(err.hint)
    assert err.hint is not None and "SMTP_PASSWORD" in err.hint


def test_a_login_in_clear_says_so_in_check() -> None:
    made = notifier(1025, username="bot", password_env="SMTP_PASSWORD", allow_plaintext_auth=True)
    assert made.describe() == (
        "password from $SMTP_PASSWORD; WARNING: logs in as bot without TLS "
        "(allow_plaintext_auth: true): the password crosses the network in clear; "
        "no vote links: to get them, set web.public_url and web.secret_env"
    )
    tls = notifier(1025, security="starttls", username="bot", password_env="SMTP_PASSWORD")
    assert tls.describe() == (
        "password from $SMTP_PASSWORD; no vote links: to get them, set web.public_url and "
        "web.secret_env"
    )


def test_create_needs_the_password_variable() -> None:
    settings = EmailSettings.model_validate(
        {"host": "smtp.example.org", "from": "bot@example.org", "password_env": "SMTP_PASSWORD"}
    )
    assert EmailNotifier.create(settings, {}) == (None, "SMTP_PASSWORD is not set")
    assert settings.effective_port == 587


def test_email_digest_end_to_end_through_the_cli(tmp_path: Path) -> None:
    from tests.e2e import make_bot

    with SmtpServer() as server:
        extra = (
            f"email:\n  host: 127.0.0.1\n  port: {server.port}\n  security: none\n"
            "  from: bot@digest.example.org\n"
        )
        with make_bot(tmp_path, extra) as bot:
            bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
            bot.profile(
                "spec.yaml",
                "name: Speculative decoding\n"
                "keywords: [speculative decoding, draft model, lossy verification]\n"
                "min_score: 0.95\nnotify:\n  email: [alice@example.org, bob@example.org]\n",
            )
            assert bot.run("check").returncode == 0
            first = bot.run("once", "--date", "2026-07-31")
            assert first.returncode == 0, first.stderr
            assert bot.run("once", "--date", "2026-07-31").returncode == 0  # nothing twice
        messages = server.messages
    assert sorted(m["To"] for m in messages) == ["alice@example.org", "bob@example.org"]
    for msg in messages:
        assert msg["Subject"] == "[digestbot] Speculative decoding: 1 new paper — 2026-07-31"
        assert "https://arxiv.org/abs/2607.26627" in msg.get_body(("html",)).get_content()
        assert "keyword speculative decoding" in msg.get_body(("plain",)).get_content()


# --------------------------------------------------------------------------- addresses as written

PROFILE_HEAD = "name: Decoding\ndescription: d\nnotify:\n  email:\n"


def test_name_addr_forms_are_accepted_and_the_outbox_key_is_the_bare_address(
    tmp_path: Path,
) -> None:
    path = tmp_path / "decoding.yaml"
    path.write_text(
        PROFILE_HEAD
        + "    - bob@lab.example\n"
        + '    - "Alice Liu <alice@lab.example>"\n'
        + "    - '\"Liu, Alice\" <alice.liu@Lab.Example>'\n"
        + '    - "<carol@lab.example>"\n'
        + "    - Dr. A. Liu <a.liu@lab.example>\n",
        encoding="utf-8",
    )
    profile = load_profile(path)
    assert profile.destinations == (
        "email:bob@lab.example",
        "email:alice@lab.example",
        "email:alice.liu@Lab.Example",
        "email:carol@lab.example",
        "email:a.liu@lab.example",
    )
    assert profile.addressees == {
        "email:alice@lab.example": "Alice Liu <alice@lab.example>",
        "email:alice.liu@Lab.Example": '"Liu, Alice" <alice.liu@Lab.Example>',
        "email:a.liu@lab.example": '"Dr. A. Liu" <a.liu@lab.example>',
    }
    settings = EmailSettings.model_validate(
        {"host": "h", "from": "Lab papers <bot@lab.example>", "reply_to": "Team <t@lab.example>"}
    )
    assert (settings.sender, settings.reply_to) == (
        "Lab papers <bot@lab.example>",
        "Team <t@lab.example>",
    )


# (list item as written in YAML, words of its one error)
BAD_ADDRESSES = [
    pytest.param('"Alice Liu <alice>"', "no domain", id="no-domain"),
    pytest.param('"alice@lab"', "a domain like example.org", id="dotless-domain"),
    pytest.param('"Alice Liu"', "no @", id="a-name-only"),
    pytest.param('"a@lab.example, b@lab.example"', "2 addresses", id="two-addresses"),
    pytest.param('"Liu, Alice <alice@lab.example>"', 'quote the name: "Liu, Alice"', id="comma"),
    pytest.param('"Alice <alice@lab.example"', "missing trailing '>'", id="unclosed"),
    pytest.param('"alice\\0@lab.example"', "the control character U+0000", id="nul"),
    pytest.param('"Alice\\nLiu <alice@lab.example>"', "a line break", id="line-break"),
    pytest.param('"team: a@lab.example;"', "a group", id="group"),
    pytest.param('""', "empty", id="empty"),
]


@pytest.mark.parametrize(("item", "words"), BAD_ADDRESSES)
def test_a_bad_recipient_is_one_error_naming_file_line_and_item(
    tmp_path: Path, item: str, words: str
) -> None:
    path = tmp_path / "decoding.yaml"
    path.write_text(PROFILE_HEAD + "    - bob@lab.example\n" + f"    - {item}\n", encoding="utf-8")
    with pytest.raises(ConfigErrors) as caught:
        load_profile(path)
    [err] = caught.value.errors
    assert (err.file, err.line, err.field) == (str(path), 6, "notify.email[1]")
    assert str(err).startswith(f"{path}:6: notify.email[1]: "), str(err)
    assert words in str(err), str(err)
    assert "function" not in str(err) and "Value error" not in str(err)


def test_each_bad_address_is_its_own_error_and_a_single_one_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "decoding.yaml"
    path.write_text(
        PROFILE_HEAD + "    - Alice <alice>\n    - ok@lab.example\n    - bob@\n", encoding="utf-8"
    )
    with pytest.raises(ConfigErrors) as caught:
        load_profile(path)
    assert [(e.line, e.field) for e in caught.value.errors] == [
        (5, "notify.email[0]"),
        (7, "notify.email[2]"),
    ]
    single = tmp_path / "single.yaml"
    single.write_text(
        "name: X\ndescription: d\nnotify:\n  email: Alice <alice>\n", encoding="utf-8"
    )
    with pytest.raises(ConfigErrors) as caught:
        load_profile(single)
    [err] = caught.value.errors
    assert (err.line, err.field) == (4, "notify.email")
    assert "no domain" in str(err)


@pytest.mark.parametrize("key", ["from", "reply_to"])
def test_a_bad_sender_names_its_key(tmp_path: Path, key: str) -> None:
    path = tmp_path / "bot.yaml"
    lines = {"from": "from: bot@lab.example", "reply_to": "reply_to: team@lab.example"}
    lines[key] = f'{key}: "Lab papers <bot>"'
    path.write_text(
        "timezone: UTC\nemail:\n  host: 127.0.0.1\n  " + "\n  ".join(lines.values()) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigErrors) as caught:
        load_settings(path)
    [err] = caught.value.errors
    line = 4 if key == "from" else 5
    assert (err.line, err.field) == (line, f"email.{key}")
    assert "no domain" in str(err)


def test_the_display_names_show_in_the_message_and_the_envelope_is_bare() -> None:
    with SmtpServer() as server:
        sender = notifier(
            server.port, **{"from": "Lab papers <bot@lab.example>"}, reply_to="Team <t@lab.example>"
        )
        sender.send(delivery(), '"Liu, Alice" <alice@lab.example>')
        [msg] = server.messages
    assert server.envelopes == [("bot@lab.example", ["alice@lab.example"])]
    assert msg["From"] == "Lab papers <bot@lab.example>"
    assert msg["To"] == '"Liu, Alice" <alice@lab.example>'
    assert msg["Reply-To"] == "Team <t@lab.example>"
    assert msg["List-Unsubscribe"] == "<mailto:t@lab.example?subject=unsubscribe%20norm>"
    assert msg["Message-ID"].endswith("@lab.example>")
    assert "write to t@lab.example" in msg.get_body(("plain",)).get_content()


def test_names_as_people_write_them_end_to_end(tmp_path: Path) -> None:
    from tests.e2e import make_bot

    with SmtpServer() as server:
        extra = (
            f"email:\n  host: 127.0.0.1\n  port: {server.port}\n  security: none\n"
            '  from: "Lab papers <bot@lab.example>"\n'
        )
        with make_bot(tmp_path, extra) as bot:
            bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
            bot.profile(
                "spec.yaml",
                "name: Speculative decoding\n"
                "keywords: [speculative decoding, draft model, lossy verification]\n"
                'min_score: 0.95\nnotify:\n  email: ["Alice Liu <alice@lab.example>"]\n',
            )
            checked = bot.run("check")
            assert checked.returncode == 0, checked.stdout + checked.stderr
            first = bot.run("once", "--date", "2026-07-31")
            assert first.returncode == 0, first.stderr
            assert "email:alice@lab.example" in bot.run("status").stdout
        [msg] = server.messages
    assert server.envelopes == [("bot@lab.example", ["alice@lab.example"])]
    assert (msg["From"], msg["To"]) == (
        "Lab papers <bot@lab.example>",
        "Alice Liu <alice@lab.example>",
    )


# --------------------------------------------------------------------------- SMTP errors in words

LOGIN = {"username": "bot", "password_env": "SMTP_PASSWORD"}
STAYS = "(permanent: a server does not start offering it)"

# (server options, notifier settings, recipient, the sentence)
MISSING_EXTENSIONS = [
    pytest.param(
        {},
        {**LOGIN, "allow_plaintext_auth": True},
        "alice@lab.example",
        f"the server does not offer AUTH, needed to log in as bot {STAYS}",
        id="auth",
    ),
    pytest.param(
        {},
        {"security": "starttls"},
        "alice@lab.example",
        f"the server does not offer STARTTLS; not sending in clear {STAYS}",
        id="starttls",
    ),
    pytest.param(
        {},
        {},
        "J\u00fcrgen <j\u00fcrgen@lab.example>",
        "the server does not offer SMTPUTF8, needed for the non-ASCII address "
        f"j\u00fcrgen@lab.example {STAYS}",
        id="smtputf8",
    ),
    pytest.param(
        {"tls": True, "users": {"bot": PASSWORD}, "auth_exclude": ("LOGIN", "PLAIN")},
        {**LOGIN, "security": "starttls"},
        "alice@lab.example",
        "the server offers AUTH but no method smtplib can log in with (it offers none; "
        f"smtplib has CRAM-MD5, PLAIN, LOGIN) {STAYS}",
        id="auth-without-a-usable-method",
    ),
]


@pytest.mark.parametrize(("server", "settings", "recipient", "sentence"), MISSING_EXTENSIONS)
def test_a_missing_extension_is_named_and_permanent_in_delivery_and_check(
    tmp_path: Path,
    server: dict[str, object],
    settings: dict[str, object],
    recipient: str,
    sentence: str,
) -> None:
    options = dict(server)
    if options.pop("tls", False):
        cert, key = self_signed(tmp_path)
        options["tls"] = (cert, key)
        settings = {**settings, "ca_file": str(cert)}
    with SmtpServer(**options) as smtp:  # type: ignore[arg-type]
        sender = notifier(smtp.port, **settings)
        with pytest.raises(DeliveryError) as caught:
            sender.send(delivery(), recipient)
        [check] = sender.probe([recipient])
        assert smtp.messages == []
    err = caught.value
    assert err.permanent
    assert str(err) == f"email:{email_address.addr_spec(recipient)}: {sentence}"
    assert err.hint
    assert (check.status, check.detail, check.hint) == ("failed", sentence, err.hint)


def test_a_non_ascii_address_goes_through_a_server_offering_smtputf8_and_a_name_needs_none() -> (
    None
):
    with SmtpServer(smtputf8=True) as server:
        notifier(server.port).send(delivery(), "J\u00fcrgen <j\u00fcrgen@lab.example>")
        [msg] = server.messages
    assert server.envelopes == [("bot@digest.example.org", ["j\u00fcrgen@lab.example"])]
    assert msg["To"] == "J\u00fcrgen <j\u00fcrgen@lab.example>"
    with SmtpServer() as server:  # no SMTPUTF8: a non-ASCII name alone is RFC 2047 text
        notifier(server.port).send(delivery(), "J\u00fcrgen Gro\u00df <j.gross@lab.example>")
        [msg] = server.messages
        assert b"=?utf-8?" in server.raw[0]
    assert msg["To"] == "J\u00fcrgen Gro\u00df <j.gross@lab.example>"


def test_a_login_the_server_cannot_take_is_dead_and_check_live_says_why(tmp_path: Path) -> None:
    """`security: none` with a login, on a server offering no AUTH there: the delivery was
    marked dead as "the server does not offer STARTTLS"."""
    from tests.e2e import make_bot

    with SmtpServer() as server:
        extra = (
            f"email:\n  host: 127.0.0.1\n  port: {server.port}\n  security: none\n"
            "  username: bot\n  password_env: SMTP_PASSWORD\n  allow_plaintext_auth: true\n"
            "  from: bot@lab.example\n"
        )
        with make_bot(tmp_path, extra) as bot:
            bot.env["SMTP_PASSWORD"] = PASSWORD
            bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
            bot.profile(
                "spec.yaml",
                "name: Speculative decoding\n"
                "keywords: [speculative decoding, draft model, lossy verification]\n"
                "min_score: 0.95\nnotify:\n  email: alice@lab.example\n",
            )
            sentence = f"the server does not offer AUTH, needed to log in as bot {STAYS}"
            live = bot.run("check", "--live")
            assert live.returncode == 1
            assert f"email 127.0.0.1:{server.port}: failed: {sentence}" in live.stdout
            first = bot.run("once", "--date", "2026-07-31")
            assert first.returncode == 1
            assert f"marked dead (not retried): email:alice@lab.example: {sentence}" in (
                first.stderr
            )
            assert "STARTTLS" not in first.stderr
            assert sentence in bot.run("status").stdout
        assert server.messages == []


def test_smtplibs_own_not_supported_errors_are_read_for_the_extension_they_name() -> None:
    """The fallback under the checks made before each step: the exceptions smtplib itself
    raises (here for real, against aiosmtpd) name the extension that is missing."""
    message = build_message(delivery(), "j\u00fcrgen@lab.example", "bot@lab.example")
    calls = {
        "AUTH": lambda smtp: smtp.login("bot", PASSWORD),
        "STARTTLS": lambda smtp: smtp.starttls(),
        "SMTPUTF8": lambda smtp: smtp.send_message(message),
    }
    with SmtpServer() as server:
        for extension, call in calls.items():
            with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as smtp:
                smtp.ehlo()
                with pytest.raises(smtplib.SMTPNotSupportedError) as caught:
                    call(smtp)
            err = email_errors.translate(
                caught.value, destination="email:x@lab.example", host="h", port=1
            )
            assert err.permanent
            assert str(err) == (
                f"email:x@lab.example: the server does not offer {extension} {STAYS}"
            )


# --------------------------------------------------------------------------- one email per reader


def grouped_deliveries() -> list[Delivery]:
    """Three profiles' digests of one day for one reader, from recorded papers; the second
    lists a paper the third also matches (merged into it: "also matches")."""
    rag = Match(PAPERS[5], "rag", 0.97, ("also matches: Agent memory", "keyword BM25"))
    memory = Match(PAPERS[7], "memory", 0.9, ("keyword agent memory", "terms memory"))
    return [
        delivery(n=2),
        delivery(profile_id="rag", profile_name="Retrieval", matches=(rag,)),
        delivery(profile_id="memory", profile_name="Agent memory", matches=(memory,)),
    ]


def test_grouped_email_matches_golden_files() -> None:
    """The email a reader of three profiles gets (`email.group: recipient`): headers and
    plain text in one golden file, HTML in another (DIGESTBOT_REGEN_GOLDEN=1 rewrites them)."""
    msg = build_group_message(
        grouped_deliveries(),
        "Alice Liu <alice@lab.example>",
        "Lab papers <bot@lab.example>",
        "team@lab.example",
        now=datetime(2026, 8, 1, 7, 0, tzinfo=UTC),
    )
    skip = ("MIME-Version", "Content-Type")
    headers = "".join(f"{k}: {v}\n" for k, v in msg.items() if k not in skip)
    built = {
        "email_grouped_3.txt": headers + "\n" + msg.get_body(("plain",)).get_content(),
        "email_grouped_3.html": msg.get_body(("html",)).get_content(),
    }
    for name, text in built.items():
        golden = GOLDEN / name
        if REGEN:
            golden.write_text(text, encoding="utf-8")
        assert golden.read_text(encoding="utf-8") == text


def test_a_group_of_one_is_the_profiles_own_email_and_ids_follow_the_papers() -> None:
    one = delivery()
    alone = build_message(one, "alice@lab.example", "bot@lab.example")
    grouped = build_group_message([one], "alice@lab.example", "bot@lab.example")
    for header in ("Subject", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert alone[header] == grouped[header]
    three = grouped_deliveries()
    ids = {
        build_group_message(parts, "a@lab.example", "bot@lab.example")["Message-ID"]
        for parts in (three, three[::-1], three[:2], [one])
    }
    assert len(ids) == 3  # the order of the parts does not change the id; their papers do


def test_a_followed_author_in_email_says_so_and_shows_no_score(tmp_path: Path) -> None:
    # Through the CLI and the outbox (which keeps the reasons, and reads "followed" back).
    from tests.e2e import make_bot

    with SmtpServer() as server:
        extra = (
            f"email:\n  host: 127.0.0.1\n  port: {server.port}\n  security: none\n"
            "  from: bot@digest.example.org\n"
        )
        with make_bot(tmp_path, extra) as bot:
            bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
            bot.profile(
                "follow.yaml",
                "name: Followed\nauthors: [Jinsen Su]\nnotify:\n  email: [alice@example.org]\n",
            )
            result = bot.run("once", "--date", "2026-07-31")
            assert result.returncode == 0, result.stderr
        [msg] = server.messages
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content()
    assert "https://arxiv.org/abs/2607.23193" in text  # OmniScope, by Jinsen Su et al.
    assert "\n   3 HF upvotes\n   why: followed author Jinsen Su\n" in text
    assert "<span>3 HF upvotes</span>" in html and "followed author Jinsen Su" in html
    assert "score" not in text and "score" not in html
