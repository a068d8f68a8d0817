"""What a bot token can learn about channels without posting: IDs and names, the paged listing,
and `check --live`'s verdict on the token and on each channel (or person) a profile names.

Profiles name a channel by name ("#papers-norm") or by ID ("C0123ABCD"). chat.postMessage
takes either, but conversations.info / .history / .replies take IDs only, so a name is looked
up in conversations.list (needs channels:read, and groups:read for private channels):

    what proven (`probe`)                         how
    the token is valid and has chat:write         auth.test, its X-OAuth-Scopes answer header
    a channel exists, is visible to the bot, is   conversations.info for an ID, one paged
    not archived, and the bot is a member (or     conversations.list for every name
    it is public and the app has chat:write.public)
    a person exists, is active, and the bot may   users.list / users.lookupByEmail for a
    open a direct message with them               handle / an address, then conversations.open
                                                  (slack_people.py)

Not provable without posting: a channel's own posting restrictions (#general limited to admins).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.models import Check
from bot.notifiers.slack_errors import API_HINTS, NETWORK_ERRORS, probe_error
from bot.notifiers.slack_people import People, probe_person
from bot.notifiers.slack_targets import is_channel_id, is_person

# `check --live` reads channels with conversations.info / conversations.list: they need these.
READ_SCOPES_HINT = (
    "add the channels:read scope (and groups:read for private channels) to the app's Bot "
    "Token Scopes and reinstall it: `check --live` reads channel membership with them "
    "(posting itself only needs chat:write)"
)
_LIST_PAGE = 1000  # conversations.list `limit` (Slack's maximum; it may answer fewer)
_LIST_MAX_PAGES = 200

Listing = dict[str, dict[str, Any]]  # channel name -> its conversations.list entry


def channel_name(target: str) -> str:
    """A channel as conversations.list names it: without "#", lower case."""
    return target.lstrip("#").lower()


def list_channels(client: WebClient) -> Listing:
    """Every channel the bot can see (archived ones too), by name: conversations.list, public
    and private, every page. Raises SlackApiError or a network error."""
    found: Listing = {}
    cursor = None
    for _ in range(_LIST_MAX_PAGES):
        page = client.conversations_list(
            types="public_channel,private_channel",
            exclude_archived=False,
            limit=_LIST_PAGE,
            cursor=cursor,
        )
        for channel in page.get("channels") or []:
            found.setdefault(str(channel.get("name")), channel)
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return found


def probe(
    client: WebClient,
    targets: Sequence[str],
    *,
    token_env: str,
    listing: Callable[[], Listing],
    people: People,
    redact: Callable[[str], str],
) -> Iterator[Check]:
    """`check --live` for a bot token, posting nothing: auth.test, then each of `targets`
    (`listing` is asked at most once, for every channel named by name; `people` for each
    person, listing the workspace at most once for every handle)."""
    channels = sorted(dict.fromkeys(targets))
    try:
        auth = client.auth_test()
    except (SlackApiError, *NETWORK_ERRORS) as exc:
        reason, hint = _probe_error(exc, "auth.test", token_env, redact)
        yield Check("slack auth.test", "failed", reason, hint)
        for target in channels:
            yield Check(f"slack {target}", "skipped", "not checked: auth.test failed")
        return
    scopes = _scopes(auth.headers)
    who = f"workspace {auth.get('team')}, bot user {auth.get('user')}"
    if scopes is not None and "chat:write" not in scopes:
        yield Check(
            "slack auth.test",
            "failed",
            f"{who}, but the token lacks the chat:write scope",
            "add chat:write to the app's Bot Token Scopes, reinstall the app and update "
            f"${token_env}",
        )
    else:
        granted = "" if scopes is None else "; chat:write granted"
        yield Check("slack auth.test", "ok", f"token valid: {who}{granted}")
    listed: Listing | tuple[str, str] | None = None
    for target in channels:
        name = f"slack {target}"
        if is_person(target):
            yield probe_person(people, target, token_env=token_env, redact=redact)
            continue
        if is_channel_id(target):
            try:
                info = client.conversations_info(channel=target)
            except (SlackApiError, *NETWORK_ERRORS) as exc:
                yield Check(
                    name, "failed", *_probe_error(exc, "conversations.info", token_env, redact)
                )
                continue
            channel: dict[str, Any] | None = info.get("channel")
        else:
            if listed is None:  # one listing serves every channel named by name
                try:
                    listed = listing()
                except (SlackApiError, *NETWORK_ERRORS) as exc:
                    listed = _probe_error(exc, "conversations.list", token_env, redact)
            if isinstance(listed, tuple):
                yield Check(name, "failed", *listed)
                continue
            channel = listed.get(channel_name(target))
        yield _judge_channel(name, channel, scopes)


def _probe_error(
    exc: Exception, method: str, token_env: str, redact: Callable[[str], str]
) -> tuple[str, str]:
    """(reason, hint) for a failed probe of the token or a channel. Never the token."""
    return probe_error(exc, method, token_env, redact, missing_scope=READ_SCOPES_HINT)


def _scopes(headers: Mapping[str, Any]) -> set[str] | None:
    """The token's scopes from Slack's X-OAuth-Scopes answer header; None without one."""
    for key, value in headers.items():
        if key.lower() == "x-oauth-scopes":
            text = ",".join(value) if isinstance(value, list) else str(value)
            return {s.strip() for s in text.split(",") if s.strip()}
    return None


def _judge_channel(name: str, channel: dict[str, Any] | None, scopes: set[str] | None) -> Check:
    """Whether the bot can post to `channel` (a conversations.info / .list entry)."""
    if not channel:
        return Check(
            name,
            "failed",
            "channel_not_found: no such channel is visible to the bot",
            API_HINTS["channel_not_found"],
        )
    cid = channel.get("id")
    if channel.get("is_archived"):
        return Check(name, "failed", f"is_archived: {cid} is archived", API_HINTS["is_archived"])
    if channel.get("is_member"):
        return Check(name, "ok", f"{cid}: the bot is a member; not archived")
    if not channel.get("is_private") and scopes is not None and "chat:write.public" in scopes:
        return Check(
            name, "ok", f"{cid}: public; the bot is not a member, chat:write.public lets it post"
        )
    return Check(
        name,
        "failed",
        f"not_in_channel: the bot is not a member of {cid}",
        API_HINTS["not_in_channel"]
        + ("" if channel.get("is_private") else " (or give the app chat:write.public)"),
    )
