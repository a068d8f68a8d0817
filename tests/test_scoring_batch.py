"""Profiles scored together (scoring.evaluate scores them in chunks, one sparse product
per chunk: issue 17) get what each gets scored alone: the same candidates in the same order,
the same scores (to 1e-12), the same reasons; and `rank`, which looks one by one only at the
papers that can pass, sends what `evaluate` says passes. Real recorded papers (test_scoring's
POOL as R, a recorded HF day as the new papers)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.models import Paper, Profile
from bot.relevance import scoring
from bot.relevance.reference import Reference, encode_rows
from bot.relevance.scoring import Candidate, evaluate, excluded_by, rank
from bot.relevance.tfidf import MemoryDocFreqs, Space, Vocabulary, terms_of
from tests.test_scoring import (
    ALIGN_ID,
    DAY_0731,
    EXAMPLES,
    LLM,
    OMNI_ID,
    POOL,
    SPEC,
    TRANSFORMER,
)

# New papers: the recorded HF day (upvotes, no categories) and copies of seven recorded arXiv
# papers under new ids (categories): five of the pool (their originals are rows of R), the
# liked paper, and an example paper that is also a counter-example.
ARXIV_COPIES = [
    replace(p, id=f"2608.{i:05d}")
    for i, p in enumerate([*POOL[-5:], next(p for p in POOL if p.id == ALIGN_ID), TRANSFORMER[2]])
]
FRESH = [*DAY_0731, *ARXIV_COPIES]
LIKED_IN_R = ALIGN_ID
DISLIKED_IN_R = next(p.id for p in POOL if "language model" in p.title.lower())
LIKED_BY_TEXT = TRANSFORMER[0].id  # older than R: its text is in `examples`
LIKED_BY_VECTOR = TRANSFORMER[1].id  # older than R: its stored vector is read

LOOSE = {"min_score": 0.5, "max_per_digest": 8}
PROFILES = [
    replace(SPEC, **LOOSE),  # keywords
    replace(EXAMPLES, **LOOSE),  # example papers
    replace(LLM, id="voted", **LOOSE),  # keywords and readers' votes
    replace(EXAMPLES, id="ex-voted", **LOOSE),  # examples and votes
    replace(LLM, id="not-like", not_like=(TRANSFORMER[2].id, TRANSFORMER[3].id), **LOOSE),
    Profile(id="no-text", name="Nothing", description="the of and", min_score=0.0),
    replace(SPEC, id="categories", categories=("cs.CL",), min_score=0.3, max_per_digest=20),
    replace(SPEC, id="follows", authors=("Jinsen Su",), min_score=0.99, max_per_digest=1),
    replace(LLM, id="excludes", exclude=("language model", "LLM"), **LOOSE),
    replace(LLM, id="bonus", category_boost={"cs.LG": 0.1}, upvote_weight=0.2, **LOOSE),
    replace(SPEC, id="example-missing", examples=("2501.99999",), **LOOSE),
    replace(SPEC, id="strict", min_score=0.995, max_per_digest=2),
    replace(SPEC, id="capped", min_score=0.0, max_per_digest=3),
]
VOTES = {
    "voted": {LIKED_IN_R: 1, DISLIKED_IN_R: -1, LIKED_BY_TEXT: 1, LIKED_BY_VECTOR: 1},
    "ex-voted": {LIKED_IN_R: 1, TRANSFORMER[4].id: -1, LIKED_BY_VECTOR: 1},
}


def _setting(cold: bool) -> tuple[MemoryDocFreqs, list[Paper], dict[str, tuple[str, bytes]]]:
    """The IDF and R's papers (a cold start: fewer than COLD_REFERENCE, the day joins R), and
    the stored vector of the paper voted by vector."""
    pool = POOL[:60] if cold else POOL
    freqs = MemoryDocFreqs()
    freqs.add(terms_of(p.text) for p in [*pool, *TRANSFORMER])
    own = Vocabulary()
    old = [terms_of(TRANSFORMER[1].text)]
    (stored,) = encode_rows(Space(old, freqs, vocabulary=own).vectors(old), own)
    return freqs, pool, {LIKED_BY_VECTOR: stored}


def _reference(pool: list[Paper], freqs: MemoryDocFreqs) -> Reference:
    """A new R each call: a run's vocabulary grows with what it scores."""
    terms = [terms_of(p.text) for p in pool]
    reference = Reference(Vocabulary())
    vectors = Space(terms, freqs, vocabulary=reference.vocabulary).vectors(terms)
    reference.push(vectors, [p.id for p in pool])
    return reference


def _evaluate(
    profiles: list[Profile], cold: bool, *, everything: bool = True
) -> dict[str, list[Candidate]]:
    freqs, pool, stored = _setting(cold)
    examples = {p.id: p for p in TRANSFORMER if p.id != LIKED_BY_VECTOR}
    return evaluate(
        profiles,
        FRESH,
        freqs,
        examples,
        reference=_reference(pool, freqs),
        explain=len(FRESH) if everything else 0,
        votes={p.id: VOTES[p.id] for p in profiles if p.id in VOTES},
        voted_vectors=stored,
        everything=everything,
    )


def _assert_same(batch: list[Candidate], alone: list[Candidate], pid: str) -> None:
    def shape(c: Candidate) -> tuple[object, ...]:
        m = c.match
        return (m.paper.id, m.profile_id, m.why, m.followed, c.passed, c.held_back)

    assert [shape(c) for c in batch] == [shape(c) for c in alone], pid
    for b, a in zip(batch, alone, strict=True):
        assert abs(b.match.score - a.match.score) <= 1e-12, (pid, b.match.paper.id)


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold start"])
@pytest.mark.parametrize("chunk", [None, 3], ids=["one chunk", "chunks of 3"])
def test_profiles_scored_together_get_what_each_gets_alone(
    cold: bool, chunk: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if chunk is not None:
        monkeypatch.setattr(scoring, "CHUNK", chunk)
    together = _evaluate(PROFILES, cold)
    assert list(together) == [p.id for p in PROFILES]
    for profile in PROFILES:
        alone = _evaluate([profile], cold)[profile.id]
        assert len(alone) == len(FRESH)
        _assert_same(together[profile.id], alone, profile.id)
    # The set is varied, and each kind does what it says (else the comparison proves little).
    sent = {pid: [c.match for c in cands if c.passed] for pid, cands in together.items()}
    assert all(sent[p.id] for p in PROFILES if p.id not in ("no-text", "strict")), sent
    assert sent["no-text"] == []
    assert all(m.score == 0.0 for m in (c.match for c in together["no-text"]))
    assert any("you liked" in r for c in together["voted"] for r in c.match.why)
    assert any(r.startswith("like your example paper") for c in together["ex"] for r in c.match.why)
    followed = [m for m in sent["follows"] if m.followed]
    assert [m.paper.id for m in followed] == [OMNI_ID]
    excluder = next(p for p in PROFILES if p.id == "excludes")
    vetoed = [c for c in together["excludes"] if excluded_by(excluder, c.match.paper)]
    assert vetoed
    assert all(c.held_back and c.held_back.startswith("excluded: ") for c in vetoed)
    assert any(c.held_back == "category" for c in together["categories"])
    assert len(sent["capped"]) == 3
    assert sent["voted"] != sent["not-like"] or together["voted"] != together["not-like"]


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold start"])
def test_rank_sends_what_evaluate_says_passes(cold: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # `rank` (evaluate(everything=False)) skips the papers that cannot pass without looking at
    # them one by one; what it sends is what the full evaluation passes, scored alone or not.
    monkeypatch.setattr(scoring, "CHUNK", 4)
    full = _evaluate(PROFILES, cold)
    quick = _evaluate(PROFILES, cold, everything=False)
    for profile in PROFILES:
        passed = [c for c in full[profile.id] if c.passed]
        assert all(c.passed for c in quick[profile.id])
        _assert_same(quick[profile.id], passed, profile.id)
        _assert_same(_evaluate([profile], cold, everything=False)[profile.id], passed, profile.id)


def test_rank_is_evaluate_everything_false() -> None:
    freqs, pool, stored = _setting(False)
    examples = {p.id: p for p in TRANSFORMER}
    ranked = rank(
        PROFILES, FRESH, freqs, examples, _reference(pool, freqs), votes=VOTES, voted_vectors=stored
    )
    full = evaluate(
        PROFILES,
        FRESH,
        freqs,
        examples,
        reference=_reference(pool, freqs),
        votes=VOTES,
        voted_vectors=stored,
    )
    assert ranked == {pid: [c.match for c in cands if c.passed] for pid, cands in full.items()}


def test_a_paper_scoring_exactly_min_score_is_sent() -> None:
    # rank skips the papers whose percentile is below min_score by more than the score's
    # rounding; one whose rounded score IS min_score is sent, as evaluate says.
    [full] = _evaluate([replace(SPEC, min_score=0.0, max_per_digest=100)], False).values()
    scores = sorted({c.match.score for c in full if c.match.score > 0}, reverse=True)
    for s in scores[:8]:
        strict = replace(SPEC, min_score=s, max_per_digest=100)
        [sent] = _evaluate([strict], False, everything=False).values()
        assert [c.match.paper.id for c in sent] == [
            c.match.paper.id for c in full if c.match.score >= s
        ], s


@pytest.mark.parametrize(
    "bonus",
    [
        {"upvote_weight": 0.3},
        {"category_boost": {"cs.CL": 0.3, "cs.LG": -0.3}},
        {"category_boost": {"cs.CL": 0.2}, "upvote_weight": 0.2},
    ],
    ids=["upvotes", "boost and penalty", "both"],
)
def test_a_paper_its_bonus_lifts_to_min_score_is_sent(bonus: dict[str, object]) -> None:
    # rank skips the papers whose percentile is too low to pass: with a bonus, "too low" is
    # below min_score by more than the largest bonus the profile can give (a penalty gives
    # none), and a bonus alone may reach a low min_score.
    loose = replace(SPEC, min_score=0.0, max_per_digest=100, **bonus)  # type: ignore[arg-type]
    [full] = _evaluate([loose], False).values()
    [plain] = _evaluate([replace(SPEC, min_score=0.0, max_per_digest=100)], False).values()
    percentile = {c.match.paper.id: c.match.score for c in plain}
    lifted = [c.match.score for c in full if c.match.score > percentile[c.match.paper.id] + 0.01]
    assert len(lifted) >= 2  # else the test proves little
    for s in sorted(set(lifted))[:: max(1, len(set(lifted)) // 8)]:
        [sent] = _evaluate([replace(loose, min_score=s)], False, everything=False).values()
        assert [c.match.paper.id for c in sent] == [
            c.match.paper.id for c in full if c.match.score >= s
        ], s


@pytest.mark.parametrize("seed", range(5))
def test_the_nearest_papers_are_the_first_of_a_full_sort_ties_by_position(seed: int) -> None:
    # scoring._best takes the m best without sorting all: ties at the m-th score included.
    import numpy as np

    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=300).astype(float) / 7  # many ties
    for m in (1, 5, 40, 299, 300, 301):
        full = np.lexsort((np.arange(scores.size), -scores))[:m]
        assert scoring._best(scores, m).tolist() == full.tolist(), m


@pytest.mark.parametrize("seed", range(4))
def test_percentiles_worked_out_from_a_floor_are_the_full_sorts(seed: int) -> None:
    # rank's percentiles (scoring._percentiles_from) sort only R's scores above the floor's
    # order statistic: where it works one out, it is the full sort's, to the bit.
    import numpy as np

    rng = np.random.default_rng(seed)
    for n in (1, 7, 50, 5000):
        held = rng.integers(0, 40, size=n).astype(float) / 9  # many ties
        raw = np.concatenate([rng.integers(-2, 43, size=300) / 9, held[:20]])
        full = scoring._percentiles(held, raw)
        for floor in (-1e-4, 0.0, 0.3, 0.5, 0.95, 0.99 - 1e-4, 0.9999, 1.0):
            also = {3, 17, 250}
            part = scoring._percentiles_from(held, raw, floor, also)
            wanted = {i for i in range(raw.size) if full[i] > 0 and full[i] >= floor} | also
            assert all(part[i] == full[i] for i in wanted), (n, floor)
            assert not part[[i for i in range(raw.size) if i not in wanted]].any(), (n, floor)
