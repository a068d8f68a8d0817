"""arXiv end to end through the CLI: one identity across sources and versions, and catch-up of
missed announcement days through the API, on recorded feeds served over loopback.

Derived payloads (each built in the test from a real recording, changing only what is said):
- an HF Daily Papers answer listing an arXiv RSS paper: a real HF item whose paper id, title and
  abstract are replaced by those of the real RSS item (HF and RSS recordings share no paper);
- the next day's RSS feed carrying that paper as a `replace` (v2): the real feed re-dated;
- a later feed day: the real 2026-04-27 cs.LG feed re-dated to 2026-09-29;
- a missed day's API answer: a real first page of results with its totalResults set to the
  entries it holds (the whole day on one page);
- arXiv's occasional empty page: a real second page (start=10 of 214881) without its entries.
"""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
from datetime import date
from pathlib import Path

from bot.sources.arxiv_calendar import api_date_range, submission_window
from bot.sources.arxiv_feed import parse_rss
from tests.conftest import FIXTURES
from tests.e2e import Bot, posted_ids

RSS_0924 = FIXTURES / "arxiv_rss_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_4items_TRANSCRIBED.xml"
RSS_LG_0427 = FIXTURES / "arxiv_rss_cs.LG_2026-04-27_3items.xml"
HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
API_0614 = FIXTURES / "arxiv_api_query_2026-06-14_all-transformer_cs.LG.atom.xml"
API_0802 = FIXTURES / "arxiv_api_query_2026-08-02_cat-cs.AI-OR-cs.LG-OR-cs.CL_25entries.atom.xml"
API_EMPTY_HTTP = FIXTURES / "arxiv_api_recorded-2026-04_id_0000.0000_s0_m100_8b51d9633a68.http.json"
# The recorded answer for an unknown id: a real feed with totalResults 0 (body stored as latin-1).
API_EMPTY = json.loads(API_EMPTY_HTTP.read_text())["body"].encode("latin-1")
FEED_PATH = "/rss/cs.LG+cs.AI+cs.CL+stat.ML"
DRIFT = "2609.26811"  # "The Drift Contract: Spectral Updates for Depth-Robust Local Learning"

DRIFT_PROFILE = """\
name: Local learning
description: Local learning without a global backward pass; spectral update geometry; Muon.
keywords: [local learning, spectral update]
min_score: 0.7  # 4 papers stored (a cold start): only the best of them, 3/4
notify:
  slack: "#papers-spec"
"""
BROAD_PROFILE = """\
name: Machine learning
description: learning models training data neural networks language transformer
min_score: 0.01
max_per_digest: 100
notify:
  slack: "#papers-spec"
"""


def configure(bot: Bot, *, hf: bool, announce_types: str = "[new, cross]") -> None:
    hf_source = (
        textwrap.dedent(f"""\
          - kind: hf_daily
            base_url: {bot.hf.base_url}
            lookback_days: 0
        """)
        if hf
        else ""
    )
    text = (
        textwrap.dedent(f"""\
        timezone: America/New_York
        state: ../data/state.sqlite3
        profiles: profiles/
        sources:
          - kind: arxiv_rss
            categories: [cs.LG, cs.AI, cs.CL, stat.ML]
            base_url: {bot.hf.base_url}
            api_base_url: {bot.hf.base_url}
            announce_types: {announce_types}
            min_interval: 0
            lookback_days: 0
        """)
        + textwrap.indent(hf_source, "  ")
        + textwrap.dedent(f"""\
        slack:
          token_env: SLACK_BOT_TOKEN
          base_url: {bot.slack.base_url}
          max_retries: 1
        http: {{timeout: 5, retries: 1, backoff: 0.05, allow_private: true}}
        """)
    )
    bot.config.write_text(text, encoding="utf-8")


def redated(feed: bytes, old: str, new: str) -> bytes:
    return feed.replace(old.encode(), new.encode())


def without_items(feed: bytes, *ids: str) -> bytes:
    """`feed` without the <item> elements of these arXiv ids."""
    text = feed.decode("utf-8")
    for paper_id in ids:
        start = text.index(f"<link>https://arxiv.org/abs/{paper_id}</link>")
        start = text.rindex("<item>", 0, start)
        end = text.index("</item>", start) + len("</item>")
        text = text[:start] + text[end:]
    return text.encode("utf-8")


def hf_listing(day: str, upvotes: int, *, also: int | None = None) -> bytes:
    """A real HF item carrying the RSS paper DRIFT (see the module docstring); `also` adds the
    real HF item at that index, re-labelled to `day`."""
    drift = next(p for p in parse_rss(RSS_0924.read_bytes()).papers if p.id == DRIFT)
    items = json.loads(HF_0731.read_bytes())
    item = items[0]
    item["title"] = item["paper"]["title"] = drift.title
    item["summary"] = item["paper"]["summary"] = drift.abstract
    item["paper"]["id"] = DRIFT
    item["paper"]["upvotes"] = upvotes
    listing = [item]
    if also is not None:
        listing.append(items[also])
    for entry in listing:
        entry["paper"]["submittedOnDailyAt"] = f"{day}T00:00:00.000Z"
    return json.dumps(listing).encode()


def stored(bot: Bot, paper_id: str) -> tuple[list[str], dict[str, object]]:
    conn = sqlite3.connect(bot.state)
    try:
        categories, extras = conn.execute(
            "SELECT categories, extras FROM papers WHERE id = ?", (paper_id,)
        ).fetchone()
    finally:
        conn.close()
    return json.loads(categories), json.loads(extras)


def test_same_paper_from_hf_and_rss_then_as_v2_is_posted_once(bot: Bot) -> None:
    configure(bot, hf=True, announce_types="[new, cross, replace]")
    bot.profile("drift.yaml", DRIFT_PROFILE)
    bot.hf.add(FEED_PATH, RSS_0924)
    bot.hf.add("/api/daily_papers", "[]")
    bot.hf.add("/api/daily_papers", hf_listing("2026-09-24", 42), query={"date": "2026-09-24"})

    first = bot.run("once", "--date", "2026-09-24")
    assert first.returncode == 0, first.stderr
    assert posted_ids(bot.slack, "#papers-spec") == [DRIFT]
    [post] = bot.slack.messages_in("#papers-spec")
    assert "▲ 42" in json.dumps(post.blocks, ensure_ascii=False)  # HF's upvotes on the RSS paper
    categories, extras = stored(bot, DRIFT)
    assert "cs.LG" in categories and extras["upvotes"] == 42

    # A day later: arXiv announces v2 as a replacement, HF lists it again with more upvotes.
    # (The re-dated feed keeps only that item and the real `replace` item: the same four items
    # on a new day would rightly be reported stale.)
    v2 = redated(
        without_items(RSS_0924.read_bytes(), "2609.26820", "2205.06398"),
        "24 Sep 2026",
        "25 Sep 2026",
    )
    v2 = v2.replace(
        b"arXiv:2609.26811v1 Announce Type: new", b"arXiv:2609.26811v2 Announce Type: replace"
    )
    v2 = v2.replace(b"oai:arXiv.org:2609.26811v1", b"oai:arXiv.org:2609.26811v2")
    bot.hf.add(FEED_PATH, v2)
    bot.hf.add(
        "/api/daily_papers", hf_listing("2026-09-25", 50, also=3), query={"date": "2026-09-25"}
    )
    second = bot.run("once", "--date", "2026-09-25")
    assert second.returncode == 0, second.stderr
    assert posted_ids(bot.slack, "#papers-spec") == [DRIFT]  # still exactly one post
    assert stored(bot, DRIFT)[1]["upvotes"] == 50  # the fresher metadata was merged in


def whole(recording: Path) -> bytes:
    """A recorded first page of API results as a day's whole answer: its totalResults set to
    the entries it holds (a page short of totalResults would rightly be asked for again)."""
    body = recording.read_bytes()
    entries = body.count(b"<entry>")
    return re.sub(
        rb"<opensearch:totalResults>\d+<", b"<opensearch:totalResults>%d<" % entries, body
    )


def api_query(day: date) -> str:
    window = api_date_range(submission_window(day, ()))
    return f"(cat:cs.LG OR cat:cs.AI OR cat:cs.CL OR cat:stat.ML) AND {window}"


def test_missed_arxiv_days_are_caught_up_each_under_its_own_day(bot: Bot) -> None:
    configure(bot, hf=False)
    bot.profile("broad.yaml", BROAD_PROFILE)
    bot.hf.add(FEED_PATH, RSS_0924)
    bot.hf.add("/api/query", API_EMPTY)  # any other page or window: nothing
    first = bot.run("once", "--date", "2026-09-24")
    assert first.returncode == 0, first.stderr

    # Down on Friday 09-25 and Monday 09-28; back on Tuesday 09-29.
    bot.hf.add(FEED_PATH, redated(RSS_LG_0427.read_bytes(), "27 Apr 2026", "29 Sep 2026"))
    for day, recording in ((date(2026, 9, 25), API_0614), (date(2026, 9, 28), API_0802)):
        query = {"search_query": api_query(day), "start": 0}
        bot.hf.add("/api/query", whole(recording), query=query)
    back = bot.run("once", "--date", "2026-09-29")
    assert back.returncode == 0, back.stderr

    asked = [r.query["search_query"] for r in bot.hf.requests_to("/api/query")]
    assert api_query(date(2026, 9, 25)) in asked and api_query(date(2026, 9, 28)) in asked
    assert len(bot.hf.requests_to(FEED_PATH)) == 2  # once per run, not once per owed day
    headers = [
        p.blocks[0]["text"]["text"]
        for p in bot.slack.messages_in("#papers-spec")
        if p.thread_ts is None
    ]
    assert headers == [f"Machine learning — 2026-09-{d}" for d in (24, 25, 28, 29)]
    ids = posted_ids(bot.slack, "#papers-spec")
    assert len(ids) == len(set(ids))
    assert {"2604.21952", "2604.21953", "2604.21956"} & set(ids)  # the 09-29 feed's papers
    conn = sqlite3.connect(bot.state)
    try:
        days = dict(conn.execute("SELECT day, count(*) FROM papers GROUP BY day").fetchall())
    finally:
        conn.close()
    assert set(days) == {"2026-09-24", "2026-09-25", "2026-09-28", "2026-09-29"}


def test_an_empty_middle_page_fails_the_day_and_the_next_run_reads_it_whole(bot: Bot) -> None:
    # The two recorded pages of one query (start=0 and start=10 of 214881 results), and the
    # second page with its entries taken out: arXiv's occasional empty page.
    pages = {
        start: json.loads((FIXTURES / name).read_text())["body"].encode("latin-1")
        for start, name in (
            (0, "arxiv_api_recorded-2026-04_q_testing_s0_m10_bc5a6c384fe9.http.json"),
            (10, "arxiv_api_recorded-2026-04_q_testing_s10_m10_34e56e15aaac.http.json"),
        )
    }
    empty = re.sub(rb"\s*<entry>.*?</entry>", b"", pages[10], flags=re.DOTALL)
    bot.config.write_text(
        textwrap.dedent(f"""\
        timezone: America/New_York
        state: ../data/state.sqlite3
        profiles: profiles/
        sources:
          - kind: arxiv_query
            query: "all:testing"
            base_url: {bot.hf.base_url}
            page_size: 10
            max_results: 20
            min_interval: 0
            lookback_days: 0
        http: {{timeout: 5, retries: 1, backoff: 0.05, allow_private: true}}
        """),
        encoding="utf-8",
    )
    bot.profile("broad.yaml", BROAD_PROFILE.split("notify:")[0])  # digests to the console
    bot.hf.add("/api/query", pages[0], query={"start": 0})
    bot.hf.add("/api/query", empty, query={"start": 10})

    first = bot.run("once", "--date", "2026-09-24")

    assert first.returncode == 1
    assert (
        "error: source arxiv_query failed for 2026-09-24: arXiv answered an empty page at "
        "start=10 of 214881 results, 2 times in a row at "
    ) in first.stderr
    conn = sqlite3.connect(bot.state)
    try:
        assert conn.execute("SELECT count(*) FROM papers").fetchone() == (0,)
        assert conn.execute("SELECT health FROM fetches").fetchall() == [("failed",)]
    finally:
        conn.close()

    bot.hf.add("/api/query", pages[10], query={"start": 10})  # arXiv answers again
    second = bot.run("once", "--date", "2026-09-24")

    assert second.returncode == 0, second.stderr
    conn = sqlite3.connect(bot.state)
    try:
        assert conn.execute("SELECT count(*) FROM papers").fetchone() == (20,)
        assert conn.execute("SELECT health FROM fetches ORDER BY id").fetchall() == [
            ("failed",),
            ("ok",),
        ]
    finally:
        conn.close()
