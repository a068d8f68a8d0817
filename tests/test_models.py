"""canonical_id(): every way a paper is named maps to one id; merging fills blanks only."""

from __future__ import annotations

from datetime import date

import pytest

from bot.models import Paper, canonical_id, fold_whitespace, split_arxiv_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2604.21935", ("2604.21935", None)),
        ("2604.21935v1", ("2604.21935", "v1")),
        ("oai:arXiv.org:2604.21935v1", ("2604.21935", "v1")),
        ("arXiv:2604.21935v1", ("2604.21935", "v1")),
        ("https://arxiv.org/abs/2604.21935", ("2604.21935", None)),
        ("http://arxiv.org/pdf/2604.21935v2", ("2604.21935", "v2")),
        ("https://arxiv.org/pdf/2604.21935v2.pdf", ("2604.21935", "v2")),
        ("https://huggingface.co/papers/2604.21935", ("2604.21935", None)),
        ("cond-mat/0412498v1", ("cond-mat/0412498", "v1")),
        ("http://arxiv.org/abs/hep-th/9901001", ("hep-th/9901001", None)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("0704.0001", ("0704.0001", None)),
        ("not-an-id", None),
        ("2604.219", None),
    ],
)
def test_split_arxiv_id(raw: str, expected: tuple[str, str | None] | None) -> None:
    assert split_arxiv_id(raw) == expected


def test_canonical_id_keeps_other_ids_namespaced() -> None:
    assert canonical_id("arXiv:2604.21935v3") == "2604.21935"
    assert canonical_id("abc-123", "hf") == "hf:abc-123"


def test_fold_whitespace() -> None:
    assert (
        fold_whitespace("  Modern AI\n  systems are\tpowered  ") == "Modern AI systems are powered"
    )


def test_merge_fills_blanks_and_keeps_own_values() -> None:
    hf = Paper(
        id="2607.1",
        title="T",
        abstract="",
        extras={"upvotes": 4},
        source="hf_daily",
        day=date(2026, 7, 31),
    )
    rss = Paper(
        id="2607.1",
        title="T (rss)",
        abstract="A",
        categories=("cs.LG",),
        extras={"upvotes": 0, "doi": "x"},
        source="arxiv_rss",
    )
    merged = hf.merged_with(rss)
    assert (merged.title, merged.abstract, merged.categories) == ("T", "A", ("cs.LG",))
    assert merged.extras == {"upvotes": 4, "doi": "x"}
    assert merged.day == date(2026, 7, 31)
