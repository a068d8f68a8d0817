"""Setting it up: `check [--live]`, `init`, `profile new`."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bot.cli.base import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    _common,
    _guard,
    _print_error,
    _settings,
    _setup_logging,
    cli,
)
from bot.errors import ConfigErrors, DigestbotError, SecretError
from bot.secrets import redact

log = logging.getLogger("bot")


@cli.command()
@_common
@click.option(
    "--live",
    is_flag=True,
    help="also prove Slack, email and every source answer (sends nothing); exit 1 if not",
)
@_guard
def check(config: Path | None, verbose: bool, live: bool) -> int:
    """Validate bot.yaml, every profile and the secrets' shape; list every error. Exit 0 or 2.

    With --live, also talk to every service the config names, one line per check: Slack's
    token and each channel, the SMTP login, one request per source. Nothing is posted or
    mailed. Exit 1 when a live check fails."""
    import os

    from bot.notifiers import NOTIFIERS

    _setup_logging(verbose, daemon=False)
    from bot.config import config_path, load_profiles, load_settings
    from bot.http import PLACEHOLDER_CONTACT
    from bot.web.settings import email_vote_links

    path = config_path(str(config) if config else None)
    settings = load_settings(path)
    sources = ", ".join(s.label for s in settings.sources) or "none"
    click.echo(f"{path}: ok (sources: {sources}; time zone {settings.timezone})")
    if settings.http.contact == PLACEHOLDER_CONTACT:  # not an error: the Quick start runs as is
        click.echo(
            f"http.contact: still the placeholder {PLACEHOLDER_CONTACT}: put your email or a "
            "project URL there so that source operators can reach you (until then the "
            "User-Agent names no one)"
        )
    malformed = 0
    try:
        links, no_links = email_vote_links(settings.web, os.environ)
    except SecretError as exc:  # reported on the `web:` line below
        links, no_links = None, str(exc)
    for name, notifier_settings in settings.notifiers.items():
        try:
            notifier, why = NOTIFIERS[name].create(notifier_settings, os.environ)
        except SecretError as exc:  # set, but not a secret of its kind: a config error
            _print_error(exc)
            malformed += 1
            continue
        if notifier is None:
            click.echo(f"{name}: not usable ({why}): digests go to the console")
            continue
        notifier.link_votes(links, no_links)  # as bot/app.py wires it
        how = notifier.describe()  # e.g. which variable holds the secret, never the secret
        notifier.close()
        click.echo(f"{name}: configured" + (f" ({how})" if how else ""))
    if settings.web is not None:
        try:
            click.echo(settings.web.describe(os.environ))  # names variables, never values
        except SecretError as exc:
            _print_error(exc)
            malformed += 1
    profiles, errors = load_profiles(settings.profiles_dir, settings.notifiers)
    for profile in profiles:
        where = ", ".join(profile.destinations) or "console"
        click.echo(f"profile {profile.id}: ok ({profile.name!r} -> {where})")
        key_env = profile.zotero.api_key_env if profile.zotero else None
        if key_env and not os.environ.get(key_env, "").strip():  # not an error: Slack's way
            click.echo(
                f"profile {profile.id}: library.zotero: {key_env} is not set: its Zotero library "
                "is not read until it is (the profile is scored without it)"
            )
    if errors:
        _print_error(ConfigErrors(errors))
        files = len({e.file for e in errors})
        click.echo(f"{len(errors)} error(s) in {files} file(s)", err=True)
    elif not profiles:
        click.echo(f"warning: no profiles in {settings.profiles_dir}", err=True)
    failed = 0
    if live:
        from bot.live_check import live_checks

        for result in live_checks(settings, profiles, os.environ):
            failed += result.failed
            for line in result.lines():
                click.echo(redact(line))  # a service's answer may quote what it was sent
        if failed:
            click.echo(f"{failed} live check(s) failed", err=True)
    if errors or malformed:
        return EXIT_CONFIG
    return EXIT_FAILED if failed else EXIT_OK


@cli.command()
@click.argument("folder", required=False, default="digestbot", metavar="[DIR]")
@click.option("--force", is_flag=True, help="overwrite the starter files if they exist")
@_guard
def init(folder: str, force: bool) -> int:
    """Write a starter config into DIR (default: ./digestbot): config/bot.yaml and an example
    profile, every key commented. Refuses to overwrite them without --force."""
    import shlex

    from bot.onboarding import existing_starter_files, write_starter

    target = Path(folder)
    clash = existing_starter_files(target)
    if clash and not force:
        for path in clash:
            click.echo(f"error: {path} already exists: nothing was written", err=True)
        click.echo("  hint: edit it, choose another DIR, or pass --force to overwrite", err=True)
        return EXIT_CONFIG
    try:
        written = write_starter(target, force=force)
    except OSError as exc:
        raise DigestbotError(
            f"cannot write into {target}: {exc.strerror or exc}", hint="check the folder"
        ) from exc
    for path in written:
        click.echo(f"wrote {path}")
    go = [] if target.resolve() == Path.cwd().resolve() else [f"cd {shlex.quote(str(target))}"]
    steps = [
        *go,
        "edit config/profiles/normalization.yaml: your interests, in the words of papers "
        '(or add another: digestbot profile new "My topic")',
        "digestbot check                  validates the files",
        "digestbot once --dry-run         fetches today's papers, prints what would be sent",
        "then connect Slack or email (README), `digestbot check --live`, and `digestbot run`",
    ]
    click.echo("next steps:")
    for n, step in enumerate(steps, start=1):
        click.echo(f"  {n}. {step}")
    return EXIT_OK


@cli.group()
def profile() -> None:
    """Interest profiles: `profile new NAME` scaffolds one."""


@profile.command("new")
@_common
@click.argument("name")
@click.option(
    "--from-bibtex",
    "bibtex",
    type=click.Path(path_type=Path, dir_okay=False),
    help="seed it from a .bib file: its papers become examples (library: bibtex:), its most "
    "distinctive terms the description and keywords",
)
@_guard
def profile_new(config: Path | None, verbose: bool, name: str, bibtex: Path | None) -> int:
    """Write a commented profile titled NAME into the profiles folder (file name from NAME).

    It passes `digestbot check` as written; describe your interest in it, then preview it.
    With --from-bibtex FILE, it is seeded from your library (README: "Seeding a profile from
    your library")."""
    from bot.onboarding import library_profile_text, write_new_profile
    from bot.relevance.library import LibraryError

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    text = None
    if bibtex is not None:
        try:
            text = library_profile_text(name, bibtex, settings.profiles_dir, settings.state)
        except LibraryError as exc:
            click.echo(f"error: --from-bibtex: {exc}", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
            return EXIT_CONFIG
    try:
        path = write_new_profile(settings.profiles_dir, name, text)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("  hint: give the profile a title with letters or digits", err=True)
        return EXIT_CONFIG
    except FileExistsError as exc:
        click.echo(f"error: {exc.args[0]} already exists: not overwritten", err=True)
        click.echo("  hint: edit that file, or choose another name", err=True)
        return EXIT_CONFIG
    except OSError as exc:
        raise DigestbotError(
            f"cannot write into {settings.profiles_dir}: {exc.strerror or exc}",
            hint="check `profiles:` in bot.yaml",
        ) from exc
    click.echo(f"wrote {path} (profile id {path.stem})")
    click.echo(
        "next: describe your interest in its description and keywords, then `digestbot check` "
        f"and `digestbot preview {path.stem}`"
    )
    return EXIT_OK
