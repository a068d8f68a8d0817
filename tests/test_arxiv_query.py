"""arXiv API: parsing recorded Atom feeds, and ArxivQuery.fetch() over a real loopback server.

Every feed here is a real recording from tests/fixtures (see SOURCES.md): two current-format
answers (2026), two of the 2016 format, and five `.http.json` recordings of arxiv.py whose
status (200, or 400 for `id_list=abc`) and exact bytes the server replays. Variants derived
from a real recording say what they change; hand-made payloads appear only for an HTML error
page and hostile XML, of which no real recording exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.errors import FetchError, ParseError
from bot.http import Http, HttpSettings
from bot.models import Paper
from bot.sources import SOURCES
from bot.sources.arxiv_feed import AtomPage, parse_atom
from bot.sources.arxiv_query import ArxivQuery, ArxivQuerySettings
from bot.sources.base import SourceSettings
from tests.fixture_server import FIXTURES, FixtureServer, Reply

JUN14 = FIXTURES / "arxiv_api_query_2026-06-14_all-transformer_cs.LG.atom.xml"
AUG02 = FIXTURES / "arxiv_api_query_2026-08-02_cat-cs.AI-OR-cs.LG-OR-cs.CL_25entries.atom.xml"
LEGACY_ID = FIXTURES / "arxiv_api_legacy-2016_id_list_1111.2011v2.atom.xml"
LEGACY_SEARCH = FIXTURES / "arxiv_api_legacy-2016_search_au_del_maestro.atom.xml"
REC = "arxiv_api_recorded-2026-04_"
ERROR_ABC = FIXTURES / f"{REC}id_abc_s0_m100_b79c8dcf6bc3.http.json"
NONE_0000 = FIXTURES / f"{REC}id_0000.0000_s0_m100_8b51d9633a68.http.json"
TWO_IDS = FIXTURES / f"{REC}id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.http.json"
Q_S0 = FIXTURES / f"{REC}q_testing_s0_m10_bc5a6c384fe9.http.json"
Q_S10 = FIXTURES / f"{REC}q_testing_s10_m10_34e56e15aaac.http.json"
RSS_LG = FIXTURES / "arxiv_rss_cs.LG_2026-04-27_3items.xml"

API = "/api/query"
QUERY = 'abs:"retrieval augmented" AND cat:cs.IR'
THU_SEP24 = date(2026, 9, 24)
SEP24_WINDOW = "submittedDate:[202609221800 TO 202609231800]"  # Tue 14:00 to Wed 14:00 EDT

# A hand-made HTML error page: no real recording of arXiv's maintenance page exists.
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>"
    b"<body><h1>Service Temporarily Unavailable</h1></body></html>"
)

Q_S0_IDS = [
    "2202.12139", "2405.13786", "2005.14124", "2204.08348", "2302.03287",
    "1202.4527", "2503.05378", "1205.1866", "2502.07719", "1812.11470",
]  # fmt: skip
Q_S10_IDS = [
    "2403.16981", "2004.03322", "1912.09881", "2406.19956", "1912.04900",
    "2301.05651", "1605.01097", "2301.13615", "2407.18756", "2202.06271",
]  # fmt: skip


def recorded_body(path: Path) -> bytes:
    """The exact body bytes of an arxiv.py `.http.json` recording (stored as latin-1 text)."""
    body: str = json.loads(path.read_text(encoding="utf-8"))["body"]
    return body.encode("latin-1")


def recorded(path: Path) -> Reply:
    """The real answer of an arxiv.py `.http.json` recording: its status and body."""
    status: int = json.loads(path.read_text(encoding="utf-8"))["status_code"]
    return Reply(status, recorded_body(path))


# -- parse_atom: the current format ------------------------------------------------------


def test_current_format_2026_06_14() -> None:
    page = parse_atom(JUN14.read_bytes())

    assert (page.total, page.start, page.per_page) == (28946, 0, 5)
    assert [(p.id, p.version, p.categories) for p in page.papers] == [
        ("2606.13677", "v1", ("cs.RO", "cs.AI", "cs.CV", "cs.LG")),
        ("2606.13591", "v1", ("cs.AI", "cs.LG", "cs.MA")),
        ("2606.13568", "v1", ("cs.LG", "math-ph")),
        ("2606.13515", "v1", ("cs.CV", "cs.LG", "cs.RO")),
        ("2606.13501", "v1", ("cs.DC", "cs.LG", "cs.PF")),
    ]
    mana = page.papers[0]
    assert replace(mana, abstract="") == Paper(
        id="2606.13677",
        title="Mana: Dexterous Manipulation of Articulated Tools",
        abstract="",
        authors=("Zhao-Heng Yin", "Guanya Shi", "Pieter Abbeel", "C. Karen Liu"),
        url="https://arxiv.org/abs/2606.13677",
        categories=("cs.RO", "cs.AI", "cs.CV", "cs.LG"),
        published="2026-06-11",
        version="v1",
        extras={"comment": "Project Page: https://zhaohengyin.github.io/mana"},
    )
    assert mana.abstract.startswith("Articulated tool manipulation remains a major challenge")
    assert "functional affordances (<1 minute per tool)." in mana.abstract  # &lt; decoded


def test_current_format_2026_08_02_25_entries() -> None:
    page = parse_atom(AUG02.read_bytes())

    assert (page.total, page.start, page.per_page, len(page.papers)) == (449736, 0, 25, 25)
    assert [p.id for p in page.papers[:4]] == [
        "2607.28628",
        "2607.28627",
        "2607.28623",
        "2607.28618",
    ]
    assert {(p.version, p.published, p.day, p.source) for p in page.papers} == {
        ("v1", "2026-07-30", None, "")
    }
    seiberg = page.papers[0]
    assert (seiberg.title, seiberg.categories) == (
        "Learning to Trace Seiberg Dualities",
        ("hep-th", "cs.AI", "cs.LG", "hep-ph"),  # the primary category first
    )
    assert "(of order $10$)" in seiberg.abstract  # LaTeX kept
    for p in page.papers:
        assert p.title and p.authors and p.abstract
        assert p.url == f"https://arxiv.org/abs/{p.id}"


def test_the_primary_category_comes_first() -> None:
    # Derived: the real 2016 entry with only its primary_category term changed to the SECOND
    # of its categories (in every recording the primary happens to be listed first).
    feed = LEGACY_ID.read_bytes().replace(
        b'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" '
        b'term="cond-mat.str-el"',
        b'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" '
        b'term="cond-mat.stat-mech"',
    )
    assert parse_atom(feed).papers[0].categories == ("cond-mat.stat-mech", "cond-mat.str-el")


# -- parse_atom: the 2016 format ---------------------------------------------------------


def test_legacy_format_2016_id_list() -> None:
    page = parse_atom(LEGACY_ID.read_bytes())

    assert (page.total, page.start, page.per_page) == (1, 0, 10)
    [paper] = page.papers
    assert replace(paper, abstract="") == Paper(
        id="1111.2011",
        # Hard-wrapped in the feed ("...in the Large\n  Connectivity Limit"): folded.
        title="Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large "
        "Connectivity Limit",
        abstract="",
        authors=("James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"),
        url="https://arxiv.org/abs/1111.2011",
        categories=("cond-mat.str-el", "cond-mat.stat-mech"),
        published="2011-11-08",
        version="v2",
        extras={
            "doi": "10.1103/PhysRevB.85.115117",
            "comment": "8 pages, 3 figures. Published version",
            "journal_ref": "Phys. Rev. B 85, 115117 (2012)",
        },
    )
    assert paper.abstract.startswith(
        "Theoretical description of anisotropic systems, such as layered superconductors and "
        "coupled spin chains, is often a challenge"
    )
    assert paper.abstract.endswith("the theory describing a single node.")
    assert "\n" not in paper.abstract and "  " not in paper.abstract


def test_legacy_format_2016_search_with_an_old_style_id() -> None:
    page = parse_atom(LEGACY_SEARCH.read_bytes())

    assert (page.total, page.start, page.per_page) == (31, 0, 10)
    assert [(p.id, p.version) for p in page.papers] == [
        ("1201.4869", "v1"),
        ("cond-mat/0412498", "v1"),
        ("cond-mat/0603029", "v1"),
        ("1005.5383", "v1"),
        ("1303.6954", "v2"),
        ("1312.6177", "v1"),
        ("1412.6529", "v2"),
        ("cond-mat/0607501", "v2"),
        ("cond-mat/0702661", "v2"),
        ("0807.2873", "v1"),
    ]
    old = page.papers[1]
    assert replace(old, abstract="") == Paper(
        id="cond-mat/0412498",
        title="Thermal melting of density waves on the square lattice",
        abstract="",
        authors=("Adrian Del Maestro", "Subir Sachdev"),
        url="https://arxiv.org/abs/cond-mat/0412498",
        categories=("cond-mat.str-el", "cond-mat.stat-mech"),
        published="2004-12-19",
        version="v1",
        extras={
            "doi": "10.1103/PhysRevB.71.184511",
            "comment": "12 pages, 5 figures",
            "journal_ref": "Physical Review B 71, 184511 (2005)",
        },
    )
    assert old.abstract.startswith(
        'We present the theory of the effect of thermal fluctuations on commensurate "p x p" '
        "density wave ordering on the square lattice (p >= 3, integer)."
    )
    # "...in the presence\n  of quenched disorder" in the feed.
    assert page.papers[2].title == (
        "From stripe to checkerboard order on the square lattice in the presence of quenched "
        "disorder"
    )


# -- parse_atom: the recorded HTTP answers -------------------------------------------------


@pytest.mark.parametrize(
    ("recording", "total", "start", "per_page", "ids"),
    [
        (Q_S0, 214881, 0, 10, Q_S0_IDS),
        (Q_S10, 214881, 10, 10, Q_S10_IDS),
        (TWO_IDS, 1, 0, 100, ["1707.08567"]),  # 0808.05394 does not exist: only one comes back
        (NONE_0000, 0, 0, 100, []),  # an unknown id: totalResults 0, no entry
    ],
    ids=lambda v: v.name.removeprefix(REC) if isinstance(v, Path) else None,
)
def test_recorded_answers(
    recording: Path, total: int, start: int, per_page: int, ids: list[str]
) -> None:
    page = parse_atom(recorded_body(recording))
    assert (page.total, page.start, page.per_page) == (total, start, per_page)
    assert [p.id for p in page.papers] == ids


def test_the_error_feed_is_an_error_not_a_paper() -> None:
    with pytest.raises(FetchError) as caught:
        parse_atom(recorded_body(ERROR_ABC), url="https://export.arxiv.org/api/query")

    err = caught.value
    assert type(err) is FetchError
    assert str(err) == "arXiv API error: incorrect id format for abc"
    assert (err.retryable, err.url) == (False, "https://export.arxiv.org/api/query")
    assert err.hint is not None and "arXiv's search syntax" in err.hint


def test_an_empty_feed_is_an_empty_page() -> None:
    assert parse_atom(recorded_body(NONE_0000)) == AtomPage(
        total=0, start=0, per_page=100, papers=[]
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (AUG02.read_bytes()[: len(AUG02.read_bytes()) // 2],
         "the arXiv API answer is not well-formed XML (no element found"),
        (HTML_PAGE,
         "the arXiv API answer was an HTML page titled '503 Service Temporarily Unavailable', "
         "not XML"),
        (RSS_LG.read_bytes(), "expected an Atom feed (<feed>), found <rss>"),
        # Hand-made: an XHTML page (XML declaration, then an HTML DOCTYPE).
        (b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC '
         b'"-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
         b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Bad Gateway</title></head>'
         b"<body></body></html>",
         "the arXiv API answer was an HTML page titled 'Bad Gateway', not XML"),
    ],
    ids=["truncated", "html", "rss", "xhtml"],
)  # fmt: skip
def test_parse_atom_rejects_what_it_cannot_read(payload: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_atom(payload)
    assert str(caught.value).startswith(message)


# -- hostile XML (hand-made: these are attacks, not recordings) ----------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE feed [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
  <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
  <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2606.13677v1</id>
<title>&g;</title><summary>&g;</summary></entry></feed>
"""

SECRET = "s3cret-file-content-that-must-never-be-read"


def external_entity_feed(target: Path) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY leak SYSTEM "{target.as_uri()}">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2606.13677v1</id>
<title>Leak &leak;</title><summary>&leak;</summary></entry></feed>
""".encode()


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse_atom(BILLION_LAUGHS)
    assert str(caught.value).startswith(
        "the arXiv API answer declares a document type or entities (DTDForbidden)"
    )


def test_an_external_entity_is_refused_unread(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")

    with pytest.raises(ParseError) as caught:
        parse_atom(external_entity_feed(secret))

    err = caught.value
    assert str(err).startswith("the arXiv API answer declares a document type or entities")
    texts = [str(err), err.hint or "", repr(err.__cause__), str(err.__cause__)]
    assert not any(SECRET in text for text in texts)


# -- settings --------------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = ArxivQuerySettings(kind="arxiv_query", query=QUERY)
    assert settings.model_dump(exclude=set(SourceSettings.model_fields) - {"kind"}) == {
        "kind": "arxiv_query",
        "query": QUERY,
        "base_url": "https://export.arxiv.org",
        "page_size": 200,
        "max_results": 2000,
        "holidays": [],
        "min_interval": 3.0,
    }
    assert SOURCES["arxiv_query"] is ArxivQuery


@pytest.mark.parametrize(
    "values",
    [
        {"query": ""},
        {"query": "   "},
        {"page_size": 0},
        {"page_size": 2001},
        {"max_results": 0},
        {"max_results": 30001},
        {"page_size": "10"},  # strict: no coercion
        {"holidays": ["25/12/2026"]},
        {"min_interval": -0.5},
        {"base_url": "export.arxiv.org"},
        {"search_query": "cat:cs.LG"},  # unknown key
    ],
)
def test_settings_reject(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ArxivQuerySettings.model_validate({"kind": "arxiv_query", "query": QUERY, **values})


# -- fetch() over the real loopback server -------------------------------------------------


@pytest.fixture
def http() -> Iterator[Http]:
    # Real client; short timeout for the timeout row; small backoff (real sleeps of 0.01 s).
    with Http(HttpSettings(timeout=0.3, retries=2, backoff=0.01, allow_private=True)) as client:
        yield client


def query_source(server: FixtureServer, http: Http, **options: object) -> ArxivQuery:
    values: dict[str, object] = {
        "kind": "arxiv_query",
        "query": QUERY,
        "base_url": server.base_url,
        "min_interval": 0.0,  # 127.0.0.1 is not arXiv: no 3 s pace in unit tests
    }
    values.update(options)
    return ArxivQuery(ArxivQuerySettings.model_validate(values), http)


def test_fetch_asks_for_the_day_window_newest_first(
    fixture_server: FixtureServer, http: Http
) -> None:
    fixture_server.add(API, AUG02)

    papers = query_source(fixture_server, http, max_results=25).fetch(THU_SEP24)

    assert [r.query for r in fixture_server.requests_to(API)] == [
        {
            "search_query": f"({QUERY}) AND {SEP24_WINDOW}",
            "sortBy": "submittedDate",
            "sortOrder": "descending",
            "start": "0",
            "max_results": "25",
        }
    ]
    expected = parse_atom(AUG02.read_bytes()).papers
    assert papers == [replace(p, day=THU_SEP24, source="arxiv_query") for p in expected]


def test_fetch_pages_by_start(fixture_server: FixtureServer, http: Http) -> None:
    # The two recorded pages of one query, served by their `start`.
    fixture_server.script(API, [recorded(Q_S0)], query={"start": 0})
    fixture_server.script(API, [recorded(Q_S10)], query={"start": 10})

    papers = query_source(fixture_server, http, page_size=10, max_results=20).fetch(THU_SEP24)

    assert [p.id for p in papers] == Q_S0_IDS + Q_S10_IDS
    assert {(p.day, p.source) for p in papers} == {(THU_SEP24, "arxiv_query")}
    asked = [(r.query["start"], r.query["max_results"]) for r in fixture_server.requests]
    assert asked == [("0", "10"), ("10", "10")]


def test_fetch_stops_paging_at_total_results(fixture_server: FixtureServer, http: Http) -> None:
    # totalResults (1) reached after the first page, though 100 were allowed.
    fixture_server.script(API, [recorded(TWO_IDS)], query={"start": 0})

    papers = query_source(fixture_server, http, page_size=100).fetch(THU_SEP24)

    assert len(papers) == 1
    assert [(r.query["start"], r.query["max_results"]) for r in fixture_server.requests] == [
        ("0", "100")
    ]


def emptied(recording: Path) -> bytes:
    """A recorded page with its entries taken out, its totalResults (214881) and startIndex
    kept: the empty page arXiv's API answers now and then in the middle of a result set."""
    body = re.sub(rb"\s*<entry>.*?</entry>", b"", recorded_body(recording), flags=re.DOTALL)
    assert b"<entry>" not in body and b"<opensearch:totalResults>214881<" in body
    return body


EMPTY_S10 = emptied(Q_S10)


@pytest.mark.parametrize(
    ("second_page", "asked_at_10"),
    [
        # Empty once, then the real page: asked again, the day is whole.
        ([Reply(200, EMPTY_S10), recorded(Q_S10)], 2),
        # Empty twice (the fixture's http retries twice), then the real page.
        ([Reply(200, EMPTY_S10), Reply(200, EMPTY_S10), recorded(Q_S10)], 3),
    ],
    ids=["empty-once", "empty-twice"],
)
def test_an_empty_page_before_total_results_is_asked_again(
    fixture_server: FixtureServer, http: Http, second_page: list[Reply], asked_at_10: int
) -> None:
    fixture_server.script(API, [recorded(Q_S0)], query={"start": 0})
    fixture_server.script(API, second_page, query={"start": 10})

    papers = query_source(fixture_server, http, page_size=10, max_results=20).fetch(THU_SEP24)

    assert [p.id for p in papers] == Q_S0_IDS + Q_S10_IDS
    asked = [r.query["start"] for r in fixture_server.requests]
    assert asked == ["0"] + ["10"] * asked_at_10


@pytest.mark.parametrize(
    "empty",
    [
        EMPTY_S10,
        # The real answer with totalResults 0: the first page's 214881 results still stand.
        recorded_body(NONE_0000),
    ],
    ids=["empty-page-of-214881", "total-results-0"],
)
def test_an_empty_page_that_stays_empty_fails_the_day(
    fixture_server: FixtureServer, http: Http, empty: bytes
) -> None:
    fixture_server.script(API, [recorded(Q_S0)], query={"start": 0})
    fixture_server.script(API, [Reply(200, empty)], query={"start": 10})

    with pytest.raises(FetchError) as caught:
        query_source(fixture_server, http, page_size=10, max_results=20).fetch(THU_SEP24)

    err = caught.value
    assert type(err) is FetchError
    assert str(err) == (
        "arXiv answered an empty page at start=10 of 214881 results, 3 times in a row"
    )
    assert err.retryable is True
    assert err.url is not None and err.url.startswith(fixture_server.url(API) + "?")
    assert "start=10" in err.url
    assert err.hint == (
        "arXiv's API sometimes answers an empty page in the middle of a result set; "
        "the day is fetched again on the next run"
    )
    assert [r.query["start"] for r in fixture_server.requests] == ["0", "10", "10", "10"]


@dataclass(frozen=True)
class Case:
    """One row of the fault table: what the server answers, what fetch(day) must do."""

    day: date
    replies: list[Reply]
    count: int | None = None  # the number of papers expected, or
    error: type[FetchError] | None = None  # the error expected
    message: str = ""
    status: int | None = None
    requests: int = 1


AUG02_BODY = AUG02.read_bytes()

# No "stale" row: a query has no dated batch that could lag behind; an empty day is normal.
FAULTS = {
    "503-then-ok": Case(THU_SEP24, [Reply(503, b"busy"), Reply(200, AUG02_BODY)], count=25,
                        requests=2),
    "429-retry-after": Case(THU_SEP24, [Reply(429, b"", {"Retry-After": "1"}),
                                        Reply(200, AUG02_BODY)], count=25, requests=2),
    "read-timeout-then-ok": Case(THU_SEP24, [Reply(200, AUG02_BODY, delay_s=1.0),
                                             Reply(200, AUG02_BODY)], count=25, requests=2),
    "truncated-xml": Case(THU_SEP24, [Reply(200, AUG02_BODY[: len(AUG02_BODY) // 2])],
                          error=ParseError,
                          message="the arXiv API answer is not well-formed XML (no element found"),
    "html-error-page": Case(THU_SEP24, [Reply(200, HTML_PAGE)], error=ParseError,
                            message="the arXiv API answer was an HTML page titled "
                                    "'503 Service Temporarily Unavailable', not XML"),
    "400-error-feed": Case(THU_SEP24, [recorded(ERROR_ABC)], error=FetchError,
                           message="arXiv API error: incorrect id format for abc", status=400),
    # A 4xx whose body is not arXiv's error feed keeps the plain HTTP error.
    "400-html": Case(THU_SEP24, [Reply(400, HTML_PAGE)], error=FetchError, message="HTTP 400",
                     status=400),
    "saturday": Case(date(2026, 9, 26), [Reply(200, AUG02_BODY)], count=0, requests=0),
    "holiday": Case(date(2026, 11, 26), [Reply(200, AUG02_BODY)], count=0, requests=0),
    "weekday-no-result": Case(THU_SEP24, [recorded(NONE_0000)], count=0),
}  # fmt: skip


@pytest.mark.parametrize("case", FAULTS.values(), ids=FAULTS.keys())
def test_fetch_fault_table(fixture_server: FixtureServer, http: Http, case: Case) -> None:
    fixture_server.script(API, case.replies)
    source = query_source(
        fixture_server, http, page_size=25, max_results=25, holidays=["2026-11-26"]
    )

    if case.error is None:
        papers = source.fetch(case.day)
        assert len(papers) == case.count
        assert {(p.day, p.source) for p in papers} <= {(case.day, "arxiv_query")}
    else:
        with pytest.raises(case.error) as caught:
            source.fetch(case.day)
        err = caught.value
        assert type(err) is case.error
        assert str(err).startswith(case.message)
        assert (err.status, err.retryable) == (case.status, False)
        assert err.url is not None and err.url.startswith(fixture_server.url(API))
        assert err.hint
    assert len(fixture_server.requests_to(API)) == case.requests
    assert source.expects_papers(case.day) is False  # a saved query may match nothing


def test_fetch_refuses_hostile_xml_from_the_server(
    fixture_server: FixtureServer, http: Http, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    fixture_server.add(API, external_entity_feed(secret))

    with pytest.raises(ParseError) as caught:
        query_source(fixture_server, http).fetch(THU_SEP24)

    assert str(caught.value).startswith("the arXiv API answer declares a document type")
    assert SECRET not in str(caught.value)
    assert len(fixture_server.requests) == 1


def test_arxiv_query_needs_its_own_settings(http: Http) -> None:
    with pytest.raises(TypeError):
        ArxivQuery(SourceSettings(kind="arxiv_query"), http)
