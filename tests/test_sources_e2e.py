"""bioRxiv and feed sources end to end through the real CLI (`digestbot once`, `check --live`,
`status`) on loopback: a paper seen via two sources is delivered once.

Payloads: the real bioRxiv genomics RSS feed (the `feed` source) and bioRxiv `/details`
answers DERIVED in tests/biorxiv_pages.py: page 1 holds the real record of 10.1101/456574,
page 2 the real RSS item's paper (10.1101/2023.12.16.571984) in the API's record shape. So the
RSS item and the API's second record are the same paper, seen by two sources.
"""

from __future__ import annotations

import re
import sqlite3
import textwrap
from datetime import UTC, datetime, timedelta

from tests.biorxiv_pages import REAL_RECORD, genomics_record, page, path
from tests.conftest import FIXTURES
from tests.e2e import Bot

BIORXIV_RSS = FIXTURES / "biorxiv_rss_genomics_2023-12-16_1items.xml"
GENOME = "doi:10.1101/2023.12.16.571984"
PROFILE = """\
name: Fungal genomes
description: Genome assembly of fungal pathogens; accessory chromosomes; long-read sequencing.
keywords: [genome, chromosome, fungal]
min_score: 0.5
notify:
  slack: "#papers-spec"
"""
_LINK = re.compile(r"^\*<(?P<url>https?://[^|>]+)\|")


def configure(bot: Bot) -> None:
    url = bot.hf.base_url
    bot.config.write_text(
        textwrap.dedent(f"""\
        timezone: UTC
        state: ../data/state.sqlite3
        profiles: profiles/
        sources:
          - kind: biorxiv
            server: biorxiv
            schedule: "0 7 * * *"
            base_url: {url}
            lookback_days: 0
          - kind: feed
            name: genomics
            url: {url}/rss/genomics.xml
            schedule: "0 8 * * *"
        slack:
          token_env: SLACK_BOT_TOKEN
          base_url: {bot.slack.base_url}
          max_retries: 1
        http: {{timeout: 5, retries: 1, backoff: 0.05, allow_private: true}}
        """),
        encoding="utf-8",
    )
    bot.profile("genomes.yaml", PROFILE)
    bot.hf.add(path("2023-12-16", 0), page([REAL_RECORD], cursor=0, total=2))
    bot.hf.add(path("2023-12-16", 1), page([genomics_record()], cursor=1, total=2))
    bot.hf.add("/rss/genomics.xml", BIORXIV_RSS)


def posted_links(bot: Bot, channel: str) -> list[str]:
    links = []
    for post in bot.slack.messages_in(channel):
        for block in post.blocks:
            if block.get("type") == "section":
                found = _LINK.match(block.get("text", {}).get("text", ""))
                if found:
                    links.append(found.group("url"))
    return links


def test_biorxiv_and_a_feed_deliver_a_paper_seen_by_both_once(bot: Bot) -> None:
    configure(bot)
    result = bot.run("once", "--date", "2023-12-17")
    assert result.returncode == 0, result.stdout + result.stderr
    # The bioRxiv API paged by the count answered (1 record, then cursor 1); the feed was read
    # once for the digest day and its look-back day.
    assert [r.path for r in bot.hf.requests if r.path.startswith("/details")] == [
        path("2023-12-16", 0),
        path("2023-12-16", 1),
    ]
    assert len(bot.hf.requests_to("/rss/genomics.xml")) == 1
    assert posted_links(bot, "C0SPEC") == [
        "https://www.biorxiv.org/content/10.1101/2023.12.16.571984v1"
    ]
    with sqlite3.connect(bot.state) as db:
        rows = db.execute("SELECT id, source FROM papers ORDER BY id").fetchall()
        sent = db.execute("SELECT paper_id, status FROM deliveries").fetchall()
    assert rows == [(GENOME, "biorxiv"), ("doi:10.1101/456574", "biorxiv")]
    assert sent == [(GENOME, "sent")]
    # Each source saw its papers as new (none was stored yet); the run stored 2, not 3.
    assert "biorxiv: ok fetched=2 new=2; genomics: ok fetched=1 new=1" in result.stderr
    assert "new=2 matches=1" in result.stderr

    # The next day: a new version of the genome paper is posted; it is not new.
    v2 = {**genomics_record(), "version": "2", "date": "2023-12-17"}
    bot.hf.add(path("2023-12-17", 0), page([v2], cursor=0, total=1))
    again = bot.run("once", "--date", "2023-12-18")
    assert again.returncode == 0, again.stdout + again.stderr
    assert posted_links(bot, "C0SPEC") == [
        "https://www.biorxiv.org/content/10.1101/2023.12.16.571984v1"
    ]
    assert "new=0 matches=0" in again.stderr + again.stdout

    status = bot.run("status")
    lines = [line for line in status.stdout.splitlines() if line.startswith("source ")]
    assert [line.split(":")[0] for line in lines] == ["source biorxiv", "source genomics"]
    assert "last good day 2023-12-18; 2 papers stored" in lines[0]


def test_check_live_reaches_each_new_source_once(bot: Bot) -> None:
    configure(bot)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    bot.hf.add(path(yesterday, 0), page([REAL_RECORD], cursor=0, total=1, interval=yesterday))
    result = bot.run("check", "--live")
    url = bot.hf.base_url
    lines = [line for line in result.stdout.splitlines() if line.startswith("source ")]
    assert lines == [
        f"source biorxiv: ok ({url}{path(yesterday, 0)}: status ok, 1 biorxiv record(s) "
        f"posted on {yesterday})",
        f"source genomics: ok ({url}/rss/genomics.xml: feed readable, 1 item(s), "
        "newest dated 2023-12-16)",
    ]
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r.path for r in bot.hf.requests] == [path(yesterday, 0), "/rss/genomics.xml"]


def test_a_feed_with_a_dtd_fails_that_source_and_the_other_delivers(bot: Bot) -> None:
    configure(bot)
    text = BIORXIV_RSS.read_text("utf-8")
    head, end, rest = text.partition("?>")
    bomb = '\n<!DOCTYPE rdf:RDF [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    bot.hf.add("/rss/genomics.xml", (head + end + bomb + rest).encode("utf-8"))
    result = bot.run("once", "--date", "2023-12-17")
    assert result.returncode == 1
    assert "declares a document type or entities" in result.stderr
    assert posted_links(bot, "C0SPEC") == [
        "https://www.biorxiv.org/content/10.1101/2023.12.16.571984v1"
    ]
