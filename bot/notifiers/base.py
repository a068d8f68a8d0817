"""What every notifier is: settings in bot.yaml, a target type in profiles, and `send()`.

A notifier owns one channel (Slack, later email). `create()` builds it from its settings and
the environment (secrets are read from the variables the settings name) or returns None with a
reason when it is not usable, in which case digests go to the console; a secret that is set but
malformed raises `SecretError` (bot/secrets.py) instead, naming the variable. `send()` delivers one
digest or raises `DeliveryError`; it never marks anything as sent: the pipeline does that after
`send()` returned. `probe()` is `digestbot check --live`: what can be proven without sending.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from bot.http import SharedSlot
from bot.models import Check, Delivery
from bot.web.tokens import VoteLinks


class Notifier(ABC):
    """One configured channel."""

    name: ClassVar[str]  # the key in bot.yaml and in a profile's `notify:`
    Settings: ClassVar[type[BaseModel]]
    Target: ClassVar[Any] = str  # the type of a profile's `notify.<name>` value

    @classmethod
    def targets(cls, value: Any) -> list[str]:
        """A profile's `notify.<name>` value as a list of target strings."""
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value]

    @classmethod
    @abstractmethod
    def create(cls, settings: Any, env: Mapping[str, str]) -> tuple[Notifier | None, str]:
        """(notifier, "") when usable, else (None, why not) — e.g. the token variable is unset.
        Raises SecretError when the variable is set but malformed."""

    @abstractmethod
    def send(self, delivery: Delivery, target: str) -> None:
        """Deliver one digest to `target`. Raises DeliveryError (permanent or not)."""

    @property
    def groups_profiles(self) -> bool:
        """True when a target's due digests of one day go out as ONE message with a section per
        profile (`send_group`), as email's `group: recipient` does. Default: one per digest."""
        return False

    def send_group(self, deliveries: Sequence[Delivery], target: str) -> None:
        """Deliver several profiles' digests for `target` and one day as one message (only
        called when `groups_profiles`). Raises DeliveryError: all of it failed."""
        raise NotImplementedError(f"{self.name} does not group digests")

    @abstractmethod
    def send_text(self, text: str, target: str) -> None:
        """Deliver a short plain-text notice (an operator alert). Raises DeliveryError."""

    @classmethod
    def key(cls, target: str) -> str:
        """The part of a checked target that says where it goes, as the outbox keys it: a
        target may also say how to address it (email: "Alice Liu <alice@lab.example>" has the
        key "alice@lab.example"; the rest goes to `send` as the target). Default: `target`."""
        return target

    def place(self, target: str) -> str:
        """Where messages to `target` land, as a key: targets with the same place are one
        channel or mailbox, so a paper two profiles match goes there once. Default: `target`."""
        return target

    def describe(self) -> str:
        """How it is configured, for `digestbot check` ("bot token from $SLACK_BOT_TOKEN"):
        which variable holds the secret, never the secret. "" says nothing more."""
        return ""

    def already_delivered(self, delivery: Delivery, target: str) -> set[str]:
        """For a delivery a crashed run left `sending`: the ids of its papers the channel
        already has. The default cannot tell, so everything is sent again (at-least-once)."""
        return set()

    def probe(self, targets: Sequence[str]) -> Iterator[Check]:
        """`digestbot check --live`: prove, without delivering anything, that this channel
        works and can reach each of `targets` (every target profiles and `operator:` name).
        One Check per thing proven, yielded as it is known. The default proves nothing."""
        yield Check(self.name, "skipped", "this channel has no live check")

    def link_votes(self, links: VoteLinks | None, why_not: str) -> None:  # noqa: B027
        """The vote links of email digests (`web:` in bot.yaml, bot/web/tokens.py): where they
        point and the key signing them, or None and why not ("to get them, set ..."). A channel
        with its own way to vote (Slack's buttons), or none, ignores them: the default."""

    def share_pacing(self, slot: SharedSlot) -> None:  # noqa: B027
        """Pace this channel's posts across every worker of the state too: `slot(key,
        interval, wait)` holds the key's turn among them while a post is made
        (bot/state/pacing.py). Only a channel with a posting rate to keep needs it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
