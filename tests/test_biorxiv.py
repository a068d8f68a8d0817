"""bioRxiv/medRxiv (`kind: biorxiv`): the real record, paging by the count answered, and a fault
table, over the real loopback server and the real Http client.

The `/details` answers are DERIVED from real recordings in tests/biorxiv_pages.py (the real
record in the API's envelope; a second record made of the real bioRxiv RSS item's values).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from bot.errors import FetchError, ParseError
from bot.http import Http, HttpSettings
from bot.models import Paper
from bot.sources import SOURCES
from bot.sources.biorxiv import Biorxiv, BiorxivSettings, parse_details
from tests.biorxiv_pages import REAL_RECORD, genomics_record, page, path
from tests.fixture_server import FixtureServer, Reply

DAY = date(2023, 12, 17)  # digest day: lists what was posted on 2023-12-16
POSTED = "2023-12-16"
REAL_ABSTRACT = " ".join(REAL_RECORD["abstract"].split())


@pytest.fixture
def http() -> Iterator[Http]:
    with Http(HttpSettings(timeout=5.0, retries=2, backoff=0.01, allow_private=True)) as client:
        yield client


def source(fixtures: FixtureServer, http: Http, **keys: object) -> Biorxiv:
    settings = BiorxivSettings.model_validate(
        {"kind": "biorxiv", "base_url": fixtures.base_url, **keys}
    )
    return Biorxiv(settings, http)


def test_the_kind_is_registered() -> None:
    assert SOURCES["biorxiv"] is Biorxiv


def test_the_real_record_reads_as_one_paper_with_its_journal_doi() -> None:
    parsed = parse_details(page([REAL_RECORD], cursor=0, total=1, interval="2018-10-30"))
    assert (parsed.cursor, parsed.count, parsed.total) == (0, 1, 1)
    assert parsed.papers == [
        Paper(
            id="doi:10.1101/456574",
            title="Complementary subnetworks of cortical somatostatin interneurons",
            abstract=REAL_ABSTRACT,
            authors=(
                "Naka, A.",
                "Shababo, B.",
                "Snyder, B.",
                "Egladyous, A.",
                "Sridharan, S.",
                "Paninski, L.",
                "Adesnik, H.",
            ),
            url="https://www.biorxiv.org/content/10.1101/456574v1",
            categories=("neuroscience",),
            published="2018-10-30",
            version="v1",
            extras={
                "doi": "10.1101/456574",
                "published_doi": "10.7554/elife.43696",
                "license": "cc_by_nc",
                "type": "new results",
                "aliases": ["doi:10.7554/elife.43696"],
            },
        )
    ]


def test_a_new_version_is_the_same_paper_and_the_latest_version_is_kept(
    fixture_server: FixtureServer, http: Http
) -> None:
    v2 = {**copy.deepcopy(REAL_RECORD), "version": "2", "date": POSTED}
    v1 = {**copy.deepcopy(REAL_RECORD), "date": POSTED}
    fixture_server.add(path(POSTED, 0), page([v2, v1], cursor=0, total=2))
    papers = source(fixture_server, http).fetch(DAY)
    assert [(p.id, p.version, p.day) for p in papers] == [("doi:10.1101/456574", "v2", DAY)]
    assert parse_details(page([v1], cursor=0, total=1)).papers[0].id == papers[0].id


def test_pages_follow_the_count_answered_not_a_page_size(
    fixture_server: FixtureServer, http: Http
) -> None:
    # The first page holds ONE record of 2 (fewer than 100): the next cursor is 1. A client
    # stepping by 100 would ask for cursor 100, which answers 404 here, and lose the record.
    fixture_server.add(path(POSTED, 0), page([REAL_RECORD], cursor=0, total=2))
    fixture_server.add(path(POSTED, 1), page([genomics_record()], cursor=1, total=2))
    papers = source(fixture_server, http).fetch(DAY)
    assert [p.id for p in papers] == ["doi:10.1101/456574", "doi:10.1101/2023.12.16.571984"]
    assert [r.path for r in fixture_server.requests] == [path(POSTED, 0), path(POSTED, 1)]


def test_categories_keep_only_those_records(fixture_server: FixtureServer, http: Http) -> None:
    fixture_server.add(path(POSTED, 0), page([REAL_RECORD, genomics_record()], cursor=0, total=2))
    papers = source(fixture_server, http, categories=["Genomics", "cell_biology"]).fetch(DAY)
    assert [p.id for p in papers] == ["doi:10.1101/2023.12.16.571984"]
    assert source(fixture_server, http, categories=["genomics"]).expects_papers(DAY) is False
    assert source(fixture_server, http).expects_papers(DAY) is True


def test_medrxiv_is_asked_for_its_own_server(fixture_server: FixtureServer, http: Http) -> None:
    record = {**copy.deepcopy(REAL_RECORD), "server": "medrxiv"}
    fixture_server.add(path(POSTED, 0, "medrxiv"), page([record], cursor=0, total=1))
    papers = source(fixture_server, http, server="medrxiv").fetch(DAY)
    assert [p.url for p in papers] == ["https://www.medrxiv.org/content/10.1101/456574v1"]


def test_settings_refuse_an_unknown_server() -> None:
    with pytest.raises(ValidationError, match="server"):
        BiorxivSettings.model_validate({"kind": "biorxiv", "server": "arxiv"})


# -- faults --------------------------------------------------------------------------------

ERROR_IN_200 = json.dumps({"messages": [{"status": "no posts found"}], "collection": []})
TRUNCATED = page([REAL_RECORD], cursor=0, total=1)[:700]
HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body></body></html>"
EMPTY_PAGE_BEFORE_TOTAL = page([], cursor=0, total=3)


@pytest.mark.parametrize(
    ("replies", "error", "message"),
    [
        ([Reply(200, ERROR_IN_200)], FetchError, "bioRxiv answered status 'no posts found'"),
        ([Reply(200, TRUNCATED)], ParseError, "bioRxiv did not answer JSON"),
        ([Reply(200, HTML)], ParseError, "bioRxiv answered an HTML page, not JSON"),
        ([Reply(200, EMPTY_PAGE_BEFORE_TOTAL)], ParseError, "empty page at cursor 0 of 3"),
        ([Reply(503)] * 3, FetchError, "503"),
    ],
    ids=["error-inside-200", "truncated-json", "html-not-json", "empty-page", "503-always"],
)
def test_faults_fail_the_day_never_an_empty_day(
    fixture_server: FixtureServer,
    http: Http,
    replies: list[Reply],
    error: type[Exception],
    message: str,
) -> None:
    fixture_server.script(path(POSTED, 0), replies)
    with pytest.raises(error, match=message) as caught:
        source(fixture_server, http).fetch(DAY)
    assert isinstance(caught.value, FetchError)
    assert caught.value.url is not None and path(POSTED, 0) in caught.value.url


def test_a_503_then_ok_is_retried(fixture_server: FixtureServer, http: Http) -> None:
    fixture_server.script(
        path(POSTED, 0), [Reply(503), Reply(200, page([REAL_RECORD], cursor=0, total=1))]
    )
    assert [p.id for p in source(fixture_server, http).fetch(DAY)] == ["doi:10.1101/456574"]
    assert len(fixture_server.requests) == 2


def test_probe_reads_yesterdays_first_page(fixture_server: FixtureServer, http: Http) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    fixture_server.add(path(yesterday, 0), page([REAL_RECORD], cursor=0, total=57))
    proven = source(fixture_server, http).probe()
    assert proven == (
        f"{fixture_server.url(path(yesterday, 0))}: status ok, 57 biorxiv record(s) "
        f"posted on {yesterday}"
    )


def test_probe_fails_on_an_error_inside_200(fixture_server: FixtureServer, http: Http) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    fixture_server.add(path(yesterday, 0), ERROR_IN_200)
    with pytest.raises(FetchError, match="no posts found"):
        source(fixture_server, http).probe()
