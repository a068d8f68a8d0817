"""Secrets: read from the environment in one place, checked for shape, and cut out of any text
the bot prints, logs or stores.

    read_secret(env, variable, check)   the value (surrounding blanks kept or stripped as the
                                        check says), None when unset or blank; a malformed one
                                        raises SecretError naming the VARIABLE, never the value
    slack_token, slack_app_token,       the checks: what each protocol can carry (an HTTP header
    smtp_password, webhook_url(base)    takes printable ASCII, smtplib's AUTH encodes ASCII) and
    web_password, web_secret            the shape the issuer gives it
    redact(text)                        every secret read so far (also malformed ones, which are
                                        the likeliest to leak), and anything shaped like a token
                                        or an Authorization header, replaced by [redacted]
    RedactingFilter                     the same for every log record (the CLI installs it)

Why a shape check: a value that cannot be an HTTP header would only fail deep in a library,
whose exception quotes it whole (`Invalid header value b'Bearer xoxb-...\\n'`), and a URL that is
not a webhook would be mistaken for "no webhook". A malformed secret makes its notifier
unusable: `check` exits 2, and its deliveries fail for good (dead) until it is fixed.

Why patterns as well as values: an exception can carry a secret this process never read (a
library's own, a reply quoting one). The patterns are deliberately broad; a false positive
costs a few characters of an error message.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from urllib.parse import SplitResult, urlsplit

from bot.errors import SecretError

REDACTED = "[redacted]"

Shape = Callable[[str], str]  # value -> the value to use; raises ValueError("it contains ...")


# --------------------------------------------------------------------------- reading


def read_secret(env: Mapping[str, str], variable: str, check: Shape) -> str | None:
    """`env[variable]` passed through `check`; None when unset or blank. Registered for
    `redact` before it is checked. Raises SecretError."""
    raw = env.get(variable)
    if raw is None or not raw.strip():
        return None
    _remember(raw)
    try:
        return check(raw)
    except ValueError as exc:
        raise SecretError(
            variable,
            str(exc),
            f"set ${variable} to the value exactly as it was issued (no quotes, no line breaks),"
            " restart the bot, then `digestbot retry` sends what failed meanwhile",
        ) from None  # the ValueError says nothing more, and must not chain a value


def _characters(value: str, *, space: bool) -> None:
    """Raise ValueError naming the first character an HTTP header (or SMTP AUTH) cannot take:
    a line break, another control character, a space (unless `space`), a non-ASCII one."""
    for ch in value:
        if ch in "\r\n\u2028\u2029\x85":
            raise ValueError("it contains a line break")
        if unicodedata.category(ch) == "Cc":
            raise ValueError(f"it contains the control character U+{ord(ch):04X}")
        if ch.isspace() and not (space and ch == " "):
            raise ValueError("it contains a space")
        if not ch.isascii():
            raise ValueError("it contains a character outside ASCII")


# Slack's documented prefixes: xoxb- (bot), xoxp- (user), xoxe.xoxb- (rotating); the rest of a
# token is letters, digits and hyphens.
_SLACK_TOKEN = re.compile(r"(?:xoxe\.)?xox[a-z]-[A-Za-z0-9-]+")


def slack_token(value: str) -> str:
    """A Slack bot token: surrounding blanks dropped, then `xoxb-` and header-safe characters."""
    value = value.strip()
    _characters(value, space=False)
    if not _SLACK_TOKEN.fullmatch(value):
        raise ValueError("it does not look like a Slack token (xoxb-...)")
    return value


# An app-level token (Socket Mode): `xapp-` then letters, digits and hyphens.
_SLACK_APP_TOKEN = re.compile(r"xapp-[A-Za-z0-9-]+")


def slack_app_token(value: str) -> str:
    """A Slack app-level token: surrounding blanks dropped, then `xapp-` and header-safe
    characters (a bot token here is the likeliest mistake: it cannot open Socket Mode)."""
    value = value.strip()
    _characters(value, space=False)
    if not _SLACK_APP_TOKEN.fullmatch(value):
        raise ValueError("it does not look like a Slack app-level token (xapp-...)")
    return value


def smtp_password(value: str) -> str:
    """An SMTP password, taken as it is (blanks may belong to it): printable ASCII, which is
    what smtplib's AUTH can send (it encodes the password as ASCII)."""
    _characters(value, space=True)
    return value


def web_password(value: str) -> str:
    """The web page's HTTP Basic password, taken as it is (blanks may belong to it): printable
    ASCII, which every browser sends the same way (outside ASCII they disagree on the encoding)."""
    _characters(value, space=True)
    return value


WEB_SECRET_MIN = 32  # characters: a key for HMAC-SHA256 should not be guessable


def web_secret(value: str) -> str:
    """The key signing the vote links in emails: surrounding blanks dropped, then at least
    WEB_SECRET_MIN printable ASCII characters without spaces (what `token_urlsafe` makes)."""
    value = value.strip()
    _characters(value, space=False)
    if len(value) < WEB_SECRET_MIN:
        raise ValueError(
            f"it has fewer than {WEB_SECRET_MIN} characters: use at least {WEB_SECRET_MIN}, e.g. "
            "the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return value


def webhook_url(base: str) -> Shape:
    """A Slack incoming webhook URL: under `base` (scheme, host and port the same, its path
    continuing `base`'s), with a path of its own, in header-safe characters."""
    expected = urlsplit(base)

    def check(value: str) -> str:
        value = value.strip()
        _characters(value, space=False)
        parts = urlsplit(value)
        if (
            _origin(parts) is None
            or _origin(parts) != _origin(expected)
            or not parts.path.startswith(expected.path)
            or not parts.path[len(expected.path) :].strip("/")
        ):
            raise ValueError(f"it is not a webhook URL under {base} (slack.webhook_base_url)")
        return value

    return check


def _origin(parts: SplitResult) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, the port filled in; None if it has none."""
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:  # a port that is not a number
        return None
    if port is None or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port


# --------------------------------------------------------------------------- redacting

_known: set[str] = set()
_known_lock = threading.Lock()
_ordered: tuple[str, ...] = ()

# Shapes of secrets, whoever's: an Authorization header's credentials, Slack tokens (bot, user,
# app-level, rotating), the secret path of a Slack hook. Each keeps what names it.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(Bearer\s+)[^\s'\"<>,;]+"), rf"\1{REDACTED}"),
    (re.compile(r"\b(Basic\s+)[A-Za-z0-9+/=]{8,}"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b((?:access_)?token|password|secret)=[^&\s'\"<>]+"), rf"\1={REDACTED}"),
    (re.compile(r"\b(?:xoxe\.)?xox[a-z]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"/(services|triggers|workflows)/[^\s'\"<>]+"), rf"/\1/{REDACTED}"),
)
_MIN_PIECE = 8  # pieces of a secret shorter than this are not cut on their own


def _remember(value: str) -> None:
    """Add `value` to what `redact` cuts: whole, as Python's repr escapes it (exception texts
    quote bytes and strings that way), and each piece between the characters a repr escapes
    (a line break, a control character, a non-ASCII one), where a quoted secret is split."""
    forms = {value, value.strip(), repr(value)[1:-1], repr(value.encode("utf-8", "replace"))[2:-1]}
    forms.update(re.split(r"[^\x20-\x7e]+", value))
    global _ordered
    with _known_lock:
        _known.update(f for f in forms if len(f) >= _MIN_PIECE)
        _ordered = tuple(sorted(_known, key=len, reverse=True))  # the longest first


def redact(text: str) -> str:
    """`text` without anything shaped like a secret nor any secret read so far. The shapes
    first: a known value cut out first could take the prefix a shape is recognised by (the
    `https://hooks.slack.com/` before `/services/...`) and leave the rest."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Redacts a record's message and its traceback before any formatter sees them. Installed
    on the CLI's handler, so it covers every logger, the libraries' included."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
