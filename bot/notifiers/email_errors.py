"""What an SMTP failure means, in one table: a sentence, permanent or not, and what to do.

smtplib's exceptions are translated here, once, into DeliveryError (bot/notifiers/email.py
raises nothing else). The same sentence is what the outbox keeps, the log says and
`check --live` prints.

    what failed                                   sentence                            outbox
    an extension the send needs is not offered    "the server does not offer X, ..."  dead
        STARTTLS  (`security: starttls`)          not sending in clear instead
        AUTH      (`username` is set)             e.g. only after TLS, or a relay
                                                  that takes no login
        SMTPUTF8  (a non-ASCII address)           the address cannot be sent there
    AUTH offered, but no method smtplib has       "... no method smtplib can log in   dead
                                                  with (it offers ...)"
    a 5xx answer (550 mailbox unknown, 535 bad    "SMTP 550 ..."                      dead
    login, 554 rejected)
    a 4xx answer (451 try later, 421 busy)        "SMTP 451 ..."                      retried
    a certificate that does not verify            "... certificate does not verify"   dead
    refused, dropped, timed out                   "cannot reach host:port (...)"      retried

A server does not start offering an extension between two runs, so a missing one is
permanent: retrying would fail the same way until someone changes the settings or the server
(then `digestbot retry`). Which extension is missing is known by asking the server's EHLO
answer (`has_extn`) before each step that needs one (`MissingExtension`); an
SMTPNotSupportedError smtplib raises itself is read for the extension it names.
"""

from __future__ import annotations

import smtplib
import ssl

from bot.errors import DeliveryError

STAYS = "permanent: a server does not start offering it"
# The AUTH methods smtplib's login() knows, in its order of preference.
SMTPLIB_AUTH = ("CRAM-MD5", "PLAIN", "LOGIN")

# extension -> the hint for when the server does not offer it
_MISSING: dict[str, str] = {  # SMTPUTF8 first: smtplib's words for it contain neither other
    "SMTPUTF8": (
        "write the address in ASCII if it has an ASCII form, or send through a server that "
        "offers SMTPUTF8"
    ),
    "STARTTLS": "use `security: ssl` (port 465) if the server speaks TLS from the start",
    "AUTH": (
        "many servers offer AUTH only over TLS: use `security: starttls` (port 587) or `ssl` "
        "(465); a relay that takes mail without a login needs no `email.username`"
    ),
}
_UNKNOWN_HINT = "the server lacks something the send needs: check the email settings"


class MissingExtension(smtplib.SMTPNotSupportedError):
    """The server's EHLO answer lacks `extension`, which this send needs for `needed_for`
    (", needed to log in as bot"; "; not sending in clear")."""

    def __init__(self, extension: str, needed_for: str = "") -> None:
        super().__init__(f"the server does not offer {extension}{needed_for}")
        self.extension = extension


class NoAuthMethod(smtplib.SMTPNotSupportedError):
    """The server offers AUTH, but none of the methods smtplib can use."""

    def __init__(self, offered: str) -> None:
        offers = offered or "none"
        super().__init__(
            f"the server offers AUTH but no method smtplib can log in with (it offers "
            f"{offers}; smtplib has {', '.join(SMTPLIB_AUTH)})"
        )


def check_auth(smtp: smtplib.SMTP, username: str) -> None:
    """Raise MissingExtension or NoAuthMethod before `login()` when it could not work (smtplib
    would say "AUTH not supported", read as any other missing extension, or raise a bare
    SMTPException that looks like a network failure)."""
    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("auth"):
        raise MissingExtension("AUTH", f", needed to log in as {username}")
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if not any(method in offered for method in SMTPLIB_AUTH):
        raise NoAuthMethod(" ".join(offered))


def check_utf8(smtp: smtplib.SMTP, addresses: list[str]) -> None:
    """Raise MissingExtension when an address is not ASCII and the server lacks SMTPUTF8."""
    wide = [a for a in addresses if not a.isascii()]
    if wide:
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("smtputf8"):
            raise MissingExtension("SMTPUTF8", f", needed for the non-ASCII address {wide[0]}")


def translate(exc: BaseException, *, destination: str, host: str, port: int) -> DeliveryError:
    """`exc` (raised in an SMTP session) as the DeliveryError the outbox keeps. Anything not
    SMTP's or the network's is not translated: it is re-raised by the caller as it is."""
    if isinstance(exc, MissingExtension):
        return DeliveryError(
            f"{exc} ({STAYS})",
            destination=destination,
            permanent=True,
            hint=_MISSING.get(exc.extension, _UNKNOWN_HINT),
        )
    if isinstance(exc, NoAuthMethod):
        return DeliveryError(
            f"{exc} ({STAYS})",
            destination=destination,
            permanent=True,
            hint="use a server or port that offers AUTH PLAIN or LOGIN (over TLS)",
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # smtplib's own check: read its words
        said = str(exc)
        named = next((ext for ext in _MISSING if ext in said.upper()), None)
        if named is not None:
            return translate(MissingExtension(named), destination=destination, host=host, port=port)
        return DeliveryError(
            f"the server does not support what the send needs: {said} ({STAYS})",
            destination=destination,
            permanent=True,
            hint=_UNKNOWN_HINT,
        )
    if isinstance(exc, smtplib.SMTPResponseException):  # auth, sender, data: one code
        return answer(destination, exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return answer(destination, code, reply)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(
            f"the server's certificate does not verify ({exc.verify_message})",
            destination=destination,
            permanent=True,
            hint="fix the server's certificate, or set `email.ca_file` to its CA",
        )
    return DeliveryError(  # refused, dropped, timed out
        f"cannot reach {host}:{port} ({type(exc).__name__}: {exc})",
        destination=destination,
        permanent=False,
        hint="the digest stays queued and is sent on the next run",
    )


def answer(destination: str, code: int, reply: bytes | str) -> DeliveryError:
    """An SMTP reply code as a DeliveryError: 5xx permanent, anything else retried."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    permanent = 500 <= code < 600
    hint = (
        "the server refused for good: check the address and the login (`email.username`, "
        "the password variable)"
        if permanent
        else "the server asked to try later: the digest stays queued"
    )
    return DeliveryError(
        f"SMTP {code} {' '.join(text.split())}",
        destination=destination,
        permanent=permanent,
        hint=hint,
    )
