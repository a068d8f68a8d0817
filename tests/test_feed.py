"""Journal and preprint feeds (`kind: feed`): real Science, Elsevier/Atypon and bioRxiv feeds,
ids (DOI, arXiv DOI, arXiv link, feed link), dates, staleness, and a fault table over the real
loopback server.

Derived payloads, each built here from a real recording, changing only what is said:
- an item carrying an arXiv DOI, an arXiv link, a `prism:doi`, an upper-case `info:doi/`, or
  no identifier at all: the real J. Pediatrics item with its `dc:identifier` (and link)
  replaced;
- an abstract with HTML: the real J. Pediatrics item's description wrapped in escaped markup;
- a feed with a DTD (an entity bomb, an external entity): the real bioRxiv feed with a
  DOCTYPE inserted after its XML declaration and the entity used in its title;
- a truncated feed: the real Science feed cut at 5,000 bytes.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import feedparser  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

from bot.app import build_app
from bot.config import load_settings
from bot.errors import FetchError, ParseError, StaleError
from bot.http import Http, HttpSettings
from bot.models import Paper
from bot.pipeline import run_once
from bot.sources import SOURCES
from bot.sources.feed import Feed, FeedSettings, parse_feed, split_creators
from tests.e2e import make_bot
from tests.fixture_server import FIXTURES, FixtureServer, Reply

SCIENCE = FIXTURES / "science_rss_twis_2017-06-16_69items.rss"
JPEDS = FIXTURES / "jpeds_rss_atypon-rdf_2018-12-17_1items_EXTRACTED.xml"
BIORXIV_RSS = FIXTURES / "biorxiv_rss_genomics_2023-12-16_1items.xml"
JPEDS_DOI = "<dc:identifier>10.1016/j.jpeds.2018.08.009</dc:identifier>"
JPEDS_LINK = "<link>https://www.jpeds.com/article/S0022-3476(18)31119-3/fulltext?rss=yes</link>"


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(HttpSettings(timeout=5.0, retries=2, backoff=0.01, allow_private=True)) as client:
        yield client


def source(fixtures: FixtureServer, http: Http, **keys: object) -> Feed:
    settings = FeedSettings.model_validate(
        {"kind": "feed", "name": "science", "url": fixtures.url("/rss/twis.rss"), **keys}
    )
    return Feed(settings, http)


def jpeds_with(old: str, new: str) -> bytes:
    text = JPEDS.read_text("utf-8")
    assert old in text
    return text.replace(old, new).encode("utf-8")


def test_the_kind_is_registered() -> None:
    assert SOURCES["feed"] is Feed


def test_science_feed_all_69_items_by_their_doi() -> None:
    batch = parse_feed(SCIENCE.read_bytes(), name="science")
    assert len(batch.papers) == 69
    assert all(p.id.startswith("doi:10.1126/science.356.") for p in batch.papers)
    assert batch.newest == date(2017, 6, 15)
    # Each item has two dc:identifiers, the DOI first: feedparser alone keeps the other one.
    assert batch.papers[0] == Paper(
        id="doi:10.1126/science.356.6343.1134-a",
        title="Food for fungi",
        abstract="",  # Science's descriptions are empty: the title is what is scored
        authors=("Hines, P. J.",),
        url="http://science.sciencemag.org/cgi/content/short/356/6343/1134-a?rss=1",
        published="2017-06-15",
        day=date(2017, 6, 15),  # 2017-06-15T10:29:47-07:00, in UTC
        extras={"feed": "science", "subjects": ["Botany, Microbiology"]},
    )


def test_elsevier_atypon_item_with_a_bare_doi_and_13_authors_in_one_string() -> None:
    batch = parse_feed(JPEDS.read_bytes(), name="jpeds")
    assert batch.newest == date(2018, 12, 17)  # the channel's prism:publicationDate
    assert batch.papers == [
        Paper(
            id="doi:10.1016/j.jpeds.2018.08.009",
            title="HIV Exposure and Formula Feeding Predict Under-2 Mortality in "
            "HIV-Uninfected Children, Botswana",
            abstract="To prospectively assess rates and detailed predictors of morbidity and "
            "mortality among HIV-exposed uninfected children and HIV-unexposed children in "
            "Botswana in a more recent era.",
            authors=(
                "Gbolahan Ajibola",
                "Jean Leidner",
                "Gloria K. Mayondi",
                "Erik van Widenfelt",
                "Tebogo Madidimalo",
                "Chipo Petlo",
                "Sikhulile Moyo",
                "Mompati Mmalane",
                "Paige L. Williams",
                "Adam R. Cassidy",
                "Roger Shapiro",
                "Betsy Kammerer",
                "Shahin Lockman",
            ),
            url="https://www.jpeds.com/article/S0022-3476(18)31119-3/fulltext?rss=yes",
            published="2018-10-11",
            day=date(2018, 10, 11),
            extras={"feed": "jpeds"},
        )
    ]


def test_biorxiv_rss_item_keeps_surname_initials_pairs_together() -> None:
    (paper,) = parse_feed(BIORXIV_RSS.read_bytes(), name="biorxiv-genomics").papers
    assert paper.id == "doi:10.1101/2023.12.16.571984"
    assert paper.title.startswith("Complete genome of the Medicago anthracnose fungus")
    assert paper.authors == (
        "LAPALU, N.",
        "SIMON, A.",
        "Lu, A.",
        "Plaumann, P.-L.",
        "Amselem, J.",
        "Pigne, S.",
        "Auger, A.",
        "Koch, C.",
        "Dallery, J.-F.",
        "O'Connell, R. J.",
    )
    assert paper.day == date(2023, 12, 16)


@pytest.mark.parametrize(
    ("creators", "names"),
    [
        ("Hines, P. J.", ("Hines, P. J.",)),
        (
            "Ada Lovelace, Alan Turing and Grace Hopper",
            ("Ada Lovelace", "Alan Turing", "Grace Hopper"),
        ),
        ("Naka, A.; Shababo, B.", ("Naka, A.", "Shababo, B.")),
        ("Marie Curie", ("Marie Curie",)),
    ],
)
def test_split_creators(creators: str, names: tuple[str, ...]) -> None:
    assert split_creators(creators) == names


@pytest.mark.parametrize(
    ("old", "new", "paper_id", "aliases"),
    [
        (JPEDS_DOI, "<dc:identifier>info:doi/10.1016/J.JPEDS.2018.08.009</dc:identifier>",
         "doi:10.1016/j.jpeds.2018.08.009", None),
        (JPEDS_DOI, "<dc:identifier>doi:10.48550/arXiv.2607.26627</dc:identifier>",
         "2607.26627", None),
        (JPEDS_LINK, "<link>https://arxiv.org/abs/2607.26627v2</link>",
         "2607.26627", ["doi:10.1016/j.jpeds.2018.08.009"]),
        (JPEDS_DOI, "<prism:doi>10.1016/j.jpeds.2018.08.009</prism:doi>",
         "doi:10.1016/j.jpeds.2018.08.009", None),
        (JPEDS_DOI, "", "feed:jpeds:https://www.jpeds.com/article/S0022-3476(18)31119-3/fulltext?rss=yes",
         None),
    ],
    ids=["info-doi-upper-case", "arxiv-doi", "arxiv-link", "prism-doi", "no-doi-the-link"],
)  # fmt: skip
def test_item_ids(old: str, new: str, paper_id: str, aliases: list[str] | None) -> None:
    (paper,) = parse_feed(jpeds_with(old, new), name="jpeds").papers
    assert paper.id == paper_id
    assert paper.extras.get("aliases") == aliases


def test_html_is_stripped_from_the_abstract() -> None:
    marked = jpeds_with(
        "<description>To prospectively assess",
        "<description>&lt;p&gt;&lt;b&gt;Objective&lt;/b&gt;&lt;br/&gt;To prospectively assess",
    )
    (paper,) = parse_feed(marked, name="jpeds").papers
    assert paper.abstract.startswith("Objective To prospectively assess rates")
    assert "<" not in paper.abstract


def test_fetch_lists_the_items_dated_the_day_and_reads_the_feed_once(
    fixture_server: FixtureServer, http: Http
) -> None:
    fixture_server.add("/rss/twis.rss", SCIENCE)
    feed = source(fixture_server, http)
    june15 = feed.fetch(date(2017, 6, 15))
    assert len(june15) == 21 and all(p.day == date(2017, 6, 15) for p in june15)
    # An item dated before the days asked (here: the feed's older issues) is not listed.
    assert feed.fetch(date(2017, 6, 20)) == []
    assert feed.expects_papers(date(2017, 6, 20)) is False  # a weekly journal: empty is normal
    assert len(fixture_server.requests) == 1


def test_a_feed_unchanged_for_stale_after_days_is_stale(
    fixture_server: FixtureServer, http: Http
) -> None:
    fixture_server.add("/rss/twis.rss", SCIENCE)
    assert source(fixture_server, http).fetch(date(2017, 6, 29)) == []  # 14 days: not yet
    with pytest.raises(StaleError, match="newest item is dated 2017-06-15, 15 days before"):
        source(fixture_server, http).fetch(date(2017, 6, 30))
    with pytest.raises(StaleError, match="3 days before"):
        source(fixture_server, http, stale_after_days=2).fetch(date(2017, 6, 18))


def test_settings_need_a_name_and_an_http_url() -> None:
    with pytest.raises(ValidationError, match="name"):
        FeedSettings.model_validate({"kind": "feed", "url": "https://example.org/rss"})
    with pytest.raises(ValidationError, match="http"):
        FeedSettings.model_validate({"kind": "feed", "name": "x", "url": "file:///etc/passwd"})
    settings = FeedSettings.model_validate(
        {"kind": "feed", "name": "jpeds", "url": "https://www.jpeds.com/rss?code=ympd&rss=yes"}
    )
    assert (settings.stale_after_days, settings.label) == (14, "jpeds")


# -- hostile and broken feeds --------------------------------------------------------------

BOMB_DTD = (
    '<!DOCTYPE rdf:RDF [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
)
EXTERNAL_DTD = '<!DOCTYPE rdf:RDF [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'


def with_dtd(dtd: str, entity: str) -> bytes:
    text = BIORXIV_RSS.read_text("utf-8")
    head, decl_end, rest = text.partition("?>")
    rest = rest.replace("<dc:publisher>Cold Spring Harbor Laboratory", f"<dc:publisher>{entity}", 1)
    return (head + decl_end + "\n" + dtd + rest).encode("utf-8")


def test_feedparser_alone_would_accept_a_feed_with_a_dtd() -> None:
    """Why the bytes go through defusedxml first: feedparser itself does not expand these
    entities, but it accepts the feed anyway (falling back to its loose parser, with the
    entity left as text): the source would go on silently instead of failing clearly."""
    parsed = feedparser.parse(with_dtd(BOMB_DTD, "&c;"))
    assert parsed.bozo and len(parsed.entries) == 1


FAULTS = [
    ([Reply(200, with_dtd(BOMB_DTD, "&c;"))], "declares a document type or entities"),
    ([Reply(200, with_dtd(EXTERNAL_DTD, "&secret;"))], "declares a document type or entities"),
    ([Reply(200, SCIENCE.read_bytes()[:5000])], "not well-formed XML"),
    (
        [Reply(200, b"<!DOCTYPE html><html><head><title>Maintenance</title></head></html>")],
        "the feed was an HTML page titled 'Maintenance', not XML",
    ),
    ([Reply(200, b'{"error": "not found"}')], "not well-formed XML"),
    ([Reply(200, b'<opml version="2.0"><body/></opml>')], "expected an RSS or Atom feed"),
    ([Reply(503)] * 3, "503"),
]


@pytest.mark.parametrize(
    ("replies", "message"),
    FAULTS,
    ids=["dtd-entity-bomb", "dtd-external-entity", "truncated-xml", "html-page", "json",
         "not-a-feed", "503-always"],
)  # fmt: skip
def test_faults_fail_the_source(
    fixture_server: FixtureServer, http: Http, replies: list[Reply], message: str
) -> None:
    fixture_server.script("/rss/twis.rss", replies)
    with pytest.raises(FetchError, match=message) as caught:
        source(fixture_server, http).fetch(date(2023, 12, 16))
    assert caught.value.url == fixture_server.url("/rss/twis.rss")


def test_a_503_then_ok_is_retried(fixture_server: FixtureServer, http: Http) -> None:
    fixture_server.script("/rss/twis.rss", [Reply(503), Reply(200, BIORXIV_RSS.read_bytes())])
    papers = source(fixture_server, http, name="genomics").fetch(date(2023, 12, 16))
    assert [p.id for p in papers] == ["doi:10.1101/2023.12.16.571984"]
    assert len(fixture_server.requests) == 2


def test_probe_reads_the_feed(fixture_server: FixtureServer, http: Http) -> None:
    fixture_server.add("/rss/twis.rss", SCIENCE)
    assert source(fixture_server, http).probe() == (
        f"{fixture_server.url('/rss/twis.rss')}: feed readable, 69 item(s), newest dated 2017-06-15"
    )
    fixture_server.add("/rss/twis.rss", with_dtd(BOMB_DTD, "&c;"))
    with pytest.raises(ParseError, match="document type"):
        source(fixture_server, http).probe()


def test_items_dated_before_the_last_good_fetch_are_not_new(tmp_path: Path) -> None:
    """Through the pipeline: the first run (a fresh install, on the day of the latest issue)
    stores that issue; a later run does not take the three older issues the feed still lists
    (dated before its last good fetch) for new papers."""
    with make_bot(tmp_path) as bot:
        bot.hf.add("/rss/twis.rss", SCIENCE)
        bot.config.write_text(
            "timezone: UTC\nstate: ../data/state.sqlite3\nprofiles: profiles/\nsources:\n"
            f"  - {{kind: feed, name: science, url: '{bot.hf.url('/rss/twis.rss')}'}}\n"
            "http: {timeout: 5, retries: 0, allow_private: true}\n",
            encoding="utf-8",
        )
        bot.profile("all.yaml", "name: All\ndescription: science cells fungi drugs\n")
        reports = []
        for day in ("2017-06-15", "2017-06-19"):
            app = build_app(load_settings(bot.config), env=bot.env, console_stream=io.StringIO())
            try:
                reports.append(run_once(app, day=date.fromisoformat(day)))
            finally:
                app.close()
        with sqlite3.connect(bot.state) as db:
            days = db.execute("SELECT day, count(*) FROM papers GROUP BY day").fetchall()
    assert [r.new_papers for r in reports] == [21, 0]
    assert days == [("2017-06-15", 21)]
    assert [r.sources[0].health for r in reports] == [
        {"2017-06-14": "expected_empty", "2017-06-15": "ok"},
        {d: "expected_empty" for d in ("2017-06-16", "2017-06-17", "2017-06-18", "2017-06-19")},
    ]


def test_atom_and_rss2_feeds_read_too_and_arxiv_items_are_arxiv_papers() -> None:
    """Real Atom (the arXiv API, 2016 and current formats) and RSS 2.0 (rss.arxiv.org)
    recordings, read as any feed: their papers are the arXiv ids the arXiv sources name, and a
    journal DOI the entry carries (a doi.org link, `arxiv:doi`) is an alias."""
    atom = parse_feed(
        (FIXTURES / "arxiv_api_query_2026-06-14_all-transformer_cs.LG.atom.xml").read_bytes(),
        name="atom",
    )
    assert [p.id for p in atom.papers][:2] == ["2606.13677", "2606.13591"]
    assert atom.papers[0].day == date(2026, 6, 11)  # the entry's <published>
    legacy = parse_feed(
        (FIXTURES / "arxiv_api_legacy-2016_id_list_1111.2011v2.atom.xml").read_bytes(), name="old"
    )
    assert [(p.id, p.extras.get("aliases")) for p in legacy.papers] == [
        ("1111.2011", ["doi:10.1103/physrevb.85.115117"])
    ]
    rss2 = parse_feed((FIXTURES / "arxiv_rss_cs.LG_2026-04-27_3items.xml").read_bytes(), name="lg")
    assert [p.day for p in rss2.papers] == [date(2026, 4, 27)] * 3
    assert all(p.id.startswith("2604.") for p in rss2.papers)
