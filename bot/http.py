"""One HTTP client for every source: timeouts, User-Agent, size cap, retries with backoff.

Retry policy (the same for every source, so every source behaves the same on a bad day):
- 429 and 5xx answers, timeouts and transport errors are retried `retries` times, waiting
  `backoff`, 2*`backoff`, 4*`backoff`... seconds, or what `Retry-After` asks if that is longer;
- a `Retry-After` longer than `max_retry_after` is not waited for: the fetch fails now and the
  day is fetched again on the next run;
- other 4xx answers are not retried: asking again will not change them.
Every failure ends in one `FetchError` carrying the url and status; httpx errors stop here.

Politeness: a request may name a `Pace` (a group of hosts and a minimum interval). Requests of
one group go one at a time (one connection), each starting at least `interval` seconds after
the previous one of that group ended, retries included. Any host under arxiv.org is always paced
in the "arxiv" group at >= 3 s, whatever the caller asks: arXiv's terms for API and RSS clients.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from bot.errors import FetchError
from bot.schema import Strict

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
ARXIV_MIN_INTERVAL = 3.0  # seconds between requests to arXiv hosts (RSS and API together)


@dataclass(frozen=True)
class Pace:
    """Requests sharing `group` go one at a time, `interval` seconds apart (end to start)."""

    group: str
    interval: float


def pace_for(url: str, asked: Pace | None) -> Pace | None:
    """The pace a request gets: what the caller asked, raised to arXiv's minimum on arXiv."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "arxiv.org" or host.endswith(".arxiv.org"):
        interval = max(ARXIV_MIN_INTERVAL, asked.interval if asked else 0.0)
        return Pace("arxiv", interval)
    return asked


class HttpSettings(Strict):
    """`http:` in bot.yaml: how the bot talks to the outside world."""

    timeout: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)  # extra attempts after the first, on 429/5xx/timeouts
    backoff: float = Field(2.0, ge=0)  # seconds; doubles on each retry
    max_retry_after: float = Field(300.0, ge=0)  # a longer Retry-After fails now, next run retries
    max_bytes: int = Field(50_000_000, gt=0)  # response size cap
    contact: str = ""  # put in the User-Agent so operators of the sources can reach you


@dataclass(frozen=True)
class Response:
    """What a source gets back: the final url, status, headers and the body bytes."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes


def user_agent(contact: str) -> str:
    try:
        ver = version("digestbot")
    except PackageNotFoundError:  # running from a source tree that was not installed
        ver = "0"
    return f"digestbot/{ver}" + (f" (+{contact})" if contact else "")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Http:
    """A small wrapper over one httpx.Client. `get()` is the one method sources use."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._paces: dict[str, tuple[threading.Lock, list[float]]] = {}
        self._paces_lock = threading.Lock()
        self._client = httpx.Client(
            timeout=settings.timeout,
            headers={"User-Agent": user_agent(settings.contact)},
            follow_redirects=True,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        pace: Pace | None = None,
    ) -> Response:
        """GET with the retry policy above. Raises FetchError; never returns a 4xx/5xx."""
        effective = pace_for(url, pace)
        if effective is None:
            return self._get_with_retries(url, params)
        lock, last_end = self._pace_state(effective.group)
        with lock:  # one request of the group at a time
            try:
                return self._get_with_retries(url, params, effective, last_end)
            finally:
                last_end[0] = time.monotonic()

    def _pace_state(self, group: str) -> tuple[threading.Lock, list[float]]:
        with self._paces_lock:
            if group not in self._paces:
                self._paces[group] = (threading.Lock(), [float("-inf")])
            return self._paces[group]

    def _wait_turn(self, pace: Pace | None, last_end: list[float]) -> None:
        if pace is None:
            return
        wait = last_end[0] + pace.interval - time.monotonic()
        if wait > 0:
            self._sleep(wait)

    def _get_with_retries(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        pace: Pace | None = None,
        last_end: list[float] | None = None,
    ) -> Response:
        last_end = last_end if last_end is not None else [float("-inf")]
        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            delay = self.settings.backoff * 2 ** (attempt - 1)
            self._wait_turn(pace, last_end)
            try:
                response = self._get_once(url, params)
            except FetchError as exc:
                last_end[0] = time.monotonic()
                if not exc.retryable or attempt == attempts:
                    raise
                log.info(
                    "GET %s failed (%s); retry %d/%d in %.1fs",
                    url,
                    exc,
                    attempt,
                    attempts - 1,
                    delay,
                )
                self._sleep(delay)
                continue
            last_end[0] = time.monotonic()
            if response.status < 400:
                return response
            error = self._status_error(response)
            if not error.retryable or attempt == attempts:
                raise error
            asked = retry_after_seconds(response.headers.get("retry-after"))
            if asked is not None and asked > self.settings.max_retry_after:
                raise FetchError(
                    f"HTTP {response.status}, asked to retry after {asked:.0f}s",
                    url=response.url,
                    status=response.status,
                    hint="the source will be asked again on the next run",
                )
            delay = max(delay, asked or 0.0)
            log.info(
                "GET %s answered %d; retry %d/%d in %.1fs",
                url,
                response.status,
                attempt,
                attempts - 1,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def _get_once(self, url: str, params: Mapping[str, str | int] | None) -> Response:
        try:
            with self._client.stream("GET", url, params=params) as r:
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.settings.max_bytes:
                    raise self._too_big(str(r.url))
                chunks: list[bytes] = []
                size = 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > self.settings.max_bytes:
                        raise self._too_big(str(r.url))
                    chunks.append(chunk)
                return Response(str(r.url), r.status_code, dict(r.headers), b"".join(chunks))
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out after {self.settings.timeout:g}s", url=url) from exc
        except httpx.ConnectError as exc:
            raise FetchError(
                f"cannot connect ({_reason(exc)})",
                url=url,
                unreachable=True,
                hint="check the network, or the source's base_url in bot.yaml",
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError(
                f"bad URL ({_reason(exc)})",
                url=url,
                retryable=False,
                hint="check the source's base_url in bot.yaml",
            ) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"transport error ({_reason(exc)})", url=url) from exc

    def _too_big(self, url: str) -> FetchError:
        return FetchError(
            f"response larger than {self.settings.max_bytes} bytes",
            url=url,
            retryable=False,
            hint="raise http.max_bytes in bot.yaml if this source is trusted",
        )

    @staticmethod
    def _status_error(response: Response) -> FetchError:
        retryable = response.status in RETRY_STATUSES
        return FetchError(
            f"HTTP {response.status}",
            url=response.url,
            status=response.status,
            retryable=retryable,
            hint=None if retryable else "check the source's base_url and settings in bot.yaml",
            body=response.content[:65536],
        )


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
