"""TF-IDF ranking on real recorded papers: the right paper comes first, with its reasons;
exclusions veto; thresholds and caps hold; the stored corpus shapes the IDF; deterministic."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.models import Paper, Profile
from bot.scoring import excluded_by, rank
from bot.sources.hf_daily import parse_api
from tests.conftest import FIXTURES

DAY_0731 = parse_api((FIXTURES / "hf_daily_papers_2026-07-31_30items.json").read_bytes())
DAY_0612 = parse_api((FIXTURES / "hf_daily_papers_2026-06-12_30items.json").read_bytes())
SPEC_ID = "2607.26627"  # "Revisiting Lossy Verification in Speculative Decoding: ..."
BM25_ID = "2607.26497"  # "BM25 Wins at Scale: A Scaling Study of Retrieval-Augmented G..."

SPEC = Profile(
    id="spec",
    name="Speculative decoding",
    description="Faster LLM inference by drafting tokens and verifying them with the target model.",
    keywords=("speculative decoding", "draft model", "verification"),
    min_score=0.1,
)
RAG = Profile(
    id="rag",
    name="Retrieval",
    description="Retrieval-augmented generation and sparse retrieval with BM25.",
    keywords=("BM25", "retrieval augmented generation"),
    min_score=0.1,
)


def corpus(papers: list[Paper]) -> list[str]:
    return [p.text for p in papers]


def test_profile_written_for_one_paper_ranks_it_first_with_reasons() -> None:
    result = rank([SPEC, RAG], DAY_0731, corpus(DAY_0612))
    assert [m.paper.id for m in result["spec"]] == [SPEC_ID]
    assert result["rag"][0].paper.id == BM25_ID
    top = result["spec"][0]
    assert top.profile_id == "spec"
    assert 0.1 <= top.score <= 1.0
    assert "speculative decoding" in top.why
    assert len(top.why) <= 4
    text = top.paper.text.lower()
    assert all(term in text or all(w in text for w in term.split()) for term in top.why)


def test_ranking_is_deterministic_and_best_first() -> None:
    loose = replace(RAG, min_score=0.01, max_per_digest=30)
    first = rank([loose], DAY_0731, corpus(DAY_0612))["rag"]
    second = rank([loose], list(reversed(DAY_0731)), corpus(DAY_0612))["rag"]
    assert first == second
    keys = [(-m.score, m.paper.id) for m in first]
    assert keys == sorted(keys)
    assert len(first) > 3


def test_threshold_and_cap() -> None:
    loose = replace(RAG, min_score=0.01, max_per_digest=30)
    everything = rank([loose], DAY_0731, [])["rag"]
    capped = rank([replace(loose, max_per_digest=2)], DAY_0731, [])["rag"]
    assert capped == everything[:2]
    cut = everything[2].score
    above = rank([replace(loose, min_score=cut)], DAY_0731, [])["rag"]
    assert [m.paper.id for m in above] == [m.paper.id for m in everything if m.score >= cut]
    assert rank([replace(loose, min_score=1.0)], DAY_0731, [])["rag"] == []


def test_exclude_vetoes_a_paper_whatever_its_score() -> None:
    vetoed = replace(SPEC, exclude=("Lossy Verification",))
    assert excluded_by(vetoed, next(p for p in DAY_0731 if p.id == SPEC_ID)) == "lossy verification"
    assert rank([vetoed], DAY_0731, [])["spec"] == []


@pytest.mark.parametrize(("term", "vetoes"), [("SD", True), ("S", False), ("decod", False)])
def test_exclude_matches_whole_words(term: str, vetoes: bool) -> None:
    spec_paper = next(p for p in DAY_0731 if p.id == SPEC_ID)
    assert (excluded_by(replace(SPEC, exclude=(term,)), spec_paper) is not None) is vetoes


def test_idf_comes_from_the_stored_corpus() -> None:
    # The same new paper scores lower once the corpus shows its matching words are common.
    [paper] = [p for p in DAY_0731 if p.id == SPEC_ID]
    alone = rank([SPEC], [paper, *DAY_0612[:5]], [])["spec"][0].score
    common = [f"Speculative decoding with a draft model, number {i}." for i in range(200)]
    crowded = rank([SPEC], [paper, *DAY_0612[:5]], common)
    assert crowded["spec"] == [] or crowded["spec"][0].score < alone


def test_nothing_new_or_no_profiles() -> None:
    assert rank([SPEC], [], corpus(DAY_0612)) == {"spec": []}
    assert rank([], DAY_0731, []) == {}


def test_category_filter_keeps_unknown_categories_and_drops_others() -> None:
    spec_paper = next(p for p in DAY_0731 if p.id == SPEC_ID)
    in_cl = replace(spec_paper, categories=("cs.CL", "cs.LG"))
    in_cv = replace(spec_paper, id="2607.99999", categories=("cs.CV",))
    only_cl = replace(SPEC, categories=("cs.CL",))
    result = rank([only_cl], [in_cl, in_cv, *DAY_0612[:3]], [])["spec"]
    assert [m.paper.id for m in result] == [SPEC_ID]
    # HF papers carry no categories: the filter does not hide them.
    hf_only = rank([only_cl], [spec_paper], [])["spec"]
    assert [m.paper.id for m in hf_only] == [SPEC_ID]


def test_category_boost_reorders_within_bounds() -> None:
    spec_paper = next(p for p in DAY_0731 if p.id == SPEC_ID)
    a = replace(spec_paper, id="2607.00001", categories=("cs.CL",))
    b = replace(spec_paper, id="2607.00002", categories=("cs.LG",))
    plain = rank([SPEC], [a, b], [])["spec"]
    assert [m.paper.id for m in plain] == ["2607.00001", "2607.00002"]  # a tie, broken by id
    boosted = rank([replace(SPEC, category_boost={"cs.LG": 0.05})], [a, b], [])["spec"]
    assert [m.paper.id for m in boosted] == ["2607.00002", "2607.00001"]
    assert boosted[0].score == round(plain[0].score + 0.05, 4)
    huge = rank([replace(SPEC, category_boost={"cs.LG": 1.0})], [b], [])["spec"]
    assert huge[0].score == 1.0
