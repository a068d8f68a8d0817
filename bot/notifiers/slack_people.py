"""Reaching a person on Slack: who a `notify.slack` entry names (a member ID, an "@handle", an
email address) and the direct-message conversation the bot posts their digests to.

    People.resolve(target)   a member ID (U0123ABCD) as written; a handle: the workspace's
                             people, one paged users.list (users:read), matched without case
                             against the name Slack shows for them (the display name, or the
                             full name when they set none; with or without accents) and their
                             username; an email address: users.lookupByEmail (users:read.email)
    People.dm(user_id)       conversations.open (im:write): the ID (D...) of the bot's direct
                             message with the person, the same every time, kept for the process
    People.place(target)     the user ID, for grouping a run's deliveries by where they land;
                             the entry itself when it cannot be resolved now (asked once a run
                             too: a missing scope must not cost one users.list per paper)
    probe_person()           `check --live` for a person: resolve, then conversations.open,
                             which is what the first digest does; nothing is posted (an open
                             conversation without a message shows the person nothing)

A handle or address that names no one, several people, or only a deactivated account raises
`NoSuchPerson` (the notifier makes it a permanent DeliveryError naming the entry); Slack's and
the network's errors are raised as they are, for the caller to translate.

Resolving is done once per run: `digestbot run` keeps one notifier for days, so what was
learnt is kept RESOLVE_TTL seconds (longer than a run's record-and-deliver, shorter than the
time between two runs); a person renamed today is found under the new name at the next run.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.models import Check
from bot.notifiers.slack_errors import NETWORK_ERRORS, api_error_code, probe_error
from bot.notifiers.slack_targets import handle_text, kind_of

log = logging.getLogger(__name__)

RESOLVE_TTL = 15 * 60.0  # seconds a handle's user ID (or its absence) is trusted
_USERS_PAGE = 200  # users.list `limit` (what Slack's docs recommend)
_USERS_MAX_PAGES = 500
MAX_NAME = 80  # characters of a person's name shown
MEMBER_ID_HINT = (
    "name the person by member ID instead (U0123ABCD; in Slack: their profile, ⋮, Copy member ID)"
)


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str = ""  # their full name, when a lookup told it


class NoSuchPerson(Exception):
    """A handle or email address that names no one, several people, or a deactivated account."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class _Member:
    """What a handle is matched against, of one users.list entry."""

    user_id: str
    name: str
    names: frozenset[str]  # casefolded
    deleted: bool


class People:
    """Who entries name, and the direct messages opened, for one WebClient."""

    def __init__(self, client: WebClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._found: dict[str, tuple[float, Person | NoSuchPerson]] = {}
        self._members: tuple[float, list[_Member]] | None = None
        self._dms: dict[str, str] = {}  # user ID -> DM conversation ID
        self._places: dict[str, tuple[float, str]] = {}  # target -> (when, its place)

    def resolve(self, target: str) -> Person:
        """The person `target` names. Raises NoSuchPerson, SlackApiError or a network error
        (those two are not remembered: the next call asks again)."""
        kind = kind_of(target)
        if kind == "user":
            return Person(target)
        key = f"{kind}:{handle_text(target).casefold()}"  # "@Bob" is "@bob"
        now = self._clock()
        cached = self._found.get(key)
        if cached is None or now - cached[0] >= RESOLVE_TTL:
            found = self._lookup_email(target) if kind == "email" else self._lookup_handle(target)
            cached = self._found[key] = (now, found)
        result = cached[1]
        if isinstance(result, NoSuchPerson):
            raise NoSuchPerson(str(result), result.hint)
        return result

    def place(self, target: str) -> str:
        """The user ID `target` names, or, when that cannot be known now (no such person, an
        error, no answer), the entry itself without case: its own place. Once per run."""
        now = self._clock()
        known = self._places.get(target)
        if known is not None and now - known[0] < RESOLVE_TTL:
            return known[1]
        try:
            place = self.resolve(target).user_id
        except (NoSuchPerson, SlackApiError, *NETWORK_ERRORS) as exc:
            log.debug("slack: %s not resolved for grouping: %s", target, type(exc).__name__)
            place = target.casefold()
        self._places[target] = (now, place)
        return place

    def dm(self, user_id: str) -> str:
        """The ID of the bot's direct message with `user_id`, opened if need be."""
        if user_id not in self._dms:
            answer = self._client.conversations_open(users=user_id)
            self._dms[user_id] = str(answer["channel"]["id"])
        return self._dms[user_id]

    @staticmethod
    def method(target: str) -> str:
        """The Web API method that resolves `target` ("" for a member ID: nothing to ask)."""
        return {"handle": "users.list", "email": "users.lookupByEmail"}.get(kind_of(target), "")

    # ------------------------------------------------------------ lookups

    def _lookup_handle(self, target: str) -> Person | NoSuchPerson:
        wanted = handle_text(target).casefold()
        matching = [m for m in self._workspace() if wanted in m.names]
        return _one(target, matching)

    def _lookup_email(self, target: str) -> Person | NoSuchPerson:
        address = handle_text(target)
        try:
            answer = self._client.users_lookupByEmail(email=address)
        except SlackApiError as exc:
            if api_error_code(exc)[0] == "users_not_found":
                return NoSuchPerson(
                    f"no one in the workspace has the email address {address}",
                    "check the address (it must be the one of their Slack account), or "
                    + MEMBER_ID_HINT,
                )
            raise
        return _one(target, [_member(answer.get("user") or {})])

    def _workspace(self) -> list[_Member]:
        """Everyone users.list shows (deactivated people too), listed once per RESOLVE_TTL."""
        now = self._clock()
        if self._members is not None and now - self._members[0] < RESOLVE_TTL:
            return self._members[1]
        members: list[_Member] = []
        cursor = None
        for _ in range(_USERS_MAX_PAGES):
            page = self._client.users_list(limit=_USERS_PAGE, cursor=cursor)
            members.extend(_member(m) for m in page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        self._members = (now, members)
        return members


def _member(user: dict[str, Any]) -> _Member:
    """A Slack user object as a handle sees it: the name Slack shows (display name, else full
    name), both as typed and without accents, and the username."""
    profile = user.get("profile") or {}
    shown = [profile.get("display_name"), profile.get("display_name_normalized")]
    if not any(shown):  # without a display name, Slack shows the full name
        shown = [
            profile.get("real_name"),
            profile.get("real_name_normalized"),
            user.get("real_name"),
        ]
    names = {_plain(str(n)) for n in (*shown, user.get("name")) if n}
    names |= {str(n).casefold() for n in (*shown, user.get("name")) if n}
    return _Member(
        user_id=str(user.get("id") or ""),
        name=_clean(str(user.get("real_name") or profile.get("real_name") or "")),
        names=frozenset(names),
        deleted=bool(user.get("deleted")),
    )


def _clean(name: str) -> str:
    """A name from Slack as it may appear in a log line or a check: one line, no control
    characters, at most MAX_NAME characters (a person's name is theirs to write)."""
    text = " ".join(
        "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in name).split()
    )
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"


def _plain(text: str) -> str:
    """Casefolded, without accents ("Noël" -> "noel")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _one(target: str, matching: list[_Member]) -> Person | NoSuchPerson:
    """The one active person among `matching`, or why there is not one."""
    active = [m for m in matching if not m.deleted and m.user_id]
    if len(active) == 1:
        return Person(active[0].user_id, active[0].name)
    if len(active) > 1:
        shown = ", ".join(_who(m) for m in active[:5]) + (", ..." if len(active) > 5 else "")
        return NoSuchPerson(
            f"{target} could be any of {len(active)} people: {shown}", MEMBER_ID_HINT
        )
    if matching:
        return NoSuchPerson(
            f"{target} is {_who(matching[0])}, a deactivated account",
            "remove them from the profile's notify.slack, or name someone else",
        )
    return NoSuchPerson(
        f"no one in the workspace goes by {target}",
        "check the spelling: a handle is the name Slack shows for the person (their display "
        "name, or full name when they set none) or their username; or " + MEMBER_ID_HINT,
    )


def _who(member: _Member) -> str:
    return f"{member.user_id} ({member.name})" if member.name else member.user_id


def probe_person(
    people: People, target: str, *, token_env: str, redact: Callable[[str], str]
) -> Check:
    """`check --live` for one person: who the entry names, and that the bot may open a
    direct message with them (conversations.open). Nothing is posted."""
    name = f"slack {target}"
    method = People.method(target)
    try:
        person = people.resolve(target)
        method = "conversations.open"
        people.dm(person.user_id)
    except NoSuchPerson as exc:
        return Check(name, "failed", redact(str(exc)), exc.hint)
    except (SlackApiError, *NETWORK_ERRORS) as exc:
        return Check(
            name, "failed", *probe_error(exc, method, token_env, redact, missing_scope=None)
        )
    if person.user_id == target:
        return Check(name, "ok", f"the bot can open a direct message with {target}")
    who = _who(_Member(person.user_id, person.name, frozenset(), False))
    return Check(name, "ok", f"{target} is {who}; the bot can open a direct message with them")
