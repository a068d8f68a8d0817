"""The exception tree: every error the bot raises on purpose, each with a hint for the user.

    DigestbotError                 str() is one line; .hint says what to do next
    ├── ConfigError                bad bot.yaml or profile: names file, line and field
    ├── FetchError                 a source could not be fetched (after retries)
    │   ├── ParseError             a source answered, but not with what we can read
    │   └── StaleError             a source answered with an old batch for the day asked
    ├── DeliveryError              a destination refused or could not be reached
    ├── SecretError                a secret in the environment is malformed (names the variable)
    └── StateError                 the SQLite state cannot be used: too new, a full disk, read-only,
                                   not SQLite, locked (bot/state/db.py)

Foreign exceptions (httpx, slack_sdk, sqlite3, ruamel) are translated into these once, at the
module that talks to the foreign library, with `raise ... from exc`. Messages never contain
secrets: tokens are only ever read from the environment and not formatted into text.
"""

from __future__ import annotations


class DigestbotError(Exception):
    """Base class. `str(err)` is the one-line message; `hint` the next step, if any."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(DigestbotError):
    """A configuration or profile file is invalid."""

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = file if line is None else f"{file}:{line}"
        what = f"{where}: {field}: {message}" if field else f"{where}: {message}"
        super().__init__(what, hint)
        self.file = file
        self.line = line
        self.field = field


class ConfigErrors(DigestbotError):
    """Several ConfigErrors found in one file (all are reported, not just the first)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("; ".join(str(e) for e in errors), errors[0].hint if errors else None)
        self.errors = errors


class FetchError(DigestbotError):
    """A source could not be fetched; the day is not treated as empty."""

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        retryable: bool = True,
        unreachable: bool = False,
        unresolved: bool = False,
        hint: str | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.url = url
        self.status = status
        self.retryable = retryable
        self.unreachable = unreachable  # the host could not be reached at all
        self.unresolved = unresolved  # ... because its name did not resolve (offline?)
        # The start of an error answer's body, for sources whose API explains a 4xx in it.
        self.body = body


class ParseError(FetchError):
    """A payload arrived but could not be read as the source's format."""

    def __init__(self, message: str, *, url: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, url=url, retryable=False, hint=hint)


class StaleError(FetchError):
    """The source still shows an earlier batch than the digest day asked for."""

    def __init__(self, message: str, *, url: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, url=url, retryable=False, hint=hint)


class DeliveryError(DigestbotError):
    """A destination did not accept a digest. `permanent` errors will not heal by retrying.

    `delivered` holds the ids of papers that did reach the destination before the failure (a
    digest split over several messages can fail half-way); the pipeline marks those sent.
    `retry_after` is the wait (seconds) the destination asked for, when it said (a 429).
    """

    def __init__(
        self,
        message: str,
        *,
        destination: str,
        permanent: bool = False,
        delivered: tuple[str, ...] = (),
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{destination}: {message}", hint)
        self.destination = destination
        self.permanent = permanent
        self.delivered = delivered
        self.retry_after = retry_after


class SecretError(DigestbotError):
    """An environment variable holds a secret of the wrong shape (bot/secrets.py). The message
    names the variable only, never the value."""

    def __init__(self, variable: str, problem: str, hint: str) -> None:
        super().__init__(f"${variable} is malformed: {problem}", hint)
        self.variable = variable


class StateError(DigestbotError):
    """The state database cannot be used. `reason` names the SQLite error behind it, if any
    (`SQLITE_READONLY_DIRECTORY`), for a caller that can work around it."""

    def __init__(self, message: str, hint: str | None = None, *, reason: str | None = None) -> None:
        super().__init__(message, hint)
        self.reason = reason
