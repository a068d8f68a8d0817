"""A new profile speaks at once: its first digest, from the papers already stored.

Papers are scored once, in the run that stores them, so a profile added after today's run
(a new file, or a renamed one: a profile is known by its id, the file's stem) would hear
nothing until tomorrow's papers, although `preview` lists today's matches. So a profile that
no run has served yet (`served_profiles` in the state) is, at its first run, also scored
against the stored papers of the latest digest day of each configured source, as `preview`
scores them: each paper's vector as stored on arrival, the reference set of the papers stored
before that day (relevance/reference.py), the IDF of the stored corpus. What passes is queued like
any digest, under that day, with `note()` ("first digest: from today's papers already seen")
first among its reasons.

- Never twice: the run records every profile it served in the same transaction as these rows
  (and the outbox key refuses a repeat anyway); a profile that simply matched nothing
  yesterday was served, so it is not new.
- Never the whole history: one day per source, its latest.
- A fresh install has nothing stored before its first run: its profiles are served by the
  normal path (that run digests the latest day) and no first digest is made.
- One paper, one post per place (bot/state/outbox.py) still holds: a paper that a channel or mailbox
  already got, or has queued, from another profile (the same profile under its old file name,
  say) is not sent there again; its row is written `merged` into the row that delivers it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date

from scipy.sparse import csr_matrix

from bot.models import Match, Paper, Profile
from bot.relevance import scoring
from bot.relevance.reference import Reference, StoredVector, encode_rows
from bot.relevance.tfidf import Space, Vocabulary, terms_of
from bot.state.outbox import Queued
from bot.state.store import Store

TODAY_NOTE = "first digest: from today's papers already seen"

Digest = tuple[date, int, dict[str, list[Match]]]  # day, papers considered, matches by profile


def note(day: date, today: date) -> str:
    """The reason that marks a first digest's papers."""
    return TODAY_NOTE if day == today else f"first digest: from the papers of {day} already seen"


def newcomers(store: Store, profiles: Sequence[Profile], fresh_install: bool) -> list[Profile]:
    """The profiles no run has served yet (none on a fresh install: the normal path serves
    them)."""
    if fresh_install:
        return []
    served = store.served_profiles()
    return [p for p in profiles if p.id not in served]


def first_digests(
    store: Store,
    sources: Sequence[str],
    profiles: Sequence[Profile],
    examples: Mapping[str, Paper],
) -> list[Digest]:
    """The matches of `profiles` among the stored papers of each source's latest digest day,
    one digest per day, oldest first."""
    if not profiles:
        return []
    digests: list[Digest] = []
    for day, papers in sorted(store.latest_day_papers(sources).items()):
        reference = Reference.of_store(store, day, store.corpus, Vocabulary())
        vectors = _vectors(store, papers, reference)
        matches = scoring.rank(
            profiles, papers, store.corpus, examples, reference, fresh_vectors=vectors
        )
        digests.append((day, len(papers), matches))
    return digests


def _vectors(store: Store, papers: Sequence[Paper], reference: Reference) -> csr_matrix:
    """The papers' vectors as stored on arrival; one stored without (a state from before
    vectors were kept) is made with the stored corpus' IDF."""
    stored: dict[str, StoredVector] = store.vectors_of([p.id for p in papers])
    missing = [p for p in papers if p.id not in stored]
    if missing:
        terms = [terms_of(p.text) for p in missing]
        made = Space(terms, store.corpus, vocabulary=reference.vocabulary).vectors(terms)
        rows = encode_rows(made, reference.vocabulary)
        stored.update(zip((p.id for p in missing), rows, strict=True))
    return reference.decode([stored[p.id] for p in papers])


def settle(
    queued: Sequence[Queued],
    delivering: Sequence[tuple[str, str, str]],
    place: Callable[[str], str],
    today: date,
) -> list[Queued]:
    """First-digest rows (already `share`d among themselves) as they are recorded: the note
    first among each one's reasons, and a row whose paper its place already has from a stored
    row (`delivering`: paper, profile id, destination) merged into that row. Pure."""
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    for paper_id, profile_id, destination in delivering:
        owners.setdefault((paper_id, place(destination)), (profile_id, destination))
    settled = []
    for q in queued:
        match = replace(q.match, why=(note(q.day, today), *q.match.why))
        owner = owners.get((q.match.paper.id, place(q.destination)))
        settled.append(q._replace(match=match, merged_into=owner or q.merged_into))
    return settled
