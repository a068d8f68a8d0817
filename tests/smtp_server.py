"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records messages and can be scripted.

`SmtpServer(tls=..., users=...)` is a context manager. `answer_rcpt` / `answer_data` queue
replies (e.g. "451 4.3.0 try later") used before the normal "250 OK"; `hold_after_accept`
records the next message but holds its "250 OK" back (the window a crash test kills the
sender in); `messages` are the
received messages parsed back with `email`. With `tls` (a cert/key pair) it offers STARTTLS;
with `users`, AUTH (LOGIN/PLAIN, less the mechanisms in `auth_exclude`) checks those passwords,
over TLS only; without TLS it offers no AUTH. SMTPUTF8 is offered only with `smtputf8=True`.
"""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with openssl (valid one day)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, srv: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.server.lock:
            reply = self.server.rcpt_replies.popleft() if self.server.rcpt_replies else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
        with self.server.lock:
            reply = self.server.data_replies.popleft() if self.server.data_replies else None
            if reply:
                return reply
            self.server.raw.append(envelope.content)
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            hold = self.server.holds.popleft() if self.server.holds else None
        with self.server.changed:
            self.server.changed.notify_all()
        if hold:
            await asyncio.sleep(hold)
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a free loopback port, in its own thread."""

    def __init__(
        self,
        *,
        tls: tuple[Path, Path] | None = None,
        users: dict[str, str] | None = None,
        auth_exclude: tuple[str, ...] = (),
        smtputf8: bool = False,
    ) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.changed = threading.Condition()  # notified when a message is recorded
        self.rcpt_replies: deque[str] = deque()
        self.data_replies: deque[str] = deque()
        self.holds: deque[float] = deque()
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
        if auth_exclude:
            kwargs["auth_exclude_mechanism"] = list(auth_exclude)
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            kwargs["tls_context"] = context
        if users is not None:

            def check(
                _server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and users.get(data.login.decode()) == data.password.decode()
                )
                return AuthResult(success=ok, handled=False)

            kwargs["authenticator"] = check
            kwargs["auth_required"] = True
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **kwargs
        )

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()

    def answer_rcpt(self, *replies: str) -> None:
        with self.lock:
            self.rcpt_replies.extend(replies)

    def answer_data(self, *replies: str) -> None:
        with self.lock:
            self.data_replies.extend(replies)

    def hold_after_accept(self, seconds: float) -> None:
        """Record the next message, then wait `seconds` before answering "250 OK"."""
        with self.lock:
            self.holds.append(seconds)

    def wait_until(self, predicate: Callable[[SmtpServer], bool], timeout: float) -> bool:
        """Block until `predicate(self)` holds, re-checked whenever a message is recorded;
        False after `timeout`."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout)

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = list(self.raw)
        return [email.message_from_bytes(r, policy=default) for r in raw]  # type: ignore[misc]
