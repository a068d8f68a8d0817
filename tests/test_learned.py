"""The vote model's cheap path (relevance/learned.py, scoring._with_vote_score): what it reads of
the voted papers' stored vectors and what it works out in place gives the scores the plain way
gives, without growing the day's vocabulary."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bot.models import Paper
from bot.relevance import learned
from bot.relevance.reference import Reference, encode_rows
from bot.relevance.scoring import _Stats, evaluate
from bot.relevance.tfidf import MemoryDocFreqs, Space, Vocabulary, terms_of
from tests.test_scoring import ALIGN_ID, DAY_0731, LLM, POOL, _copy_of

# A word no recorded paper carries, appended to a recorded abstract (derived in the test).
UNSEEN = "quuxification"


def _scores(
    reference: Reference,
    freqs: MemoryDocFreqs,
    fresh: list[Paper],
    votes: dict[str, int] | None,
    vectors: dict[str, tuple[str, bytes]],
) -> list[float]:
    loose = replace(LLM, min_score=0.0, max_per_digest=100)
    out = evaluate(
        [loose],
        fresh,
        freqs,
        reference=reference,
        votes={"llm": votes} if votes else None,
        voted_vectors=vectors,
    )["llm"]
    by_id = {c.match.paper.id: c.match.score for c in out}
    return [by_id[p.id] for p in fresh]


def test_an_old_voted_papers_unseen_terms_do_not_grow_the_days_vocabulary() -> None:
    # The voted paper is older than R (not one of its rows) and its stored vector carries a
    # term that neither R nor the day's papers have: it can add nothing to any score, and
    # decoding it into the day's vocabulary widened every profile's dense vectors (100
    # profiles x 100 such papers: thousands of columns).
    pool = [p for p in POOL if p.id != ALIGN_ID]
    align = next(p for p in POOL if p.id == ALIGN_ID)
    old = replace(align, abstract=f"{align.abstract} {UNSEEN} {UNSEEN}")
    freqs = MemoryDocFreqs()
    freqs.add(terms_of(p.text) for p in [*pool, old])
    own = Vocabulary()
    terms = [terms_of(old.text)]
    (stored,) = encode_rows(Space(terms, freqs, vocabulary=own).vectors(terms), own)
    assert UNSEEN in stored[0].split("\n")
    fresh = [_copy_of(ALIGN_ID, "2608.00001"), *DAY_0731]

    def reference() -> Reference:
        ref = Reference(Vocabulary())
        pool_terms = [terms_of(p.text) for p in pool]
        ref.push(
            Space(pool_terms, freqs, vocabulary=ref.vocabulary).vectors(pool_terms),
            [p.id for p in pool],
        )
        return ref

    plain, voted = reference(), reference()
    before = _scores(plain, freqs, fresh, None, {})
    up = _scores(voted, freqs, fresh, {old.id: 1}, {old.id: stored})
    assert UNSEEN not in voted.vocabulary.index
    assert len(voted.vocabulary) == len(plain.vocabulary)
    assert up[0] > before[0]  # the vote still counts, through the terms R and the day share


def test_the_voted_rows_own_share_read_in_place_equals_the_sliced_rows() -> None:
    # learned.vote_score takes each voted row of R's own share out of its score; with
    # _Stats.self_inv (worked out once for all profiles) it reads it instead of slicing R.
    terms = [terms_of(p.text) for p in POOL]
    freqs = MemoryDocFreqs()
    freqs.add(terms)
    R = Space(terms, freqs, vocabulary=Vocabulary()).vectors(terms)
    stats = _Stats.of(R)
    liked, disliked = np.arange(0, 60, 12), np.arange(5, 65, 12)
    votes = learned.VoteSet(R[liked], liked, R[disliked], disliked)
    args = (votes, R, stats.R_inv, stats.inv, stats.rbar, stats.base)
    sliced = learned.vote_score(*args)
    in_place = learned.vote_score(*args, stats.self_inv)
    assert np.allclose(in_place.held_out, sliced.held_out, rtol=0, atol=1e-12)
    assert np.array_equal(in_place.q, sliced.q)
    rows = np.array([3, 0, 17, 3])
    assert np.allclose(learned.row_dots(R, rows, stats.rbar), R[rows] @ stats.rbar, atol=1e-15)
