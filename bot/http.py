"""One HTTP client for every source: timeouts, deadlines, User-Agent, size cap, the address
gate, redirects, retries with backoff.

Retry policy (the same for every source, so every source behaves the same on a bad day):
- a host name that does not resolve (offline, a typo) is retried once, after at most
  `UNRESOLVED_RETRY_WAIT` seconds (a resolver's hiccup), then fails: the full backoff would
  only delay the error;
- 429 and 5xx answers, timeouts and other transport errors are retried `retries` times, waiting
  `backoff`, 2*`backoff`, 4*`backoff`... seconds, or what the server asks if that is longer:
  `Retry-After`, or the reset of the IETF draft's `RateLimit` field (`"api";r=0;t=5`, which
  Hugging Face sends instead; also its older `reset=` and `RateLimit-Reset` forms), the larger;
- a wait longer than `max_retry_after` is not waited for: the fetch fails now and the day is
  fetched again on the next run;
- other 4xx answers are not retried: asking again will not change them.
Every failure ends in one `FetchError` carrying the url and status; httpx errors stop here.

Deadlines (bot/deadline.py): `timeout` is for silence; `request_deadline` bounds one request
from connect to last byte, `day_deadline` one (source, day) fetch with its retries, backoff and
pacing waits (`Http.day_deadline()`), `run_deadline` the fetching of one run
(`Http.run_deadline()`). A deadline passed is a failure that is not retried in this run.

Addresses (bot/netgate.py): only http(s) URLs; names are resolved once, at connection time, and
private, loopback, link-local and metadata addresses are refused unless `allow_private` (which
never allows link-local or metadata). Redirects are followed here, hop by hop, only to the
same host (http -> https allowed), each hop through the gate again.

Politeness: a request may name a `Pace` (a group of hosts and a minimum interval). Requests of
one group go one at a time (one connection), each starting at least `interval` seconds after
the previous one of that group ended, retries included. Any host under arxiv.org is always paced
in the "arxiv" group at >= 3 s, whatever the caller asks: arXiv's terms for API and RSS clients.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import http_sf
import httpx
from pydantic import Field, field_validator

from bot import deadline
from bot.deadline import Deadline
from bot.errors import FetchError
from bot.http_transport import gated_transport
from bot.netgate import AddressGate, redirect_refusal
from bot.schema import Strict

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
ARXIV_MIN_INTERVAL = 3.0  # seconds between requests to arXiv hosts (RSS and API together)
MAX_REDIRECTS = 5
UNRESOLVED_RETRY_WAIT = 1.0  # seconds before the one retry of a name that did not resolve
# The shipped config's `http.contact`: it names nobody, so it is not sent (`check` asks for one).
PLACEHOLDER_CONTACT = "you@example.org"


# Pacing shared by the workers of one state (bot/state/pacing.py): `slot(key, interval, wait)`
# holds the key's turn among all of them while the body runs (`wait` sleeps, as the caller
# allows: within its deadline).
SharedSlot = Callable[[str, float, Callable[[float], None]], AbstractContextManager[None]]


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

    timeout: float = Field(30.0, gt=0)  # seconds of silence (connect, or between two reads)
    retries: int = Field(3, ge=0, le=10)  # extra attempts after the first, on 429/5xx/timeouts
    backoff: float = Field(2.0, ge=0)  # seconds; doubles on each retry
    max_retry_after: float = Field(300.0, ge=0)  # a longer Retry-After fails now, next run retries
    max_bytes: int = Field(50_000_000, gt=0)  # response size cap
    contact: str = Field("", max_length=200)  # in the User-Agent, so source operators can reach you
    # Total deadlines (seconds), whatever the server's pace; see the module docstring. The
    # defaults never cut a legitimate day: a request fits a 50 MB answer at 170 kB/s; a day fits
    # a saved arXiv query read to its 30,000-result limit in pages of 200 (150 requests, 3 s
    # apart, ~20 min) with retries; a run fits a two-week arXiv catch-up. A run cut short loses
    # nothing: the days not fetched are fetched by the next run.
    request_deadline: float = Field(300.0, gt=0)
    day_deadline: float = Field(3600.0, gt=0)
    run_deadline: float = Field(7200.0, gt=0)
    allow_private: bool = False  # fetch private and loopback addresses (a mirror on your network)

    @field_validator("contact")
    @classmethod
    def _header_safe(cls, value: str) -> str:
        # It goes into a header: a line break would inject one, a non-ASCII character would
        # make httpx refuse every request.
        if any(not (" " <= ch <= "~") for ch in value):
            raise ValueError("must be printable ASCII on one line (an email address or a URL)")
        return value.strip()


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
    named = contact and contact != PLACEHOLDER_CONTACT
    return f"digestbot/{ver}" + (f" (+{contact})" if named else "")


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


def ratelimit_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds until the quota resets, from the IETF draft's rate-limit fields (lower-case
    names): `RateLimit: "policy";r=0;t=5` (a structured-field List; the policies with nothing
    remaining count, else all), the older `RateLimit: limit=10, remaining=0, reset=5`
    (a Dictionary) and `RateLimit-Reset: 5`. The largest wait given; None if none is readable.
    `RateLimit-Policy` gives a quota and a window, not a wait: it is not read."""
    waits: list[float] = []
    reset = _sf(headers.get("ratelimit-reset"), "item")
    if isinstance(reset, tuple):
        waits += _seconds(reset[0])
    field = headers.get("ratelimit")
    policies = _sf(field, "list")
    if isinstance(policies, list):
        items = [m for m in policies if isinstance(m, tuple) and not isinstance(m[0], list)]
        # (remaining, reset) of each policy that gives a usable reset
        found = [
            (p.get("r"), t) for _, p in items if isinstance(p, dict) for t in _seconds(p.get("t"))
        ]
        spent = [t for r, t in found if r == 0]
        waits += spent or [t for _, t in found]
    else:
        fields = _sf(field, "dictionary")
        if isinstance(fields, dict) and isinstance(fields.get("reset"), tuple):
            waits += _seconds(fields["reset"][0])
    return max(waits) if waits else None


def _sf(value: str | None, kind: str) -> object:
    """A structured field (RFC 9651) parsed as `kind`, or None if absent or malformed."""
    if not value:
        return None
    try:
        return http_sf.parse(value.encode("latin-1"), tltype=kind)
    except ValueError:  # http_sf.StructuredFieldError, or a character outside latin-1
        return None


def _seconds(value: object) -> list[float]:
    """[value] if it is a number of seconds (an Integer or Decimal >= 0, not a Boolean)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        return []
    return [float(value)] if value >= 0 else []


def asked_wait(headers: Mapping[str, str]) -> float | None:
    """The wait a retryable answer asks for: the larger of Retry-After and the RateLimit reset."""
    asked = [
        w
        for w in (retry_after_seconds(headers.get("retry-after")), ratelimit_seconds(headers))
        if w is not None
    ]
    return max(asked) if asked else None


class Http:
    """A small wrapper over one httpx.Client. `get()` is the one method sources use.

    `gate` decides which addresses may be fetched (by default from `settings.allow_private`);
    `transport` replaces the gated one (then only URLs are checked, not resolved addresses)."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        gate: AddressGate | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate or AddressGate(allow_private=settings.allow_private)
        self._sleep = sleep
        self._paces: dict[str, tuple[threading.Lock, list[float]]] = {}
        self._paces_lock = threading.Lock()
        # With several workers on one state: books a group's turn among all of them
        # (bot/state/pacing.py), on top of this process's own pace.
        self.shared_pace: SharedSlot | None = None
        self._client = httpx.Client(
            timeout=settings.timeout,
            headers={"User-Agent": user_agent(settings.contact)},
            follow_redirects=False,  # followed in _get_once, each hop through the gate
            transport=transport or gated_transport(self.gate),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def run_deadline(self) -> Iterator[None]:
        """Bound every request made inside by the run's deadline (`http.run_deadline`)."""
        with deadline.within(
            Deadline.after(
                self.settings.run_deadline,
                "http.run_deadline",
                "the run's fetching",
                "the sources not fetched are fetched on the next run "
                "(raise http.run_deadline in bot.yaml if runs are legitimately this long)",
            )
        ):
            yield

    @contextmanager
    def day_deadline(self) -> Iterator[None]:
        """Bound the requests, retries and waits of one (source, day) (`http.day_deadline`)."""
        with deadline.within(
            Deadline.after(
                self.settings.day_deadline,
                "http.day_deadline",
                "this day's fetch",
                "the day is fetched again on the next run "
                "(raise http.day_deadline in bot.yaml if this source is legitimately slow)",
            )
        ):
            yield

    def get(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        pace: Pace | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """GET with the retry policy above. Raises FetchError; never returns a 4xx/5xx.
        `headers` are sent with the request (and its same-host redirects): where an API key
        goes, never into the URL, which errors and logs show."""
        self.gate.check_url(url)
        effective = pace_for(url, pace)
        if effective is None:
            return self._get_with_retries(url, params, headers=headers)
        lock, last_end = self._pace_state(effective.group)
        self._take_turn(lock, url)  # one request of the group at a time
        shared = (
            nullcontext()
            if self.shared_pace is None
            else self.shared_pace(
                f"http:{effective.group}",
                effective.interval,
                lambda wait: self._pause(wait, "for its turn", url),
            )
        )
        try:
            with shared:  # ...and of all the workers sharing the state
                return self._get_with_retries(url, params, effective, last_end, headers)
        finally:
            last_end[0] = time.monotonic()
            lock.release()

    def _pace_state(self, group: str) -> tuple[threading.Lock, list[float]]:
        with self._paces_lock:
            if group not in self._paces:
                self._paces[group] = (threading.Lock(), [float("-inf")])
            return self._paces[group]

    def _take_turn(self, lock: threading.Lock, url: str) -> None:
        """Wait for the group's lock, but not past the deadline (another thread holds it)."""
        limit = deadline.current()
        if limit is None:
            lock.acquire()
        elif not lock.acquire(timeout=max(limit.remaining(), 0.0)):
            raise limit.passed(url)

    def _pause(self, wait: float, why: str, url: str) -> None:
        """Sleep `wait` seconds, unless that would pass the deadline: then fail now."""
        if wait <= 0:
            return
        limit = deadline.current()
        if limit is not None and wait > limit.remaining():
            raise limit.wait_error(wait, why, url)
        self._sleep(wait)

    def _wait_turn(self, pace: Pace | None, last_end: list[float], url: str) -> None:
        if pace is None:
            return
        self._pause(last_end[0] + pace.interval - time.monotonic(), "for its turn", url)

    def _get_with_retries(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        pace: Pace | None = None,
        last_end: list[float] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        last_end = last_end if last_end is not None else [float("-inf")]
        attempts = self.settings.retries + 1
        unresolved = 0  # failures to resolve the host's name
        for attempt in range(1, attempts + 1):
            delay = self.settings.backoff * 2 ** (attempt - 1)
            self._wait_turn(pace, last_end, url)
            try:
                response = self._get_once(url, params, headers)
            except FetchError as exc:
                last_end[0] = time.monotonic()
                unresolved += exc.unresolved
                if not exc.retryable or attempt == attempts or unresolved > 1:
                    raise
                if exc.unresolved:  # one quick retry (see the module docstring)
                    delay = min(delay, UNRESOLVED_RETRY_WAIT)
                log.info(
                    "GET %s failed (%s); retry %d/%d in %.1fs",
                    url,
                    exc,
                    attempt,
                    attempts - 1,
                    delay,
                )
                self._pause(delay, "to retry", url)
                continue
            last_end[0] = time.monotonic()
            if response.status < 400:
                return response
            error = self._status_error(response)
            if not error.retryable or attempt == attempts:
                raise error
            asked = asked_wait(response.headers)
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
            self._pause(delay, "to retry", url)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def _get_once(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """One request (and the redirects it leads to), within `request_deadline`."""
        own = Deadline.after(
            self.settings.request_deadline,
            "http.request_deadline",
            "the answer",
            "the source answers too slowly; the day is fetched again on the next run "
            "(raise http.request_deadline in bot.yaml if it is legitimately slow)",
        )
        with deadline.within(own) as limit:
            if limit.remaining() <= 0:
                raise limit.passed(url)
            try:
                return self._follow(url, params, limit, headers)
            except httpx.TimeoutException as exc:
                if limit.remaining() <= 0:
                    raise limit.passed(url) from exc
                raise FetchError(f"timed out after {self.settings.timeout:g}s", url=url) from exc
            except httpx.ConnectError as exc:
                raise FetchError(
                    f"cannot connect ({_reason(exc)})",
                    url=url,
                    unreachable=True,
                    unresolved=_caused_by(exc, socket.gaierror),
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
            except FetchError as exc:  # the gate, deep in the connection: say which URL
                exc.url = exc.url or url
                raise

    def _follow(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        limit: Deadline,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        target, query = url, params
        for _ in range(MAX_REDIRECTS + 1):
            timeout = min(self.settings.timeout, max(limit.remaining(), 0.001))
            with self._client.stream(
                "GET", target, params=query, headers=headers, timeout=timeout
            ) as r:
                if r.has_redirect_location:
                    target = str(r.url.join(r.headers["location"]))
                    why = redirect_refusal(url, target)
                    if why is not None:
                        raise FetchError(
                            why,
                            url=url,
                            retryable=False,
                            hint=f"it redirects to {target}: if you trust that, make it the "
                            "source's base_url in bot.yaml",
                        )
                    self.gate.check_url(target)
                    query = None  # the Location carries its own query
                    continue
                return self._read(r, limit)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects", url=url, retryable=False)

    def _read(self, r: httpx.Response, limit: Deadline) -> Response:
        declared = r.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.settings.max_bytes:
            raise self._too_big(str(r.url))
        chunks: list[bytes] = []
        size = 0
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > self.settings.max_bytes:
                raise self._too_big(str(r.url))
            if limit.remaining() <= 0:  # a steady drip is never silent long enough to time out
                raise limit.passed(None)  # _get_once names the URL asked for
            chunks.append(chunk)
        return Response(str(r.url), r.status_code, dict(r.headers), b"".join(chunks))

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


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `exc` or an exception in its chain of causes is a `kind` (httpx wraps
    httpcore's error, which wraps the socket's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
