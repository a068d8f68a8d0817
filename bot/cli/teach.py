"""Teaching a profile: `feedback` (votes on the command line, --list, --export) and
`profile learned` (the votes as YAML lines, --write into the file)."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.base import (
    EXIT_CONFIG,
    EXIT_OK,
    _common,
    _guard,
    _print_error,
    _settings,
    _setup_logging,
    cli,
)
from bot.cli.setup import profile
from bot.errors import DigestbotError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.relevance.feedback import Wish

log = logging.getLogger("bot")


class _VoteCommand(click.Command):
    """Takes `-2401.12345v2` and `-hep-th/9901001` as votes, not as bundles of short options
    (`-v` is --verbose, `-h` --help): vote tokens before a `--` are moved behind one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from bot.relevance.feedback import is_vote_token

        cut = args.index("--") if "--" in args else len(args)
        head, tail = args[:cut], args[cut + 1 :]
        # An option's value is never a vote token: none of this command's options takes one.
        votes = [a for a in head if is_vote_token(a)]
        rest = [a for a in head if not is_vote_token(a)]
        positional_tail = [*votes, *tail]
        return super().parse_args(ctx, [*rest, "--", *positional_tail] if positional_tail else rest)


@cli.command(cls=_VoteCommand)
@_common
@click.argument("profile_id", metavar="PROFILE", required=False)
@click.argument("votes", nargs=-1, metavar="[+ID|-ID|~ID]...")
@click.option("--list", "listing", is_flag=True, help="show the profile's votes and totals")
@click.option(
    "--export",
    "export",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="write every vote (of PROFILE, if given) to FILE as JSON lines; - is stdout",
)
@click.option(
    "--offline", is_flag=True, help="never ask the arXiv API: only papers the state knows"
)
@_guard
def feedback(
    config: Path | None,
    verbose: bool,
    profile_id: str | None,
    votes: tuple[str, ...],
    listing: bool,
    export: Path | None,
    offline: bool,
) -> int:
    """Vote on papers for PROFILE: +ID more like this, -ID less like this, ~ID withdraw (every
    voter's vote on that paper for PROFILE).

    IDs as in a profile's `papers:` (2401.12345, 2401.12345v2, arXiv:..., arxiv.org URLs). The
    voter is cli:<your login name>, the day today in `timezone`. A paper the state does not
    know is looked up once on the arXiv API; one found nowhere stops the command and nothing is
    recorded. Votes live in the state: the profile's file changes only with
    `digestbot profile learned --write`."""
    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    if export is not None:
        if votes or listing:
            return _usage("--export takes no votes and no --list")
        return _export(settings, profile_id, export)
    if profile_id is None:
        return _usage("name a PROFILE (or use --export FILE)")
    from bot.relevance.feedback import FeedbackError, installed_profile, parse_wishes

    try:
        installed_profile(settings.profiles_dir, profile_id)
        if listing:
            if votes:
                return _usage("--list takes no votes")
            return _list(settings, profile_id)
        if not votes:
            return _usage(f"no votes given: digestbot feedback {profile_id} +ID -ID ~ID ...")
        wishes = parse_wishes(votes)
        return _record(settings, profile_id, wishes, offline)
    except FeedbackError as exc:
        _print_error(exc)
        return EXIT_CONFIG


def _usage(message: str) -> int:
    click.echo(f"error: {message}", err=True)
    click.echo("  hint: digestbot feedback --help", err=True)
    return EXIT_CONFIG


def _record(settings: Settings, profile_id: str, wishes: list[Wish], offline: bool) -> int:
    from zoneinfo import ZoneInfo

    from bot.http import Http
    from bot.relevance.feedback import cli_voter, record_feedback
    from bot.state.store import Store

    voter = cli_voter()
    day = datetime.now(ZoneInfo(settings.timezone)).date()  # as digests count days
    store = Store.open(settings.state)
    try:
        if offline:
            outcomes = record_feedback(
                store, None, settings.arxiv_api_url, profile_id, wishes, voter, day
            )
        else:
            with Http(settings.http) as http:
                outcomes = record_feedback(
                    store, http, settings.arxiv_api_url, profile_id, wishes, voter, day
                )
        up, down = store.votes.counts().get(profile_id, (0, 0))
    finally:
        store.close()
    for outcome in outcomes:
        click.echo(outcome.line(profile_id))
    given = [o for o in outcomes if o.wish.value != 0]
    withdrawn = sum(o.removed for o in outcomes)
    click.echo(
        f"{sum(o.changed for o in given)} vote(s) recorded as {voter} on {day}"
        f" ({len(given) - sum(o.changed for o in given)} unchanged), {withdrawn} withdrawn; "
        f"{profile_id} now has {up} 👍 and {down} 👎 (they count from the next run on)"
    )
    return EXIT_OK


def _list(settings: Settings, profile_id: str) -> int:
    from bot.relevance.feedback import list_lines
    from bot.state.store import Store

    store = Store.open_readonly(settings.state)  # a missing state: no votes
    try:
        lines = list_lines(store, profile_id)
    finally:
        store.close()
    for line in lines:
        click.echo(line)
    return EXIT_OK


def _export(settings: Settings, profile_id: str | None, target: Path) -> int:
    from bot.relevance.feedback import (
        FeedbackError,
        export_rows,
        installed_profile,
        write_export,
    )
    from bot.state.store import Store

    store = Store.open_readonly(settings.state)
    try:
        if profile_id is not None:
            try:
                installed_profile(settings.profiles_dir, profile_id)
            except FeedbackError as exc:
                _print_error(exc)
                return EXIT_CONFIG
        votes = store.votes.of_profile(profile_id) if profile_id else store.votes.all()
    finally:
        store.close()
    rows = export_rows(votes)
    if str(target) == "-":
        write_export(rows, sys.stdout)
        sys.stdout.flush()
        return EXIT_OK
    try:
        with target.open("w", encoding="utf-8") as out:
            write_export(rows, out)
    except OSError as exc:
        raise DigestbotError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="choose a file in a folder you may write, or - for stdout",
        ) from exc
    click.echo(f"{len(rows)} vote(s) written to {target}", err=True)
    return EXIT_OK


@profile.command("learned")
@_common
@click.argument("profile_id", metavar="PROFILE")
@click.option(
    "--write",
    is_flag=True,
    help="merge them into the profile's file (comments and order kept), then check it",
)
@_guard
def profile_learned(config: Path | None, verbose: bool, profile_id: str, write: bool) -> int:
    """PROFILE's net votes as `papers:` / `not_like:` lines to paste into its file (papers the
    file does not list yet). With --write, merged into the file for you."""
    from bot.relevance.feedback import FeedbackError, installed_profile
    from bot.relevance.learned_yaml import learned_text, merge_learned, net_votes
    from bot.state.store import Store

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    try:
        path = installed_profile(settings.profiles_dir, profile_id)
    except FeedbackError as exc:
        _print_error(exc)
        return EXIT_CONFIG
    store = Store.open_readonly(settings.state)
    try:
        votes = net_votes(store, profile_id)
    finally:
        store.close()
    if not write:
        for line in learned_text(path, settings.notifiers, votes):
            click.echo(line)
        return EXIT_OK
    for line in merge_learned(path, settings.notifiers, votes):
        click.echo(line)
    return EXIT_OK
