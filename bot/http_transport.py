"""The httpx transport under bot.http: the address gate at connection time, deadlines on the
socket.

httpx hands connections to httpcore, and httpcore opens them through a "network backend" (one
method, `connect_tcp(host, port, ...)`). Ours resolves the host through the `AddressGate`
(bot/netgate.py), which refuses private, metadata and other addresses, and connects to the
vetted address itself, so the name is never resolved a second time. Every stream it returns
caps each connect, read and write with what the current deadline (bot/deadline.py) leaves, so
an answer dripped a byte at a time, headers included, stops at the deadline.

httpx takes no backend argument: `gated_transport` builds the same connection pool httpx's own
HTTPTransport would (default limits, verified TLS), with our backend. Environment proxies
(HTTP_PROXY...) are not used: the gate must see the address the socket goes to.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from bot import deadline
from bot.netgate import AddressGate

_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class DeadlineStream(httpcore.NetworkStream):
    """A connected stream whose every operation is bounded by the current deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        limit = _capped(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, limit))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GatedBackend(httpcore.SyncBackend):
    """Connects only to addresses the gate allows, by address, within the deadline."""

    def __init__(self, gate: AddressGate) -> None:
        self._gate = gate

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._gate.addresses(host, port)  # FetchError if refused
        except OSError as exc:  # the name does not resolve
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: Exception | None = None
        for address in addresses:  # like socket.create_connection, one address after another
            limit = _capped(timeout, httpcore.ConnectTimeout)
            try:
                stream = super().connect_tcp(address, port, limit, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return DeadlineStream(stream)
        assert failure is not None  # addresses() never returns an empty list
        raise failure


def _capped(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    try:
        return deadline.capped(timeout)
    except TimeoutError as exc:
        raise timeout_error(str(exc)) from exc


class _GatedTransport(httpx.HTTPTransport):
    def __init__(self, gate: AddressGate) -> None:
        tls = httpx.create_ssl_context()  # verified, honouring SSL_CERT_FILE like httpx does
        super().__init__(verify=tls, limits=_LIMITS)
        # The pool httpx built, again, with the gated backend (httpx has no argument for it).
        self._pool = httpcore.ConnectionPool(
            ssl_context=tls,
            max_connections=_LIMITS.max_connections,
            max_keepalive_connections=_LIMITS.max_keepalive_connections,
            keepalive_expiry=_LIMITS.keepalive_expiry,
            network_backend=GatedBackend(gate),
        )


def gated_transport(gate: AddressGate) -> httpx.BaseTransport:
    """An httpx transport that connects only where `gate` allows, within the deadlines."""
    return _GatedTransport(gate)
