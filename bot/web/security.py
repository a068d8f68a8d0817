"""The web page's defences, in one ASGI middleware and a few checks the pages call.

    every response   security headers: a CSP without inline script or style, X-Frame-Options
                     DENY, nosniff, Referrer-Policy no-referrer, no caching of pages
    every request    HTTP Basic when a password is set (compared in constant time), except
                     the static files and the email vote links (`/v/<token>`: the signed token
                     is the permission, and a reader of a digest need not know the password)
    every POST       a CSRF token (`check_csrf`): a signed double-submit cookie. The cookie
                     holds `nonce.hmac(secret, nonce)`; each form carries the same value; a POST
                     is accepted only when the form's value equals the cookie's and is signed
                     by this process's secret. A page of another site can neither read the
                     cookie nor make a value this secret signs.

What is written: profile files only, chosen among `*.yaml` files of the profiles folder by name
(`profile_file`), never from a path the client sends; links are rendered only when http(s)
(`safe_url`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

CSRF_COOKIE = "digestbot_csrf"
CSRF_FIELD = "csrf"
# A profile id as the editor accepts it: what `profile new` names files (onboarding.slugify),
# plus underscores; no dot, no slash, so no path can be spelled with it.
PROFILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
VOTER = re.compile(r"[^A-Za-z0-9._@+-]")  # what a Basic user name keeps in a voter id
OPEN_PATHS = ("/static/", "/v/")  # no password: files anyone may see, and signed vote links

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # a vote link's token never leaves in a Referer
    (b"cache-control", b"no-store"),
)


SERVER_ERROR = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error</title>'
    b'<link rel="stylesheet" href="/static/style.css"></head><body><main>'
    b"<h1>Something went wrong</h1><p>The page could not be made; the log says why.</p>"
    b'<p><a href="/digests">Back to the digests</a></p></main></body></html>\n'
)


class Signer:
    """HMAC-SHA256 signatures with one secret (this process's, or `secret_env`'s)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def token(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._mac(nonce)}"

    def valid(self, token: str) -> bool:
        nonce, _, mac = token.partition(".")
        return bool(nonce) and hmac.compare_digest(mac, self._mac(nonce))

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()


class SecurityMiddleware:
    """Headers on every response, the password on every request but the open paths, and a
    CSRF cookie on every answer to a browser that lacks a valid one. The user name (Basic) or
    "local" is left in `scope["state"]["user"]`, the CSRF token in `scope["state"]["csrf"]`."""

    def __init__(self, app: ASGIApp, *, signer: Signer, password: str | None) -> None:
        self.app = app
        self.signer = signer
        self.password = password

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        state = scope.setdefault("state", {})
        path: str = scope["path"]
        user = "local"
        if self.password is not None and not path.startswith(OPEN_PATHS):
            found = _basic_user(headers.get("authorization", ""), self.password)
            if found is None:
                await _unauthorized(send)
                return
            user = found
        state["user"] = user
        token = _cookie(headers.get("cookie", ""), CSRF_COOKIE)
        fresh = token is None or not self.signer.valid(token)
        if fresh:
            token = self.signer.token()
        state["csrf"] = token

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                out.extend(HEADERS)
                if fresh:
                    out.append(
                        (
                            b"set-cookie",
                            f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict".encode(),
                        )
                    )
                message = {**message, "headers": out}
            await send(message)

        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            # Logged through the redacting handler; the page names no exception and no value.
            log.exception("the web page failed on %s %s", scope.get("method"), path)
            if started:
                raise
            await _send_page(send_with_headers, 500, SERVER_ERROR)


def check_csrf(request: Request, form: Mapping[str, Any]) -> None:
    """Raise HTTPException 403 unless the form's CSRF token equals the cookie's and this
    process's signer made it (`request.app.state.signer`, the middleware's)."""
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    signer: Signer = request.app.state.signer
    if (
        not isinstance(sent, str)
        or not cookie
        or not hmac.compare_digest(sent.encode(), cookie.encode())
        or not signer.valid(sent)
    ):
        raise HTTPException(
            403, "This form has expired or did not come from this page: reload it and try again."
        )


def safe_url(url: object) -> str | None:
    """`url` when it is an absolute http(s) link, else None (a `javascript:` or `data:` link
    in a paper's metadata is not rendered as a link)."""
    if not isinstance(url, str):
        return None
    text = url.strip()
    if re.match(r"https?://[^\s/]", text, re.IGNORECASE) and not re.search(r"[\s<>\"']", text):
        return text
    return None


def local_path(target: object, default: str = "/") -> str:
    """A redirect target from a form: only a path of this site ("/...", never "//host")."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def profile_file(folder: Path, profile_id: str) -> Path | None:
    """The `*.yaml` file of `folder` named `profile_id`, found by listing the folder (the id
    from the client is only compared, never joined into a path); None when there is none."""
    if not PROFILE_ID.fullmatch(profile_id):
        return None
    for path in folder.glob("*.yaml"):
        if path.stem == profile_id and path.is_file():
            return path
    return None


def voter_name(user: str) -> str:
    """`web:<user>`, the user name as the voter id keeps it (a short, plain word)."""
    return "web:" + (VOTER.sub("", user)[:64] or "local")


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _cookie(header: str, name: str) -> str | None:
    try:
        jar = SimpleCookie(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def _basic_user(header: str, password: str) -> str | None:
    """The user name when `header` carries HTTP Basic credentials with `password` (any user
    name: the name only says who voted), else None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, given = decoded.partition(":")
    if not sep:
        return None
    # Both sides as bytes: compare_digest refuses non-ASCII str.
    if not hmac.compare_digest(given.encode(), password.encode()):
        return None
    return user or "local"


async def _unauthorized(send: Send) -> None:
    await _send_page(
        send,
        401,
        b"Password required.\n",
        [(b"www-authenticate", b'Basic realm="digestbot", charset="UTF-8"'), *HEADERS],
        b"text/plain; charset=utf-8",
    )


async def _send_page(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    kind: bytes = b"text/html; charset=utf-8",
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *(headers or []),
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
