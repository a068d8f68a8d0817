"""Wires validated settings into live parts: the store, the HTTP client, sources, notifiers.

The only module that reads the registries to build objects. Profiles are read again on every
run (`load_profiles`), so an edited profile takes effect without a restart.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

import httpx

from bot.config import Settings, load_profiles
from bot.errors import ConfigError
from bot.http import Http
from bot.models import Profile
from bot.notifiers import NOTIFIERS
from bot.notifiers.base import Notifier
from bot.notifiers.console import ConsoleNotifier
from bot.sources import SOURCES
from bot.sources.base import Source
from bot.store import Store

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
    console: Notifier = field(default_factory=ConsoleNotifier)
    dry_run: bool = False

    def load_profiles(self) -> tuple[list[Profile], list[ConfigError]]:
        return load_profiles(self.settings.profiles_dir)

    def resolve(self, destination: str) -> str:
        """Where a profile's destination really goes: itself when its notifier is usable,
        else the console (the new user's default: no token yet)."""
        name = destination.split(":", 1)[0]
        return destination if name in self.notifiers else CONSOLE

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
    store = Store.open_readonly(settings.state_path) if dry_run else Store.open(settings.state_path)
    http = Http(settings.http, transport=http_transport)
    sources = [SOURCES[s.kind](s, http) for s in settings.sources]
    notifiers: dict[str, Notifier] = {}
    unusable: dict[str, str] = {}
    for name, notifier_settings in settings.notifiers.items():
        notifier, why = NOTIFIERS[name].create(notifier_settings, env)
        if notifier is None:
            unusable[name] = why
            # Expected on a fresh install (no token yet); `digestbot check` reports it too.
            log.info("%s is not usable (%s): its digests go to the console", name, why)
        else:
            notifiers[name] = notifier
    return App(
        settings=settings,
        store=store,
        http=http,
        sources=sources,
        notifiers=notifiers,
        unusable=unusable,
        console=ConsoleNotifier(console_stream),
        dry_run=dry_run,
    )
