"""Email addresses as people write them: `alice@lab.example`, `Alice Liu <alice@lab.example>`,
`"Liu, Alice" <alice@lab.example>`. One parser for every address the config holds (`from`,
`reply_to`, each recipient of a profile or of `operator:`).

Parsed with the standard library's RFC 5322 parser (`email.headerregistry`, the one that builds
an EmailMessage's address headers), then held to stricter rules than a header is: exactly one
address (not a group, not a list: a comma in a name must be quoted), an @ followed by a domain
like example.org, no control character or line break (an address goes into headers). The
parser's own complaints (an unclosed `<`, trailing text) are defects it records rather than
raises: each one is an error here.

A checked address is kept in one canonical text, `Alice Liu <alice@lab.example>` or, without a
display name, the bare `alice@lab.example`: that text is what a profile's target holds, and
`parse()` reads it back. The outbox keys a recipient by the bare address only (`addr_spec`), so
adding or changing a display name never changes where a digest goes or what was sent.
"""

from __future__ import annotations

import functools
import unicodedata
from email import errors as email_errors
from email.headerregistry import Address
from email.policy import default

_LINE_BREAKS = "\r\n\u2028\u2029\x85"


def parse(value: str) -> tuple[str, str]:
    """`value` as (display name, bare address). Raises ValueError saying what is wrong, in
    words for the person who wrote it."""
    address = _address(value)
    return address.display_name, address.addr_spec


def canonical(value: str) -> str:
    """A checked address in its canonical text (raises ValueError, as `parse`)."""
    return str(_address(value))


@functools.lru_cache(maxsize=65536)  # the same sender, message after message
def formatted(name: str, addr: str) -> str:
    """`Name <addr>` (the name quoted when it needs it), or `addr` alone without a name."""
    address = _address(addr)
    return str(Address(display_name=name, username=address.username, domain=address.domain))


@functools.lru_cache(maxsize=65536)  # email's `place` and `key` of every queued row: thousands
def addr_spec(value: str) -> str:
    """The bare address of a checked address text."""
    return _address(value).addr_spec


# Every profile's recipients, and every message's sender and recipient: the same few thousand
# texts, each parsed by the standard library's header parser (a tenth of a profile's load).
# An Address is immutable; a text that raises is not kept.
@functools.lru_cache(maxsize=65536)
def _address(value: str) -> Address:
    text = value.strip()
    if not text:
        raise ValueError("the address is empty: write it like alice@example.org")
    for ch in text:
        if ch in _LINE_BREAKS:
            raise ValueError(
                f"{value!r} is not an email address: it contains a line break (write it on one "
                "line)"
            )
        if unicodedata.category(ch) == "Cc":
            raise ValueError(
                f"{value!r} is not an email address: it contains the control character "
                f"U+{ord(ch):04X}"
            )
    try:
        header = default.header_factory("to", text)
    except (ValueError, IndexError) as exc:  # the parser's own failures on malformed text
        raise ValueError(f"{value!r} is not an email address like alice@example.org") from exc
    if any(group.display_name is not None for group in header.groups):
        raise ValueError(
            f"{value!r} is a group (`name: address;`): write one address per list item"
        )
    addresses = header.addresses
    if len(addresses) > 1:
        hint = ""
        if "," in text and '"' not in text:
            name = text.split("<", 1)[0].strip()
            hint = f'; if the comma is part of a name, quote the name: "{name}" <...>'
        raise ValueError(
            f"{value!r} holds {len(addresses)} addresses: write one per list item{hint}"
        )
    if not addresses or not addresses[0].username:
        raise ValueError(f"{value!r} is not an email address like alice@example.org")
    address: Address = addresses[0]
    if "@" not in text:
        raise ValueError(
            f"{value!r} has no @ and no domain: write the address like alice@example.org"
        )
    if not address.domain:
        raise ValueError(f"{value!r} has no domain after the @ (like alice@example.org)")
    if "." not in address.domain.strip("[]"):
        raise ValueError(
            f"{value!r} needs a domain like example.org after the @, not {address.domain!r}"
        )
    for defect in header.defects:
        # A non-ASCII local part is valid (RFC 6531): sending to it needs a server offering
        # SMTPUTF8, which the send checks. Obsolete syntax (`Dr. A. Liu <...>`, a period in
        # an unquoted name) is valid too and written back quoted. Any other defect is text the
        # parser skipped.
        if isinstance(
            defect, (email_errors.NonASCIILocalPartDefect, email_errors.ObsoleteHeaderDefect)
        ):
            continue
        raise ValueError(f"{value!r} is not a well-formed address: {defect}")
    return address
