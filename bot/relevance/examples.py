"""Profiles' example papers (`papers:`, `not_like:`): found in the store, else asked of arXiv.

An example paper is usually one the user read long ago, not in the bot's store. Its title and
abstract are fetched once from the arXiv API (`arxiv_api.base_url`, one `id_list` request for
all missing ids, paced like every arXiv request) and cached in the state file. If arXiv cannot
be reached the profile is scored without those examples and the ids are asked for again on the
next run: a missing example never stops a run.

A profile's library (bot/relevance/library.py) adds examples: those it gives with their text
(`Profile.library_papers`) are used as they are; the others are looked up here like `papers:`.
Only arXiv ids are asked of arXiv; an example known only by its DOI (`doi:10.1016/...`) is found
when a source stored that paper, else it is named in a warning (arXiv would refuse the whole
`id_list` for one id that is not its own).

`preview` and `replay` find examples the same way (`for_tuning`), through the same Http client
and address gate, but never write the state: what they fetch serves that one command (one
request for all its missing ids) and is cached by the next live run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from bot.errors import FetchError, StateError
from bot.http import Http, HttpSettings, Pace
from bot.models import Paper, Profile, split_arxiv_id
from bot.sources.arxiv_feed import parse_atom
from bot.state.backend import PostgresState, StateTarget
from bot.state.store import Store

log = logging.getLogger(__name__)

BATCH = 100  # ids per id_list request


def wanted_ids(profiles: Sequence[Profile], voted: Iterable[str] = ()) -> list[str]:
    """Every example and counter-example id the profiles name, then the `voted` papers, once,
    in order."""
    return list(dict.fromkeys([*(i for p in profiles for i in (*p.examples, *p.not_like)), *voted]))


def resolve_examples(
    store: Store,
    http: Http | None,
    api_url: str,
    profiles: Sequence[Profile],
    voted: Iterable[str] = (),
) -> dict[str, Paper]:
    """id -> paper for every example and counter-example id the profiles name and every
    `voted` paper; each one found nowhere is named in a warning."""
    wanted = wanted_ids(profiles, voted)
    known = library_papers(profiles)
    found = {**known, **find_examples(store, http, api_url, [i for i in wanted if i not in known])}
    for pid in wanted:
        if pid not in found:
            log.warning("example paper %s is unknown for now: scored without it", pid)
    return found


def library_papers(profiles: Sequence[Profile]) -> dict[str, Paper]:
    """id -> paper for the examples the profiles' libraries give with their text."""
    return {p.id: p for profile in profiles for p in profile.library_papers}


def find_examples(
    store: Store | None, http: Http | None, api_url: str, wanted: Sequence[str]
) -> dict[str, Paper]:
    """id -> paper for those of `wanted` found: stored papers and the cache first, then (with
    `http`) one arXiv API lookup of the rest, cached unless the store is read-only."""
    found: dict[str, Paper] = {}
    missing: list[str] = []
    for pid in wanted:
        paper = None if store is None else store.get_paper(pid) or store.corpus.example(pid)
        if paper is None:
            missing.append(pid)
        else:
            found[pid] = paper
    on_arxiv = [pid for pid in missing if split_arxiv_id(pid) is not None]
    if on_arxiv and http is not None:
        fetched = _fetch(http, api_url, on_arxiv)
        found.update({p.id: p for p in fetched})
        if fetched and store is not None and not store.readonly:
            store.cache_examples(fetched)
    return found


def for_tuning(
    state: StateTarget | None,
    http_settings: HttpSettings,
    api_url: str,
    profiles: Sequence[Profile],
    voted: Iterable[str] = (),
) -> dict[str, Paper]:
    """The profiles' examples (and the `voted` papers) for `replay`, found as a live run finds
    them: the state file's papers and cache (read-only; `state` None or missing: none), then
    the arXiv API once. Those found nowhere are left out, without a warning (the caller may find
    them elsewhere)."""
    known = library_papers(profiles)
    wanted = [i for i in wanted_ids(profiles, voted) if i not in known]
    if not wanted:
        return known
    store = None
    if state is not None and (isinstance(state, PostgresState) or state.is_file()):
        try:
            store = Store.open_readonly(state)
        except StateError as exc:  # an old or unreadable state: its cache is only a shortcut
            log.warning("example papers: the state's cache is not read (%s): asking arXiv", exc)
    try:
        with Http(http_settings) as http:
            return {**known, **find_examples(store, http, api_url, wanted)}
    finally:
        if store is not None:
            store.close()


def _fetch(http: Http, api_url: str, ids: list[str]) -> list[Paper]:
    papers: list[Paper] = []
    for i in range(0, len(ids), BATCH):
        chunk = ids[i : i + BATCH]
        try:
            with http.day_deadline():
                response = http.get(
                    f"{api_url}/api/query",
                    {"id_list": ",".join(chunk), "max_results": len(chunk)},
                    pace=Pace("arxiv", 3.0),
                )
            papers.extend(
                p for p in parse_atom(response.content, url=response.url).papers if p.id in chunk
            )
        except FetchError as exc:
            log.warning("could not fetch example papers %s from arXiv: %s", ", ".join(chunk), exc)
    return papers
