"""Tuning profiles on history: `preview` and `replay`."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.base import (
    _DAY,
    EXIT_CONFIG,
    EXIT_OK,
    _common,
    _guard,
    _print_error,
    _settings,
    _setup_logging,
    cli,
)
from bot.errors import ConfigErrors, DigestbotError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.models import Paper, Profile

log = logging.getLogger("bot")


@cli.command()
@_common
@click.argument("profile")
@click.option(
    "--since",
    default="14d",
    show_default=True,
    help="window start: days (14d) or weeks (3w) back, today included, or a date YYYY-MM-DD",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for reading, json for scripts",
)
@click.option(
    "--offline",
    is_flag=True,
    help="example papers from the state only, never asked of the arXiv API",
)
@_guard
def preview(
    config: Path | None, verbose: bool, profile: str, since: str, fmt: str, offline: bool
) -> int:
    """What one profile would have got from the stored papers.

    PROFILE is a YAML file (installed or not) or an installed profile's id. Per day: the papers
    it would send, with scores and reasons, and the best ones held back, with why. Example
    papers the state does not know are looked up on the arXiv API (not with --offline).
    Writes nothing."""
    import json

    from bot.preview import find_profile, parse_since, preview_days, text_lines

    _setup_logging(verbose, daemon=False)
    settings = _settings(config)
    chosen = find_profile(profile, settings.profiles_dir)
    first, last = parse_since(since, settings.timezone)
    result = preview_days(settings, chosen, first, last, offline=offline)
    if fmt == "json":
        click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        for line in text_lines(result):
            click.echo(line)
    return EXIT_OK


@cli.command()
@_common
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--from",
    "first",
    type=_DAY,
    default=None,
    help="first day scored (default: the archive's first)",
)
@click.option(
    "--to", "last", type=_DAY, default=None, help="last day scored (default: the archive's last)"
)
@click.option(
    "--history-from",
    type=_DAY,
    default=None,
    help="read days from this one up to --from as history: IDF and seen ids, not scored "
    "(default: the archive's first day)",
)
@click.option(
    "--profiles",
    "profiles_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="folder of profiles (default: `profiles:` of the config; then no config is needed)",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="candidates per day and profile in the report",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="worker processes, each scoring every n-th day (default: 2, or 1 on one CPU)",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="write the top candidates of every day and profile here, as JSON lines",
)
@click.option(
    "--offline",
    is_flag=True,
    help="example papers from the archive only: neither the state nor the arXiv API is asked",
)
@click.option(
    "--feedback",
    "feedback_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="votes as JSON lines (the format of `digestbot feedback --export`); a vote given on "
    "day D counts from D+1 on",
)
@_guard
def replay(
    config: Path | None,
    verbose: bool,
    archive: Path,
    first: datetime | None,
    last: datetime | None,
    history_from: datetime | None,
    profiles_dir: Path | None,
    top: int,
    jobs: int | None,
    report: Path | None,
    offline: bool,
    feedback_file: Path | None,
) -> int:
    """Replay past days of an archive: alerts per profile, nothing sent.

    ARCHIVE is a folder of day files (YYYY-MM-DD.jsonl[.gz], .json, .xml). The state is
    throwaway and in memory. Prints alerts per day per profile and what other min_score values
    would give. Example papers are found as a live run finds them (the state's cache, read
    only, then the arXiv API once), else in the archive; --offline: in the archive only.
    With --feedback FILE, readers' votes count as a live run counts them, each from the day
    after it was given; the voted papers are found as example papers are."""
    import contextlib
    import os

    from bot.config import config_path, load_profiles
    from bot.replay import run_replay, summary_lines

    _setup_logging(verbose, daemon=False)
    # The config gives the profiles (unless --profiles), and the state and the arXiv API where
    # example papers are found; with --profiles and no config file, the defaults.
    settings = (
        _settings(config)
        if profiles_dir is None or config is not None or config_path(None).is_file()
        else None
    )
    if profiles_dir is None:
        assert settings is not None
        profiles_dir = settings.profiles_dir
    d_first, d_last, d_history = (d.date() if d else None for d in (first, last, history_from))
    for earlier, later, what in (
        (d_first, d_last, "--from"),
        (d_history, d_first, "--history-from"),
    ):
        if earlier and later and earlier > later:
            click.echo(f"error: {what} {earlier} is after {later}", err=True)
            return EXIT_CONFIG
    votes = {}
    if feedback_file is not None:
        from bot.relevance.feedback import read_export, votes_by_profile

        votes = votes_by_profile(read_export(feedback_file))  # a bad line: exit 2
    profiles, errors = load_profiles(profiles_dir)
    if errors:
        _print_error(ConfigErrors(errors))
    if not profiles:
        if not errors:
            click.echo(f"error: no profiles in {profiles_dir}", err=True)
        return EXIT_CONFIG
    if votes:
        replayed = {p.id for p in profiles}
        ignored = sorted(set(votes) - replayed)
        if ignored:
            log.warning(
                "%s: votes for profiles not replayed are ignored: %s",
                feedback_file,
                ", ".join(ignored),
            )
    voted = sorted({v.paper_id for pid, vs in votes.items() for v in vs})
    examples = {} if offline else _examples_for_replay(settings, profiles, voted)
    with contextlib.ExitStack() as stack:
        out = None
        if report is not None:
            try:
                out = stack.enter_context(report.open("w", encoding="utf-8"))
            except OSError as exc:
                raise DigestbotError(f"cannot write the report {report}: {exc.strerror}") from exc
        result = run_replay(
            archive,
            profiles,
            first=d_first,
            last=d_last,
            history_from=d_history,
            top=top,
            report=out,
            jobs=jobs or min(2, os.cpu_count() or 1),
            examples=examples,
            votes=votes,
        )
    if result.missing_examples:
        where = "in the archive" if offline else "in the state, on arXiv or in the archive"
        log.warning(
            "example papers not found %s (scored without them): %s",
            where,
            ", ".join(result.missing_examples),
        )
    for line in summary_lines(result, top):
        click.echo(line)
    if errors:
        click.echo(f"{len(errors)} profile error(s): those profiles were not replayed", err=True)
        return EXIT_CONFIG
    return EXIT_OK


def _examples_for_replay(
    settings: Settings | None, profiles: list[Profile], voted: list[str]
) -> dict[str, Paper]:
    """The profiles' example papers and the `voted` ones from the config's state (read-only)
    and its arXiv API (bot/relevance/examples.py `for_tuning`); without a config, the default
    arXiv API."""
    from bot.config import ArxivApiSettings
    from bot.http import HttpSettings
    from bot.relevance.examples import for_tuning

    if settings is None:
        return for_tuning(None, HttpSettings(), ArxivApiSettings().base_url, profiles, voted)
    return for_tuning(settings.state, settings.http, settings.arxiv_api_url, profiles, voted)
