"""`web:` in bot.yaml: where the web page listens, the address email vote links point to, and the
environment variables holding its password and the key that signs those links.

    web:
      listen: 127.0.0.1:8080                    # host:port; "[::1]:8080" for IPv6 (quoted)
      public_url: https://papers.lab.example    # optional: where links in emails point
      password_env: DIGESTBOT_WEB_PASSWORD      # HTTP Basic password; required off loopback
      secret_env: DIGESTBOT_WEB_SECRET          # signs the vote links in emails

Why a password is required off loopback: the page records votes and writes profile files, and
anyone who can reach a non-loopback address could. On loopback the machine's users are trusted,
as they are with the state file. A host name other than `localhost` counts as non-loopback
whatever it resolves to today.

The secrets are read with bot/secrets.py (`password(env)`, `secret(env)`): None when the variable
is unset or blank, SecretError naming the variable (never the value) when it is malformed. A
variable named but unset is not a config error (the file is fine; the environment is not yet):
`digestbot check` says so in its `web:` line (`describe`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from bot.schema import Strict
from bot.secrets import read_secret, web_password, web_secret
from bot.web.tokens import VoteLinks

DEFAULT_LISTEN = "127.0.0.1:8080"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # as every other *_env key (profiles' api_key_env)
# A DNS name: dot-separated labels of letters, digits and inner hyphens (RFC 1123).
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")
_SHAPE = "expected host:port, like 127.0.0.1:8080 or [::1]:8080"


def split_listen(value: str) -> tuple[str, int]:
    """`host:port` (`[v6]:port` for IPv6) as (host, port), the host without brackets. Raises
    ValueError saying what is wrong."""
    host, colon, port_text = value.rpartition(":")
    if not colon:
        raise ValueError(f"{_SHAPE}, got {value!r}")
    if not host:
        raise ValueError(f"{_SHAPE}: the host is missing in {value!r}")
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"{_SHAPE}: the port in {value!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"{_SHAPE}: the port must be between 1 and 65535, got {port}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{_SHAPE}: {host!r} in brackets is not an IPv6 address") from None
        return host, port
    if ":" in host:
        raise ValueError(f"{_SHAPE}: write an IPv6 address in brackets, like [::1]:8080")
    if not _HOSTNAME.fullmatch(host):
        raise ValueError(f"{_SHAPE}: {host!r} is not a host name or an IP address")
    return host, port


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost` (RFC 6761 keeps that name on the machine)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # another host name: whatever it resolves to today, not trusted
        return False


def _public_url(value: str) -> str:
    """An http(s) URL with a host (and maybe a path), no credentials, query or fragment, no
    blank or control character; kept without its trailing slash."""
    shape = "expected the http(s) address the page is reached at, like https://papers.lab.example"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(f"{shape}: it contains a blank or a control character")
    try:
        parts = urlsplit(value)
        hostname, _ = parts.hostname, parts.port  # a port that is not a number raises
    except ValueError:
        raise ValueError(f"{shape}: it cannot be parsed as a URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ValueError(f"{shape}, got {value!r}")
    if parts.username is not None or parts.password is not None:
        # Not echoed: the part before @ may be a password.
        raise ValueError(f"{shape}: without a user name or password in it")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError(f"{shape}: without a query (?) or fragment (#), got {value!r}")
    return value.rstrip("/")


class WebSettings(Strict):
    """`web:` in bot.yaml."""

    # Declared before `listen`, whose validator reads it (pydantic validates in this order).
    password_env: str | None = Field(None, pattern=_ENV_NAME)
    listen: str = DEFAULT_LISTEN
    public_url: str | None = None
    secret_env: str | None = Field(None, pattern=_ENV_NAME)

    @field_validator("listen", mode="before")
    @classmethod
    def _not_a_list(cls, value: object) -> object:
        if isinstance(value, list):  # `listen: [::1]` unquoted is a YAML list
            raise ValueError(
                "YAML reads an unquoted [...] as a list: quote an IPv6 address, "
                'listen: "[::1]:8080"'
            )
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str, info: ValidationInfo) -> str:
        host, _ = split_listen(value)
        if not is_loopback(host) and not info.data.get("password_env"):
            raise ValueError(
                f"{host} is not a loopback address: anyone who reaches it could vote and edit "
                "profiles, so set `password_env` to the variable holding the page's password "
                "(or listen on 127.0.0.1 behind a reverse proxy)"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _public_url(value)

    @property
    def host(self) -> str:
        """The address to bind, without the brackets of an IPv6 one ("::1")."""
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]

    @property
    def loopback(self) -> bool:
        """Whether `listen` is a loopback address (no password needed)."""
        return is_loopback(self.host)

    def password(self, env: Mapping[str, str] | None = None) -> str | None:
        """The HTTP Basic password from `password_env` (in `env`, default the process's
        environment); None when no variable is named or it is unset or blank. Raises
        SecretError (naming the variable) when it is malformed."""
        if self.password_env is None:
            return None
        return read_secret(os.environ if env is None else env, self.password_env, web_password)

    def secret(self, env: Mapping[str, str] | None = None) -> bytes | None:
        """The key signing vote links, from `secret_env`, as UTF-8 bytes; None when no variable
        is named or it is unset or blank. Raises SecretError when it is malformed (too short
        to be a key, or not printable ASCII)."""
        if self.secret_env is None:
            return None
        value = read_secret(os.environ if env is None else env, self.secret_env, web_secret)
        return None if value is None else value.encode("ascii")

    def vote_links(self, env: Mapping[str, str] | None = None) -> tuple[str, bytes] | None:
        """(public_url, secret) when email digests carry vote links, else None. Raises
        SecretError when the secret is malformed."""
        secret = self.secret(env)
        if self.public_url is None or secret is None:
            return None
        return self.public_url, secret

    def email_links(self, env: Mapping[str, str] | None = None) -> tuple[VoteLinks | None, str]:
        """(links, "") when email digests carry vote links, else (None, why not: what to set).
        Raises SecretError when the key is set but malformed."""
        secret = self.secret(env)
        if self.public_url is not None and secret is not None:
            return VoteLinks(self.public_url, secret), ""
        missing = [f"web.{k}" for k in ("public_url", "secret_env") if getattr(self, k) is None]
        if missing:
            return None, "to get them, set " + " and ".join(missing)
        return None, f"${self.secret_env} is not set"

    def describe(self, env: Mapping[str, str] | None = None) -> str:
        """The `web:` line of `digestbot check`: where it listens, which variables hold the
        password and the signing key (never their values), what is missing. Raises
        SecretError when a variable is set but malformed."""
        parts = [f"listens on {self.listen}"]
        served = True
        if self.password_env is None:
            parts.append("no password")
        elif self.password(env) is None:
            served = False
            parts.append(
                f"${self.password_env} is not set: `digestbot run` and `digestbot web` refuse to"
                " start without it"
            )
        else:
            parts.append(f"password from ${self.password_env}")
        parts.append(self._links_line(env))
        return ("web: configured (" if served else "web: not served (") + "; ".join(parts) + ")"

    def _links_line(self, env: Mapping[str, str] | None) -> str:
        links, why_not = self.email_links(env)
        if links is None:
            return f"no vote links in emails: {why_not}"
        return f"vote links in emails to {links.public_url}, signed with ${self.secret_env}"


def email_vote_links(
    web: WebSettings | None, env: Mapping[str, str] | None = None
) -> tuple[VoteLinks | None, str]:
    """`web.email_links(env)`, also without a `web:` section. Raises SecretError."""
    if web is None:
        return None, "to get them, set web.public_url and web.secret_env"
    return web.email_links(env)
