"""One paper, one id across sources: DOIs, arXiv DOIs and a preprint's later journal DOI.

`models.canonical_id` names a paper by its arXiv id when it has one. This module adds what the
sources beyond arXiv need:

- `doi_id(raw)`: a DOI as a paper id. DOIs are case-insensitive (the DOI Handbook), so the id
  is `doi:` + the DOI in lower case, whatever prefix it came with (`doi:`, `info:doi/`,
  `https://doi.org/`). arXiv's own DOIs (`10.48550/arXiv.2401.01234`) are the arXiv id, so a
  feed item carrying one is the paper the arXiv sources know.
- aliases: the other ids a paper is known by, kept in `Paper.extras["aliases"]` (a sorted list
  of ids): a bioRxiv preprint's `published` journal DOI, the journal DOI arXiv reports for a
  paper (`extras["doi"]`), a feed item's DOI when its id is an arXiv id. `with_aliases` fills it.
- `unify(fetched, store)`: the run's fetched papers merged into one paper per identity. Papers
  sharing any id or alias are one paper, merged (`Paper.merged_with`) under ONE id: the id a
  stored paper already has, else an arXiv id, else a DOI, else a source's own id. So a journal
  feed item whose DOI a stored bioRxiv preprint named as `published` is that preprint, and is
  not new; the store merges what the feed knows into it.

The store finds stored papers by id or alias (`Store.known_as`); the pipeline calls `unify`
once per run, between fetching and the diff.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Protocol

from bot.models import Paper, split_arxiv_id

log = logging.getLogger(__name__)

ALIASES = "aliases"  # the extras key holding a paper's other ids
DOI_PREFIX = "doi:"

# A DOI: "10." + a registrant code of 4-9 digits (possibly dotted sub-codes) + "/" + a suffix.
# Printable ASCII only, bounded: a DOI from a feed or a library becomes an id shown to people.
_DOI = re.compile(r"10\.\d{4,9}(?:\.\d+)*/[!-~]{1,200}")
_DOI_PREFIXES = (
    "https://doi.org/",
    "http://doi.org/",
    "https://dx.doi.org/",
    "http://dx.doi.org/",
    "doi.org/",
    "info:doi/",
    "doi:",
)
_ARXIV_DOI = "10.48550/arxiv."


def normalize_doi(raw: str) -> str | None:
    """The DOI in `raw` (bare or with one of the usual prefixes), lower-cased; None when
    `raw` is not a DOI."""
    text = raw.strip()
    lowered = text.lower()
    for prefix in _DOI_PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    text = text.rstrip(".")
    if not _DOI.fullmatch(text):
        return None
    return text.lower()


def doi_id(raw: str) -> str | None:
    """The paper id of a DOI: the arXiv id for arXiv's DOIs, else `doi:<doi in lower case>`;
    None when `raw` is not a DOI."""
    doi = normalize_doi(raw)
    if doi is None:
        return None
    if doi.startswith(_ARXIV_DOI):
        parsed = split_arxiv_id(doi[len(_ARXIV_DOI) :])
        if parsed is not None:
            return parsed[0]
    return DOI_PREFIX + doi


def aliases_of(paper: Paper) -> tuple[str, ...]:
    """The other ids `paper` is known by: its `aliases` extra, and the DOI(s) in its `doi`
    extra (arXiv reports a journal DOI there; several are separated by white space)."""
    found: list[str] = []
    listed = paper.extras.get(ALIASES)
    if isinstance(listed, list | tuple):
        found += [a for a in listed if isinstance(a, str) and a]
    reported = paper.extras.get("doi")
    if isinstance(reported, str):
        found += [pid for part in reported.split() if (pid := doi_id(part))]
    return tuple(sorted(set(found) - {paper.id}))


def with_aliases(paper: Paper, extra: Iterable[str] = ()) -> Paper:
    """`paper` with `extras["aliases"]` holding all its other ids (and `extra`)."""
    ids = sorted((set(aliases_of(paper)) | set(extra)) - {paper.id})
    if not ids and ALIASES not in paper.extras:
        return paper
    extras = {**paper.extras, ALIASES: ids}
    if not ids:
        del extras[ALIASES]
    return replace(paper, extras=extras)


class PaperLookup(Protocol):
    """What `unify` needs of the store (`bot.state.store.Store` is one)."""

    def known_as(self, keys: Iterable[str]) -> dict[str, str]: ...

    def get_paper(self, paper_id: str) -> Paper | None: ...


def unify(fetched: Mapping[str, Paper], store: PaperLookup) -> dict[str, Paper]:
    """The run's papers (by id), one per identity: papers sharing an id or an alias are merged
    under one id (see the module docstring), with every other id they go by as aliases."""
    papers = [with_aliases(p) for p in fetched.values()]
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for paper in papers:
        for alias in aliases_of(paper):
            parent[find(alias)] = find(paper.id)
    keys = {k for p in papers for k in (p.id, *aliases_of(p))}
    stored = store.known_as(keys) if keys else {}
    groups: dict[str, list[Paper]] = {}
    for paper in papers:
        groups.setdefault(find(paper.id), []).append(paper)
    unified: dict[str, Paper] = {}
    for group in groups.values():
        names = {k for p in group for k in (p.id, *aliases_of(p))}
        stored_ids = sorted({stored[k] for k in names if k in stored}, key=_preference)
        target = stored_ids[0] if stored_ids else min((p.id for p in group), key=_preference)
        if len(stored_ids) > 1:
            log.warning(
                "papers %s are stored separately but name each other: merged into %s",
                ", ".join(stored_ids),
                target,
            )
        group.sort(key=lambda p: (p.id != target, _preference(p.id)))
        merged = group[0]
        for other in group[1:]:
            merged = merged.merged_with(other)
        known = store.get_paper(target) if stored_ids else None
        if known is not None:
            names |= set(aliases_of(known))
        merged = replace(merged, id=target)
        unified[target] = with_aliases(merged, names)
    return unified


def _preference(paper_id: str) -> tuple[int, str]:
    """Which id a paper known by several goes by: an arXiv id, then a DOI, then a source's own
    id (`feed:nature:https://...`); among equals, the smallest."""
    if split_arxiv_id(paper_id) is not None and ":" not in paper_id:
        return (0, paper_id)
    return (1 if paper_id.startswith(DOI_PREFIX) else 2, paper_id)
