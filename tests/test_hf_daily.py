"""Hugging Face Daily Papers: parsing recorded payloads, and fetch() over a real loopback server.

Every paper payload here is a real recording from tests/fixtures (see SOURCES.md). Where a test
needs a variant (a current-schema HTML page, a `javascript:` link), it is built from a real
recording by the test and says so. Hand-made JSON/HTML appears only in malformed-input tests.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.errors import FetchError, ParseError
from bot.http import Http, HttpSettings
from bot.models import Paper
from bot.sources.hf_daily import HfDaily, HfDailySettings, parse_api, parse_page
from tests.fixture_server import FIXTURES, FixtureServer, Reply

API = "/api/daily_papers"
PAGE = "/papers"

JUL31 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
JUL31_EARLY5 = FIXTURES / "hf_daily_papers_2026-07-31_5items_reindented.json"
JUN12 = FIXTURES / "hf_daily_papers_2026-06-12_30items.json"
AUG03 = FIXTURES / "hf_daily_papers_2026-08-03_3items_reindented.json"
PAGE_2024 = FIXTURES / "hf_papers_page_date-2024-08-01.html"

JUL31_IDS = [
    "2607.23193", "2607.28582", "2607.28308", "2607.28319", "2607.27958", "2607.26769",
    "2607.26637", "2607.16922", "2607.20891", "2607.28362", "2607.25289", "2607.27230",
    "2607.26056", "2607.28374", "2607.27372", "2607.26627", "2607.18806", "2607.27816",
    "2607.27616", "2607.28410", "2607.27919", "2607.28227", "2607.28509", "2607.28595",
    "2607.26497", "2607.28022", "2607.27652", "2607.28074", "2607.28618", "2607.28568",
]  # fmt: skip
JUN12_IDS = [
    "2606.00467", "2606.12730", "2606.13594", "2606.13174", "2606.10423", "2606.07867",
    "2606.11409", "2606.12451", "2606.12488", "2606.13572", "2606.06113", "2606.08103",
    "2606.12303", "2606.13289", "2606.12243", "2606.11662", "2606.10896", "2606.09446",
    "2606.12282", "2606.11096", "2606.12575", "2606.13392", "2606.09290", "2606.09304",
    "2606.08063", "2606.13120", "2606.08788", "2606.13681", "2606.08039", "2606.13106",
]  # fmt: skip
PAGE_2024_IDS = [
    "2407.21783", "2407.21705", "2407.21770", "2407.21646", "2407.21772", "2407.21630",
    "2407.21721", "2407.21530", "2407.20229", "2407.21781", "2407.21686", "2407.21475",
    "2404.01300",
]  # fmt: skip


def by_id(papers: list[Paper]) -> dict[str, Paper]:
    return {p.id: p for p in papers}


def assert_folded(papers: list[Paper]) -> None:
    for p in papers:
        for text in (p.title, p.abstract):
            assert text == text.strip()
            assert "\n" not in text
            assert "  " not in text


# -- parse_api on the recorded API answers ---------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "day", "ids"),
    [
        (JUL31, date(2026, 7, 31), JUL31_IDS),
        (JUL31_EARLY5, date(2026, 7, 31),
         ["2607.23193", "2607.27958", "2607.28582", "2607.28308", "2607.16922"]),
        (JUN12, date(2026, 6, 12), JUN12_IDS),
        (AUG03, date(2026, 8, 3), ["2607.26654", "2607.28229", "2607.27851"]),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)  # fmt: skip
def test_parse_api_recorded_days(fixture: Path, day: date, ids: list[str]) -> None:
    papers = parse_api(fixture.read_bytes())

    assert [p.id for p in papers] == ids
    # The digest day is the day HF listed the paper (submittedOnDailyAt); in every recording
    # the paper itself was published on arXiv earlier (publishedAt), so the two differ.
    assert {p.day for p in papers} == {day}
    assert all(p.published and p.published < day.isoformat() for p in papers)
    assert {(p.source, p.version, p.categories) for p in papers} == {("hf_daily", None, ())}
    assert [p.url for p in papers] == [f"https://arxiv.org/abs/{i}" for i in ids]
    assert all(p.authors and p.title and p.abstract for p in papers)
    assert all(isinstance(p.extras["upvotes"], int) for p in papers)
    hf_urls = [f"https://huggingface.co/papers/{i}" for i in ids]
    assert [p.extras["hf_url"] for p in papers] == hf_urls
    assert_folded(papers)


def test_parse_api_whole_papers_of_2026_08_03() -> None:
    papers = parse_api(AUG03.read_bytes())

    # Abstracts are long: compared apart, by their recorded start, end and length.
    assert [replace(p, abstract="") for p in papers] == [
        Paper(
            id="2607.26654",
            title="Constitutional Midtraining: Content Presence Drives Alignment Gains",
            abstract="",
            authors=("Desiree Cho", "Cameron Tice", "Bernie Hogan", "Hunar Batra",
                     "Puria Radmard", "Jun Zhao", "Nigel Shadbolt"),
            url="https://arxiv.org/abs/2607.26654",
            published="2026-07-29",
            day=date(2026, 8, 3),
            source="hf_daily",
            extras={
                "upvotes": 3,
                "github_repo": "https://github.com/desBugger/constitutional-mt",
                "github_stars": 2,
                "project_page": "https://www.lesswrong.com/posts/n5htoDGvKKJFAjji2",
                "hf_url": "https://huggingface.co/papers/2607.26654",
                "num_comments": 1,
                "organization": "University of Oxford",
            },
        ),
        Paper(
            id="2607.28229",
            title="EMBL AI Librarian: Life-Sciences Knowledge Layer for AI Agents",
            abstract="",
            authors=("Luigi Sigillo", "Matteo Silvestri", "Francesco Tabaro", "Rajat Bhatnagar",
                     "Syed Irtaza Mubashar", "Matt Jeffryes", "Daljit Nijjer", "Vittorio Perera",
                     "Ola Spjuth", "Julio Saez-Rodriguez", "Melissa Harrison", "Fabio Petroni"),
            url="https://arxiv.org/abs/2607.28229",
            published="2026-07-30",
            day=date(2026, 8, 3),
            source="hf_daily",
            extras={
                "upvotes": 4,
                "github_repo": "https://github.com/petroni-lab/librarian",
                "github_stars": 8,
                "hf_url": "https://huggingface.co/papers/2607.28229",
                "num_comments": 1,
                "organization": "European Molecular Biology Laboratory",
            },
        ),
        Paper(
            id="2607.27851",
            title="Beyond Feeling Better: Capability-Sustaining Emotional Dialogue as a "
            "Longitudinal Research Paradigm",
            abstract="",
            authors=("Ming Wang", "Jiaqi Wu Young", "Wenfang Wu", "Daling Wang", "Shi Feng"),
            url="https://arxiv.org/abs/2607.27851",
            published="2026-07-30",
            day=date(2026, 8, 3),
            source="hf_daily",
            extras={
                "upvotes": 2,
                "hf_url": "https://huggingface.co/papers/2607.27851",
                "num_comments": 1,
                "organization": "KinaMind",
            },
        ),
    ]  # fmt: skip
    assert [(p.abstract[:30], p.abstract[-30:], len(p.abstract)) for p in papers] == [
        ("Post-training alignment is oft", "ata, and models are available.", 1661),
        ("The web is increasingly access", "thub.com/petroni-lab/librarian", 1719),
        ("Emotional dialogue research in", "g, evaluation, and governance.", 1523),
    ]


def test_parse_api_ai_fields_of_2026_06_12() -> None:
    papers = parse_api(JUN12.read_bytes())

    assert all("ai_summary" in p.extras and p.extras["ai_keywords"] for p in papers)
    assert papers[0].extras == {
        "upvotes": 0,  # zero votes is a value, not a blank
        "ai_summary": "Large language models exhibit limited ability to correct zero-shot errors "
        "through prompting, with model performance more strongly linked to definition-specific "
        "familiarity than text-level memorization metrics.",
        "ai_keywords": [
            "zero-shot annotation", "LLM-as-a-judge", "model-internalized priors",
            "decision stickiness", "toxicity detection", "dense models",
            "mixture-of-experts models", "rescue rate", "high-confidence errors",
            "misaligned task definitions", "Definition-Specific Familiarity", "ROUGE-L",
            "BERTScore", "embedding cosine similarity",
        ],
        "hf_url": "https://huggingface.co/papers/2606.00467",
        "num_comments": 2,
        "organization": "California institute of technology",
    }  # fmt: skip
    links = {p.id: (p.extras.get("github_repo"), p.extras.get("project_page")) for p in papers}
    assert links["2606.10423"] == (
        "https://github.com/jayoohwang1/webchallenger",
        "https://jayoohwang1.github.io/webchallenger-site/",
    )


@pytest.mark.parametrize(
    ("fixture", "paper_id", "folded"),
    [
        # The recorded summaries hold "\n  " paragraph breaks; they become one space.
        (JUL31, "2607.28227", "across mobile and computer. Across a broad suite of evaluations,"),
        (JUN12, "2606.09446", "deformation, and positioning. Our contributions are twofold."),
        (JUN12, "2606.13120", "competence via reasoning shortcuts. In this paper, we introduce"),
    ],
)
def test_parse_api_folds_hard_wraps_in_abstracts(fixture: Path, paper_id: str, folded: str) -> None:
    raw = {item["paper"]["id"]: item for item in json.loads(fixture.read_bytes())}
    assert "\n" in raw[paper_id]["paper"]["summary"]  # the recording really is wrapped

    assert folded in by_id(parse_api(fixture.read_bytes()))[paper_id].abstract


def test_two_snapshots_of_one_day_differ_only_in_counts() -> None:
    # The 5-item file is an earlier recording of 2026-07-31 than the 30-item file.
    early = by_id(parse_api(JUL31_EARLY5.read_bytes()))
    late = by_id(parse_api(JUL31.read_bytes()))

    assert [(i, early[i].extras["upvotes"], late[i].extras["upvotes"]) for i in early] == [
        ("2607.23193", 3, 3),
        ("2607.27958", 11, 12),
        ("2607.28582", 17, 19),
        ("2607.28308", 2, 2),
        ("2607.16922", 0, 0),
    ]
    counts = ("upvotes", "github_stars", "num_comments")

    def strip_counts(p: Paper) -> Paper:
        return replace(p, extras={k: v for k, v in p.extras.items() if k not in counts})

    assert [strip_counts(early[i]) for i in early] == [strip_counts(late[i]) for i in early]


def test_a_javascript_link_is_dropped() -> None:
    # Built from the real 2026-08-03 recording: one field changed, then re-serialized.
    items = json.loads(AUG03.read_bytes())
    items[0]["paper"]["githubRepo"] = "javascript:alert(document.cookie)"
    items[0]["paper"]["projectPage"] = "  JavaScript:alert(1)"

    first = parse_api(json.dumps(items).encode())[0]

    assert first.extras == {
        "upvotes": 3,
        "github_stars": 2,
        "hf_url": "https://huggingface.co/papers/2607.26654",
        "num_comments": 1,
        "organization": "University of Oxford",
    }


@pytest.mark.parametrize(
    ("raw_id", "paper_id", "version", "url", "hf_url"),
    [
        ("2607.26654v2", "2607.26654", "v2", "https://arxiv.org/abs/2607.26654",
         "https://huggingface.co/papers/2607.26654v2"),
        ("hep-th/9901001", "hep-th/9901001", None, "https://arxiv.org/abs/hep-th/9901001",
         "https://huggingface.co/papers/hep-th/9901001"),
        ("not arxiv#1", "hf:not arxiv#1", None, "https://huggingface.co/papers/not%20arxiv%231",
         "https://huggingface.co/papers/not%20arxiv%231"),
    ],
)  # fmt: skip
def test_ids_that_hf_does_not_usually_send(
    raw_id: str, paper_id: str, version: str | None, url: str, hf_url: str
) -> None:
    # Built from the real 2026-08-03 recording: only the first paper's id is changed.
    items = json.loads(AUG03.read_bytes())
    items[0]["paper"]["id"] = raw_id

    first = parse_api(json.dumps(items).encode())[0]

    assert (first.id, first.version, first.url, first.extras["hf_url"]) == (
        paper_id,
        version,
        url,
        hf_url,
    )


def test_the_hf_link_follows_base_url() -> None:
    papers = parse_api(AUG03.read_bytes(), base_url="http://127.0.0.1:9")
    assert [p.extras["hf_url"] for p in papers] == [
        "http://127.0.0.1:9/papers/2607.26654",
        "http://127.0.0.1:9/papers/2607.28229",
        "http://127.0.0.1:9/papers/2607.27851",
    ]


def test_an_empty_day_is_an_empty_list() -> None:
    assert parse_api(b"[]") == []
    assert parse_api(b" [ ]\n") == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        # Hand-made: malformed answers have no real recording.
        (
            b'{"error": "Invalid date"}',
            "the daily papers API: expected a JSON list of papers, "
            "found a JSON object with keys error",
        ),
        (b"null", "the daily papers API: expected a JSON list of papers, found null"),
        (b'"busy"', "the daily papers API: expected a JSON list of papers, found a JSON string"),
        (b"<!doctype html><title>503</title>", "the daily papers API did not answer JSON"),
        (b"\xff\xfe[", "the daily papers API did not answer JSON"),
        (b'[{"title": "no paper"}, 7, {"paper": {"id": "2607.26654"}}]',
         "none of the 3 daily papers items has a paper id and title"),
    ],
)  # fmt: skip
def test_parse_api_rejects_what_it_cannot_read(payload: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_api(payload)
    assert str(caught.value).startswith(message)
    assert caught.value.retryable is False


def test_json_nested_too_deeply_is_unreadable_not_a_crash() -> None:
    # Hand-made: a 200 kB answer of nested lists, which Python's JSON reader cannot descend.
    nested = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ParseError) as caught:
        parse_api(nested)
    assert str(caught.value).startswith(
        "the daily papers API did not answer JSON (nested too deeply)"
    )
    # The same inside the page's data-props.
    page = b'<div data-target="DailyPapers" data-props="' + nested + b'"></div>'
    with pytest.raises(ParseError) as caught:
        parse_page(page)
    assert str(caught.value) == (
        "data-props of the DailyPapers element is not JSON (nested too deeply)"
    )


def test_a_malformed_item_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # The real 2026-08-03 recording with one hand-made broken item inserted.
    items: list[Any] = json.loads(AUG03.read_bytes())
    items.insert(1, {"paper": {"title": "an item without an id"}})

    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_daily"):
        papers = parse_api(json.dumps(items).encode())

    assert papers == parse_api(AUG03.read_bytes())
    assert [r.getMessage()[:35] for r in caplog.records] == ["hf_daily: skipping item 1: no paper"]


def test_an_absurd_count_is_skipped_not_the_day(caplog: pytest.LogCaptureFixture) -> None:
    # The real 2026-08-03 recording; its first item's upvotes written as 5000 digits (Python
    # refuses to read such a number) and its githubStars made negative.
    items: list[Any] = json.loads(AUG03.read_bytes())
    items[0]["paper"]["upvotes"] = "UPVOTES"
    items[0]["paper"]["githubStars"] = -3
    payload = json.dumps(items).encode().replace(b'"UPVOTES"', b"9" * 5000)

    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_daily"):
        papers = parse_api(payload, context="hf_daily 2026-08-03")

    real = parse_api(AUG03.read_bytes())
    extras = {k: v for k, v in real[0].extras.items() if k not in ("upvotes", "github_stars")}
    assert papers == [replace(real[0], extras=extras), *real[1:]]
    assert [r.getMessage() for r in caplog.records] == [
        "hf_daily 2026-08-03: paper 2607.26654: upvotes: a number of 5000 digits, skipped",
        "hf_daily 2026-08-03: paper 2607.26654: githubStars: -3 is not a count, skipped",
    ]


def test_an_item_whose_id_is_not_valid_unicode_is_skipped_naming_the_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The real 2026-08-03 recording; its second item's id given a lone surrogate (the JSON
    # escape `\ud800`), which cannot be put in the item's URL.
    items: list[Any] = json.loads(AUG03.read_bytes())
    items[1]["paper"]["id"] = "2607.\ud800"

    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_daily"):
        papers = parse_api(json.dumps(items).encode(), context="hf_daily 2026-08-03")

    assert papers == [p for p in parse_api(AUG03.read_bytes()) if p.id != "2607.28229"]
    assert [r.getMessage() for r in caplog.records] == [
        "hf_daily 2026-08-03: skipping item 1: paper.id: not valid Unicode (a lone surrogate)"
    ]


# -- parse_page on HTML --------------------------------------------------------------------


def test_parse_page_2024_schema() -> None:
    papers = parse_page(PAGE_2024.read_bytes())

    assert [p.id for p in papers] == PAGE_2024_IDS
    # The 2024 items have no submittedOnDailyAt: the page's date (2024-08-01) is their day.
    assert {p.day for p in papers} == {date(2024, 8, 1)}
    assert [p.published for p in papers] == ["2024-07-31"] * 8 + [
        "2024-07-29", "2024-07-31", "2024-07-31", "2024-07-31", "2024-04-01",
    ]  # fmt: skip
    assert_folded(papers)  # the 2024 summaries are hard-wrapped with "\n"
    moma = by_id(papers)["2407.21770"]
    assert replace(moma, abstract="") == Paper(
        id="2407.21770",
        # The item title; the paper's own title in the recording has a line break in it.
        title="MoMa: Efficient Early-Fusion Pre-training with Mixture of Modality-Aware Experts",
        abstract="",
        authors=("Xi Victoria Lin", "Akshat Shrivastava", "Liang Luo", "Srinivasan Iyer",
                 "Mike Lewis", "Gargi Gosh", "Luke Zettlemoyer", "Armen Aghajanyan"),
        url="https://arxiv.org/abs/2407.21770",
        published="2024-07-31",
        day=date(2024, 8, 1),
        source="hf_daily",
        extras={"upvotes": 19, "hf_url": "https://huggingface.co/papers/2407.21770",
                "num_comments": 5},
    )  # fmt: skip
    assert by_id(papers)["2407.21783"].abstract.startswith(
        "Modern artificial intelligence (AI) systems are powered by foundation models. This "
        "paper presents a new set of foundation models, called Llama 3. It is a herd of"
    )


def current_schema_page(items_json: bytes, *, variant: str) -> bytes:
    """A /papers page in the current schema, BUILT BY THIS TEST: no real recording exists.

    The real recorded API items are embedded as `dailyPapers`, html-escaped, in the element the
    2024 page uses. `variant` varies what the parser must not depend on: attribute order and
    quote style.
    """
    props = json.dumps({"dailyPapers": json.loads(items_json)})
    if variant == "double-quoted":
        div = (
            '<div class="SVELTE_HYDRATER contents" data-target="DailyPapers" '
            f'data-props="{html.escape(props, quote=True)}">'
        )
    else:  # single-quoted, data-props first, as BeautifulSoup re-serializes pages
        div = (
            f"<div data-props='{html.escape(props, quote=False).replace(chr(39), '&#39;')}' "
            "data-target='DailyPapers' class='SVELTE_HYDRATER contents'>"
        )
    return (
        "<!doctype html><html><head><title>Daily Papers</title></head><body>"
        '<div data-target="MainHeader" data-props="{}"></div>'
        f"{div}</div></body></html>"
    ).encode()


@pytest.mark.parametrize("variant", ["double-quoted", "single-quoted"])
@pytest.mark.parametrize("fixture", [JUL31, JUN12, AUG03], ids=lambda p: p.name)
def test_parse_page_current_schema_reads_like_the_api(fixture: Path, variant: str) -> None:
    page = current_schema_page(fixture.read_bytes(), variant=variant)
    assert parse_page(page) == parse_api(fixture.read_bytes())


@pytest.mark.parametrize(
    ("page", "message"),
    [
        # Hand-made: broken pages have no real recording.
        (b"<html><body>Service Unavailable</body></html>",
         'no element with data-target="DailyPapers" and data-props in the page'),
        (b'<div data-target="DailyPapers">', 'no element with data-target="DailyPapers"'),
        (b'<div data-target="DailyPapers" data-props="{&quot;date">',
         "data-props of the DailyPapers element is not JSON"),
        (b'<div data-target="DailyPapers" data-props="[]">',
         "data-props of the page: expected a JSON object, found a JSON list of 0"),
        (b'<div data-target="DailyPapers" data-props="{&quot;papers&quot;: []}">',
         "data-props of the page: expected a dailyPapers list, found null"),
    ],
)  # fmt: skip
def test_parse_page_rejects_what_it_cannot_read(page: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_page(page)
    assert str(caught.value).startswith(message)


def test_a_page_with_no_papers_is_an_empty_day() -> None:
    page = b'<div data-target="DailyPapers" data-props="{&quot;dailyPapers&quot;: []}"></div>'
    assert parse_page(page) == []


# -- settings ------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = HfDailySettings(kind="hf_daily")
    assert (settings.base_url, settings.page_size, settings.max_pages) == (
        "https://huggingface.co",
        100,
        20,
    )
    assert (settings.fallback_to_page, settings.label) == (True, "hf_daily")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://huggingface.co/", "https://huggingface.co"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://hf-mirror.example.org/hub//", "https://hf-mirror.example.org/hub"),
    ],
)
def test_settings_base_url_is_normalized(given: str, stored: str) -> None:
    assert HfDailySettings(kind="hf_daily", base_url=given).base_url == stored


@pytest.mark.parametrize(
    "values",
    [
        {"base_url": "huggingface.co"},
        {"base_url": "ftp://huggingface.co"},
        {"base_url": "javascript:alert(1)"},
        {"base_url": "https://"},
        {"base_url": "https://huggingface.co/?x=1"},
        {"page_size": 0},
        {"page_size": 101},
        {"max_pages": 0},
        {"page_size": "10"},  # strict: no coercion
        {"fallback": False},  # unknown key
        {"kind": "arxiv"},
    ],
)
def test_settings_reject(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HfDailySettings.model_validate({"kind": "hf_daily", **values})


# -- fetch() over the real loopback server -------------------------------------------------


@pytest.fixture
def http() -> Iterator[Http]:
    # Real client, small backoff (real sleeps of 0.01 s, 0.02 s), 2 retries.
    with Http(HttpSettings(timeout=5.0, retries=2, backoff=0.01, allow_private=True)) as client:
        yield client


def source(server: FixtureServer, http: Http, **options: object) -> HfDaily:
    settings = HfDailySettings.model_validate(
        {"kind": "hf_daily", "base_url": server.base_url, **options}
    )
    return HfDaily(settings, http)


def api_queries(server: FixtureServer) -> list[dict[str, str]]:
    return [r.query for r in server.requests_to(API)]


def test_fetch_one_day(fixture_server: FixtureServer, http: Http) -> None:
    fixture_server.serve_hf_day("2026-07-31", JUL31)

    papers = source(fixture_server, http).fetch(date(2026, 7, 31))

    assert papers == parse_api(JUL31.read_bytes(), base_url=fixture_server.base_url)
    assert len(papers) == 30
    assert api_queries(fixture_server) == [{"date": "2026-07-31", "limit": "100", "p": "0"}]
    assert fixture_server.requests_to(PAGE) == []


def test_fetch_another_day_of_the_same_server_is_empty(
    fixture_server: FixtureServer, http: Http
) -> None:
    fixture_server.serve_hf_day("2026-07-31", JUL31)
    fixture_server.serve_hf_day("2026-06-12", JUN12)
    hf = source(fixture_server, http)

    assert [p.id for p in hf.fetch(date(2026, 6, 12))] == JUN12_IDS
    assert hf.fetch(date(2026, 8, 1)) == []  # the API answers [] for a day without papers
    assert fixture_server.requests_to(PAGE) == []  # an empty day is not a failure


@pytest.mark.parametrize(
    ("page_size", "max_pages", "pages_asked", "count"),
    [
        (10, 20, [0, 1, 2, 3], 30),  # three full pages, then an empty one
        (25, 20, [0, 1], 30),  # a full page, then a short one
        (30, 20, [0, 1], 30),  # a full page, then an empty one
        (100, 20, [0], 30),  # a short first page is the only one
        (10, 2, [0, 1], 20),  # max_pages stops it (with a warning)
    ],
)
def test_fetch_paginates(
    fixture_server: FixtureServer,
    http: Http,
    page_size: int,
    max_pages: int,
    pages_asked: list[int],
    count: int,
) -> None:
    # The server splits the real 30-item recording into pages of page_size items.
    fixture_server.serve_hf_day("2026-07-31", JUL31, page_size=page_size)
    hf = source(fixture_server, http, page_size=page_size, max_pages=max_pages)

    papers = hf.fetch(date(2026, 7, 31))

    assert papers == parse_api(JUL31.read_bytes(), base_url=fixture_server.base_url)[:count]
    assert api_queries(fixture_server) == [
        {"date": "2026-07-31", "limit": str(page_size), "p": str(p)} for p in pages_asked
    ]


def test_fetch_stops_when_the_api_ignores_the_page_number(
    fixture_server: FixtureServer, http: Http
) -> None:
    # Every page answers the same first 10 real items: page 1 adds nothing new, so stop.
    first_ten = json.dumps(json.loads(JUL31.read_bytes())[:10])
    fixture_server.add(API, first_ten)

    papers = source(fixture_server, http, page_size=10).fetch(date(2026, 7, 31))

    assert [p.id for p in papers] == JUL31_IDS[:10]
    assert [q["p"] for q in api_queries(fixture_server)] == ["0", "1"]


def test_fetch_falls_back_to_the_page_when_the_api_keeps_failing(
    fixture_server: FixtureServer, http: Http, caplog: pytest.LogCaptureFixture
) -> None:
    fixture_server.add(API, "upstream down", status=503)
    fixture_server.add(PAGE, PAGE_2024, query={"date": "2024-08-01"})

    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_daily"):
        papers = source(fixture_server, http).fetch(date(2024, 8, 1))

    assert papers == parse_page(PAGE_2024.read_bytes(), base_url=fixture_server.base_url)
    assert len(api_queries(fixture_server)) == 3  # first try + 2 retries, then the page
    assert [r.query for r in fixture_server.requests_to(PAGE)] == [{"date": "2024-08-01"}]
    mine = [r.getMessage() for r in caplog.records if r.name == "bot.sources.hf_daily"]
    assert mine == [
        f"hf_daily: API failed for 2024-08-01 (HTTP 503); falling back to "
        f"{fixture_server.base_url}/papers"
    ]


@pytest.mark.parametrize(
    ("api_reply", "api_requests"),
    [
        (Reply(200, "<html>Bad gateway</html>"), 1),  # unreadable JSON is not retried
        (Reply(200, '{"error": "Invalid date"}'), 1),  # not a list
        (Reply(404, "Not Found"), 1),  # a 404 is not retried, but the page may still work
        (Reply(500, "oops"), 3),
    ],
)
def test_fetch_falls_back_on_api_errors(
    fixture_server: FixtureServer, http: Http, api_reply: Reply, api_requests: int
) -> None:
    fixture_server.script(API, [api_reply])
    fixture_server.add(PAGE, PAGE_2024, query={"date": "2024-08-01"})

    papers = source(fixture_server, http).fetch(date(2024, 8, 1))

    assert [p.id for p in papers] == PAGE_2024_IDS
    assert len(api_queries(fixture_server)) == api_requests
    assert len(fixture_server.requests_to(PAGE)) == 1


@pytest.mark.parametrize(
    ("api_reply", "page_reply", "message", "status"),
    [
        (Reply(503), Reply(503), "API: HTTP 503; page: HTTP 503", 503),
        (Reply(404), None, "API: HTTP 404; page: HTTP 404", 404),  # no page route: 404
        (
            Reply(200, "not json"),
            Reply(200, "<html><body>maintenance</body></html>"),
            "API: the daily papers API did not answer JSON (Expecting value: line 1 column 1 "
            "(char 0)); it began 'not json'; page: no element with data-target=\"DailyPapers\" "
            "and data-props in the page",
            None,
        ),
    ],
)
def test_fetch_fails_when_api_and_page_both_fail(
    fixture_server: FixtureServer,
    http: Http,
    api_reply: Reply,
    page_reply: Reply | None,
    message: str,
    status: int | None,
) -> None:
    fixture_server.script(API, [api_reply])
    if page_reply is not None:
        fixture_server.script(PAGE, [page_reply])

    with pytest.raises(FetchError) as caught:
        source(fixture_server, http).fetch(date(2026, 7, 31))

    err = caught.value
    assert (str(err), err.status, err.url) == (message, status, fixture_server.url(API))
    assert err.hint
    assert len(fixture_server.requests_to(PAGE)) >= 1


def test_fetch_without_fallback_raises_the_api_error(
    fixture_server: FixtureServer, http: Http
) -> None:
    fixture_server.add(API, "Not Found", status=404)
    fixture_server.add(PAGE, PAGE_2024)

    with pytest.raises(FetchError) as caught:
        source(fixture_server, http, fallback_to_page=False).fetch(date(2024, 8, 1))

    err = caught.value
    assert (str(err), err.status, err.retryable) == ("HTTP 404", 404, False)
    assert len(fixture_server.requests) == 1  # 404 not retried, page not asked


def test_fetch_does_not_fall_back_when_the_host_is_unreachable(
    fixture_server: FixtureServer,
) -> None:
    url = fixture_server.base_url
    fixture_server.stop()  # nothing listens on that port any more
    sleeps: list[float] = []
    with Http(
        HttpSettings(retries=1, backoff=0.01, allow_private=True), sleep=sleeps.append
    ) as client:
        hf = HfDaily(HfDailySettings(kind="hf_daily", base_url=url), client)
        with pytest.raises(FetchError) as caught:
            hf.fetch(date(2026, 7, 31))

    err = caught.value
    assert str(err).startswith("cannot connect (")  # the API error alone: no "page:" part
    assert (err.unreachable, err.url) == (True, f"{url}/api/daily_papers")
    assert sleeps == [0.01]  # retried once by Http, then given up: no fallback request


def test_fetch_does_not_fall_back_on_a_timeout(fixture_server: FixtureServer) -> None:
    # A timeout has no HTTP status: the page is on the same slow host, so it is not tried.
    fixture_server.script(API, [Reply(200, "[]", delay_s=2.0)])
    fixture_server.add(PAGE, PAGE_2024)
    with Http(HttpSettings(timeout=0.2, retries=0, allow_private=True)) as client:
        hf = HfDaily(HfDailySettings(kind="hf_daily", base_url=fixture_server.base_url), client)
        with pytest.raises(FetchError) as caught:
            hf.fetch(date(2024, 8, 1))

    assert str(caught.value).startswith("timed out after ")
    assert fixture_server.requests_to(PAGE) == []


def test_hf_daily_needs_its_own_settings(http: Http) -> None:
    from bot.sources.base import SourceSettings

    with pytest.raises(TypeError):
        HfDaily(SourceSettings(kind="hf_daily"), http)
