"""`web:` in bot.yaml (bot/web/settings.py): where the page listens, the address email links point
to, and the variables holding its password and the key that signs vote links. Errors name file,
line and field; a non-loopback address without a password is refused; `check` says what is
missing, naming variables, never values."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import load_settings
from bot.errors import ConfigErrors, SecretError
from bot.web.settings import WebSettings

BASE = """\
timezone: UTC
profiles: profiles/
"""

SECRET = "k3Jx9-vQ2pLmN8rT5wYz1aBcDeFgHiJk"  # 32 characters, the shape a real one has
PASSWORD = "correct horse battery staple"


def settings_file(tmp_path: Path, web: str) -> Path:
    (tmp_path / "profiles").mkdir(exist_ok=True)
    path = tmp_path / "bot.yaml"
    path.write_text(BASE + textwrap.dedent(web), encoding="utf-8")
    return path


def web_of(tmp_path: Path, web: str) -> WebSettings | None:
    return load_settings(settings_file(tmp_path, web)).web


def test_absent_means_no_web_section(tmp_path: Path) -> None:
    assert web_of(tmp_path, "") is None


def test_defaults_are_loopback(tmp_path: Path) -> None:
    web = web_of(tmp_path, "web: {}\n")
    assert web == WebSettings()
    assert web is not None
    assert (web.listen, web.host, web.port) == ("127.0.0.1:8080", "127.0.0.1", 8080)
    assert web.loopback
    assert (web.public_url, web.password_env, web.secret_env) == (None, None, None)


@pytest.mark.parametrize(
    ("listen", "host", "port", "loopback"),
    [
        ("127.0.0.1:8080", "127.0.0.1", 8080, True),
        ("127.0.0.2:9000", "127.0.0.2", 9000, True),  # all of 127/8 is loopback
        ("localhost:8080", "localhost", 8080, True),
        ("[::1]:8080", "::1", 8080, True),
        ("0.0.0.0:8080", "0.0.0.0", 8080, False),
        ("[::]:80", "::", 80, False),
        ("192.0.2.7:443", "192.0.2.7", 443, False),
        ("papers.lab.example:8080", "papers.lab.example", 8080, False),
    ],
)
def test_listen_is_parsed(listen: str, host: str, port: int, loopback: bool) -> None:
    web = WebSettings.model_validate({"listen": listen, "password_env": "DIGESTBOT_WEB_PASSWORD"})
    assert (web.host, web.port, web.loopback) == (host, port, loopback)


def test_ipv6_loopback_needs_no_password(tmp_path: Path) -> None:
    web = web_of(tmp_path, 'web:\n  listen: "[::1]:8081"\n')
    assert web is not None and (web.host, web.port, web.loopback) == ("::1", 8081, True)


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "192.0.2.7:8080", '"[::]:8080"', "lab:80"])
def test_non_loopback_without_password_env_is_refused(tmp_path: Path, listen: str) -> None:
    web = f"web:\n  public_url: https://papers.lab.example\n  listen: {listen}\n"
    path = settings_file(tmp_path, web)
    with pytest.raises(ConfigErrors) as info:
        load_settings(path)
    [err] = info.value.errors
    assert (err.file, err.line, err.field) == (str(path), 5, "web.listen")
    assert "not a loopback address" in str(err) and "password_env" in str(err)


def test_non_loopback_with_password_env_is_accepted(tmp_path: Path) -> None:
    web = web_of(tmp_path, "web:\n  listen: 0.0.0.0:8080\n  password_env: DIGESTBOT_WEB_PASSWORD\n")
    assert web is not None and (web.host, web.port, web.loopback) == ("0.0.0.0", 8080, False)


# (the value of `listen` as written in YAML, words of the message)
BAD_LISTEN = [
    ("127.0.0.1", "host:port"),
    ("8080", "string"),  # YAML reads an integer
    ('":8080"', "host"),
    ("127.0.0.1:0", "port"),
    ("127.0.0.1:65536", "port"),
    ("127.0.0.1:http", "port"),
    ('"::1:8080"', "[::1]:8080"),  # an IPv6 address goes in brackets
    ('"[::1]"', "host:port"),
    ("[::1]", "quote an IPv6 address"),  # unquoted: a YAML list
    ('"[nonsense]:8080"', "IPv6"),
    ('"bad host:8080"', "host"),
    ('"http://127.0.0.1:8080"', "host:port"),
]


@pytest.mark.parametrize(("listen", "words"), BAD_LISTEN)
def test_bad_listen_names_line_and_field(tmp_path: Path, listen: str, words: str) -> None:
    path = settings_file(tmp_path, f"web:\n  listen: {listen}\n")
    with pytest.raises(ConfigErrors) as info:
        load_settings(path)
    [err] = info.value.errors
    assert (err.file, err.line, err.field) == (str(path), 4, "web.listen")
    assert words in str(err)


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("https://papers.lab.example", "https://papers.lab.example"),
        ("https://papers.lab.example/", "https://papers.lab.example"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://lab.example/digestbot/", "https://lab.example/digestbot"),
    ],
)
def test_public_url_is_kept_without_trailing_slash(tmp_path: Path, written: str, kept: str) -> None:
    web = web_of(tmp_path, f"web:\n  public_url: {written}\n")
    assert web is not None and web.public_url == kept


@pytest.mark.parametrize(
    "url",
    [
        "ftp://papers.lab.example",
        '"javascript:alert(1)"',
        "papers.lab.example",
        "https://",
        '"https://papers.lab.example/?a=1"',
        '"https://papers.lab.example/#top"',
        "https://user:pw@papers.lab.example",
        '"https://papers.lab.example/a b"',
        '"https://papers.lab.example/\\u2028"',
    ],
)
def test_bad_public_url_names_line_and_field(tmp_path: Path, url: str) -> None:
    path = settings_file(tmp_path, f"web:\n  listen: 127.0.0.1:8080\n  public_url: {url}\n")
    with pytest.raises(ConfigErrors) as info:
        load_settings(path)
    [err] = info.value.errors
    assert (err.file, err.line, err.field) == (str(path), 5, "web.public_url")
    assert "http(s)" in str(err)
    assert "pw@" not in str(err)  # a password written in the URL is not echoed back


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = settings_file(tmp_path, "web:\n  listen: 127.0.0.1:8080\n  pasword_env: X\n")
    with pytest.raises(ConfigErrors) as info:
        load_settings(path)
    [err] = info.value.errors
    assert (err.line, err.field) == (5, "web.pasword_env")
    assert "unknown key" in str(err)


@pytest.mark.parametrize("key", ["password_env", "secret_env"])
@pytest.mark.parametrize("name", ['"MY VAR"', '"1ST"', '""', '"$X"'])
def test_env_keys_must_be_variable_names(tmp_path: Path, key: str, name: str) -> None:
    path = settings_file(tmp_path, f"web:\n  {key}: {name}\n")
    with pytest.raises(ConfigErrors) as info:
        load_settings(path)
    [err] = info.value.errors
    assert (err.line, err.field) == (4, f"web.{key}")


def test_secrets_are_read_from_the_named_variables() -> None:
    web = WebSettings(password_env="DIGESTBOT_WEB_PASSWORD", secret_env="DIGESTBOT_WEB_SECRET")
    env = {"DIGESTBOT_WEB_PASSWORD": PASSWORD, "DIGESTBOT_WEB_SECRET": f"  {SECRET}\n"}
    assert web.password(env) == PASSWORD
    assert web.secret(env) == SECRET.encode()
    assert web.password({}) is None and web.secret({}) is None
    assert WebSettings().password(env) is None and WebSettings().secret(env) is None


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("secret_env", "short", "at least 32"),
        ("secret_env", SECRET + "\u00e9", "outside ASCII"),
        ("secret_env", SECRET[:16] + " " + SECRET[16:], "space"),
        ("password_env", PASSWORD + "\n" + "x", "line break"),
        ("password_env", "\u00fcber-geheim-passwort", "outside ASCII"),
    ],
)
def test_malformed_secret_names_the_variable_not_the_value(
    key: str, value: str, words: str
) -> None:
    web = WebSettings.model_validate({key: "THE_VAR"})
    read = web.password if key == "password_env" else web.secret
    with pytest.raises(SecretError) as info:
        read({"THE_VAR": value})
    assert "$THE_VAR" in str(info.value) and words in str(info.value)
    assert value.strip() not in str(info.value) and value.strip() not in (info.value.hint or "")


def run_check(path: Path, env: dict[str, str | None]) -> tuple[int, str, str]:
    (path.parent / "profiles" / "p.yaml").write_text(
        "name: P\ndescription: attention\n", encoding="utf-8"
    )
    clean = {"DIGESTBOT_WEB_PASSWORD": None, "DIGESTBOT_WEB_SECRET": None, **env}
    # In process (the real command; its return value is the exit code, bot/cli/__init__.py).
    result = CliRunner().invoke(
        cli, ["check", "--config", str(path)], env=clean, standalone_mode=False
    )
    assert result.exception is None, result.exception
    return result.return_value, result.stdout, result.stderr


FULL_WEB = """\
web:
  listen: 0.0.0.0:8080
  public_url: https://papers.lab.example
  password_env: DIGESTBOT_WEB_PASSWORD
  secret_env: DIGESTBOT_WEB_SECRET
"""


def test_check_reports_missing_variables(tmp_path: Path) -> None:
    code, out, err = run_check(settings_file(tmp_path, FULL_WEB), {})
    assert code == 0, err
    [line] = [ln for ln in out.splitlines() if ln.startswith("web:")]
    assert "DIGESTBOT_WEB_PASSWORD is not set" in line
    # What `run` and `web` then do (tests/test_web.py: they refuse to start), said the same way.
    assert "`digestbot run` and `digestbot web` refuse to start without it" in line
    assert "DIGESTBOT_WEB_SECRET is not set" in line
    assert "no vote links in emails" in line


def test_check_reports_a_complete_web_section(tmp_path: Path) -> None:
    env = {"DIGESTBOT_WEB_PASSWORD": PASSWORD, "DIGESTBOT_WEB_SECRET": SECRET}
    code, out, err = run_check(settings_file(tmp_path, FULL_WEB), env)
    assert code == 0, err
    [line] = [ln for ln in out.splitlines() if ln.startswith("web:")]
    assert line == (
        "web: configured (listens on 0.0.0.0:8080; password from $DIGESTBOT_WEB_PASSWORD; "
        "vote links in emails to https://papers.lab.example, signed with $DIGESTBOT_WEB_SECRET)"
    )
    assert PASSWORD not in out + err and SECRET not in out + err


def test_check_says_how_to_get_vote_links(tmp_path: Path) -> None:
    code, out, err = run_check(settings_file(tmp_path, "web: {}\n"), {})
    assert code == 0, err
    [line] = [ln for ln in out.splitlines() if ln.startswith("web:")]
    assert line == (
        "web: configured (listens on 127.0.0.1:8080; no password; no vote links in emails: "
        "to get them, set web.public_url and web.secret_env)"
    )


def test_check_fails_on_a_malformed_secret(tmp_path: Path) -> None:
    code, out, err = run_check(
        settings_file(tmp_path, FULL_WEB),
        {"DIGESTBOT_WEB_PASSWORD": PASSWORD, "DIGESTBOT_WEB_SECRET": "tooshort"},
    )
    assert code == 2
    assert "$DIGESTBOT_WEB_SECRET is malformed" in err and "tooshort" not in out + err


def test_the_shipped_web_block_uncommented_is_valid(tmp_path: Path) -> None:
    """config/bot.yaml's commented `web:` example, uncommented, loads as documented."""
    shipped = (Path(__file__).resolve().parents[1] / "config" / "bot.yaml").read_text("utf-8")
    lines = shipped.splitlines()
    start = lines.index("# web:")
    block = ["web:"]
    for line in lines[start + 1 :]:
        if not line.startswith("#   "):
            break
        block.append(line[1:])  # "#   listen: ..." -> "  listen: ..."; comment lines stay
    web = web_of(tmp_path, "\n".join(block) + "\n")
    assert web == WebSettings(
        listen="127.0.0.1:8080",
        public_url="https://papers.lab.example",
        password_env="DIGESTBOT_WEB_PASSWORD",
        secret_env="DIGESTBOT_WEB_SECRET",
    )
