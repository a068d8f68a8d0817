"""Profiles' `library:` (bot/relevance/library.py): example papers from a BibTeX file and a
Zotero library, and `profile new --from-bibtex`.

Every payload is a real recording (tests/fixtures/SOURCES.md): the JOSS paper's `.bib` file,
pyzotero's recorded Zotero items and collections of user 475425, the recorded arXiv API answer
for `id_list=0808.05394,1707.08567`, the recorded Hugging Face day of 2026-07-31. A collection's
item listing, a listing cut into pages and the broken `.bib` files are derived in memory from
those, as SOURCES.md says. Zotero and arXiv are real loopback servers reached through the
product's `Http` client; the end-to-end tests run the real CLI (tests/e2e.py).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_profile
from bot.errors import ConfigErrors
from bot.http import Http, HttpSettings
from bot.identity import normalize_doi
from bot.models import Profile, ZoteroLibrary
from bot.relevance.library import (
    LibraryError,
    distinctive_terms,
    read_bibtex,
    read_zotero,
    with_zotero,
)
from bot.relevance.tfidf import MemoryDocFreqs, terms_of
from tests.e2e import Bot, make_bot, posted_ids
from tests.fixture_server import FIXTURES, FixtureServer

BIB = FIXTURES / "bibtex_multivae-joss-paper_2025-06_30entries.bib"
ITEMS = FIXTURES / "zotero_api_items_user-475425_2014_20items.json"
COLLECTIONS = FIXTURES / "zotero_api_collections_user-475425_2014_15items.json"
TWO_IDS = (
    FIXTURES / "arxiv_api_recorded-2026-04_id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.http.json"
)
HF_DAY = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
DAY = "2026-07-31"
USER = 475425
SCIENCES = "BX9965IJ"  # the collection "Sciences (miscellaneous)": 13 of the 20 items
KEY = "zotero-SECRET-key-0123456789"
HTTP = HttpSettings(allow_private=True, retries=1, backoff=0.0, timeout=5)


def zotero_headers(total: int) -> dict[str, str]:
    """The headers Zotero's API v3 sends with a listing (the recording keeps only bodies)."""
    return {
        "Content-Type": "application/json",
        "Zotero-API-Version": "3",
        "Total-Results": str(total),
        "Last-Modified-Version": "1",
    }


def recorded_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(ITEMS.read_bytes())
    return items


def collection_items(key: str) -> list[dict[str, Any]]:
    """DERIVED (SOURCES.md): the recorded items that are in collection `key`, unchanged."""
    return [item for item in recorded_items() if key in item["data"]["collections"]]


def serve_zotero(server: FixtureServer, *, items_status: int = 200) -> None:
    """The recorded library of user 475425: collections, the whole item listing, and the
    derived listing of the collection "Sciences (miscellaneous)"."""
    base = f"/users/{USER}"
    collections = json.loads(COLLECTIONS.read_bytes())
    server.add(f"{base}/collections", COLLECTIONS, headers=zotero_headers(len(collections)))
    if items_status != 200:
        server.add(f"{base}/items", b"Forbidden", status=items_status)
        server.add(f"{base}/collections/{SCIENCES}/items", b"Forbidden", status=items_status)
        return
    server.add(f"{base}/items", ITEMS, headers=zotero_headers(len(recorded_items())))
    sciences = collection_items(SCIENCES)
    server.add(
        f"{base}/collections/{SCIENCES}/items",
        json.dumps(sciences).encode(),
        headers=zotero_headers(len(sciences)),
    )


def library(server: FixtureServer, **kw: Any) -> ZoteroLibrary:
    return ZoteroLibrary(user=USER, base_url=server.base_url, **kw)


# --------------------------------------------------------------------------- BibTeX entries


def test_bibtex_entries_become_examples() -> None:
    found = read_bibtex(BIB)
    texts = {p.id: p for p in found.papers}
    # (cite key in the file, the example id it gives, whether its text comes from the file)
    table = [
        ("wu:2018", "bibtex:wu:2018", True),  # an abstract, no arXiv id or DOI
        ("suzuki:2016", "1611.01891", False),  # eprint + archivePrefix = arXiv, no abstract
        ("vedantam:2018", "1705.10762", True),  # an arxiv.org url, and an abstract
        ("kingma", "1312.6114", True),  # the arXiv url wins over an unrelated DOI
        ("wang_deep_2017", "1610.03454", True),  # a 10.48550/arXiv. DOI
        ("senellart:2023", "2305.11832", False),  # "arXiv preprint arXiv:2305.11832"
        ("sutter:mmjsd", "2006.08242", False),  # biblatex `eprinttype = {arXiv}`
        ("vasco2022leveraging", "doi:10.1016/j.neunet.2021.11.019", False),  # a DOI only
        ("aguila:poe", "doi:10.1007/978-3-031-43907-0_41", True),  # a DOI and an abstract
        ("chadebec_DA", "doi:10.1109/tpami.2022.3185773", False),  # DOIs are lower-cased
    ]
    for key, pid, has_text in table:
        assert pid in found.ids, key
        assert (pid in texts) is has_text, key
    assert len(found.ids) == 23 and len(found.papers) == 13
    assert [s.split(" ", 1)[0] for s in found.skipped] == [
        "palumbo_mmvae_2023",
        "pythae",
        "wandb",
        "hwang2021multi",
        "huggingface",
        "palumbo2024deep",
        "suzuki:2023:mitigating",
    ]
    wu = texts["bibtex:wu:2018"]
    # Brace-protected capitals and LaTeX are decoded; "Wu, Mike and Goodman, Noah" split.
    assert wu.title == "Multimodal Generative Models for Scalable Weakly-Supervised Learning"
    assert wu.abstract.startswith("Multiple modalities often co-occur")
    assert wu.authors == ("Wu, Mike", "Goodman, Noah")
    assert len(found.texts) == 30


def broken_bib(tmp_path: Path, how: str) -> tuple[Path, int]:
    """The real .bib file, DERIVED (SOURCES.md) to break at the entry `kingma`; with the
    1-based line of that entry."""
    text = BIB.read_text(encoding="utf-8")
    start = text.index("@misc{kingma,")
    line = text[:start].count("\n") + 1
    end = text.index("\n}\n", start)
    if how == "unclosed":  # its closing brace removed
        text = text[:end] + "\n" + text[end + 3 :]
    else:  # its title written twice
        text = (
            text[:start]
            + text[start:end].replace("\turl =", "\ttitle = {Again},\n\turl =")
            + text[end:]
        )
    path = tmp_path / "broken.bib"
    path.write_text(text, encoding="utf-8")
    return path, line


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such file"),
        ("unclosed", "does not parse (a brace or quote not closed"),
        ("duplicate", "an entry has the same field twice (title)"),
        ("not bibtex", "no BibTeX entries"),
    ],
)
def test_a_library_that_cannot_be_read_is_the_profiles_error(
    tmp_path: Path, case: str, message: str
) -> None:
    bib, line = tmp_path / "none.bib", None
    if case in ("unclosed", "duplicate"):
        bib, line = broken_bib(tmp_path, case)
    elif case == "not bibtex":
        bib = tmp_path / "notes.bib"
        bib.write_text("These are my notes, not a bibliography.\n", encoding="utf-8")
    profile = tmp_path / "vae.yaml"
    profile.write_text(
        f"name: VAEs\ndescription: Multimodal VAEs.\nlibrary:\n  bibtex: {bib.name}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigErrors) as caught:
        load_profile(profile)
    [err] = caught.value.errors
    assert (err.file, err.line, err.field) == (str(profile), 4, "library.bibtex")
    where = f"{bib}:{line}" if line else str(bib)
    prefix = f"{profile}:4: library.bibtex: cannot use the library: {where}: "
    assert str(err).startswith(prefix), str(err)
    assert message in str(err)
    assert err.hint


# --------------------------------------------------------------------------- Zotero


def test_zotero_collection_by_name(fixture_server: FixtureServer) -> None:
    serve_zotero(fixture_server)
    with Http(HTTP) as http:
        found = read_zotero(
            http,
            library(fixture_server, collection="Sciences (miscellaneous)", api_key_env="ZK"),
            {"ZK": KEY},
        )
    assert found.ids == (
        "doi:10.1109/plasma.2002.1030588",  # conferencePaper, DOI only
        "doi:10.1109/ppps.2007.4345875",
        f"zotero:{USER}/3EWF3P9V",  # journalArticle with an abstract, no DOI
        "doi:10.1126/science.1195912",  # journalArticle with a DOI and an abstract
    )
    assert [p.id for p in found.papers] == [
        f"zotero:{USER}/3EWF3P9V",
        "doi:10.1126/science.1195912",
    ]
    yarn = found.papers[1]
    assert yarn.title.startswith("Biscrolling Nanotube Sheets and Functional Guests into Yarns")
    assert yarn.abstract.startswith("Multifunctional applications of textiles")
    assert found.skipped == ("zotero item U52JBZ4X ('Front Matter')",)  # no abstract or DOI
    requests = fixture_server.requests
    assert [r.path for r in requests] == [
        f"/users/{USER}/collections",
        f"/users/{USER}/collections/{SCIENCES}/items",
    ]
    for r in requests:
        assert r.headers["zotero-api-key"] == KEY and r.headers["zotero-api-version"] == "3"
        assert KEY not in r.path and KEY not in json.dumps(r.query_all)
        assert (r.query["format"], r.query["limit"], r.query["start"]) == ("json", "100", "0")
    assert requests[1].query["itemType"] == "journalArticle || conferencePaper || preprint"


def test_zotero_pages_until_total_results(fixture_server: FixtureServer) -> None:
    items = recorded_items()
    path = f"/users/{USER}/items"
    for start in (0, 10):  # DERIVED: the recorded listing cut in two pages
        page = json.dumps(items[start : start + 10]).encode()
        fixture_server.add(path, page, headers=zotero_headers(20), query={"start": start})
    with Http(HTTP) as http:
        found = read_zotero(http, library(fixture_server), {})
    assert [r.query["start"] for r in fixture_server.requests] == ["0", "10"]
    assert "zotero-api-key" not in fixture_server.requests[0].headers  # a public library
    assert found.ids[0] == "doi:10.2307/2321200"  # on the first page
    assert found.ids[-1] == "doi:10.1126/science.1195912"  # on the second


def closed_port() -> str:
    with FixtureServer() as gone:
        url = gone.base_url
    return url  # nothing listens there any more


@pytest.mark.parametrize(
    ("case", "message", "hint"),
    [
        ("403", "HTTP 403", "cannot read this library"),
        ("404", "HTTP 404", "check library.zotero.user"),
        ("unknown collection", "no collection named 'To read'", "'Sciences (miscellaneous)'"),
        ("network down", "cannot connect", "asked again on the next run"),
        ("key not set", "ZK (library.zotero.api_key_env) is not set", "zotero.org/settings/keys"),
        ("not json", "not JSON", "asked again on the next run"),
    ],
)
def test_zotero_failures_are_library_errors(
    fixture_server: FixtureServer, case: str, message: str, hint: str
) -> None:
    serve_zotero(fixture_server, items_status=403 if case == "403" else 200)
    env = {"ZK": KEY}
    base = fixture_server.base_url
    collection = None
    if case == "404":
        base += "/nobody"
    elif case == "unknown collection":
        collection = "To read"
    elif case == "network down":
        base = closed_port()
    elif case == "key not set":
        env = {}
    elif case == "not json":
        fixture_server.add(f"/users/{USER}/items", b"<html>maintenance</html>")
    lib = ZoteroLibrary(user=USER, collection=collection, api_key_env="ZK", base_url=base)
    with Http(HTTP) as http, pytest.raises(LibraryError) as caught:
        read_zotero(http, lib, env)
    assert message in str(caught.value)
    assert hint in (caught.value.hint or "")
    assert KEY not in f"{caught.value} {caught.value.hint}"


def test_a_zotero_failure_keeps_the_profiles_other_examples(
    fixture_server: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    serve_zotero(fixture_server, items_status=403)
    plain = Profile(id="plain", name="Plain", description="x", examples=("1707.08567",))
    zot = Profile(
        id="zot",
        name="Zot",
        description="x",
        examples=("1707.08567",),
        zotero=library(fixture_server, api_key_env="ZK"),
    )
    with caplog.at_level(logging.WARNING), Http(HTTP) as http:
        out = with_zotero([plain, zot], http, {"ZK": KEY})
    assert out == [plain, zot]  # unchanged: scored with what is known
    [record] = [r for r in caplog.records if r.name == "bot.relevance.library"]
    assert record.getMessage().startswith(f"profile zot: Zotero library of user {USER}: HTTP 403")
    assert "asked again on the next run" in record.getMessage()
    assert KEY not in caplog.text


# --------------------------------------------------------------------------- distinctive terms


def test_distinctive_terms_against_the_stored_corpus() -> None:
    texts = read_bibtex(BIB).texts
    alone = distinctive_terms(texts, None, 8)
    corpus = MemoryDocFreqs()
    corpus.add(
        terms_of(f"{p['paper']['title']}. {p['paper']['summary']}")
        for p in json.loads(HF_DAY.read_bytes())
    )
    against = distinctive_terms(texts, corpus, 8)
    assert "multimodal" in alone and "multimodal" in against
    # A word every ML abstract uses is the library's topic only without a background.
    assert "learning" in alone and "learning" not in against
    assert "data" in alone and "data" not in against
    for term in [*alone, *against]:
        assert not any(w.isdecimal() for w in term.split())


# --------------------------------------------------------------------------- end to end

# Two profiles alike but for the library: what each is sent shows what the library changes.
PLAIN = """\
name: Multimodal generative models
description: Generative models that learn a joint representation of several modalities.
min_score: 0.5
notify:
  slack: "#papers-spec"
"""
WITH_LIBRARY = PLAIN.replace('"#papers-spec"', '"#papers-rag"') + "library:\n{library}"


def arxiv_api() -> FixtureServer:
    """A loopback arXiv API answering every query with the recorded `id_list` answer for
    0808.05394,1707.08567 (only 1707.08567 exists)."""
    recording = json.loads(TWO_IDS.read_text(encoding="utf-8"))
    api = FixtureServer()
    api.add("/api/query", recording["body"].encode("latin-1"), status=recording["status_code"])
    return api


@pytest.fixture
def apis(tmp_path: Path) -> Iterator[tuple[Bot, FixtureServer, FixtureServer]]:
    """A bot serving the recorded HF day, with a loopback arXiv API and Zotero."""
    with (
        arxiv_api() as arxiv,
        FixtureServer() as zotero,
        make_bot(tmp_path, f"arxiv_api:\n  base_url: {arxiv.base_url}\n") as bot,
    ):
        bot.hf.serve_hf_day(DAY, HF_DAY)
        bot.env["ZOTERO_API_KEY"] = KEY
        yield bot, arxiv, zotero


def test_a_bibtex_library_changes_the_ranking(
    apis: tuple[Bot, FixtureServer, FixtureServer],
) -> None:
    bot, arxiv, _ = apis
    shutil.copy(BIB, bot.root / "config" / "refs.bib")
    bot.profile("plain.yaml", PLAIN)
    bot.profile("lib.yaml", WITH_LIBRARY.format(library="  bibtex: ../refs.bib\n"))

    done = bot.run("once", "--date", DAY)

    assert done.returncode == 0, done.stderr
    plain, with_library = (
        posted_ids(bot.slack, "#papers-spec"),
        posted_ids(bot.slack, "#papers-rag"),
    )
    assert len(plain) == len(with_library) == 10  # the same 30 papers, the best 10 of each
    assert plain != with_library
    posted = " ".join(str(p.blocks) for p in bot.slack.messages_in("#papers-rag"))
    assert "like your example paper" in posted
    # Only the arXiv ids without an abstract in the file are looked up, in one request; the
    # DOIs no source has stored are named, not sent to arXiv.
    assert [r.query["id_list"] for r in arxiv.requests] == [
        "1611.01891,2305.11832,2209.03048,2006.08242"
    ]
    assert "warning: example paper doi:10.1016/j.neunet.2021.11.019 is unknown for now" in (
        done.stderr
    )
    assert "7 entries without an abstract, arXiv id or DOI left out: palumbo_mmvae_2023" in (
        done.stderr
    )


def test_an_arxiv_doi_in_the_library_is_fetched_once_and_cached(
    apis: tuple[Bot, FixtureServer, FixtureServer],
) -> None:
    bot, arxiv, _ = apis
    text = BIB.read_text(encoding="utf-8")
    start = text.index("@article{suzuki:2016,")
    entry = text[start : text.index("\n}\n", start) + 3]
    # DERIVED (SOURCES.md): the real entry known only by the arXiv DOI of the recorded paper.
    derived = "\n".join(
        line
        for line in entry.replace(
            "10.48550/arXiv.1611.01891", "10.48550/arXiv.1707.08567"
        ).splitlines()
        if not line.lstrip().startswith(("eprint", "archivePrefix", "url"))
    )
    (bot.root / "config" / "one.bib").write_text(derived + "\n", encoding="utf-8")
    bot.profile("lib.yaml", WITH_LIBRARY.format(library="  bibtex: ../one.bib\n"))

    done = bot.run("once", "--date", DAY)
    preview = bot.run("preview", "lib", "--since", DAY, "--format", "json")

    assert done.returncode == 0, done.stderr
    assert "unknown for now" not in done.stderr
    assert [r.query["id_list"] for r in arxiv.requests] == ["1707.08567"]  # once: then cached
    assert preview.returncode == 0, preview.stderr
    assert "unknown for now" not in preview.stderr


def test_a_broken_library_is_reported_and_the_other_profiles_keep_working(
    apis: tuple[Bot, FixtureServer, FixtureServer], tmp_path: Path
) -> None:
    bot, _, _ = apis
    bib, line = broken_bib(bot.root / "config", "unclosed")
    bot.profile("plain.yaml", PLAIN)
    broken = bot.profile("lib.yaml", WITH_LIBRARY.format(library=f"  bibtex: ../{bib.name}\n"))

    check = bot.run("check")
    done = bot.run("once", "--date", DAY)

    assert check.returncode == 2
    assert "profile plain: ok" in check.stdout
    assert f"error: {broken}:7: library.bibtex: cannot use the library: {bib}:{line}: " in (
        check.stderr
    )
    assert done.returncode == 2  # a profile was skipped ...
    assert len(posted_ids(bot.slack, "#papers-spec")) == 10  # ... the other one was served
    assert posted_ids(bot.slack, "#papers-rag") == []
    assert f"{bib}:{line}" in done.stderr


def zotero_profile(zotero: FixtureServer) -> str:
    return WITH_LIBRARY.format(
        library=f"  zotero: {{user: {USER}, api_key_env: ZOTERO_API_KEY, "
        f"base_url: {zotero.base_url}}}\n"
    )


def test_a_zotero_library_changes_the_ranking(
    apis: tuple[Bot, FixtureServer, FixtureServer],
) -> None:
    bot, _, zotero = apis
    serve_zotero(zotero)
    bot.profile("plain.yaml", PLAIN)
    bot.profile("zot.yaml", zotero_profile(zotero))

    done = bot.run("once", "--date", DAY)

    assert done.returncode == 0, done.stderr
    plain, with_library = (
        posted_ids(bot.slack, "#papers-spec"),
        posted_ids(bot.slack, "#papers-rag"),
    )
    assert len(plain) == len(with_library) == 10
    assert plain != with_library
    [request] = zotero.requests
    assert request.path == f"/users/{USER}/items" and request.headers["zotero-api-key"] == KEY
    assert KEY not in done.stdout + done.stderr

    # `preview` reads the library as the run does; `--offline` asks nothing.
    online = bot.run("preview", "zot", "--since", DAY, "--format", "json")
    offline = bot.run("preview", "zot", "--since", DAY, "--format", "json", "--offline")
    assert online.returncode == offline.returncode == 0, online.stderr + offline.stderr
    assert len(zotero.requests) == 2

    def sent(result: subprocess.CompletedProcess[str]) -> list[str]:
        [day] = json.loads(result.stdout)["days"]
        return [p["id"] for p in day["sent"]]

    assert sent(online) == with_library
    assert sent(offline) == plain  # without its library: as the plain profile


def test_zotero_refusing_leaves_the_profile_as_without_it(
    apis: tuple[Bot, FixtureServer, FixtureServer],
) -> None:
    bot, _, zotero = apis
    serve_zotero(zotero, items_status=403)
    bot.profile("plain.yaml", PLAIN)
    bot.profile("zot.yaml", zotero_profile(zotero))

    done = bot.run("once", "--date", DAY)

    assert done.returncode == 0, done.stderr
    # Scored with what is known (here: nothing but its description), like the plain profile.
    assert posted_ids(bot.slack, "#papers-rag") == posted_ids(bot.slack, "#papers-spec")
    assert f"warning: profile zot: Zotero library of user {USER}: HTTP 403" in done.stderr
    assert KEY not in done.stdout + done.stderr


# --------------------------------------------------------------------------- profile new


def test_profile_new_from_bibtex_passes_check(bot: Bot) -> None:
    refs = bot.root / "refs" / "my.bib"
    refs.parent.mkdir()
    shutil.copy(BIB, refs)

    made = bot.run("profile", "new", "Multimodal VAEs", "--from-bibtex", str(refs))
    check = bot.run("check")

    assert made.returncode == 0, made.stderr
    path = bot.root / "config" / "profiles" / "multimodal-vaes.yaml"
    assert f"wrote {path}" in made.stdout
    profile = load_profile(path)
    assert profile.description.startswith("Papers like the 30 of my.bib: ")
    assert "multimodal" in profile.description and "multimodal" in profile.keywords
    assert len(profile.examples) == 23  # the library's, read through `library: bibtex:`
    assert 'library:\n  bibtex: "../../refs/my.bib"\n' in path.read_text(encoding="utf-8")
    assert check.returncode == 0, check.stderr
    assert "profile multimodal-vaes: ok ('Multimodal VAEs' -> console)" in check.stdout


def test_profile_new_from_a_broken_bibtex_writes_nothing(bot: Bot, tmp_path: Path) -> None:
    bib, line = broken_bib(tmp_path, "duplicate")
    made = bot.run("profile", "new", "VAEs", "--from-bibtex", str(bib))
    assert made.returncode == 2
    assert made.stderr.startswith(f"error: --from-bibtex: {bib}:{line}: an entry has the same")
    assert not (bot.root / "config" / "profiles" / "vaes.yaml").exists()


def test_profile_text_is_valid_yaml_for_odd_names() -> None:
    from bot.onboarding import new_profile_text

    text = new_profile_text('A "quoted": name', keywords=["a: b", "#c"], bibtex="refs/x y.bib")
    assert textwrap.dedent(text) == text
    assert 'keywords: ["a: b", "#c"]\n' in text and 'bibtex: "refs/x y.bib"' in text


# --------------------------------------------------------------------------- check


@pytest.mark.parametrize("status", [200, 403])
def test_check_live_reads_each_zotero_library(
    apis: tuple[Bot, FixtureServer, FixtureServer], status: int
) -> None:
    bot, _, zotero = apis
    serve_zotero(zotero, items_status=status)
    bot.profile("zot.yaml", zotero_profile(zotero))

    live = bot.run("check", "--live")

    assert KEY not in live.stdout + live.stderr
    if status == 200:
        assert f"zotero zot: ok (user {USER}: 5 example papers, 2 with their text)" in live.stdout
        assert live.returncode == 0, live.stdout + live.stderr
    else:
        assert f"zotero zot: failed: Zotero library of user {USER}: HTTP 403" in live.stdout
        assert "  hint: the key in ZOTERO_API_KEY cannot read this library" in live.stdout
        assert live.returncode == 1


def test_check_says_when_the_zotero_key_is_not_set(
    apis: tuple[Bot, FixtureServer, FixtureServer],
) -> None:
    bot, _, zotero = apis
    bot.profile("zot.yaml", zotero_profile(zotero))
    del bot.env["ZOTERO_API_KEY"]

    check = bot.run("check")

    assert check.returncode == 0, check.stderr  # like a Slack token not set: not an error
    assert (
        "profile zot: library.zotero: ZOTERO_API_KEY is not set: its Zotero library is not read "
        "until it is (the profile is scored without it)"
    ) in check.stdout
    assert zotero.requests == []


@pytest.mark.parametrize(
    ("raw", "doi"),
    [
        ("10.1016/j.neunet.2021.11.019", "10.1016/j.neunet.2021.11.019"),
        ("https://doi.org/10.21105/joss.05093", "10.21105/joss.05093"),  # Aguila2023's url
        ("http://dx.doi.org/10.1007/978-3-031-43999-5_43", "10.1007/978-3-031-43999-5_43"),
        ("doi:10.1109/TPAMI.2022.3185773", "10.1109/tpami.2022.3185773"),
        ("https://openreview.net/forum?id=sdQGxouELX", None),
        ("10.1126/science.1195912\u202e", None),  # a bidi control would disguise the id
        ("10.1126/" + "x" * 300, None),
    ],
)
def test_normalize_doi(raw: str, doi: str | None) -> None:
    assert normalize_doi(raw) == doi
