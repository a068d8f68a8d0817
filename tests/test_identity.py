"""One paper, one id across sources (bot/identity.py): DOIs compared case-insensitively, arXiv's
DOIs and links, a bioRxiv preprint's `published` journal DOI, arXiv's journal DOI. Each merge is
shown through the real pipeline (`run_once`), real sources over the loopback server and a real
state file: the paper is stored once, and the second source's sighting is not new.

Derived payloads (built here from real recordings, changing only what is said):
- a journal feed item for a given DOI, title and day: the real J. Pediatrics (Elsevier/Atypon)
  feed with its item's `dc:identifier`, title and `dc:date` replaced;
- the bioRxiv `/details` answers of tests/biorxiv_pages.py (the real record in its envelope).
"""

from __future__ import annotations

import io
import json
import sqlite3
import textwrap
from datetime import date
from typing import Any

import pytest

from bot.app import build_app
from bot.config import load_settings
from bot.identity import doi_id, normalize_doi
from bot.models import RunReport
from bot.pipeline import run_once
from tests.biorxiv_pages import REAL_RECORD, page, path
from tests.conftest import FIXTURES
from tests.e2e import Bot

JPEDS = FIXTURES / "jpeds_rss_atypon-rdf_2018-12-17_1items_EXTRACTED.xml"
ARXIV_0924 = FIXTURES / "arxiv_rss_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_4items_TRANSCRIBED.xml"
SCIENCE = FIXTURES / "science_rss_twis_2017-06-16_69items.rss"
JPEDS_TITLE = (
    "HIV Exposure and Formula Feeding Predict Under-2 Mortality in HIV-Uninfected Children, "
    "Botswana"
)
PROFILE = """\
name: Everything
description: cortical interneurons neurons genome children mortality learning models data
min_score: 0.0
max_per_digest: 100
"""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.7554/eLife.43696", "doi:10.7554/elife.43696"),
        ("info:doi/10.1126/SCIENCE.356.6343.1134-a", "doi:10.1126/science.356.6343.1134-a"),
        ("doi:10.1101/2023.12.16.571984", "doi:10.1101/2023.12.16.571984"),
        ("https://doi.org/10.1016/J.JPEDS.2018.08.009", "doi:10.1016/j.jpeds.2018.08.009"),
        ("10.48550/arXiv.2607.26627", "2607.26627"),
        ("https://doi.org/10.48550/ARXIV.hep-th/9901001", "hep-th/9901001"),
        ("hwp:resource-id:sci;356/6343/1134-a", None),
        ("NA", None),
    ],
)
def test_doi_ids(raw: str, expected: str | None) -> None:
    assert doi_id(raw) == expected
    assert (normalize_doi(raw) is None) == (expected is None)


def journal_feed(doi: str, title: str, day: str) -> bytes:
    """The real J. Pediatrics feed, its one item re-labelled (see the module docstring)."""
    text = JPEDS.read_text("utf-8")
    for old, new in [
        ("<dc:identifier>10.1016/j.jpeds.2018.08.009</dc:identifier>",
         f"<dc:identifier>{doi}</dc:identifier>"),
        (f"<title>{JPEDS_TITLE}</title>", f"<title>{title}</title>"),
        ("<dc:date>2018-10-11</dc:date>", f"<dc:date>{day}</dc:date>"),
    ]:  # fmt: skip
        assert old in text
        text = text.replace(old, new)
    return text.encode("utf-8")


def configure(bot: Bot, sources: str) -> None:
    bot.config.write_text(
        textwrap.dedent("""\
        timezone: UTC
        state: ../data/state.sqlite3
        profiles: profiles/
        sources:
        """)
        + textwrap.indent(sources, "  ")
        + "http: {timeout: 5, retries: 0, allow_private: true}\n",
        encoding="utf-8",
    )
    bot.profile("everything.yaml", PROFILE)


def biorxiv_source(bot: Bot) -> str:
    return textwrap.dedent(f"""\
    - kind: biorxiv
      base_url: {bot.hf.base_url}
      lookback_days: 0
    """)


def feed_source(bot: Bot, name: str) -> str:
    return textwrap.dedent(f"""\
    - kind: feed
      name: {name}
      url: {bot.hf.url("/feeds/" + name)}
      lookback_days: 0
    """)


def run(bot: Bot, day: str, *, only: list[str] | None = None) -> RunReport:
    app = build_app(load_settings(bot.config), env=bot.env, console_stream=io.StringIO())
    try:
        return run_once(app, day=date.fromisoformat(day), sources=only)
    finally:
        app.close()


def stored(bot: Bot) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(bot.state) as db:
        rows = db.execute("SELECT id, title, source, extras FROM papers ORDER BY id").fetchall()
    return {pid: {"title": t, "source": s, "extras": json.loads(e)} for pid, t, s, e in rows}


def test_a_journal_feed_item_is_the_biorxiv_preprint_published_under_its_doi(bot: Bot) -> None:
    # Day 1: bioRxiv posts the real record, `published` 10.7554/eLife.43696.
    bot.hf.add(path("2023-12-16", 0), page([REAL_RECORD], cursor=0, total=1))
    # Day 2: the journal's feed lists that DOI, in other letter case and under its own title.
    bot.hf.add("/feeds/elife", journal_feed("10.7554/ELIFE.43696", "Journal title", "2023-12-18"))
    configure(bot, biorxiv_source(bot) + feed_source(bot, "elife"))
    first = run(bot, "2023-12-17", only=["biorxiv"])
    second = run(bot, "2023-12-18", only=["elife"])
    assert (first.new_papers, second.new_papers) == (1, 0)
    papers = stored(bot)
    assert list(papers) == ["doi:10.1101/456574"]
    assert papers["doi:10.1101/456574"]["title"] == REAL_RECORD["title"]
    assert papers["doi:10.1101/456574"]["extras"]["aliases"] == ["doi:10.7554/elife.43696"]


def test_the_biorxiv_preprint_of_a_stored_journal_paper_is_that_paper(bot: Bot) -> None:
    bot.hf.add("/feeds/elife", journal_feed("10.7554/eLife.43696", "Journal title", "2023-12-16"))
    bot.hf.add(path("2023-12-16", 0), page([REAL_RECORD], cursor=0, total=1))
    configure(bot, biorxiv_source(bot) + feed_source(bot, "elife"))
    first = run(bot, "2023-12-16", only=["elife"])
    second = run(bot, "2023-12-17", only=["biorxiv"])
    assert (first.new_papers, second.new_papers) == (1, 0)
    papers = stored(bot)
    assert list(papers) == ["doi:10.7554/elife.43696"]
    assert papers["doi:10.7554/elife.43696"]["extras"]["aliases"] == ["doi:10.1101/456574"]
    # A later version of the preprint is still that paper (found by its alias).
    v2 = {**REAL_RECORD, "version": "2"}
    bot.hf.add(path("2023-12-17", 0), page([v2], cursor=0, total=1))
    assert run(bot, "2023-12-18", only=["biorxiv"]).new_papers == 0
    assert list(stored(bot)) == ["doi:10.7554/elife.43696"]


def test_the_preprint_and_the_journal_item_in_one_run_are_one_paper(bot: Bot) -> None:
    bot.hf.add(path("2023-12-16", 0), page([REAL_RECORD], cursor=0, total=1))
    bot.hf.add("/feeds/elife", journal_feed("10.7554/eLife.43696", "Journal title", "2023-12-17"))
    configure(bot, biorxiv_source(bot) + feed_source(bot, "elife"))
    report = run(bot, "2023-12-17")
    assert report.new_papers == 1
    assert list(stored(bot)) == ["doi:10.1101/456574"]


def test_a_feed_item_with_an_arxiv_doi_is_the_arxiv_paper(bot: Bot) -> None:
    bot.hf.add("/rss/cs.LG+cs.AI+cs.CL+stat.ML", ARXIV_0924)
    bot.hf.add(
        "/feeds/journal", journal_feed("10.48550/arXiv.2609.26811", "Journal title", "2026-09-24")
    )
    configure(
        bot,
        textwrap.dedent(f"""\
        - kind: arxiv_rss
          categories: [cs.LG, cs.AI, cs.CL, stat.ML]
          base_url: {bot.hf.base_url}
          min_interval: 0
          lookback_days: 0
        """)
        + feed_source(bot, "journal"),
    )
    first = run(bot, "2026-09-24", only=["arxiv_rss"])
    second = run(bot, "2026-09-24", only=["journal"])
    assert (first.new_papers, second.new_papers) == (3, 0)  # new, new, cross (not replace)
    assert "2609.26811" in stored(bot)
    assert not [pid for pid in stored(bot) if pid.startswith(("doi:", "feed:"))]


def test_a_journal_item_is_the_arxiv_paper_that_reported_its_doi(bot: Bot) -> None:
    # The real cross-listed item 2205.06398 carries <arxiv:DOI>10.1093/bioinformatics/btac431.
    bot.hf.add("/rss/cs.LG+cs.AI+cs.CL+stat.ML", ARXIV_0924)
    bot.hf.add(
        "/feeds/bioinformatics",
        journal_feed("10.1093/Bioinformatics/btac431", "Journal title", "2026-09-25"),
    )
    configure(
        bot,
        textwrap.dedent(f"""\
        - kind: arxiv_rss
          categories: [cs.LG, cs.AI, cs.CL, stat.ML]
          base_url: {bot.hf.base_url}
          min_interval: 0
          lookback_days: 0
        """)
        + feed_source(bot, "bioinformatics"),
    )
    run(bot, "2026-09-24", only=["arxiv_rss"])
    assert run(bot, "2026-09-25", only=["bioinformatics"]).new_papers == 0
    papers = stored(bot)
    assert len(papers) == 3
    assert papers["2205.06398"]["extras"]["aliases"] == ["doi:10.1093/bioinformatics/btac431"]


def test_dois_are_compared_case_insensitively_across_feeds(bot: Bot) -> None:
    upper = SCIENCE.read_text("utf-8").replace(
        "info:doi/10.1126/science.356.6343.1134-a", "info:doi/10.1126/SCIENCE.356.6343.1134-A"
    )
    bot.hf.add("/feeds/science", SCIENCE)
    bot.hf.add("/feeds/science-upper", upper)
    configure(bot, feed_source(bot, "science") + feed_source(bot, "science-upper"))
    first = run(bot, "2017-06-15", only=["science"])
    second = run(bot, "2017-06-15", only=["science-upper"])
    assert (first.new_papers, second.new_papers) == (21, 0)
    assert "doi:10.1126/science.356.6343.1134-a" in stored(bot)
