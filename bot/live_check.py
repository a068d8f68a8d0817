"""`digestbot check --live`: prove that the outside world works, one `Check` per thing proven.

`digestbot check` reads files; `--live` also talks to every service the config names, and sends
nothing anywhere:

    what      proven                                               how
    slack     the token is valid and has chat:write; every         auth.test (its X-OAuth-Scopes
              channel a profile or `operator:` names exists, is    header), conversations.info
              visible to the bot, is not archived, and the bot     for an ID, conversations.list
              is a member (or it is public and the app has         for a name (needs
              chat:write.public)                                   channels:read / groups:read)
    email     the server answers, STARTTLS or TLS as configured    connect, EHLO, STARTTLS,
              with a verified certificate, the login is accepted   AUTH, NOOP, QUIT
    sources   each upstream answers like itself (the HF API a      one GET per source through
              JSON list, the RSS feed a feed, a saved arXiv        bot.http, without retries
              query accepted by arXiv)
    zotero    each profile's Zotero library (`library: zotero:`)   its listing, as a run reads
              can be read: the key, the user, the collection       it, without retries

Not proven, because only a real post or mail would: a channel's own posting restrictions
(#general limited to admins), that a mailbox exists, that a message's layout is accepted.

Each notifier and source proves itself (`Notifier.probe(targets)`, `Source.probe()`); this module
only decides what to ask (every destination of the profiles and of `operator:`) and turns what
cannot be asked (a notifier without its secret, a destination whose notifier is not configured)
and every source failure into a failed Check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from bot.app import build_notifiers, build_sources
from bot.config import Settings
from bot.errors import FetchError
from bot.http import Http
from bot.models import Check, Profile
from bot.relevance.library import LibraryError, read_zotero

_SOURCE_HINT = "the source may be down: try again later; if it persists, check its base_url"


def live_checks(
    settings: Settings, profiles: Sequence[Profile], env: Mapping[str, str]
) -> Iterator[Check]:
    """Every live check, in order: each notifier (configured or named by a destination), then
    each source. Yielded as they finish, so a slow one shows where it is."""
    targets: dict[str, list[str]] = {}
    for destination in [*(d for p in profiles for d in p.destinations), *settings.operator]:
        name, _, target = destination.partition(":")
        wanted = targets.setdefault(name, [])
        if target not in wanted:
            wanted.append(target)
    yield from _notifier_checks(settings, targets, env)
    yield from _source_checks(settings)
    yield from _library_checks(settings, profiles, env)


def _notifier_checks(
    settings: Settings, targets: Mapping[str, list[str]], env: Mapping[str, str]
) -> Iterator[Check]:
    notifiers, unusable, malformed = build_notifiers(settings, env)
    try:
        names = [*settings.notifiers, *(n for n in targets if n not in settings.notifiers)]
        for name in names:
            wanted = targets.get(name, [])
            if name in notifiers:
                yield from notifiers[name].probe(wanted)
            elif name in malformed:
                yield Check(name, "failed", str(malformed[name]), malformed[name].hint)
            elif name not in unusable:
                for target in wanted:
                    yield Check(
                        f"{name} {target}",
                        "failed",
                        f"bot.yaml has no `{name}:` section: this digest goes to the console",
                        f"add the `{name}:` section to {settings.path} (see the README)",
                    )
            elif wanted:
                for target in wanted:
                    yield Check(
                        f"{name} {target}",
                        "failed",
                        f"{name} is not usable ({unusable[name]}): this digest goes to the console",
                        "set it in the bot's environment (see the README), then check again",
                    )
            else:
                yield Check(name, "skipped", f"not usable ({unusable[name]}); nothing sends to it")
    finally:
        for notifier in notifiers.values():
            notifier.close()


def _source_checks(settings: Settings) -> Iterator[Check]:
    # One attempt per source: a check reports the first answer instead of backing off for
    # minutes (arXiv's pacing still applies).
    with Http(settings.http.model_copy(update={"retries": 0})) as http:
        for source in build_sources(settings, http):
            name = f"source {source.name}"
            try:
                proven = source.probe()
            except FetchError as exc:
                reason = str(exc)
                if exc.url and exc.url not in reason:
                    reason += f" at {exc.url}"
                yield Check(name, "failed", reason, exc.hint or _SOURCE_HINT)
                continue
            if proven is None:
                yield Check(name, "skipped", "this source has no live check")
            else:
                yield Check(name, "ok", proven)


def _library_checks(
    settings: Settings, profiles: Sequence[Profile], env: Mapping[str, str]
) -> Iterator[Check]:
    """Each profile's Zotero library, read as a run reads it (bot/relevance/library.py)."""
    with Http(settings.http.model_copy(update={"retries": 0})) as http:
        for profile in profiles:
            if profile.zotero is None:
                continue
            name = f"zotero {profile.id}"
            try:
                found = read_zotero(http, profile.zotero, env)
            except LibraryError as exc:
                yield Check(name, "failed", str(exc), exc.hint)
                continue
            where = f"user {profile.zotero.user}" + (
                f", collection {profile.zotero.collection!r}" if profile.zotero.collection else ""
            )
            yield Check(
                name,
                "ok",
                f"{where}: {len(found.ids)} example papers, {len(found.papers)} with their text",
            )
