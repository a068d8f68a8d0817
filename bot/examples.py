"""Profiles' example papers (`papers:`, `not_like:`): found in the store, else asked of arXiv.

An example paper is usually one the user read long ago, not in the bot's store. Its title and
abstract are fetched once from the arXiv API (`arxiv_api.base_url`, one `id_list` request for
all missing ids, paced like every arXiv request) and cached in the state file. If arXiv cannot
be reached the profile is scored without those examples and the ids are asked for again on the
next run: a missing example never stops a run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.errors import FetchError
from bot.http import Http, Pace
from bot.models import Paper, Profile
from bot.sources.arxiv_feed import parse_atom
from bot.store import Store

log = logging.getLogger(__name__)

BATCH = 100  # ids per id_list request


def resolve_examples(
    store: Store, http: Http | None, api_url: str, profiles: Sequence[Profile]
) -> dict[str, Paper]:
    """id -> paper for every example and counter-example id the profiles name."""
    wanted = list(dict.fromkeys(i for p in profiles for i in (*p.examples, *p.not_like)))
    found: dict[str, Paper] = {}
    missing: list[str] = []
    for pid in wanted:
        paper = store.get_paper(pid) or store.corpus.example(pid)
        if paper is None:
            missing.append(pid)
        else:
            found[pid] = paper
    if missing and http is not None:
        fetched = _fetch(http, api_url, missing)
        found.update({p.id: p for p in fetched})
        if fetched and not store.readonly:
            store.cache_examples(fetched)
    for pid in wanted:
        if pid not in found:
            log.warning("example paper %s is unknown for now: scored without it", pid)
    return found


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
