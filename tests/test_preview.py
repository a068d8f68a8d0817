"""`digestbot preview` on a state written by a real `once` run: the real CLI in a subprocess, the
recorded Hugging Face day of 2026-07-31 served on 127.0.0.1 (tests/e2e.py).

What these prove: an installed profile (by id) and a profile file not installed yet are both
previewed from the stored papers, per day, with scores and reasons, and with the best papers not
sent and why; the JSON output has the promised structure; nothing is fetched or written; a
missing state exits 1 with one clear line; a broken profile exits 2 naming file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.preview import parse_since
from tests.e2e import BM25_ID, SPEC_ID, SPEC_PROFILE, Bot, make_bot
from tests.fixture_server import FIXTURES

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
    done = stored.run("preview", str(draft), "--since", "2026-07-25")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "preview of draft (Retrieval draft): min_score 0.85, max_per_digest 2;" in out
    assert f"{DAY}: 2 of 30 papers would be sent" in out
    assert f"  0.97  {BM25_ID}  BM25 Wins at Scale" in out
    assert "[excluded: scaling study]" in out and "[over max_per_digest]" in out
    assert f"like your example paper {BM25_ID}" in out  # a stored example paper is used
    assert done.stderr == (
        "warning: example paper 2401.00001 is unknown for now: scored without it\n"
    )  # and the unknown one is not fetched


def test_json(stored: Bot, draft: Path) -> None:
    done = stored.run("preview", str(draft), "--since", DAY, "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert list(doc) == ["profile", "min_score", "days"]
    assert (doc["profile"], doc["min_score"]) == ("Retrieval draft", 0.85)
    [day] = doc["days"]
    assert list(day) == ["day", "sent", "under"] and day["day"] == DAY
    assert [list(p) for p in day["sent"]] == [["id", "title", "score", "reasons"]] * 2
    assert all(p["score"] >= 0.85 and p["reasons"] for p in day["sent"])
    assert [(p["id"], p["held_back"]) for p in day["under"]] == [
        (BM25_ID, "excluded: scaling study"),
        ("2607.27652", "over max_per_digest"),
        ("2607.28374", "below min_score"),
    ]
    assert all(list(p) == ["id", "title", "score", "reasons", "held_back"] for p in day["under"])
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
