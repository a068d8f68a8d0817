"""Wires validated settings into live parts: the store, the HTTP client, sources, notifiers.

The only module that reads the registries to build objects. Profiles are read again on every
run (`load_profiles`), so an edited profile takes effect without a restart.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO

import httpx

from bot.config import ProfileCache, Settings, load_profiles
from bot.errors import ConfigError, SecretError
from bot.http import Http
from bot.models import Profile
from bot.notifiers import NOTIFIERS
from bot.notifiers.base import Notifier
from bot.notifiers.console import ConsoleNotifier
from bot.sources import SOURCES
from bot.sources.base import Source
from bot.state.backend import PostgresState
from bot.state.lock import PostgresLock, StateLock, lock_for
from bot.state.store import Store
from bot.web.settings import email_vote_links
from bot.web.tokens import VoteLinks

log = logging.getLogger(__name__)

CONSOLE = "console"


@dataclass
class App:
    """Everything a run needs. Build it with `build_app`, close it when done."""

    settings: Settings
    store: Store
    http: Http
    sources: list[Source]
    notifiers: dict[str, Notifier]  # usable notifiers by name
    unusable: dict[str, str] = field(default_factory=dict)  # configured but unusable: why
    # Configured, but its secret is set and malformed: its digests are not sent to the console
    # (the secret is there, just wrong) but fail for good, naming the variable, until fixed.
    malformed: dict[str, SecretError] = field(default_factory=dict)
    console: Notifier = field(default_factory=ConsoleNotifier)
    dry_run: bool = False
    # Held while the app writes to the state (not in dry runs).
    lock: StateLock | PostgresLock | None = None
    # The last version of each profile file that loaded (by path): a daemon keeps serving it
    # while an edit of that file is broken, instead of dropping the profile's subscribers.
    last_good: dict[str, Profile] = field(default_factory=dict)
    # The profiles as last parsed, by path and text: an unchanged file is not parsed again.
    profile_cache: ProfileCache = field(default_factory=dict)
    # The environment secrets are read from (profiles' Zotero API keys, at run time).
    env: Mapping[str, str] = field(default_factory=dict)

    def load_profiles(self) -> tuple[list[Profile], list[ConfigError]]:
        """The profiles folder as it is now (re-read on every run). A file that fails to load
        but loaded before is served in its last good version; its errors are still returned."""
        profiles, errors = load_profiles(
            self.settings.profiles_dir, self.settings.notifiers, self.profile_cache
        )
        kept: list[Profile] = []
        for file in sorted({e.file for e in errors}):
            good = self.last_good.get(file)
            if good is not None and Path(file).exists():
                log.warning("profile %s is broken: still serving its last good version", file)
                kept.append(good)
        self.last_good = {p.path: p for p in [*profiles, *kept]}
        return sorted([*profiles, *kept], key=lambda p: p.path), errors

    def resolve(self, destination: str) -> str:
        """Where a profile's destination really goes: itself when its notifier is usable (or
        its secret malformed: then the delivery fails), else the console (the new user's
        default: no token yet)."""
        name = destination.split(":", 1)[0]
        return destination if name in self.notifiers or name in self.malformed else CONSOLE

    def place(self, destination: str) -> str:
        """Where a destination's messages land, as a key: two destinations with the same place
        are one channel or mailbox (`Notifier.place`)."""
        found = self.notifier_for(destination)
        if found is None:
            return destination
        notifier, target = found
        return f"{destination.split(':', 1)[0]}:{notifier.place(target)}"

    def notifier_for(self, destination: str) -> tuple[Notifier, str] | None:
        if destination == CONSOLE:
            return self.console, ""
        name, _, target = destination.partition(":")
        notifier = self.notifiers.get(name)
        return (notifier, target) if notifier else None

    def close(self) -> None:
        for notifier in self.notifiers.values():
            notifier.close()
        self.http.close()
        self.store.close()
        if self.lock is not None:
            self.lock.release()


def build_app(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    console_stream: IO[str] | None = None,
    http_transport: httpx.BaseTransport | None = None,
) -> App:
    """Open the state, build the sources and the notifiers that can be used."""
    env = os.environ if env is None else env
    if dry_run:
        lock, store = None, Store.open_readonly(settings.state, env)
    else:
        # Before anything is read: a second writer of a SQLite file must not even start
        # fetching. Workers sharing a PostgreSQL state take no lock: they claim the work
        # (fetches, deliveries) row by row (bot/state/outbox.py, fetch_log.py).
        lock = None if isinstance(settings.state, PostgresState) else lock_for(settings.state, env)
        if lock is not None:
            lock.acquire()
        try:
            store = Store.open(settings.state, env)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        store.outbox.lease = timedelta(seconds=settings.delivery_lease)
    http = Http(settings.http, transport=http_transport)
    sources = build_sources(settings, http)
    notifiers, unusable, malformed = build_notifiers(settings, env)
    if store.pacing is not None:  # workers sharing the state keep the paces together
        http.shared_pace = store.pacing.slot
        for notifier in notifiers.values():
            notifier.share_pacing(store.pacing.slot)
    return App(
        settings=settings,
        store=store,
        http=http,
        sources=sources,
        notifiers=notifiers,
        unusable=unusable,
        malformed=malformed,
        console=ConsoleNotifier(console_stream),
        dry_run=dry_run,
        lock=lock,
        env=env,
    )


def build_sources(settings: Settings, http: Http) -> list[Source]:
    """The configured sources, fetching through `http`."""
    return [SOURCES[s.kind](s, http) for s in settings.sources]


def build_notifiers(
    settings: Settings, env: Mapping[str, str]
) -> tuple[dict[str, Notifier], dict[str, str], dict[str, SecretError]]:
    """(usable notifiers by name, why each configured but unusable one is not usable, the
    error of each whose secret is malformed)."""
    notifiers: dict[str, Notifier] = {}
    unusable: dict[str, str] = {}
    malformed: dict[str, SecretError] = {}
    for name, notifier_settings in settings.notifiers.items():
        try:
            notifier, why = NOTIFIERS[name].create(notifier_settings, env)
        except SecretError as exc:
            malformed[name] = exc
            log.error("%s is not usable: %s; its digests fail until it is fixed", name, exc)
            continue
        if notifier is None:
            unusable[name] = why
            # Expected on a fresh install (no token yet); `digestbot check` reports it too.
            log.info("%s is not usable (%s): its digests go to the console", name, why)
        else:
            notifiers[name] = notifier
    if notifiers:
        links, why_not = _vote_links(settings, env)
        for notifier in notifiers.values():
            notifier.link_votes(links, why_not)
    return notifiers, unusable, malformed


def _vote_links(settings: Settings, env: Mapping[str, str]) -> tuple[VoteLinks | None, str]:
    """The vote links of email digests (`web:`), or None and why not. A malformed key is
    logged and leaves the emails without links: a wrong key must not stop the digests."""
    try:
        return email_vote_links(settings.web, env)
    except SecretError as exc:
        log.error("%s; emails go without vote links until it is fixed", exc)
        return None, str(exc)
