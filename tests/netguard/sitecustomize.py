"""The test suite's network guard: no test may reach a non-loopback address, even by mistake.

`install()` wraps `socket.socket.connect`, `connect_ex` and `sendto`, and `socket.getaddrinfo`,
so that a connection to anything but a loopback address (127.0.0.0/8, ::1, ::ffff:127.x, a Unix
socket) or a name lookup of anything but `localhost` or an IP literal is refused before a packet
leaves: the call raises `OSError` and the address is appended to the file named by
`NETGUARD_LOG`. `tests/conftest.py` installs it in the pytest process and, through this file
(named `sitecustomize` and put first on `PYTHONPATH`), in every `python -m bot` subprocess a test
starts; after each test it fails the test if that file gained a line. Raising alone would not
be enough: the product translates connection errors into "source unreachable", and a test that
expects a failure would pass.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from typing import Any

LOG_ENV = "NETGUARD_LOG"
_process_log: str | None = None
_LOCAL_NAMES = frozenset({"localhost", "localhost.", "", None})


def _loopback_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in _LOCAL_NAMES:
        return True
    if not isinstance(host, str):
        return False
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_ip_literal(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


def _refuse(what: str) -> OSError:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"pid {os.getpid()}: {what}\n")
    return OSError(f"netguard: the test suite refused {what} (tests stay on loopback)")


def process_log() -> str:
    """This process' refusal log, a new temp file made on the first call. tests/conftest.py runs
    twice in a pytest process (pytest imports it as `conftest`, test modules as
    `tests.conftest`), and this module once: both runs get the same file."""
    global _process_log
    if _process_log is None:
        fd, _process_log = tempfile.mkstemp(prefix="netguard-", suffix=".log")
        os.close(fd)
    return _process_log


def install() -> None:
    """Wrap the socket functions (once per process)."""
    if getattr(socket, "_netguard_installed", False):
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def _check(sock: socket.socket, address: Any) -> None:
        if sock.family == getattr(socket, "AF_UNIX", object()):
            return
        host = address[0] if isinstance(address, tuple) else address
        if not _loopback_host(host):
            raise _refuse(f"a connection to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        _check(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(self, address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        _check(self, args[-1])
        return real_sendto(self, data, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not (host in _LOCAL_NAMES or _is_ip_literal(host)):
            raise _refuse(f"a DNS lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = getaddrinfo
    socket._netguard_installed = True  # type: ignore[attr-defined]


if os.environ.get(LOG_ENV):  # a subprocess of the test suite
    install()
