"""What Slack's answers mean for the outbox, and how a failure is told: the one place where
slack-sdk's and urllib's errors become `DeliveryError` (with a hint) for both Slack notifiers.

    PERMANENT_ERRORS,   the Web API's `error` codes (bot token): which ones retrying will not
    TRANSIENT_ERRORS,   heal (the papers are marked dead), which ones it will, and what to do
    API_HINTS           next; an unknown code is transient (the digest stays queued)
    api_error()         a failed Web API call -> DeliveryError
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
}

_ERROR_CODE = re.compile(r"[a-z0-9_]{1,100}")


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
    return DeliveryError(
        redact(f"Slack answered {what}{where}"),
        destination=destination,
        permanent=code in PERMANENT_ERRORS,
        delivered=delivered,
        hint=API_HINTS.get(code, TRANSIENT_HINT).replace("{env}", token_env),
        retry_after=retry_after(headers) if status == 429 else None,
    )


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
