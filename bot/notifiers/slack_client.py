"""How both Slack notifiers talk to Slack: the settings, the retry policy, the pace.

The bot token (`slack.py`) and the incoming webhook (`slack_webhook.py`) read the same `slack:`
settings and post through a slack-sdk client (WebClient, WebhookClient) with the same retries
and pace:

    SlackSettings       the `slack:` section of bot.yaml
    retry_handlers()    slack-sdk's own retry handler classes, two of them subclassed:
                        connection errors once (slack-sdk's default); 429 after Retry-After,
                        unless Slack asks for longer than `max_retry_after` (then the 429 is the
                        answer: the delivery fails now, as transient, and stays queued, instead of
                        blocking the run; Retry-After read as seconds or an HTTP date); 500, 502,
                        503 and 504 (slack-sdk's own handler retries only 500 and 503)
    Pace                at most one post per second per channel (Slack's posting rate)

What their answers mean is `slack_errors.py`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator
from slack_sdk.http_retry import RetryHandler, default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.http import SharedSlot, retry_after_seconds
from bot.schema import Strict

log = logging.getLogger(__name__)

POST_INTERVAL = 1.0  # seconds between two posts to one channel (Slack: about 1 per second)
# Server errors worth asking again: the API's own (500, 503) and its gateways' (502, 504).
RETRY_STATUSES: frozenset[int] = frozenset({500, 502, 503, 504})


class SlackSettings(Strict):
    """The `slack:` section of bot.yaml. The token (or webhook URL) itself is never in the file.

    Either a bot token (`token_env`, the default) or an incoming webhook (`webhook_env`), never
    both: naming `token_env` or `base_url` next to `webhook_env` is an error rather than one of
    them silently ignored.
    """

    # Declared first: pydantic validates in this order, so the validator of `token_env` and
    # `base_url` (which only runs when they are written in the file) can see it.
    webhook_env: str | None = Field(default=None, min_length=1)
    # Where the webhook URL in `webhook_env` must point: Slack's hooks, or a relay / stand-in.
    # A URL elsewhere is malformed (a typo must not send digests to another host).
    webhook_base_url: str = "https://hooks.slack.com/"
    token_env: str = Field(default="SLACK_BOT_TOKEN", min_length=1)
    # The app-level token (xapp-, scope connections:write) that lets the daemon hear the vote
    # buttons over Socket Mode (slack_socket.py). Unset: digests carry no buttons.
    app_token_env: str = Field(default="SLACK_APP_TOKEN", min_length=1)
    base_url: str = "https://slack.com/api/"
    timeout: float = Field(default=30, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    # As `http.max_retry_after` for the sources: a 429 asking for a longer wait is not waited
    # for; the delivery fails now and stays queued for the next run.
    max_retry_after: float = Field(default=300, ge=0)

    @field_validator("token_env", "app_token_env", "base_url")
    @classmethod
    def _not_with_webhook(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("webhook_env") is not None:
            raise ValueError(
                f"{info.field_name} belongs to a bot token, but webhook_env is set too: keep "
                "either token_env (a bot token) or webhook_env (an incoming webhook)"
            )
        return value

    @field_validator("webhook_base_url")
    @classmethod
    def _only_with_webhook(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("webhook_env") is None:
            raise ValueError(
                "webhook_base_url belongs to an incoming webhook: set webhook_env too, or drop it"
            )
        return _http_base(value, "https://hooks.slack.com/")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_base(value, "https://slack.com/api/")


def _http_base(value: str, example: str) -> str:
    """An http(s) URL with a host, ending in "/"."""
    value = value.strip()
    if not value.startswith(("https://", "http://")) or not urlsplit(value).hostname:
        raise ValueError(f"must be an http(s) URL, e.g. {example}")
    return value if value.endswith("/") else value + "/"


# --------------------------------------------------------------------------- retries


class CappedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack-sdk's 429 handler, except that a Retry-After longer than `max_retry_after` is not
    waited for (the 429 becomes the answer), and that Retry-After may be fractional seconds or
    an HTTP date (slack-sdk's own handler raises ValueError on anything but whole seconds)."""

    def __init__(self, max_retry_count: int, max_retry_after: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_retry_after = max_retry_after

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        asked = retry_after(response.headers)
        if asked is not None and asked > self.max_retry_after:
            log.info(
                "slack: rate-limited and asked to retry after %.0fs, longer than "
                "slack.max_retry_after (%.0fs): not waiting",
                asked,
                self.max_retry_after,
            )
            return False
        return True

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        asked = retry_after(response.headers) if response is not None else None
        # As slack-sdk: the asked seconds (1 when none are given) plus up to 1 s of jitter.
        duration = (1.0 if asked is None else asked) + random.random()
        log.info("slack: rate-limited; retrying in %.1fs (Retry-After)", duration)
        state.next_attempt_requested = True
        time.sleep(duration)
        state.increment_current_attempt()


class GatewayErrorRetryHandler(ServerErrorRetryHandler):
    """slack-sdk's server error handler for RETRY_STATUSES: 502 and 504 as well as 500, 503."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in RETRY_STATUSES


def retry_handlers(settings: SlackSettings) -> list[RetryHandler]:
    """The retry policy of both slack-sdk clients (WebClient and WebhookClient)."""
    return [
        *default_retry_handlers(),  # connection errors, once
        CappedRateLimitRetryHandler(settings.max_retries, settings.max_retry_after),  # 429
        GatewayErrorRetryHandler(max_retry_count=settings.max_retries),  # 500, 502, 503, 504
    ]


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """The seconds a Retry-After header asks for (slack-sdk hands headers over with plain or
    list values, in any case); None without a usable one."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            return retry_after_seconds(None if value is None else str(value))
    return None


# --------------------------------------------------------------------------- pace


class Pace:
    """At most one post per `interval` seconds per key (a channel). `slot(key)` waits for the
    key's turn and records, when the post is over, that it was used (failed posts count too)."""

    def __init__(self, interval: float = POST_INTERVAL) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}  # key -> monotonic time the last post ended
        # With several workers on one state: books the key's slot among all of them
        # (bot/state/pacing.py), on top of this process's own pace.
        self.shared: SharedSlot | None = None

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        wait = self._last.get(key, float("-inf")) + self._interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        shared = (
            nullcontext()
            if self.shared is None
            else self.shared(f"slack:{key}", self._interval, time.sleep)
        )
        try:
            with shared:
                yield
        finally:
            self._last[key] = time.monotonic()
