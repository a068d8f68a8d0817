"""What Slack's answers mean for the outbox, and how a failure is told: the one place where
slack-sdk's and urllib's errors become `DeliveryError` (with a hint) for both Slack notifiers.

    PERMANENT_ERRORS,   the Web API's `error` codes (bot token): which ones retrying will not
    TRANSIENT_ERRORS,   heal (the papers are marked dead), which ones it will, and what to do
    API_HINTS           next; an unknown code is transient (the digest stays queued)
    api_error()         a failed Web API call -> DeliveryError
    probe_error()       a failed Web API call in `check --live` -> (reason, hint)
    scope_hint()        missing_scope: which scope to add, and what it is for (SCOPE_USES)
    error_code(),       Slack's answer in words: the `error` code only when it looks like one (a
    describe_answer()   proxy's HTML page may quote a URL), the status, the Retry-After of a 429
    unreachable()       no answer at all (refused, dropped, timed out) -> transient DeliveryError
    redactor()          cuts the secrets (token, webhook URL) out of foreign exception text

The incoming webhook's own table (HTTP statuses and bodies) is in `slack_webhook.py`, next to
the docstring that draws it. Secrets are never formatted into anything here; `{env}` in a hint
is the NAME of the variable holding one.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import DeliveryError
from bot.notifiers.slack_client import retry_after

# What a failed request raises besides Slack's answers: urllib's and http.client's errors
# (OSError covers URLError, timeouts, refused connections) and slack-sdk's client errors.
NETWORK_ERRORS = (OSError, http.client.HTTPException, SlackClientError)
TRANSIENT_HINT = "the digest stays queued and is retried on the next run"
BUG_HINT = "digestbot built a message Slack refused: please report this as a bug"

# Slack `error` codes that retrying will not heal (the pipeline drops the papers for this
# destination), and the ones that it will. Codes in neither set are treated as transient:
# an unknown error keeps the digest queued rather than losing it.
PERMANENT_ERRORS: frozenset[str] = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        # Direct messages (conversations.open, users.lookupByEmail): the person is not there.
        "user_not_found",
        "user_not_visible",
        "user_disabled",
        "users_not_found",
    }
)
TRANSIENT_ERRORS: frozenset[str] = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)

# What to do next, per error code. `{env}` is the NAME of the token variable, never its value.
API_HINTS: Mapping[str, str] = {
    "invalid_auth": "check the token in ${env}",
    "not_authed": "set ${env} to the bot token (xoxb-...)",
    "account_inactive": "the app or user behind ${env} is deactivated: reinstall the app",
    "token_revoked": "the token in ${env} was revoked: reinstall the app and update ${env}",
    "token_expired": "the token in ${env} expired: refresh it and update ${env}",
    "no_permission": "give the app the chat:write scope and reinstall it",
    "missing_scope": "give the app the chat:write scope and reinstall it",
    "channel_not_found": (
        "check the channel in the profile's notify.slack (a private channel must invite the "
        "bot first: /invite @<bot>)"
    ),
    "not_in_channel": "invite the bot to the channel: /invite @<bot>",
    "is_archived": "the channel is archived: unarchive it or change the profile's notify.slack",
    "restricted_action": "a workspace admin restricts posting in this channel",
    "invalid_blocks": BUG_HINT,
    "invalid_blocks_format": BUG_HINT,
    "msg_too_long": BUG_HINT,
    "msg_blocks_too_long": BUG_HINT,
    "no_text": BUG_HINT,
    "ratelimited": "Slack is rate-limiting the bot; the digest stays queued for the next run",
    "user_not_found": (
        "no such person in the workspace: check the member ID in the profile's notify.slack"
    ),
    "user_not_visible": "the bot may not see this person (a guest or another organisation)",
    "user_disabled": (
        "the person's account is deactivated: remove them from the profile's notify.slack"
    ),
    "users_not_found": (
        "no one in the workspace has this email address: check the profile's notify.slack"
    ),
}

# What the bot needs each scope for, said when Slack answers missing_scope with `needed`.
SCOPE_USES: Mapping[str, str] = {
    "chat:write": "posting needs it",
    "im:write": "direct messages to people need it (conversations.open)",
    "im:history": "after a crash, direct messages are looked up with it",
    "users:read": 'people named by "@handle" are looked up with it (users.list)',
    "users:read.email": (
        "people named by email address are looked up with it (users.lookupByEmail)"
    ),
    "channels:history": "after a crash, channels are looked up with it",
    "groups:history": "after a crash, private channels are looked up with it",
    "channels:read": "channels named by name are looked up with it",
    "groups:read": "private channels named by name are looked up with it",
}

_ERROR_CODE = re.compile(r"[a-z0-9_]{1,100}")
_SCOPES = re.compile(r"[a-z][a-z0-9_.:]{0,60}(?:,[a-z][a-z0-9_.:]{0,60}){0,9}")  # im:write,...


def error_code(text: object) -> str:
    """`text` if it is a Slack error code (`channel_not_found`), else "": what arrived may be
    e.g. a proxy's HTML page, or slack-sdk's "Received a response in a non-JSON format: ...",
    which may quote a URL; then only the status is reported."""
    code = str(text or "").strip()
    return code if _ERROR_CODE.fullmatch(code) else ""


def api_error_code(exc: SlackApiError) -> tuple[str, int | None]:
    """Slack's `error` code of a failed Web API call ("" when there is none), and the status."""
    response = exc.response
    status = getattr(response, "status_code", None)
    data = getattr(response, "data", None)
    return error_code(data.get("error") if isinstance(data, dict) else ""), status


def scope_hint(needed: object) -> str | None:
    """What to do about missing_scope when Slack said which scope is `needed`; else None."""
    if not isinstance(needed, str) or not _SCOPES.fullmatch(needed):
        return None  # absent, or not scope names (what arrived is not quoted then)
    use = SCOPE_USES.get(needed)
    return f"add the {needed} scope to the app's Bot Token Scopes and reinstall it" + (
        f": {use}" if use else ""
    )


def _needed(exc: SlackApiError) -> object:
    data = getattr(exc.response, "data", None)
    return data.get("needed") if isinstance(data, dict) else None


def describe_answer(code: str, status: int | None, headers: Mapping[str, Any] | None) -> str:
    """A failed answer for an error message: `channel_not_found (HTTP 404)`, `invalid_auth`
    (`status` None: not worth telling), `HTTP 502 without a Slack error code`; a 429 adds the
    wait Slack asked for."""
    if code:
        what = code if status is None else f"{code} (HTTP {status})"
    else:
        what = f"HTTP {status} without a Slack error code"
    asked = retry_after(headers) if status == 429 else None
    return what if asked is None else f"{what}, asked to retry after {asked:.0f}s"


def api_error(
    exc: SlackApiError,
    *,
    destination: str,
    where: str,
    delivered: tuple[str, ...],
    token_env: str,
    redact: Callable[[str], str],
) -> DeliveryError:
    """A failed Web API call. 429 and 5xx answers (after slack-sdk's retries, or with a
    Retry-After too long to wait), TRANSIENT_ERRORS and unknown codes all keep the digest
    queued: only a known-permanent code drops it."""
    code, status = api_error_code(exc)
    shown = None if code and status == 200 else status  # Slack's usual 200 goes unsaid
    headers = getattr(exc.response, "headers", None)
    what = describe_answer(code, shown, headers)
    hint = (scope_hint(_needed(exc)) if code == "missing_scope" else None) or API_HINTS.get(
        code, TRANSIENT_HINT
    )
    return DeliveryError(
        redact(f"Slack answered {what}{where}"),
        destination=destination,
        permanent=code in PERMANENT_ERRORS,
        delivered=delivered,
        hint=hint.replace("{env}", token_env),
        retry_after=retry_after(headers) if status == 429 else None,
    )


def probe_error(
    exc: Exception,
    method: str,
    token_env: str,
    redact: Callable[[str], str],
    *,
    missing_scope: str | None,
) -> tuple[str, str]:
    """(reason, hint) for a failed `check --live` call. Never the token. `missing_scope` is the
    hint for a missing_scope answer (None: the one for the scope Slack says is needed)."""
    if isinstance(exc, SlackApiError):
        code, status = api_error_code(exc)
        what = code or f"HTTP {status} without a Slack error code"
        needed = _needed(exc)
        if code == "missing_scope":
            if isinstance(needed, str) and needed:
                what += f" (needs {needed})"
            hint = missing_scope or scope_hint(needed) or API_HINTS[code]
        else:
            hint = API_HINTS.get(code, "Slack may be having trouble: try again later")
        reason = f"Slack answered {what} to {method}"
        return redact(reason), hint.replace("{env}", token_env)
    reason = f"could not reach Slack ({method}): {type(exc).__name__}: {exc}"
    return redact(reason), "check the network and `slack.base_url` in bot.yaml"


def unreachable(
    what: str,
    exc: Exception,
    *,
    destination: str,
    where: str,
    delivered: tuple[str, ...],
    hint: str,
    redact: Callable[[str], str],
) -> DeliveryError:
    """The (transient) DeliveryError for a request that got no answer: refused, dropped,
    timed out, or slack-sdk gave up on it."""
    return DeliveryError(
        f"could not reach {what}{where}: {redact(f'{type(exc).__name__}: {exc}')}",
        destination=destination,
        permanent=False,
        delivered=delivered,
        hint=hint,
    )


def redactor(secrets: tuple[str, ...]) -> Callable[[str], str]:
    """A function cutting each of `secrets` (longest first) out of a text."""
    ordered = sorted((s for s in secrets if s), key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, "[redacted]")
        return text

    return redact
