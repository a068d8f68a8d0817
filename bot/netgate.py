"""Which addresses the bot may fetch: the one gate every outgoing fetch goes through.

Sources, example-paper lookups and any later fetcher of user-supplied URLs (a `feed` source,
a library import from a Zotero or BibTeX URL) fetch through `bot.http.Http`, which asks this
gate three times:

- `check_url(url)` before anything: only http(s) URLs with a host; a literal address in the
  URL is judged at once, so `http://169.254.169.254/` never opens a socket;
- `addresses(host, port)` when the connection is made (bot.http's network backend): the name
  is resolved ONCE, every address it resolves to is judged, and the socket is opened to one
  of those very addresses, never to the name, so a second lookup (DNS rebinding: public at
  check time, private at connect time) cannot happen;
- `redirect_refusal(origin, target)` for every redirect, which Http follows itself, hop by
  hop: a redirect may change the scheme up (http -> https, like arXiv's) and the port, never
  the host, and its target goes through `check_url` and the connection check again.

The address policy (`AddressGate.refusal`) uses the `ipaddress` module's registry flags, no
hand-written ranges except the cloud metadata addresses. Always refused: metadata addresses,
link-local, multicast, unspecified and reserved addresses. Refused unless `allow_private`
(`http.allow_private: true`, for a mirror on your own network, and the test suite's loopback
servers): every other address that is not globally reachable (loopback, RFC 1918, carrier-grade
NAT 100.64/10, IPv6 ULA, ...). An IPv6 address that carries an IPv4 one (v4-mapped, NAT64,
6to4, Teredo) is judged as that IPv4 address.

A refusal is a `FetchError` that is not retried, with a hint.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from bot.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]  # (host, port) -> addresses, as text

# Instance metadata services hand out cloud credentials: never fetched, whatever is allowed.
# (AWS, GCP, Azure and most others: 169.254.169.254; AWS IPv6 and ECS task roles; Alibaba;
# Oracle's legacy address.) 169.254/16 is link-local and refused anyway; listed for the message.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address

PRIVATE_HINT = "set `http.allow_private: true` in bot.yaml for a mirror on your own network"
NEVER_HINT = "the bot never fetches such an address: check the source's base_url in bot.yaml"
URL_HINT = "check the source's base_url in bot.yaml"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver), in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it carries one."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    return None


class AddressGate:
    """The address policy, and the checks Http makes with it. `resolve` is the one seam
    (the system resolver unless given)."""

    def __init__(self, allow_private: bool = False, resolve: Resolver = system_resolver) -> None:
        self.allow_private = allow_private
        self._resolve = resolve

    def refusal(self, ip: IPAddress) -> str | None:
        """Why `ip` may not be fetched ("a loopback address"), or None if it may."""
        ip = embedded_ipv4(ip) or ip
        if ip in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if ip.is_link_local:
            return "a link-local address"
        if ip.is_loopback:  # before is_reserved: ::1 is in a reserved block
            return None if self.allow_private else "a loopback address"
        if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            return "not a host address"
        if ip.is_global or self.allow_private:
            return None
        return "a private address"

    def check_url(self, url: str) -> None:
        """Refuse a URL that is not http(s), has no host, or names a refused address. A name
        is judged later, by what it resolves to when the connection is made."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as exc:  # a malformed [IPv6] netloc
            raise FetchError(f"bad URL ({exc})", url=url, retryable=False, hint=URL_HINT) from exc
        if parts.scheme not in ("http", "https"):
            raise FetchError(
                f"refused: only http and https URLs are fetched, not {parts.scheme}:",
                url=url,
                retryable=False,
                hint=URL_HINT,
            )
        if not host:
            raise FetchError(
                "refused: the URL has no host", url=url, retryable=False, hint=URL_HINT
            )
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return  # a name
        why = self.refusal(ip)
        if why is not None:
            raise self._refused(f"{host} is {why}", why, url)

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`: resolved once, every one judged. Raises
        FetchError if any is refused (a name that also points inward is not trusted),
        socket.gaierror (an OSError) if the name does not resolve."""
        found = self._resolve(host, port)
        for text in found:
            ip = ipaddress.ip_address(text)
            why = self.refusal(ip)
            if why is not None:
                where = f"{host} is {why}" if text == host else f"{host} resolves to {text}, {why}"
                raise self._refused(where, why, None)
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} resolves to no address")
        return found

    @staticmethod
    def _refused(what: str, why: str, url: str | None) -> FetchError:
        private = why in ("a loopback address", "a private address")
        return FetchError(
            f"refused: {what}",
            url=url,
            retryable=False,
            hint=PRIVATE_HINT if private else NEVER_HINT,
        )


def redirect_refusal(origin: str, target: str) -> str | None:
    """Why a redirect from `origin` (the URL first asked for) to `target` is not followed, or
    None: only to the same host, by http(s), never from https down to http."""
    was, to = urlsplit(origin), urlsplit(target)
    if to.scheme not in ("http", "https"):
        return f"a redirect to a {to.scheme}: URL is refused"
    if (to.hostname or "") != (was.hostname or ""):
        return f"a redirect to another host ({to.hostname}) is refused"
    if was.scheme == "https" and to.scheme == "http":
        return "a redirect from https to http is refused"
    return None
