"""arXiv RSS: parsing recorded feeds, and ArxivRss.fetch() over a real loopback server.

Every feed here is a real recording from tests/fixtures (see SOURCES.md); the 4-item combined
feed is TRANSCRIBED (real data, rebuilt from a text copy). Where a test needs a variant (a
weekday's empty feed, a feed cut in half, a feed without dates) it derives it from a real
recording and says what it changed. Hand-made payloads appear only where no real recording of
the failure exists: an HTML error page and hostile XML (billion laughs, an external entity).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.errors import FetchError, ParseError, StaleError
from bot.http import Http, HttpSettings
from bot.models import Paper
from bot.sources import SOURCES
from bot.sources.arxiv_feed import RssBatch, parse_atom, parse_rss, split_authors
from bot.sources.arxiv_rss import ArxivRss, ArxivRssSettings
from bot.sources.base import SourceSettings
from tests.fixture_server import FIXTURES, FixtureServer, Reply

SEP24 = FIXTURES / "arxiv_rss_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_4items_TRANSCRIBED.xml"
AI_APR27 = FIXTURES / "arxiv_rss_cs.AI_2026-04-27_3items.xml"
CL_APR27 = FIXTURES / "arxiv_rss_cs.CL_2026-04-27_3items.xml"
LG_APR27 = FIXTURES / "arxiv_rss_cs.LG_2026-04-27_3items.xml"
SAT_AUG01 = FIXTURES / "arxiv_rss_cs.CL_2026-08-01_saturday_empty.xml"
API_AUG02 = FIXTURES / "arxiv_api_query_2026-08-02_cat-cs.AI-OR-cs.LG-OR-cs.CL_25entries.atom.xml"
API_ERROR = FIXTURES / "arxiv_api_recorded-2026-04_id_abc_s0_m100_b79c8dcf6bc3.http.json"
API_NONE = FIXTURES / "arxiv_api_recorded-2026-04_id_0000.0000_s0_m100_8b51d9633a68.http.json"
API_Q_S0 = FIXTURES / "arxiv_api_recorded-2026-04_q_testing_s0_m10_bc5a6c384fe9.http.json"
API_Q_S10 = FIXTURES / "arxiv_api_recorded-2026-04_q_testing_s10_m10_34e56e15aaac.http.json"

SEP24_CATEGORIES = ["cs.LG", "cs.AI", "cs.CL", "stat.ML"]
SEP24_PATH = "/rss/cs.LG+cs.AI+cs.CL+stat.ML"
LG_PATH = "/rss/cs.LG"
API = "/api/query"
DEFAULT_TYPES = frozenset({"new", "cross"})

# A hand-made HTML error page: no real recording of arXiv's maintenance page exists.
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><h1>Service Temporarily Unavailable</h1><p>arXiv is undergoing maintenance.</p>"
    b"</body></html>"
)


def recorded_body(path: Path) -> bytes:
    """The exact body bytes of an arxiv.py `.http.json` recording (stored as latin-1 text)."""
    body: str = json.loads(path.read_text(encoding="utf-8"))["body"]
    return body.encode("latin-1")


def recorded(path: Path) -> Reply:
    """The real answer of an arxiv.py `.http.json` recording: its status and body."""
    status: int = json.loads(path.read_text(encoding="utf-8"))["status_code"]
    return Reply(status, recorded_body(path))


def with_pub_date(feed: bytes, pub_date: str) -> bytes:
    """The real feed with ONLY the channel's <pubDate> changed (items keep theirs)."""
    head, sep, tail = feed.partition(b"<item>")
    changed, count = re.subn(
        rb"<pubDate>[^<]*</pubDate>", f"<pubDate>{pub_date}</pubDate>".encode(), head
    )
    assert count == 1
    return changed + sep + tail


def without_pub_dates(feed: bytes) -> bytes:
    """The real feed with every <pubDate> (channel and items) removed."""
    return re.sub(rb"\s*<pubDate>[^<]*</pubDate>", b"", feed)


# A weekday's empty listing, derived from the real Saturday feed by changing only its
# channel <pubDate> to Monday 3 August 2026 (what an empty weekday feed would look like).
MONDAY_EMPTY = with_pub_date(SAT_AUG01.read_bytes(), "Mon, 03 Aug 2026 00:00:00 -0400")


def by_id(papers: list[Paper]) -> dict[str, Paper]:
    return {p.id: p for p in papers}


# -- parse_rss on the recorded feeds ----------------------------------------------------


def test_combined_feed_keeps_new_and_cross_by_default() -> None:
    batch = parse_rss(SEP24.read_bytes(), announce_types=DEFAULT_TYPES)

    assert (batch.day, batch.skip_days) == (date(2026, 9, 24), frozenset({"Saturday", "Sunday"}))
    assert [(p.id, p.version, p.extras["announce_type"]) for p in batch.papers] == [
        ("2609.26811", "v1", "new"),
        ("2609.26820", "v1", "new"),
        ("2205.06398", "v2", "cross"),
    ]
    cross = by_id(batch.papers)["2205.06398"]
    assert replace(cross, abstract="") == Paper(
        id="2205.06398",
        title="Outlier Detection for Multi-Network Data",
        abstract="",
        authors=("Pritam Dey", "Zhengwu Zhang", "David B. Dunson"),
        url="https://arxiv.org/abs/2205.06398",
        categories=("stat.ME", "stat.AP", "stat.ML"),
        published="",
        day=date(2026, 9, 24),
        source="",
        version="v2",
        extras={"announce_type": "cross", "doi": "10.1093/bioinformatics/btac431"},
    )
    assert cross.abstract.startswith(
        "It has become routine in neuroscience studies to measure brain networks"
    )
    assert cross.abstract.endswith("significantly change inferences in downstream applications.")
    assert by_id(batch.papers)["2609.26820"].authors == (
        "Naser Mansour",
        "Sidahmed Benabderrahmane",
        "Ameer Rahwan",
    )


@pytest.mark.parametrize(
    ("types", "ids"),
    [
        ({"new", "cross", "replace"}, ["2609.26811", "2609.26820", "2205.06398", "2009.13987"]),
        ({"replace"}, ["2009.13987"]),
        ({"new"}, ["2609.26811", "2609.26820"]),
        ({"cross", "replace-cross"}, ["2205.06398"]),
        ({"replace-cross"}, []),
    ],
)
def test_announce_types_select_items(types: set[str], ids: list[str]) -> None:
    batch = parse_rss(SEP24.read_bytes(), announce_types=frozenset(types))
    assert [p.id for p in batch.papers] == ids


def test_a_replacement_is_read_whole() -> None:
    batch = parse_rss(SEP24.read_bytes(), announce_types=frozenset({"replace"}))

    assert batch.papers == [
        Paper(
            id="2009.13987",
            title="Random Polytope Descriptors",
            abstract=(
                "We introduce a class of random polytopes which simultaneously generalizes "
                "several known constructions. While being fairly general, these polytopes are "
                "also computationally exceptionally benign. We indicate how these properties can "
                "be exploited for classification and clustering tasks in data analysis. "
                "Crucially, our construction lets users smoothly trade off between a tighter "
                "description of the data and faster computation."
            ),
            authors=("Michael Joswig", "Marek Kaluba", "Lukas Ruff"),
            url="https://arxiv.org/abs/2009.13987",
            categories=("cs.LG", "math.MG", "stat.ML"),
            day=date(2026, 9, 24),
            version="v3",
            extras={"announce_type": "replace"},
        )
    ]


@pytest.mark.parametrize(
    ("fixture", "ids", "categories"),
    [
        (AI_APR27, ["2604.21935", "2604.21936", "2604.21937"],
         [("cs.AI", "cs.LG"), ("cs.AI", "cs.CV", "cs.MA"), ("cs.AI", "cs.MA")]),
        (CL_APR27, ["2604.22002", "2604.22027", "2604.22038"],
         [("cs.CL",), ("cs.CL", "cs.AI", "cs.LG"), ("cs.CL",)]),
        (LG_APR27, ["2604.21952", "2604.21953", "2604.21956"],
         [("cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"), ("cs.LG", "cs.CY"), ("cs.LG",)]),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)  # fmt: skip
def test_real_single_category_feeds_of_2026_04_27(
    fixture: Path, ids: list[str], categories: list[tuple[str, ...]]
) -> None:
    batch = parse_rss(fixture.read_bytes(), announce_types=DEFAULT_TYPES)

    assert batch.day == date(2026, 4, 27)
    assert batch.skip_days == frozenset({"Saturday", "Sunday"})
    assert [p.id for p in batch.papers] == ids
    assert [p.categories for p in batch.papers] == categories
    assert [p.url for p in batch.papers] == [f"https://arxiv.org/abs/{i}" for i in ids]
    assert {(p.version, p.day, p.source, p.published) for p in batch.papers} == {
        ("v1", date(2026, 4, 27), "", "")
    }
    assert {dict(p.extras)["announce_type"] for p in batch.papers} == {"new"}
    for p in batch.papers:
        assert p.title and p.authors
        assert p.abstract == " ".join(p.abstract.split())  # folded
        assert not p.abstract.startswith(("arXiv:", "Abstract:"))


def test_abstracts_keep_latex_and_decode_entities() -> None:
    ai = by_id(parse_rss(AI_APR27.read_bytes(), announce_types=DEFAULT_TYPES).papers)
    lg = by_id(parse_rss(LG_APR27.read_bytes(), announce_types=DEFAULT_TYPES).papers)

    # LaTeX stays as the text arXiv sends.
    assert r"two requirements therefore become central: \textbf{adaptability}, the ability" in (
        ai["2604.21936"].abstract.lower()
    )
    assert r"and \textbf{reproducibility}, the guarantee" in ai["2604.21936"].abstract
    # `&amp;` in the XML is a plain `&` in the abstract.
    assert "visual resolution & stride, and graph-level" in lg["2604.21952"].abstract
    assert ai["2604.21935"].abstract.startswith(
        "Although language models demonstrate remarkable proficiency on mathematical benchmarks"
    )


def test_authors_are_split_and_folded() -> None:
    papers = by_id(parse_rss(CL_APR27.read_bytes(), announce_types=DEFAULT_TYPES).papers)
    # The recording has a double space before "Deepti" (a one-name author).
    assert papers["2604.22002"].authors == (
        "Anamta Khan",
        "Ratna Kandala",
        "Deepti",
        "Sheza Munir",
        "Joyojeet Pal",
    )


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # Hand-made: the recordings only use commas.
        ("Michael Cooper, Samuel Cooper", ["Michael Cooper", "Samuel Cooper"]),
        ("Ada Lovelace and Charles Babbage", ["Ada Lovelace", "Charles Babbage"]),
        ("A. Turing, J. von Neumann and K. Gödel", ["A. Turing", "J. von Neumann", "K. Gödel"]),
        ("A. Turing, J. von Neumann, and K. Gödel", ["A. Turing", "J. von Neumann", "K. Gödel"]),
        ("Alexander Sandberg, Randy Andersen", ["Alexander Sandberg", "Randy Andersen"]),
        ("  ", []),
    ],
)
def test_split_authors(text: str, names: list[str]) -> None:
    assert split_authors(text) == names


def test_saturday_feed_has_no_items() -> None:
    assert parse_rss(SAT_AUG01.read_bytes(), announce_types=DEFAULT_TYPES) == RssBatch(
        day=date(2026, 8, 1), skip_days=frozenset({"Saturday", "Sunday"}), papers=[]
    )


def test_item_dates_stand_in_for_a_missing_channel_date() -> None:
    # Derived: the real feed with only the CHANNEL <pubDate> removed (items keep theirs).
    feed = LG_APR27.read_bytes()
    head, sep, tail = feed.partition(b"<item>")
    batch = parse_rss(without_pub_dates(head) + sep + tail, announce_types=DEFAULT_TYPES)
    assert batch.day == date(2026, 4, 27)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (LG_APR27.read_bytes()[: len(LG_APR27.read_bytes()) // 2],
         "the arXiv RSS feed is not well-formed XML (no element found: line 33, column 100)"),
        (HTML_PAGE,
         "the arXiv RSS feed was an HTML page titled '503 Service Temporarily Unavailable', "
         "not XML"),
        (API_AUG02.read_bytes(), "expected an RSS feed (<rss><channel>), found <feed>"),
        (b"", "the arXiv RSS feed is not well-formed XML (no element found: line 1, column 0)"),
        (with_pub_date(SAT_AUG01.read_bytes(), "yesterday"),
         "unreadable channel <pubDate> 'yesterday'"),
    ],
    ids=["truncated", "html", "atom", "empty", "bad-date"],
)  # fmt: skip
def test_parse_rss_rejects_what_it_cannot_read(payload: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_rss(payload, announce_types=DEFAULT_TYPES)
    assert str(caught.value).startswith(message)
    assert caught.value.retryable is False


# -- hostile XML (hand-made: these are attacks, not recordings) ----------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<pubDate>Mon, 27 Apr 2026 00:00:00 -0400</pubDate>
<item><title>&lol9;</title><guid>oai:arXiv.org:2604.21952v1</guid>
<description>Abstract: &lol9;</description></item></channel></rss>
"""

SECRET = "s3cret-file-content-that-must-never-be-read"


def external_entity_feed(target: Path) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY leak SYSTEM "{target.as_uri()}">]>
<rss version="2.0"><channel><pubDate>Mon, 27 Apr 2026 00:00:00 -0400</pubDate>
<item><title>Leak &leak;</title><guid>oai:arXiv.org:2604.21952v1</guid>
<description>Abstract: &leak;</description></item></channel></rss>
""".encode()


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse_rss(BILLION_LAUGHS, announce_types=DEFAULT_TYPES)
    assert str(caught.value) == (
        "the arXiv RSS feed declares a document type or entities (DTDForbidden); "
        "arXiv sends none, so it was refused unread"
    )


def test_an_external_entity_is_refused_unread(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")

    with pytest.raises(ParseError) as caught:
        parse_rss(external_entity_feed(secret), announce_types=DEFAULT_TYPES)

    err = caught.value
    assert str(err).startswith("the arXiv RSS feed declares a document type or entities")
    texts = [str(err), err.hint or "", repr(err.__cause__), str(err.__cause__)]
    assert not any(SECRET in text for text in texts)


# -- settings --------------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = ArxivRssSettings(kind="arxiv_rss", categories=["cs.LG"])
    assert settings.model_dump(exclude=set(SourceSettings.model_fields) - {"kind"}) == {
        "kind": "arxiv_rss",
        "categories": ["cs.LG"],
        "base_url": "https://rss.arxiv.org",
        "api_base_url": "https://export.arxiv.org",
        "announce_types": ["new", "cross"],
        "holidays": [],
        "min_interval": 3.0,
        "max_catchup_results": 2000,
    }
    assert SOURCES["arxiv_rss"] is ArxivRss
    assert settings.feed_path == "/rss/cs.LG"


@pytest.mark.parametrize(
    "categories",
    [
        ["cs.LG", "math.AP", "hep-th", "stat.ML"],
        ["cond-mat.str-el", "physics.optics", "q-bio.NC", "astro-ph.GA", "math-ph", "quant-ph"],
        ["econ.EM", "eess.SP", "gr-qc", "nlin.AO", "q-fin.ST", "cs.LG"],
    ],
)
def test_settings_accept_arxiv_categories(categories: list[str]) -> None:
    settings = ArxivRssSettings(kind="arxiv_rss", categories=categories)
    assert settings.categories == list(dict.fromkeys(categories))


def test_settings_accept_holidays_as_dates_or_iso_strings() -> None:
    # YAML gives an unquoted 2026-12-25 as a date and a quoted one as a string.
    settings = ArxivRssSettings.model_validate(
        {
            "kind": "arxiv_rss",
            "categories": ["cs.LG"],
            "holidays": [date(2026, 12, 25), "2026-11-26"],
        }
    )
    assert settings.holidays == [date(2026, 12, 25), date(2026, 11, 26)]


@pytest.mark.parametrize(
    "values",
    [
        {"categories": []},
        {"categories": ["cs.LG+cs.AI"]},  # one category per list item
        {"categories": ["cs.LG OR cs.AI"]},
        {"categories": ["CS.LG"]},
        {"categories": ["cs."]},
        {"categories": "cs.LG"},  # strict: a list
        {"announce_types": ["new", "updated"]},
        {"holidays": ["2026-13-01"]},
        {"holidays": ["next friday"]},
        {"holidays": [20261225]},
        {"min_interval": -1.0},
        {"max_catchup_results": 0},
        {"base_url": "rss.arxiv.org"},
        {"api_base_url": "https://export.arxiv.org/api?x=1"},
        {"category": ["cs.LG"]},  # unknown key
    ],
)
def test_settings_reject(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ArxivRssSettings.model_validate({"kind": "arxiv_rss", "categories": ["cs.LG"], **values})


def test_a_holiday_with_a_time_is_rejected() -> None:
    from datetime import datetime

    with pytest.raises(ValidationError, match="expected a date without a time"):
        ArxivRssSettings.model_validate(
            {"kind": "arxiv_rss", "categories": ["cs.LG"], "holidays": [datetime(2026, 12, 25)]}
        )


# -- fetch() over the real loopback server -------------------------------------------------


@pytest.fixture
def http() -> Iterator[Http]:
    # Real client; short timeout for the timeout row; small backoff (real sleeps of 0.01 s).
    with Http(HttpSettings(timeout=0.3, retries=2, backoff=0.01, allow_private=True)) as client:
        yield client


def rss_source(server: FixtureServer, http: Http, **options: object) -> ArxivRss:
    values: dict[str, object] = {
        "kind": "arxiv_rss",
        "categories": ["cs.LG"],
        "base_url": server.base_url,
        "api_base_url": server.base_url,
        "min_interval": 0.0,  # 127.0.0.1 is not arXiv: no 3 s pace in unit tests
    }
    values.update(options)
    return ArxivRss(ArxivRssSettings.model_validate(values), http)


@dataclass(frozen=True)
class Case:
    """One row of the fault table: what the server answers, what fetch(day) must do."""

    day: date
    feed: list[Reply]  # answers on the feed path, in order (none: no route, 404)
    api: list[Reply] = field(default_factory=list)  # answers on /api/query
    ids: list[str] | None = None  # the papers expected, or
    error: type[FetchError] | None = None  # the error expected
    message: str = ""
    status: int | None = None
    feed_requests: int = 1
    api_requests: int = 0
    expects: bool = True  # expects_papers(day)


MON_APR27 = date(2026, 4, 27)
LG_IDS = ["2604.21952", "2604.21953", "2604.21956"]
LG_FEED = LG_APR27.read_bytes()

FAULTS = {
    "503-then-ok": Case(MON_APR27, [Reply(503, b"busy"), Reply(200, LG_FEED)], ids=LG_IDS,
                        feed_requests=2),
    "429-retry-after": Case(MON_APR27, [Reply(429, b"", {"Retry-After": "1"}), Reply(200, LG_FEED)],
                            ids=LG_IDS, feed_requests=2),
    "read-timeout-then-ok": Case(MON_APR27, [Reply(200, LG_FEED, delay_s=1.0), Reply(200, LG_FEED)],
                                 ids=LG_IDS, feed_requests=2),
    "truncated-xml": Case(MON_APR27, [Reply(200, LG_FEED[: len(LG_FEED) // 2])], error=ParseError,
                          message="the arXiv RSS feed is not well-formed XML (no element found"),
    "html-error-page": Case(MON_APR27, [Reply(200, HTML_PAGE)], error=ParseError,
                            message="the arXiv RSS feed was an HTML page titled "
                                    "'503 Service Temporarily Unavailable', not XML"),
    # Catching up on Wednesday 23 September through the API, which answers its error feed.
    "api-400-error-feed": Case(date(2026, 9, 23), [Reply(200, SEP24.read_bytes())],
                               api=[recorded(API_ERROR)], error=FetchError,
                               message="arXiv API error: incorrect id format for abc", status=400,
                               api_requests=1),
    # Tuesday asked, the feed still shows Monday's listing.
    "stale-repeat": Case(date(2026, 4, 28), [Reply(200, LG_FEED)], error=StaleError,
                         message="feed still shows the 2026-04-27 listing"),
    "saturday": Case(date(2026, 8, 1), [Reply(200, SAT_AUG01.read_bytes())], ids=[],
                     feed_requests=0, expects=False),
    "holiday": Case(date(2026, 11, 26), [Reply(200, LG_FEED)], ids=[], feed_requests=0,
                    expects=False),
    "weekday-empty-feed": Case(date(2026, 8, 3), [Reply(200, MONDAY_EMPTY)], ids=[]),
    # Derived: the Saturday feed without its <pubDate>: no date and no items on a weekday.
    "weekday-undated-empty-feed": Case(date(2026, 8, 3),
                                       [Reply(200, without_pub_dates(SAT_AUG01.read_bytes()))],
                                       ids=[]),
    # Derived: the real feed with every <pubDate> removed: items, but of which day?
    "undated-items": Case(MON_APR27, [Reply(200, without_pub_dates(LG_FEED))], error=ParseError,
                          message="the feed has items but no <pubDate>: cannot tell which day"),
}  # fmt: skip


@pytest.mark.parametrize("case", FAULTS.values(), ids=FAULTS.keys())
def test_fetch_fault_table(fixture_server: FixtureServer, http: Http, case: Case) -> None:
    feed_path = SEP24_PATH if case.day == date(2026, 9, 23) else LG_PATH
    categories = SEP24_CATEGORIES if feed_path == SEP24_PATH else ["cs.LG"]
    if case.feed:
        fixture_server.script(feed_path, case.feed)
    if case.api:
        fixture_server.script(API, case.api)
    source = rss_source(fixture_server, http, categories=categories, holidays=["2026-11-26"])

    if case.error is None:
        papers = source.fetch(case.day)
        assert [p.id for p in papers] == case.ids
        assert {(p.day, p.source) for p in papers} <= {(case.day, "arxiv_rss")}
    else:
        with pytest.raises(case.error) as caught:
            source.fetch(case.day)
        err = caught.value
        assert type(err) is case.error
        assert str(err).startswith(case.message)
        assert (err.status, err.retryable) == (case.status, False)
        assert err.url is not None and err.url.startswith(fixture_server.base_url)
        assert err.hint
    assert len(fixture_server.requests_to(feed_path)) == case.feed_requests
    assert len(fixture_server.requests_to(API)) == case.api_requests
    assert source.expects_papers(case.day) is case.expects


def test_fetch_asks_the_combined_feed_once(fixture_server: FixtureServer, http: Http) -> None:
    fixture_server.add(SEP24_PATH, SEP24)

    papers = rss_source(fixture_server, http, categories=SEP24_CATEGORIES).fetch(date(2026, 9, 24))

    expected = parse_rss(SEP24.read_bytes(), announce_types=DEFAULT_TYPES).papers
    assert papers == [replace(p, source="arxiv_rss") for p in expected]
    assert [(r.path, r.query) for r in fixture_server.requests] == [(SEP24_PATH, {})]


@pytest.mark.parametrize(
    ("announce_types", "ids"),
    [
        (None, ["2609.26811", "2609.26820", "2205.06398"]),  # default: new + cross
        (["new", "cross", "replace"], ["2609.26811", "2609.26820", "2205.06398", "2009.13987"]),
        (["replace", "replace-cross"], ["2009.13987"]),
    ],
)
def test_fetch_keeps_the_configured_announce_types(
    fixture_server: FixtureServer, http: Http, announce_types: list[str] | None, ids: list[str]
) -> None:
    fixture_server.add(SEP24_PATH, SEP24)
    options: dict[str, object] = {"categories": SEP24_CATEGORIES}
    if announce_types is not None:
        options["announce_types"] = announce_types

    papers = rss_source(fixture_server, http, **options).fetch(date(2026, 9, 24))

    assert [p.id for p in papers] == ids
    assert {(p.day, p.source) for p in papers} == {(date(2026, 9, 24), "arxiv_rss")}


def test_fetch_catches_up_on_a_past_day_through_the_api(
    fixture_server: FixtureServer, http: Http
) -> None:
    # The feed shows Thursday 24 September; Wednesday 23 is asked. The API answer is a real
    # recording of a cs.AI/cs.LG/cs.CL query (of another date: the replay does not filter).
    fixture_server.add(SEP24_PATH, SEP24)
    fixture_server.add(API, API_AUG02)
    source = rss_source(fixture_server, http, categories=SEP24_CATEGORIES, max_catchup_results=25)

    papers = source.fetch(date(2026, 9, 23))

    assert [r.path for r in fixture_server.requests] == [SEP24_PATH, API]
    # Wednesday's listing: submitted from Monday 14:00 EDT (18:00 GMT) to Tuesday 14:00 EDT.
    assert fixture_server.requests_to(API)[0].query == {
        "search_query": "(cat:cs.LG OR cat:cs.AI OR cat:cs.CL OR cat:stat.ML) AND "
        "submittedDate:[202609211800 TO 202609221800]",
        "sortBy": "submittedDate",
        "sortOrder": "descending",
        "start": "0",
        "max_results": "25",
    }
    expected = parse_atom(API_AUG02.read_bytes()).papers
    assert len(expected) == 25
    assert papers == [replace(p, day=date(2026, 9, 23), source="arxiv_rss") for p in expected]


def test_catch_up_pages_until_max_catchup_results(
    fixture_server: FixtureServer, http: Http
) -> None:
    fixture_server.add(SEP24_PATH, SEP24)
    fixture_server.script(API, [recorded(API_Q_S0)], query={"start": 0})
    fixture_server.script(API, [recorded(API_Q_S10)], query={"start": 10})
    source = rss_source(fixture_server, http, categories=SEP24_CATEGORIES, max_catchup_results=20)

    papers = source.fetch(date(2026, 9, 22))

    # arXiv answered 10 of the 20 asked: the next page starts where that one ended.
    assert [
        (q.query["start"], q.query["max_results"]) for q in fixture_server.requests_to(API)
    ] == [
        ("0", "20"),
        ("10", "10"),
    ]
    first = parse_atom(recorded_body(API_Q_S0)).papers
    second = parse_atom(recorded_body(API_Q_S10)).papers
    assert papers == [replace(p, day=date(2026, 9, 22), source="arxiv_rss") for p in first + second]


def test_catch_up_on_a_day_without_submissions(fixture_server: FixtureServer, http: Http) -> None:
    # The real totalResults=0 answer stands in for a window with no submission.
    fixture_server.add(SEP24_PATH, SEP24)
    fixture_server.script(API, [recorded(API_NONE)])
    source = rss_source(fixture_server, http, categories=SEP24_CATEGORIES)

    assert source.fetch(date(2026, 9, 21)) == []
    assert len(fixture_server.requests_to(API)) == 1


def test_fetch_refuses_hostile_xml_from_the_server(
    fixture_server: FixtureServer, http: Http, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    fixture_server.add(LG_PATH, external_entity_feed(secret))

    with pytest.raises(ParseError) as caught:
        rss_source(fixture_server, http).fetch(MON_APR27)

    assert str(caught.value).startswith("the arXiv RSS feed declares a document type")
    assert caught.value.url == fixture_server.url(LG_PATH)
    assert SECRET not in str(caught.value)
    assert len(fixture_server.requests) == 1  # a ParseError is not retried


def test_arxiv_rss_needs_its_own_settings(http: Http) -> None:
    with pytest.raises(TypeError):
        ArxivRss(SourceSettings(kind="arxiv_rss"), http)
