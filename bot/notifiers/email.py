"""Email: digests over SMTP (smtplib), one email per recipient and digest day.

Settings are `email:` in bot.yaml; a profile names recipients with `notify: {email: [...]}`,
each as people write addresses (`Alice Liu <alice@lab.example>`: bot/notifiers/email_address.py).
With `group: recipient` (the default) a recipient on several profiles gets one email a day with
a section per profile (the pipeline hands their digests over together: `send_group`); with
`group: profile`, one email per profile.
With `web.public_url` and the `web.secret_env` key set, each paper carries "more like this" /
"less like this" links to the web page (signed: bot/web/tokens.py), which asks to confirm.
The password is read from the environment variable `password_env` names, never from a file.

TLS: `security: starttls` (port 587) upgrades the connection with STARTTLS and fails if the
server does not offer it, rather than sending in clear; `ssl` (port 465) is TLS from the start;
`none` is for a local relay only, and logging in over it (which sends the password in clear)
needs `allow_plaintext_auth: true`. Certificates are verified (`ssl.create_default_context()`,
plus `ca_file` for a private CA).

What an SMTP failure means for the outbox (dead or retried) and the sentence it is told in
are one table, in bot/notifiers/email_errors.py: a 5xx answer, an extension the send needs
(STARTTLS, AUTH, SMTPUTF8) that the server does not offer, and a certificate that does not
verify are permanent; a 4xx answer and a refused, dropped or timed-out connection are retried.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)

from bot.errors import DeliveryError
from bot.models import Check, Delivery
from bot.notifiers import email_address, email_errors
from bot.notifiers.base import Notifier
from bot.notifiers.email_render import build_group_message
from bot.schema import Strict
from bot.secrets import read_secret, smtp_password
from bot.web.tokens import VoteLinks

log = logging.getLogger(__name__)

_LOGIN = re.compile(r"[\x21-\x7e]+")  # smtplib's AUTH encodes the user name as ASCII


# An address as people write it (bot/notifiers/email_address.py), kept in its canonical text.
Address = Annotated[str, AfterValidator(email_address.canonical)]


def _recipients(value: object, handler: ValidatorFunctionWrapHandler) -> list[str]:
    """A profile's `notify.email`: one address or a list of them. A list is checked item by
    item, so each bad address is its own error naming its item (`notify.email[1]`)."""
    if isinstance(value, str):  # one address: its error is the key's own
        return [email_address.canonical(value)]
    result: list[str] = handler(value)
    return result


Recipients = Annotated[list[Address], WrapValidator(_recipients)]


class EmailSettings(Strict):
    """`email:` in bot.yaml."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)  # default by `security`
    security: Literal["starttls", "ssl", "none"] = "starttls"
    # A login over `security: none` sends the password in clear: refused unless asked for
    # (a relay on the same machine). Declared before `username`, whose validator reads it.
    allow_plaintext_auth: bool = False
    username: str | None = None
    password_env: str | None = None  # the variable holding the SMTP password
    sender: Address = Field(alias="from")
    reply_to: Address | None = None
    timeout: float = Field(default=30.0, gt=0)
    ca_file: str | None = None  # extra CA certificates (PEM) for a private mail server
    # recipient: one email per recipient and digest day, a section per profile; profile: one
    # email per profile (and recipient and day)
    group: Literal["recipient", "profile"] = "recipient"

    @field_validator("username")
    @classmethod
    def _login(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not _LOGIN.fullmatch(value):
            raise ValueError("must be printable ASCII without spaces (smtplib sends it as ASCII)")
        if info.data.get("security") == "none" and not info.data.get("allow_plaintext_auth"):
            raise ValueError(
                "a login with `security: none` sends the password in clear: use `security: "
                "starttls` or `ssl`, or, for a relay on this machine only, set "
                "`allow_plaintext_auth: true`"
            )
        return value

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


class EmailNotifier(Notifier):
    """Sends digests and operator alerts by SMTP."""

    name = "email"
    Settings = EmailSettings
    Target: ClassVar[Any] = Recipients

    def __init__(self, settings: EmailSettings, password: str | None) -> None:
        self.settings = settings
        self._password = password
        # Vote links under each paper: set by `link_votes` (bot/app.py wires `web:` in).
        self._links: VoteLinks | None = None
        self._no_links = "to get them, set web.public_url and web.secret_env"
        self._context: ssl.SSLContext | None = None  # made at the first TLS connection

    def __repr__(self) -> str:  # never the password
        s = self.settings
        return f"EmailNotifier({s.host}:{s.effective_port}, {s.security}, from={s.sender})"

    @classmethod
    def create(cls, settings: Any, env: Mapping[str, str]) -> tuple[Notifier | None, str]:
        password = None
        if settings.password_env:
            # SecretError if malformed (a line break, a character smtplib cannot send)
            password = read_secret(env, settings.password_env, smtp_password)
            if password is None:
                return None, f"{settings.password_env} is not set"
        return cls(settings, password), ""

    @classmethod
    def key(cls, target: str) -> str:
        """The bare address: a display name is how a message addresses the recipient, not
        where it goes (so adding one never sends anything again)."""
        return email_address.addr_spec(target)

    def place(self, target: str) -> str:
        """A mailbox: the domain compared without case (the local part is the server's)."""
        local, _, domain = email_address.addr_spec(target).rpartition("@")
        return f"{local}@{domain.lower()}"

    def link_votes(self, links: VoteLinks | None, why_not: str) -> None:
        self._links, self._no_links = links, why_not

    def describe(self) -> str:
        s = self.settings
        parts = [f"password from ${s.password_env}"] if s.password_env else []
        if s.username and s.security == "none":
            parts.append(
                f"WARNING: logs in as {s.username} without TLS (allow_plaintext_auth: true): "
                "the password crosses the network in clear"
            )
        if self._links is not None:
            parts.append(f"vote links to {self._links.public_url}")
        else:
            parts.append(f"no vote links: {self._no_links}")
        return "; ".join(parts)

    @property
    def groups_profiles(self) -> bool:
        return self.settings.group == "recipient"

    def send(self, delivery: Delivery, target: str) -> None:
        self.send_group([delivery], target)

    def send_group(self, deliveries: Sequence[Delivery], target: str) -> None:
        s = self.settings
        message = build_group_message(deliveries, target, s.sender, s.reply_to, links=self._links)
        self._deliver(message, target)
        log.info(
            "email: delivered %d papers of %d profile(s) to %s",
            sum(len(d.matches) for d in deliveries),
            len(deliveries),
            target,
        )

    def send_text(self, text: str, target: str) -> None:
        from email.message import EmailMessage

        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = target
        message["Subject"] = "[digestbot] " + " ".join(text.split())[:150]
        message.set_content(text)
        self._deliver(message, target)

    def probe(self, targets: Sequence[str]) -> Iterator[Check]:
        """`check --live`, sending no mail: connect, STARTTLS or TLS as configured (the
        certificate verified), log in if `username` is set, SMTPUTF8 offered if an address
        needs it, NOOP, QUIT. Mailboxes are not checked: only a real mail proves one."""
        s = self.settings
        name = f"email {s.host}:{s.effective_port}"
        destination = f"email:{s.host}"
        addresses = [email_address.addr_spec(a) for a in (s.sender, *targets)]
        try:
            with self._session(destination) as smtp:
                email_errors.check_utf8(smtp, addresses)
                smtp.noop()
        except DeliveryError as exc:
            reason = str(exc).removeprefix(f"{destination}: ")
            # A transient failure's hint speaks of the queue; a check needs the next step.
            if exc.permanent:
                hint = exc.hint
            elif reason.startswith("SMTP "):
                hint = "the server answered with a temporary error: try again later"
            else:
                hint = "check email.host, email.port and the network"
            yield Check(name, "failed", reason, hint)
            return
        tls = {"starttls": "STARTTLS", "ssl": "TLS", "none": "no TLS"}[s.security]
        login = f"logged in as {s.username}" if s.username else "no login configured"
        yield Check(name, "ok", f"connected, {tls}, {login}; no mail sent")

    def _deliver(self, message: Any, target: str) -> None:
        """`message` to `target` (an address, maybe with a display name for the To: header):
        the envelope names the bare addresses."""
        to = email_address.addr_spec(target)
        sender = email_address.addr_spec(self.settings.sender)
        with self._session(f"email:{to}") as smtp:
            email_errors.check_utf8(smtp, [sender, to])
            smtp.send_message(message, from_addr=sender, to_addrs=[to])

    @contextmanager
    def _session(self, destination: str) -> Iterator[smtplib.SMTP]:
        """A connected, secured and logged-in SMTP session; every SMTP or network failure
        inside it (the caller's too) becomes one DeliveryError for `destination`
        (bot/notifiers/email_errors.py)."""
        s = self.settings
        try:
            with self._connect() as smtp:
                if s.username:
                    email_errors.check_auth(smtp, s.username)
                    smtp.login(s.username, self._password or "")
                yield smtp
        except (OSError, smtplib.SMTPException) as exc:
            raise email_errors.translate(
                exc, destination=destination, host=s.host, port=s.effective_port
            ) from exc

    def _tls(self) -> ssl.SSLContext:
        """The TLS context, made once: loading the system's CA certificates takes ~80 ms,
        more than sending one email to a nearby server (an institution sends thousands)."""
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.settings.ca_file)
        return self._context

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(
                s.host, s.effective_port, timeout=s.timeout, context=self._tls()
            )
        smtp = smtplib.SMTP(s.host, s.effective_port, timeout=s.timeout)
        try:
            if s.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise email_errors.MissingExtension("STARTTLS", "; not sending in clear")
                smtp.starttls(context=self._tls())
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp
