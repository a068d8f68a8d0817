"""`digestbot preview` on a state written by a real `once` run: the real CLI in a subprocess, the
recorded Hugging Face day of 2026-07-31 served on 127.0.0.1 (tests/e2e.py).

What these prove: an installed profile (by id) and a profile file not installed yet are both
previewed from the stored papers, per day, with scores and reasons, and with the best papers not
sent and why; the JSON output has the promised structure; nothing is fetched or written; a
missing state exits 1 with one clear line; a broken profile exits 2 naming file and line.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.preview import parse_since
from tests.e2e import BM25_ID, SPEC_ID, SPEC_PROFILE, Bot, make_bot
from tests.fixture_server import FIXTURES, FixtureServer

DAY = "2026-07-31"

# A draft, not installed: excludes its best paper and caps at 2, so every reason to hold a
# paper back shows; one example paper is stored, the other is unknown to the state. The state
# holds 30 papers (a cold start: scores are percentiles among the day's own papers, k/30), so
# min_score 0.85 = the day's best 4 are above it.
DRAFT = """\
name: Retrieval draft
description: Retrieval-augmented generation, BM25 and sparse retrieval at scale.
keywords: [BM25, retrieval augmented generation, retrieval]
exclude: [scaling study]
min_score: 0.85
max_per_digest: 2
papers: ["2607.26497", "2401.00001"]
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """A bot whose state holds the 30 papers of 2026-07-31, from a real `once` run."""
    with make_bot(tmp_path_factory.mktemp("preview")) as bot:
        bot.hf.serve_hf_day(DAY, FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
        bot.profile("spec.yaml", SPEC_PROFILE)
        done = bot.run("once", "--date", DAY)
        assert done.returncode == 0, done.stderr
        yield bot


@pytest.fixture(scope="module")
def draft(stored: Bot) -> Path:
    path = stored.root / "draft.yaml"  # outside config/profiles: not installed
    path.write_text(DRAFT, encoding="utf-8")
    return path


def test_installed_profile_by_id(stored: Bot) -> None:
    requests, mtime = len(stored.hf.requests), stored.state.stat().st_mtime_ns
    done = stored.run("preview", "spec", "--since", DAY)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(
        f"preview of spec (Speculative decoding): min_score 0.95, max_per_digest 10; "
        f"stored papers of {DAY} .. "
    )
    day = lines.index(f"{DAY}: 1 of 30 papers would be sent")
    assert lines[day + 1] == (
        f"  0.97  {SPEC_ID}  Revisiting Lossy Verification in Speculative Decoding: Mechanisms,..."
        "  (keyword speculative decoding, draft model, lossy verification; terms decoding, lossy,"
        " lossy verification, speculative)"
    )
    assert lines[day + 2] == "  under the threshold:"
    under = lines[day + 3 : day + 6]
    assert all("[below min_score]" in line for line in under)
    assert lines[-1] == "1 paper(s) would have been sent over 1 day(s)"
    # read-only: nothing fetched, nothing written, nothing sent
    assert len(stored.hf.requests) == requests
    assert stored.state.stat().st_mtime_ns == mtime
    assert done.stderr == ""


def test_a_profile_file_not_installed(stored: Bot, draft: Path) -> None:
    done = stored.run("preview", str(draft), "--since", "2026-07-25", "--offline")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "preview of draft (Retrieval draft): min_score 0.85, max_per_digest 2;" in out
    assert f"{DAY}: 2 of 30 papers would be sent" in out
    assert f"  0.97  {BM25_ID}  BM25 Wins at Scale" in out
    assert "[excluded: scaling study]" in out and "[over max_per_digest]" in out
    assert f"like your example paper {BM25_ID}" in out  # a stored example paper is used
    assert done.stderr == (
        "warning: example paper 2401.00001 is unknown for now: scored without it\n"
    )  # and, --offline, the unknown one is not fetched


def test_json(stored: Bot, draft: Path) -> None:
    done = stored.run("preview", str(draft), "--since", DAY, "--format", "json", "--offline")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert list(doc) == ["profile", "min_score", "votes", "days"]
    assert (doc["profile"], doc["min_score"]) == ("Retrieval draft", 0.85)
    assert doc["votes"] == {"up": 0, "down": 0}
    [day] = doc["days"]
    assert list(day) == ["day", "sent", "under"] and day["day"] == DAY
    assert [list(p) for p in day["sent"]] == [["id", "title", "score", "reasons", "voted"]] * 2
    assert all(p["voted"] is None for p in day["sent"] + day["under"])  # no votes yet
    assert all(p["score"] >= 0.85 and p["reasons"] for p in day["sent"])
    assert [(p["id"], p["held_back"]) for p in day["under"]] == [
        (BM25_ID, "excluded: scaling study"),
        ("2607.27652", "over max_per_digest"),
        ("2607.28374", "below min_score"),
    ]
    assert all(
        list(p) == ["id", "title", "score", "reasons", "voted", "held_back"] for p in day["under"]
    )
    assert day["under"][0]["title"].startswith("BM25 Wins at Scale")


def test_window_without_papers_is_not_an_error(stored: Bot) -> None:
    done = stored.run("preview", "spec", "--since", "2026-08-01", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["days"] == []
    text = stored.run("preview", "spec", "--since", "2026-08-01")
    assert text.returncode == 0 and "no stored papers in this window" in text.stdout


def test_missing_state_exits_1(tmp_path: Path) -> None:
    with make_bot(tmp_path) as bot:
        bot.profile("spec.yaml", SPEC_PROFILE)
        done = bot.run("preview", "spec")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: no state file at {bot.state}: no papers are stored yet",
        "  hint: run `digestbot once` first (or check `state:` in bot.yaml)",
    ]
    assert not bot.state.exists()


def test_broken_or_unknown_profile_exits_2(stored: Bot) -> None:
    broken = stored.root / "broken.yaml"
    broken.write_text("name: Broken\ndescription: x\nmin_score: high\n", encoding="utf-8")
    done = stored.run("preview", str(broken))
    assert done.returncode == 2
    [line] = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert line.startswith(f"error: {broken}:3: min_score: Input should be a valid number")
    assert "Traceback" not in done.stderr

    unknown = stored.run("preview", "nope")
    assert unknown.returncode == 2
    assert "error: nope: no profile 'nope' in " in unknown.stderr
    assert "hint: installed profiles: spec" in unknown.stderr


def test_since() -> None:
    today = date(2026, 7, 31)
    assert parse_since("14d", "UTC", today) == (date(2026, 7, 18), today)
    assert parse_since("1d", "UTC", today) == (today, today)
    assert parse_since("3w", "UTC", today) == (date(2026, 7, 11), today)
    assert parse_since("2026-07-01", "UTC", today) == (date(2026, 7, 1), today)
    for bad in ("soon", "0d", "2026-08-01", "14"):
        with pytest.raises(ConfigError):
            parse_since(bad, "UTC", today)


# --------------------------------------------------------------------------- example papers

# Its examples are not among the stored papers: 1707.08567 is on arXiv, 0808.05394 does not
# exist. The recorded arXiv answer to exactly this `id_list` (tests/fixtures/SOURCES.md) has
# the one that exists.
LIKE = """\
name: Like the workshop
description: Information theory and communication.
papers: ["0808.05394", "1707.08567"]
min_score: 0.9
"""
TWO_IDS = (
    FIXTURES / "arxiv_api_recorded-2026-04_id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.http.json"
)


def arxiv_api() -> FixtureServer:
    """A loopback arXiv API answering the recorded `id_list=0808.05394,1707.08567` query."""
    recording = json.loads(TWO_IDS.read_text(encoding="utf-8"))
    api = FixtureServer()
    api.add(
        "/api/query",
        recording["body"].encode("latin-1"),  # the exact bytes (stored as latin-1 text)
        status=recording["status_code"],
        query={"id_list": "0808.05394,1707.08567"},
    )
    return api


def test_example_papers_outside_the_state_are_asked_of_the_arxiv_api(tmp_path: Path) -> None:
    with arxiv_api() as api, make_bot(tmp_path, f"arxiv_api:\n  base_url: {api.base_url}\n") as bot:
        bot.hf.serve_hf_day(DAY, FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
        assert bot.run("once", "--date", DAY).returncode == 0  # no profile: papers stored only
        assert api.requests == []
        like = tmp_path / "like.yaml"
        like.write_text(LIKE, encoding="utf-8")
        mtime = bot.state.stat().st_mtime_ns

        online = bot.run("preview", str(like), "--since", DAY, "--format", "json")
        offline = bot.run("preview", str(like), "--since", DAY, "--format", "json", "--offline")

    assert online.returncode == 0, online.stderr
    assert [r.query["id_list"] for r in api.requests] == ["0808.05394,1707.08567"]  # once
    assert (
        online.stderr == "warning: example paper 0808.05394 is unknown for now: scored without it\n"
    )
    assert offline.stderr.splitlines() == [
        f"warning: example paper {pid} is unknown for now: scored without it"
        for pid in ("0808.05394", "1707.08567")
    ]
    assert bot.state.stat().st_mtime_ns == mtime  # nothing cached: the state stays untouched

    # The example's abstract shapes the profile: other papers rank first, and words only it
    # has (not the description) show among the reasons.
    def listed(result: subprocess.CompletedProcess[str]) -> tuple[list[str], set[str]]:
        [day] = json.loads(result.stdout)["days"]
        papers = day["sent"] + day["under"]
        words = {w for p in papers for r in p["reasons"] for w in re.findall(r"[a-z]+", r)}
        return [p["id"] for p in papers], words

    example_only = set(re.findall(r"[a-z]+", recorded_abstract().lower())) - set(
        re.findall(r"[a-z]+", "information theory and communication terms")
    )
    (online_ids, online_words), (offline_ids, offline_words) = listed(online), listed(offline)
    assert online_ids != offline_ids
    assert online_words & example_only
    assert not offline_words & example_only


def recorded_abstract() -> str:
    """The abstract of 1707.08567 in the recorded answer, read without bot code."""
    body = json.loads(TWO_IDS.read_text(encoding="utf-8"))["body"]
    return body.split("<summary>", 1)[1].split("</summary>", 1)[0]
