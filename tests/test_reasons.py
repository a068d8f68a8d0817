"""What may be shown as a reason: words of a paper's prose, not links, numbers or boilerplate.
The recorded abstracts' own link sentences first, then the other forms links take."""

from __future__ import annotations

import pytest

from bot.models import Paper
from bot.relevance.reasons import ReasonTerms, prose, readable
from bot.sources.hf_daily import parse_api
from tests.conftest import FIXTURES

DAY_0731 = {
    p.id: p for p in parse_api((FIXTURES / "hf_daily_papers_2026-07-31_30items.json").read_bytes())
}


@pytest.mark.parametrize(
    ("paper_id", "sentence_end"),
    [
        ("2607.23193", "The code is available at https://github.com/MAC-AutoML/OmniScope."),
        ("2607.28074", "Code: https://aka.ms/echoverse"),
        ("2607.28618", "AskChem is live at https://askchem.org."),
        ("2607.28362", "We show video results at https://ShadowDancer-1.github.io"),
    ],
)
def test_recorded_links_leave_no_term(paper_id: str, sentence_end: str) -> None:
    paper = DAY_0731[paper_id]
    assert sentence_end in paper.abstract
    shown = ReasonTerms(paper)
    for term in ("https", "github", "com", "org", "io", "github com", "available https", "ms"):
        assert term not in shown
    # The words of the link itself are gone unless the prose says them too.
    link = sentence_end.rsplit(" ", 1)[1]
    assert link.split("//", 1)[1].rstrip(".") not in prose(paper.text)


@pytest.mark.parametrize(
    ("text", "left"),
    [
        ("see www.example.org/page for details", "see for details"),
        ("data at zenodo.org/records/123 and", "data at and"),
        ("hosted on askchem.org today", "hosted on today"),
        ("write to first.last@lab.example.edu now", "write to now"),
        ("doi 10.1145/3580305.3599256 ok", "doi ok"),
        ("ftp://files.example.net/x.tar.gz here", "here"),
        ("e.g. a 2.5x speedup, i.e. fast", "e.g. a 2.5x speedup, i.e. fast"),
    ],
)
def test_other_link_forms_are_taken_out(text: str, left: str) -> None:
    assert prose(text).split() == left.split()


@pytest.mark.parametrize(
    ("term", "ok"),
    [
        ("speculative decoding", True),
        ("3d", True),
        ("llama 70b", True),
        ("48", False),
        ("19 drift", False),
        ("code available", False),
        ("publicly", False),
        ("github com", False),
        ("https", False),
        ("et al", False),
        ("state art", False),
        ("code", True),
    ],
)
def test_readable(term: str, ok: bool) -> None:
    assert readable(term) is ok


def test_a_term_only_in_a_link_is_not_a_reason() -> None:
    paper = Paper(
        id="x:1",
        title="Sparse attention",
        abstract="Kernels for sparse attention. Code: https://github.com/acme/flashsparse",
    )
    shown = ReasonTerms(paper)
    assert "sparse attention" in shown and "kernels" in shown
    assert "flashsparse" not in shown and "acme" not in shown
