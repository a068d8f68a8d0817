"""Signed vote links for email digests: `{public_url}/v/<token>`, where the token says which
profile, paper, vote and recipient it was made for and until which day, signed with the key in
`web.secret_env` so that it cannot be forged or turned into a vote on another paper or profile.

    sign(intent, secret) -> token              vote_link(public_url, intent, secret) -> URL
    verify(token, secret, now) -> VoteIntent   or BadToken, .reason "forged" | "expired" |
                                               "malformed", whatever the token holds
    VoteLinks(public_url, secret).pair(...)    the two links of one paper in one email

A token is `<payload>.<signature>`, both base64url without padding (letters, digits, - and _,
nothing a URL escapes). The payload is the UTF-8 JSON array [profile id, paper id, vote,
recipient, expiry day (ISO, a UTC day)]; the signature is HMAC-SHA256 over a fixed label and the
payload bytes (the label keeps a signature made with the same key for another purpose from
passing as a vote link). Verification checks the shape and the length first (no token longer
than MAX_TOKEN is decoded), then the signature in constant time (`hmac.compare_digest`), and
only then reads the payload: unauthenticated bytes are never parsed as JSON. A token valid for a
day stays valid through the end of that UTC day.

A link is not a vote: mail scanners follow links, so the page a link opens asks to confirm with
a POST (bot/web). A token can be used again (it is idempotent: the same vote again changes
nothing), so the 60 days bound how long a forwarded email can vote in its recipient's name.

Why the standard library and not itsdangerous: the format is five fields and one HMAC, fixed by
the issue; itsdangerous would add a dependency to do the same with SHA-1 by default, its own
timestamps in place of an expiry in the signed content, and exceptions to translate anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from bot.errors import DigestbotError

LIFETIME = timedelta(days=60)  # a link in an email votes for this long after it was sent
MAX_TOKEN = 2000  # characters: longer is refused unread (and never made: a URL must fit mail)
_LABEL = b"digestbot vote link v1\n"
_SIG_CHARS = 43  # 32 bytes of HMAC-SHA256 in base64url without padding
_TOKEN = re.compile(rf"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{{{_SIG_CHARS}}})")

Reason = Literal["forged", "expired", "malformed"]


class BadToken(DigestbotError):
    """A vote link that cannot be used. `reason`: "forged" (the signature does not match: altered,
    or made with another key), "expired" (past its day), "malformed" (not a token at all)."""

    def __init__(self, reason: Reason) -> None:
        messages = {
            "forged": "this vote link is not one digestbot made (altered, or signed with "
            "another key)",
            "expired": "this vote link has expired",
            "malformed": "this is not a vote link",
        }
        super().__init__(messages[reason], hint="vote from a newer digest, or on the web page")
        self.reason: Reason = reason


@dataclass(frozen=True)
class VoteIntent:
    """What a vote link stands for: `recipient` votes `vote` on `paper_id` for `profile_id`,
    if confirmed on or before `expires` (a UTC day)."""

    profile_id: str
    paper_id: str
    vote: int  # +1 more like this, -1 less like this
    recipient: str  # the address the email was sent to (its addr-spec)
    expires: date

    def __post_init__(self) -> None:
        if type(self.vote) is not int or self.vote not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, not {self.vote!r}")
        texts = (self.profile_id, self.paper_id, self.recipient)
        if not all(isinstance(t, str) and t for t in texts):
            raise ValueError("a vote link names its profile, its paper and its recipient")
        if type(self.expires) is not date:  # a datetime is a date too, but not a day
            raise ValueError(f"expires is a day, not {self.expires!r}")

    @classmethod
    def for_email(
        cls, profile_id: str, paper_id: str, vote: int, recipient: str, sent: datetime
    ) -> VoteIntent:
        """The intent of a link in an email sent at `sent` (aware): valid for LIFETIME."""
        return cls(profile_id, paper_id, vote, recipient, (_utc(sent) + LIFETIME).date())


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment without a time zone: pass an aware datetime (UTC)")
    return moment.astimezone(UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict: raises ValueError unless `text` is exactly how `_b64` writes some bytes (so no
    two tokens carry the same payload or signature)."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _mac(payload: bytes, secret: bytes) -> bytes:
    if not secret:
        raise ValueError("an empty key signs nothing")
    return hmac.new(secret, _LABEL + payload, hashlib.sha256).digest()


def seal(payload: bytes, secret: bytes) -> str:
    """`payload` and its signature as a token (what `sign` does once it has the payload)."""
    return f"{_b64(payload)}.{_b64(_mac(payload, secret))}"


def sign(intent: VoteIntent, secret: bytes) -> str:
    """The token for `intent`, deterministic. Raises ValueError when it would be longer than
    MAX_TOKEN (an absurdly long paper id or address: no link rather than one that breaks)."""
    fields = [intent.profile_id, intent.paper_id, intent.vote, intent.recipient]
    payload = json.dumps(
        [*fields, intent.expires.isoformat()], ensure_ascii=False, separators=(",", ":")
    )
    token = seal(payload.encode("utf-8"), secret)
    if len(token) > MAX_TOKEN:
        raise ValueError(f"a vote link for {intent.paper_id[:60]!r} would be too long")
    return token


def verify(token: str, secret: bytes, now: datetime) -> VoteIntent:
    """What `token` stands for, if `secret` signed it and its day is not past at `now` (aware).
    Raises BadToken, whatever `token` is."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        raise BadToken("malformed")
    shape = _TOKEN.fullmatch(token)
    if shape is None:
        raise BadToken("malformed")
    try:
        payload, signature = _unb64(shape[1]), _unb64(shape[2])
    except (ValueError, binascii.Error):  # binascii.Error is a ValueError; said for the reader
        raise BadToken("malformed") from None
    if not hmac.compare_digest(signature, _mac(payload, secret)):
        raise BadToken("forged")
    intent = _intent(payload)
    if _utc(now).date() > intent.expires:
        raise BadToken("expired")
    return intent


def _intent(payload: bytes) -> VoteIntent:
    """A signed payload as a VoteIntent; BadToken("malformed") for anything but five fields of
    the right types (only a bug, or the key in someone else's hands, could sign one)."""
    try:
        fields = json.loads(payload.decode("utf-8"))
        if not isinstance(fields, list):  # a dict or a string would unpack too
            raise ValueError("not an intent")
        profile_id, paper_id, vote, recipient, expires = fields  # exactly five
        texts = (profile_id, paper_id, recipient, expires)
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("not an intent")
        for text in texts:
            text.encode("utf-8")  # a lone surrogate from a \ud800 escape fails here
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", expires):
            raise ValueError("not an ISO day")
        return VoteIntent(profile_id, paper_id, vote, recipient, date.fromisoformat(expires))
    except (ValueError, TypeError, RecursionError):
        # JSONDecodeError, UnicodeDecodeError and UnicodeEncodeError are ValueErrors, as is an
        # integer too long to read; unpacking a non-list, TypeError; nesting, RecursionError.
        raise BadToken("malformed") from None


def vote_link(public_url: str, intent: VoteIntent, secret: bytes) -> str:
    """`{public_url}/v/{token}`. Raises ValueError for a `public_url` that is not http(s) (the
    setting is checked; this keeps any other caller from making a `javascript:` link)."""
    if not public_url.startswith(("https://", "http://")):
        raise ValueError(f"a vote link needs an http(s) address, not {public_url[:40]!r}")
    return f"{public_url.rstrip('/')}/v/{sign(intent, secret)}"


@dataclass(frozen=True)
class VoteLinks:
    """Where vote links point and the key that signs them: what an email digest needs to put
    "more like this" / "less like this" under each paper (bot/notifiers/email_render.py)."""

    public_url: str
    secret: bytes = field(repr=False)  # never in a repr, a log line or a traceback's locals

    def pair(
        self, profile_id: str, paper_id: str, recipient: str, sent: datetime
    ) -> tuple[str, str] | None:
        """(more like this, less like this) for `recipient` (an addr-spec), valid LIFETIME
        from `sent`; None when a link would be too long (the paper goes out without them)."""
        try:
            more, less = (
                vote_link(
                    self.public_url,
                    VoteIntent.for_email(profile_id, paper_id, vote, recipient, sent),
                    self.secret,
                )
                for vote in (1, -1)
            )
        except ValueError:  # too long, or an empty id: no links rather than no email
            return None
        return more, less
