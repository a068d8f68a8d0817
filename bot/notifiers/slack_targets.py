"""What a profile's `notify.slack` names: one entry or a list, each a channel or a person.

    entry                        kind        reached by
    "#papers", papers            channel     chat.postMessage (the ID looked up: slack_channels)
    C0123ABCD, G0123ABCD         channel_id  chat.postMessage
    U0123ABCD, W0123ABCD         user        a direct message: conversations.open, then its
                                             D... conversation (slack_people.py)
    "@bob", "@Bob Stone"         handle      users.list finds the user, then as a user
    alice@lab.example            email       users.lookupByEmail finds the user, then as a user

A person is a *user* (member ID), a *handle* or an *email*; a channel is the rest. IDs are upper
case (Slack's), names never are, so the two cannot be confused. An incoming webhook posts only to
its own channel: a person next to `webhook_env` is a config error (the settings reach the
validator as pydantic context, `{"settings": {"slack": SlackSettings}}`), not a digest that
silently lands in a channel.

`SlackTargets` is the pydantic type of `notify.slack` (and `operator.slack`): a list of entries,
or one entry, each checked here so that a bad one is one error naming its line.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from bot.schema import one_line

Kind = Literal["channel", "channel_id", "user", "handle", "email"]
PERSON_KINDS: frozenset[str] = frozenset({"user", "handle", "email"})

_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{4,}")  # channel IDs are upper case; names never are
_USER_ID = re.compile(r"[UW][A-Z0-9]{4,}")  # W: a user of an Enterprise Grid organisation
_DM_ID = re.compile(r"D[A-Z0-9]{4,}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_EXAMPLES = 'a channel ("#papers", C0123ABCD) or a person (U0123ABCD, "@handle", an email address)'


def kind_of(target: str) -> Kind:
    """Which kind of entry `target` is (a valid one: see `SlackTargets`)."""
    if _CHANNEL_ID.fullmatch(target):
        return "channel_id"
    if _USER_ID.fullmatch(target):
        return "user"
    if _EMAIL.fullmatch(target.removeprefix("@")):
        return "email"
    if target.startswith("@"):
        return "handle"
    return "channel"


def is_person(target: str) -> bool:
    return kind_of(target) in PERSON_KINDS


def is_channel_id(target: str) -> bool:
    return kind_of(target) == "channel_id"


def handle_text(target: str) -> str:
    """What a handle or email entry names, without its "@" ("@bob" -> "bob")."""
    return target.removeprefix("@").strip()


def _entry(value: str, info: ValidationInfo) -> str:
    """One entry, stripped; ValueError saying what is wrong with it."""
    text = one_line(value).strip()
    if not text:
        raise ValueError(f"an empty entry: name {_EXAMPLES}")
    if text in ("#", "@"):
        raise ValueError(f"{text!r} alone names nothing: write the name after it")
    if _DM_ID.fullmatch(text):
        raise ValueError(
            f"{text} is the ID of a direct-message conversation: name the person instead, by "
            'member ID (U0123ABCD) or "@handle"'
        )
    if "@" in text.removeprefix("@") and not _EMAIL.fullmatch(text.removeprefix("@")):
        raise ValueError(f"{text!r} is neither a channel nor an email address: name {_EXAMPLES}")
    if kind_of(text) == "channel" and any(ch.isspace() for ch in text):
        raise ValueError(f"{text!r}: a channel name has no spaces")
    if is_person(text) and _webhook(info):
        raise ValueError(
            f"{text} is a person, but `slack:` in bot.yaml is an incoming webhook (webhook_env), "
            "which posts only to its own channel and cannot send direct messages: name a "
            "channel, or use a bot token (token_env) to reach people"
        )
    return text


def _webhook(info: ValidationInfo) -> bool:
    """Whether the `slack:` settings handed in as context use an incoming webhook."""
    context = info.context if isinstance(info.context, dict) else {}
    settings = (context.get("settings") or {}).get("slack")
    return getattr(settings, "webhook_env", None) is not None


def _as_list(value: Any, info: ValidationInfo) -> Any:
    """One entry is a list of one; it is checked here, so that its error names the key."""
    if isinstance(value, str):
        return [_entry(value, info)]
    if isinstance(value, bool | int | float):
        raise ValueError(f"expected {_EXAMPLES}, or a list of them; got {value!r}")
    return value  # a list is checked entry by entry; None is the "empty value" type error


SlackTargets = Annotated[list[Annotated[str, AfterValidator(_entry)]], BeforeValidator(_as_list)]
