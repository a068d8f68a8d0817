"""bot/sanitize.py: every source's batch made safe to store and show, one warning per change.

Each row changes one field of a real paper (the first of the recorded 2026-08-03 HF day) and
says what the cleaned paper holds and what the warning says.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from bot.sanitize import clean_batch
from bot.sources.hf_daily import parse_api
from tests.fixture_server import FIXTURES

REAL = parse_api((FIXTURES / "hf_daily_papers_2026-08-03_3items_reindented.json").read_bytes())[0]
DAY = date(2026, 8, 3)
WHERE = f"hf_daily 2026-08-03: paper {REAL.id}"
ZWJ_EMOJI = "\U0001f469\u200d\U0001f52c"  # woman scientist: two characters joined by a ZWJ

ROWS: dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]] = {
    "unchanged": ({}, {}, []),
    "title-rlo-and-zero-width": (
        {"title": "\u202eEvil\u200b Title\ufeff"},
        {"title": "Evil Title"},
        [f"{WHERE}: title: 3 invisible or control characters removed"],
    ),
    "title-escape-sequence": (
        {"title": "Red\x1b[31m alert"},
        {"title": "Red[31m alert"},
        [f"{WHERE}: title: 1 invisible or control character removed"],
    ),
    "title-only-invisible": (
        {"title": "\u200b\u202e"},
        None,
        [
            f"{WHERE}: title: 2 invisible or control characters removed",
            f"{WHERE}: title: empty once invisible characters are removed: paper skipped",
        ],
    ),
    "author-isolate": (
        {"authors": ("Ada\u2066 Lovelace\u2069", "Alan Turing")},
        {"authors": ("Ada Lovelace", "Alan Turing")},
        [f"{WHERE}: authors: 2 invisible or control characters removed"],
    ),
    "abstract-keeps-zwj-loses-override": (
        {"abstract": f"We study {ZWJ_EMOJI} work.\u202e"},
        {"abstract": f"We study {ZWJ_EMOJI} work."},
        [f"{WHERE}: abstract: 1 invisible or control character removed"],
    ),
    "lone-surrogates": (
        {"title": "A \ud800 title", "abstract": "x\udfff\udfffy"},
        {"title": "A \ufffd title", "abstract": "x\ufffd\ufffdy"},
        [
            f"{WHERE}: title: 1 invalid character (a lone surrogate) replaced by U+FFFD",
            f"{WHERE}: abstract: 2 invalid characters (lone surrogates) replaced by U+FFFD",
        ],
    ),
    "long-abstract": (
        {"abstract": "word " * 5000},
        {"abstract": ("word " * 5000)[:19_999].rstrip() + "…"},
        [f"{WHERE}: abstract: 25000 characters, cut to 20000"],
    ),
    "too-many-authors": (
        {"authors": tuple(f"Author {n}" for n in range(6000))},
        {"authors": tuple(f"Author {n}" for n in range(5000))},
        [f"{WHERE}: authors: 6000 names, the first 5000 kept"],
    ),
    "long-url": (
        {"url": "https://example.org/" + "a" * 3000},
        {"url": ""},
        [f"{WHERE}: url: 3020 characters: dropped (a cut link would be broken)"],
    ),
    "extras-numbers": (
        {"extras": {"upvotes": 10**16, "stars": 12, "score": float("nan")}},
        {"extras": {"stars": 12}},
        [
            f"{WHERE}: upvotes: a number beyond any real count: skipped",
            f"{WHERE}: score: nan: skipped",
        ],
    ),
    "extras-not-json": (
        {"extras": {"when": date(2026, 8, 3), "ai_keywords": ["a\u202eb"]}},
        {"extras": {"ai_keywords": ["ab"]}},
        [
            f"{WHERE}: when: a date, not JSON: skipped",
            f"{WHERE}: ai_keywords: 1 invisible or control character removed",
        ],
    ),
    "day-1999": (
        {"day": date(1999, 1, 4)},
        {"day": DAY},
        [
            f"{WHERE}: day: listed on 1999-01-04, outside the days this fetch covers "
            "(2026-08-02 to 2026-08-03); digested under 2026-08-03"
        ],
    ),
    "day-9999-12-31": (
        {"day": date(9999, 12, 31)},
        {"day": DAY},
        [
            f"{WHERE}: day: listed on 9999-12-31, outside the days this fetch covers "
            "(2026-08-02 to 2026-08-03); digested under 2026-08-03"
        ],
    ),
    "day-within-look-back": ({"day": date(2026, 8, 2)}, {"day": date(2026, 8, 2)}, []),
    "no-day": ({"day": None}, {"day": DAY}, []),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_clean_batch(
    row: tuple[dict[str, Any], dict[str, Any] | None, list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    changes, expected, warnings = row
    paper = replace(REAL, **changes)

    with caplog.at_level(logging.WARNING, logger="bot.sanitize"):
        cleaned = clean_batch([paper], source="hf_daily", day=DAY, first_day=date(2026, 8, 2))

    assert cleaned == ([] if expected is None else [replace(paper, **expected)])
    assert [r.getMessage() for r in caplog.records] == warnings


def test_an_id_longer_than_any_real_one_drops_the_paper(caplog: pytest.LogCaptureFixture) -> None:
    paper = replace(REAL, id="hf:" + "x" * 400)

    assert clean_batch([paper, REAL], source="hf_daily", day=DAY, first_day=DAY) == [REAL]
    [record] = caplog.records
    assert record.getMessage() == (
        f"hf_daily 2026-08-03: paper hf:{'x' * 77}: id: 403 characters, longer than any real "
        "id: paper skipped"
    )


def test_a_cleaned_paper_can_be_written_to_sqlite() -> None:
    """What a lone surrogate broke: the cleaned text encodes, the extras serialize."""
    poisoned = replace(REAL, title="\ud800", extras={**REAL.extras, "x": "\udc00"})
    [paper] = clean_batch([poisoned], source="hf_daily", day=DAY, first_day=DAY)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (title TEXT, extras TEXT)")
    conn.execute("INSERT INTO t VALUES (?, ?)", (paper.title, json.dumps(dict(paper.extras))))
    title, extras = conn.execute("SELECT title, extras FROM t").fetchone()
    assert (title, json.loads(extras)) == ("\ufffd", {**REAL.extras, "x": "\ufffd"})


def test_a_real_batch_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    day = date(2026, 7, 31)
    papers = parse_api((FIXTURES / "hf_daily_papers_2026-07-31_30items.json").read_bytes())
    labelled = [replace(p, source="hf_daily") for p in papers]
    assert {p.day for p in labelled} == {day}

    assert clean_batch(labelled, source="hf_daily", day=day, first_day=day) == labelled
    assert caplog.records == []
