"""`digestbot replay` and the archive reader, on tests/fixtures/archive (real recorded days, see
tests/fixtures/SOURCES.md): four daily-arXiv listings of March 2025 cut to 40 lines (.jsonl.gz and
.jsonl), two recorded Hugging Face API answers (.json) and three arXiv RSS feeds (.xml).

What these prove: every format reads, ids lose their version (non-arXiv ids are kept as given), a
broken line is named by file and line; replay's report has exactly the promised rows; a paper
seen on an earlier day is not scored again; a day's IDF comes only from earlier days (adding a
later day changes nothing, removing an earlier one changes the scores); runs are deterministic,
also with two worker processes; a config without sources works; broken profiles exit 2.
Variants of real files (a corrupted line, a repeated line, a changed id) are made in tmp_path by
the test that needs them.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot import archive
from bot.archive import ArchiveError
from bot.config import load_profiles
from bot.http import Http, HttpSettings
from bot.models import fold_whitespace
from bot.relevance.examples import find_examples
from bot.replay import run_replay, thresholds_for
from bot.state.store import Store
from tests.conftest import FIXTURES, ROOT
from tests.fixture_server import FixtureServer
from tests.test_preview import LIKE, arxiv_api

ARCHIVE = FIXTURES / "archive"
MAR = [date(2025, 3, d) for d in (19, 20, 21, 22)]
ALL_DAYS = [
    *MAR,
    date(2026, 4, 27),
    date(2026, 6, 12),
    date(2026, 7, 31),
    date(2026, 8, 1),
    date(2026, 9, 24),
]
ROW_KEYS = ["day", "profile", "id", "rank", "score", "passed", "reasons"]

PROFILES = {
    "vision.yaml": """\
        name: Vision 3D
        description: >
          3D reconstruction, neural radiance fields, multi-view stereo and point clouds for
          autonomous driving scenes.
        keywords: [3D reconstruction, autonomous driving, point cloud, radiance fields]
        min_score: 0.9
        max_per_digest: 3
        """,
    "llm.yaml": """\
        name: LLM reasoning
        description: Reasoning, uncertainty and calibration of large language models.
        keywords: [large language models, reasoning, uncertainty, calibration]
        min_score: 0.92
        max_per_digest: 10
        """,
    "nlp.yaml": """\
        name: NLP, not medical
        description: Benchmarks and datasets for language understanding.
        keywords: [benchmark, language models, knowledge graph]
        exclude: [cancer, clinical]
        categories: [cs.CL]
        min_score: 0.88
        """,
    "examples.yaml": """\
        name: Like a driving world model
        description: Driving world models.
        papers: ["2503.13587", "2401.00001"]
        min_score: 0.9
        """,
}
# The profiles whose `passed` follows from score, min_score and max_per_digest alone.
PLAIN = {
    "Vision 3D": (0.9, 3),
    "LLM reasoning": (0.92, 10),
    "Like a driving world model": (0.9, 10),
}


def listed_ids(day: date) -> list[str]:
    """The ids of a .jsonl(.gz) day of the archive, read without bot code."""
    path = next(ARCHIVE.glob(f"{day}.jsonl*"))
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
    return [json.loads(line)["id"] for line in text.splitlines() if line.strip()]


def write_profiles(folder: Path, profiles: dict[str, str] = PROFILES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in profiles.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def replay(*args: str, cwd: Path = ROOT, offline: bool = True) -> subprocess.CompletedProcess[str]:
    """`digestbot replay ARGS`; `--offline` (example papers from the archive only) unless the
    test serves the arXiv API on loopback and says so."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK", "DIGESTBOT"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "replay", *args, *(["--offline"] if offline else [])],
        cwd=cwd,
        env={**env, "PYTHONPATH": os.pathsep.join([env["PYTHONPATH"], str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def read_report(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rows_of(rows: list[dict[str, Any]], day: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["day"] == day]


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    return write_profiles(tmp_path / "profiles")


# --------------------------------------------------------------------------- archive


def test_every_format_reads_with_the_file_s_day() -> None:
    read = dict(archive.days(ARCHIVE))
    assert list(read) == ALL_DAYS
    assert {d: len(p) for d, p in read.items()} == dict(
        zip(ALL_DAYS, [40, 40, 40, 40, 3, 30, 30, 0, 4], strict=True)
    )
    for day, papers in read.items():
        assert {p.day for p in papers} <= {day}
    # .jsonl(.gz): every field, line wraps folded
    first = json.loads(
        gzip.decompress((ARCHIVE / "2025-03-19.jsonl.gz").read_bytes()).split(b"\n")[0]
    )
    paper = read[MAR[0]][0]
    assert (paper.id, paper.version, paper.source) == ("2503.13531", None, "archive")
    assert paper.title == fold_whitespace(first["title"])
    assert paper.abstract == fold_whitespace(first["summary"]) and "\n" not in paper.abstract
    assert paper.authors == tuple(first["authors"])
    assert paper.categories == tuple(first["categories"]) == ("cs.CV", "cs.AI", "cs.CY", "cs.LG")
    assert paper.url == "https://arxiv.org/abs/2503.13531"
    assert [p.id for p in read[MAR[1]]] == listed_ids(MAR[1])  # the plain .jsonl day
    # .json: Hugging Face's API answer
    hf = read[date(2026, 7, 31)]
    assert hf[0].id == "2607.23193" and hf[0].source == "hf_daily" and hf[0].extras["upvotes"] > 0
    # .xml: arXiv RSS, every announce type kept, versions split off
    rss = read[date(2026, 9, 24)]
    assert [(p.id, p.version, p.extras["announce_type"]) for p in rss] == [
        ("2609.26811", "v1", "new"),
        ("2609.26820", "v1", "new"),
        ("2205.06398", "v2", "cross"),
        ("2009.13987", "v3", "replace"),
    ]


def test_the_file_name_gives_the_day(tmp_path: Path) -> None:
    shutil.copy(ARCHIVE / "2026-06-12.json", tmp_path / "2026-06-15.json")
    [(day, papers)] = list(archive.days(tmp_path))
    assert day == date(2026, 6, 15) and {p.day for p in papers} == {day}


def test_range_filtering() -> None:
    got = [d for d, _ in archive.days(ARCHIVE, date(2025, 3, 20), date(2026, 6, 12))]
    assert got == [*MAR[1:], date(2026, 4, 27), date(2026, 6, 12)]
    assert [d for d, _ in archive.days(ARCHIVE, date(2026, 9, 1))] == [date(2026, 9, 24)]
    assert list(archive.days(ARCHIVE, date(2027, 1, 1))) == []


def variant(tmp_path: Path, edit: Any) -> Path:
    """2025-03-20.jsonl's first five real lines, changed by `edit(lines)`, as a one-day archive."""
    lines = (ARCHIVE / "2025-03-20.jsonl").read_text(encoding="utf-8").splitlines()[:5]
    folder = tmp_path / "variant"
    folder.mkdir()
    (folder / "2025-03-20.jsonl").write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    return folder


def with_id(line: str, new_id: str) -> str:
    item = json.loads(line)
    item["id"] = new_id
    return json.dumps(item)


def test_versions_are_split_off_and_other_ids_kept_as_given(tmp_path: Path) -> None:
    folder = variant(
        tmp_path,
        lambda ls: [with_id(ls[0], "2503.14603v3"), with_id(ls[1], "W4391234567"), *ls[2:]],
    )
    [(_, papers)] = list(archive.days(folder))
    assert [(p.id, p.version) for p in papers[:3]] == [
        ("2503.14603", "v3"),
        ("W4391234567", None),
        ("2503.14626", None),
    ]
    assert papers[1].url == "https://arxiv.org/abs/2503.14620"  # its own `abs` link stays


def test_blank_lines_are_skipped_and_a_repeated_paper_counts_once(tmp_path: Path) -> None:
    folder = variant(tmp_path, lambda ls: [ls[0], "", "   ", ls[1], ls[0], *ls[2:]])
    [(_, papers)] = list(archive.days(folder))
    assert [p.id for p in papers] == listed_ids(MAR[1])[:5]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ls: [*ls[:2], ls[2][:50], *ls[3:]], ":3: not a JSON object"),
        (lambda ls: [*ls[:3], "[1, 2]", *ls[3:]], ":4: expected a JSON object, found list"),
        (lambda ls: [with_id(ls[0], ""), *ls[1:]], ":1: id: missing"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, edit: Any, message: str) -> None:
    folder = variant(tmp_path, edit)
    with pytest.raises(ArchiveError) as err:
        list(archive.days(folder))
    assert str(err.value).startswith(str(folder / "2025-03-20.jsonl") + message)


def test_unknown_files_are_ignored_with_a_warning_and_a_day_twice_is_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copy(ARCHIVE / "2025-03-20.jsonl", tmp_path / "2025-03-20.jsonl")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.archive"):
        assert [d for d, _ in archive.days(tmp_path)] == [MAR[1]]
    assert [r.getMessage() for r in caplog.records] == [
        f"archive: ignoring {tmp_path / 'notes.txt'} (not a YYYY-MM-DD day file of a known kind)"
    ]
    shutil.copy(ARCHIVE / "2025-03-21.jsonl.gz", tmp_path / "2025-03-20.jsonl.gz")
    with pytest.raises(ArchiveError, match=r"2025-03-20 is given twice: 2025-03-20\.jsonl and"):
        list(archive.days(tmp_path))


# --------------------------------------------------------------------------- replay: the report


def run_report(tmp_path: Path, profiles: Path, *args: str, name: str = "r") -> list[dict[str, Any]]:
    report = tmp_path / f"{name}.jsonl"
    done = replay(
        str(ARCHIVE), "--profiles", str(profiles), "--report", str(report), "--jobs", "1", *args
    )
    assert done.returncode == 0, done.stderr
    return read_report(report)


def test_report_rows(tmp_path: Path, profiles_dir: Path) -> None:
    report = tmp_path / "report.jsonl"
    done = replay(
        str(ARCHIVE), "--from", "2025-03-19", "--to", "2025-03-22", "--profiles",
        str(profiles_dir), "--top", "10", "--report", str(report), "--jobs", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = read_report(report)
    assert all(list(r) == ROW_KEYS for r in rows)
    assert rows == sorted(rows, key=lambda r: (r["day"], r["profile"], r["rank"]))

    new_0322 = set(listed_ids(MAR[3])) - set(listed_ids(MAR[2]))
    assert len(new_0322) == 7  # 33 of its 40 papers were listed the day before
    names = [*sorted(PLAIN), "NLP, not medical"]
    for day, wanted in zip(MAR, [10, 10, 10, 7], strict=True):
        for name in names:
            group = [r for r in rows if r["day"] == str(day) and r["profile"] == name]
            assert [r["rank"] for r in group] == list(range(1, wanted + 1)), (day, name)
            assert [r["score"] for r in group] == sorted((r["score"] for r in group), reverse=True)
            assert all(r["reasons"] for r in group[:3] if r["score"] > 0)
            if name in PLAIN:  # sent: at least min_score, and within the cap, best first
                min_score, cap = PLAIN[name]
                passed = [
                    r["score"] > 0 and r["score"] >= min_score and r["rank"] <= cap for r in group
                ]
                assert [r["passed"] for r in group] == passed, (day, name)
    assert {r["id"] for r in rows_of(rows, "2025-03-22")} == new_0322
    # A paper is scored on the first day it is listed, never again.
    first_day: dict[tuple[str, str], str] = {}
    for r in rows:
        assert first_day.setdefault((r["profile"], r["id"]), r["day"]) == r["day"]
    # Something was sent, something held back, and the example paper shows as a reason.
    assert any(r["passed"] for r in rows) and not all(r["passed"] for r in rows)
    assert any("like your example paper 2503.13587" in r["reasons"] for r in rows)
    assert "2401.00001" in done.stderr  # the example the archive does not have: a warning
    assert "warning: example papers not found in the archive" in done.stderr


def test_idf_comes_from_earlier_days_only(tmp_path: Path, profiles_dir: Path) -> None:
    to_21 = run_report(
        tmp_path, profiles_dir, "--from", "2025-03-19", "--to", "2025-03-21", name="a"
    )
    to_22 = run_report(
        tmp_path, profiles_dir, "--from", "2025-03-19", "--to", "2025-03-22", name="b"
    )
    assert [r for r in to_22 if r["day"] <= "2025-03-21"] == to_21  # later days change nothing
    assert rows_of(to_22, "2025-03-22")

    # Without the earlier day 2025-03-19, the IDF of 2025-03-21 is another: so are its scores.
    fewer = tmp_path / "fewer"
    shutil.copytree(ARCHIVE, fewer)
    (fewer / "2025-03-19.jsonl.gz").unlink()
    report = tmp_path / "fewer.jsonl"
    done = replay(
        str(fewer), "--to", "2025-03-21", "--profiles", str(profiles_dir), "--report",
        str(report), "--jobs", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    before = {(r["profile"], r["id"]): r["score"] for r in rows_of(to_21, "2025-03-21")}
    after = {
        (r["profile"], r["id"]): r["score"] for r in rows_of(read_report(report), "2025-03-21")
    }
    shared = before.keys() & after.keys()
    assert len(shared) > 20
    assert sum(before[k] != after[k] for k in shared) > len(shared) / 2


def test_history_days_feed_the_idf_and_the_seen_set(tmp_path: Path, profiles_dir: Path) -> None:
    full = run_report(tmp_path, profiles_dir, "--to", "2025-03-22", name="full")
    late = tmp_path / "late.jsonl"
    done = replay(
        str(ARCHIVE), "--history-from", "2025-03-19", "--from", "2025-03-21", "--to",
        "2025-03-22", "--profiles", str(profiles_dir), "--report", str(late), "--jobs", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 day(s) scored after 2 day(s) of history" in done.stdout
    assert "papers read: 160 (80 in history days); new papers scored: 47" in done.stdout
    assert read_report(late) == [r for r in full if r["day"] >= "2025-03-21"]

    # Without history, 2025-03-21 is the first day: another IDF (cold start), other scores.
    bare = run_report(
        tmp_path, profiles_dir, "--history-from", "2025-03-21", "--to", "2025-03-22", name="bare"
    )
    assert bare[0]["day"] == "2025-03-21"
    assert rows_of(bare, "2025-03-21") != rows_of(full, "2025-03-21")


def test_deterministic_also_with_two_workers(tmp_path: Path, profiles_dir: Path) -> None:
    args = ["--to", "2025-03-22", "--profiles", str(profiles_dir)]
    outputs = []
    for n, jobs in enumerate(["1", "1", "2"]):
        report = tmp_path / f"{n}.jsonl"
        done = replay(str(ARCHIVE), *args, "--report", str(report), "--jobs", jobs)
        assert done.returncode == 0, done.stderr
        summary = done.stdout.splitlines()
        assert f"{jobs} job(s))" in summary[1]
        outputs.append((report.read_bytes(), [summary[0], *summary[2:]]))
    assert outputs[0] == outputs[1] == outputs[2]
    assert done.stderr.count("warning: example papers not found") == 1  # not once per worker


def test_summary(tmp_path: Path, profiles_dir: Path) -> None:
    done = replay(
        str(ARCHIVE), "--to", "2025-03-22", "--profiles", str(profiles_dir), "--jobs", "1"
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(
        f"replay of {ARCHIVE}: 2025-03-19 .. 2025-03-22, 4 day(s) scored after 0 day(s) "
        "of history\n"
        "papers read: 160 (0 in history days); new papers scored: 127; "
    )
    assert (
        "profile vision (Vision 3D): min_score 0.9, max_per_digest 3\n  alerts per day: 03-19 "
        in out
    )
    assert "  min_score  alerts/day  median  max  days with none\n" in out
    assert out.count("  <- now") == len(PROFILES)
    assert "\x1b[" not in out  # plain text, also without a terminal


def test_threshold_table_agrees_with_the_alerts(profiles_dir: Path) -> None:
    profiles, errors = load_profiles(profiles_dir)
    assert not errors
    result = run_replay(ARCHIVE, profiles, last=MAR[-1])
    assert result.scored_days == MAR
    for tally in result.tallies:
        would = tally.would()
        assert list(would) == thresholds_for(tally.profile)
        assert would[round(tally.profile.min_score, 4)] == tally.alerts
        cap = tally.profile.max_per_digest
        for low, high in zip(would, list(would)[1:], strict=False):  # higher: never more sent
            assert all(a >= b for a, b in zip(would[low], would[high], strict=True))
        assert all(n <= cap for counts in would.values() for n in counts)
    vision = next(t for t in result.tallies if t.profile.id == "vision")
    assert max(vision.would()[0.8]) == 3  # capped by max_per_digest


def test_every_kind_of_day_replays(tmp_path: Path, profiles_dir: Path) -> None:
    rows = run_report(tmp_path, profiles_dir, "--top", "3", name="all")
    assert sorted({r["day"] for r in rows}) == [
        str(d)
        for d in ALL_DAYS
        if d != date(2026, 8, 1)  # the empty Saturday has no rows
    ]
    assert rows_of(rows, "2026-04-27") and len(rows_of(rows, "2026-09-24")) == 4 * 3


# --------------------------------------------------------------------------- replay: config, errors


def test_a_config_without_sources_is_enough(tmp_path: Path) -> None:
    write_profiles(tmp_path / "config" / "profiles")
    config = tmp_path / "config" / "bot.yaml"
    config.write_text("profiles: profiles/\n", encoding="utf-8")
    done = replay(str(ARCHIVE), "--to", "2025-03-20", "--config", str(config), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert "profile llm (LLM reasoning)" in done.stdout


def test_with_profiles_no_config_is_needed(tmp_path: Path, profiles_dir: Path) -> None:
    # cwd has no config/bot.yaml and DIGESTBOT_CONFIG is unset
    done = replay(
        str(ARCHIVE),
        "--to",
        "2025-03-20",
        "--profiles",
        str(profiles_dir),
        "--jobs",
        "1",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    without = replay(str(ARCHIVE), "--to", "2025-03-20", "--jobs", "1", cwd=tmp_path)
    assert without.returncode == 2 and "config/bot.yaml: cannot read" in without.stderr


def test_broken_profiles(tmp_path: Path, profiles_dir: Path) -> None:
    broken = profiles_dir / "broken.yaml"
    broken.write_text("name: Broken\ndescription: x\nmin_score: high\n", encoding="utf-8")
    report = tmp_path / "r.jsonl"
    done = replay(
        str(ARCHIVE), "--to", "2025-03-20", "--profiles", str(profiles_dir), "--report",
        str(report), "--jobs", "1",
    )  # fmt: skip
    assert done.returncode == 2  # the valid profiles were replayed, then exit 2
    assert f"error: {broken}:3: min_score: Input should be a valid number" in done.stderr
    assert "profile llm (LLM reasoning)" in done.stdout
    assert {r["profile"] for r in read_report(report)} == set(PLAIN) | {"NLP, not medical"}

    only = write_profiles(tmp_path / "only", {"broken.yaml": broken.read_text()})
    done = replay(str(ARCHIVE), "--profiles", str(only), "--jobs", "1")
    assert done.returncode == 2 and done.stdout == ""
    assert f"{only / 'broken.yaml'}:3: min_score:" in done.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (
            ["--from", "2025-03-22", "--to", "2025-03-19"],
            2,
            "error: --from 2025-03-22 is after 2025-03-19",
        ),
        (["--from", "2030-01-01"], 1, "no day to replay between 2030-01-01 and the end"),
        (["--top", "0"], 2, "Invalid value for '--top'"),
    ],
)
def test_usage_errors(profiles_dir: Path, args: list[str], code: int, needle: str) -> None:
    done = replay(str(ARCHIVE), "--profiles", str(profiles_dir), *args)
    assert done.returncode == code, done.stderr
    assert needle in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_archive_and_broken_archive(tmp_path: Path, profiles_dir: Path) -> None:
    missing = replay(str(tmp_path / "nowhere"), "--profiles", str(profiles_dir))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    folder = variant(tmp_path, lambda ls: [*ls[:2], ls[2][:50], *ls[3:]])
    shutil.copy(ARCHIVE / "2025-03-19.jsonl.gz", folder)  # two days: two workers
    for jobs in ("1", "2"):
        broken = replay(str(folder), "--profiles", str(profiles_dir), "--jobs", jobs)
        assert broken.returncode == 1
        assert f"error: {folder / '2025-03-20.jsonl'}:3: not a JSON object" in broken.stderr
        assert "hint: each line of a .jsonl day file is one JSON object" in broken.stderr
        assert "Traceback" not in broken.stderr


def test_warnings_are_told_once_also_with_two_workers(tmp_path: Path, profiles_dir: Path) -> None:
    # The recorded HF day with one item's paper removed (a variant made here), an RSS day, a
    # stray file.
    items = json.loads((ARCHIVE / "2026-07-31.json").read_bytes())
    items[3]["paper"] = None
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "2026-07-31.json").write_text(json.dumps(items), encoding="utf-8")
    shutil.copy(ARCHIVE / "2026-09-24.xml", folder)
    (folder / "README").write_text("notes", encoding="utf-8")
    for jobs in ("1", "2"):
        done = replay(str(folder), "--profiles", str(profiles_dir), "--jobs", jobs)
        assert done.returncode == 0, done.stderr
        warnings = [ln.split(":")[1].strip() for ln in done.stderr.splitlines()]
        assert sorted(warnings) == [
            "archive",
            "example papers not found in the archive (scored without them)",
            "hf_daily",
        ], done.stderr
        assert "papers read: 33 (0 in history days)" in done.stdout


# --------------------------------------------------------------------------- example papers


def like_config(folder: Path, api: FixtureServer, profile: str = LIKE) -> Path:
    """A config whose state file does not exist yet and whose arXiv API is `api`."""
    write_profiles(folder / "profiles", {"like.yaml": profile})
    config = folder / "bot.yaml"
    config.write_text(
        f"profiles: profiles/\nstate: state.sqlite3\narxiv_api:\n  base_url: {api.base_url}\n"
        "http:\n  allow_private: true  # the loopback arXiv API\n",
        encoding="utf-8",
    )
    return config


def test_example_papers_outside_the_archive_are_asked_of_the_arxiv_api(tmp_path: Path) -> None:
    reports = {}
    with arxiv_api() as api:
        config = like_config(tmp_path, api)
        for how, offline in (("online", False), ("offline", True)):
            reports[how] = tmp_path / f"{how}.jsonl"
            done = replay(
                str(ARCHIVE), "--config", str(config), "--report", str(reports[how]),
                "--jobs", "2", offline=offline,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            warnings = [ln for ln in done.stderr.splitlines() if ln.startswith("warning:")]
            assert warnings == [
                "warning: example papers not found in the state, on arXiv or in the archive "
                "(scored without them): 0808.05394"
                if how == "online"
                else "warning: example papers not found in the archive (scored without them): "
                "0808.05394, 1707.08567"
            ], done.stderr
        # One request for both ids, by the replay, not by each of its two workers.
        assert [r.query["id_list"] for r in api.requests] == ["0808.05394,1707.08567"]
    online, offline = (read_report(reports[k]) for k in ("online", "offline"))
    assert [r["id"] for r in online] != [r["id"] for r in offline]  # the example shapes it


def test_example_papers_cached_in_the_state_are_not_asked_again(tmp_path: Path) -> None:
    with arxiv_api() as api:
        config = like_config(tmp_path, api, LIKE.replace('"0808.05394", ', ""))
        # A live run's lookup, which caches what arXiv answered in the state file.
        store = Store.open(tmp_path / "state.sqlite3")
        with Http(HttpSettings(allow_private=True)) as http:
            found = find_examples(store, http, api.base_url, ["0808.05394", "1707.08567"])
        store.close()
        assert list(found) == ["1707.08567"] and len(api.requests) == 1

        done = replay(str(ARCHIVE), "--config", str(config), "--jobs", "1", offline=False)
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stderr  # the example was found: in the state's cache
        assert len(api.requests) == 1  # not asked again


# --------------------------------------------------------------------------- replay --feedback

# Votes on the "llm" profile given on 2025-03-20, in the export format of `digestbot feedback`:
# they count from 2025-03-21 on. Both papers are listed on 2025-03-19 (found in the archive).
LIKED, DISLIKED = "2503.13531", "2503.13576"
FEEDBACK = (
    f'{{"day": "2025-03-20", "profile": "llm", "id": "{LIKED}", "vote": 1}}\n'
    f'{{"day": "2025-03-20", "profile": "llm", "id": "{DISLIKED}", "vote": -1}}\n'
    '{"day": "2025-03-20", "profile": "gone", "id": "2503.13587", "vote": 1}\n'
)


def test_feedback_changes_nothing_before_the_first_vote_and_counts_after(
    tmp_path: Path, profiles_dir: Path
) -> None:
    votes = tmp_path / "votes.jsonl"
    votes.write_text(FEEDBACK, encoding="utf-8")
    args = [str(ARCHIVE), "--to", "2025-03-22", "--profiles", str(profiles_dir)]
    plain, voted = tmp_path / "plain.jsonl", tmp_path / "voted.jsonl"
    without = replay(*args, "--report", str(plain), "--jobs", "1")
    with_votes = replay(*args, "--report", str(voted), "--jobs", "2", "--feedback", str(votes))
    assert without.returncode == 0, without.stderr
    assert with_votes.returncode == 0, with_votes.stderr
    before, after = read_report(plain), read_report(voted)
    for day in MAR:
        for name in [*PLAIN, "NLP, not medical"]:
            a = [r for r in before if r["day"] == str(day) and r["profile"] == name]
            b = [r for r in after if r["day"] == str(day) and r["profile"] == name]
            assert a, (day, name)
            if name == "LLM reasoning" and day > date(2025, 3, 20):
                assert a != b, day  # the votes count from the day after they were given
            else:
                assert a == b, (day, name)  # same papers, same scores, same reasons
    out = with_votes.stdout
    assert (
        "feedback: 2 vote(s) on 1 profile(s), each counted from the day after it was given: "
        "2 applied by 2025-03-22\n"
    ) in out
    assert "  votes applied: 2 of 2 (1 👍, 1 👎), the first from 2025-03-21 on\n" in out
    assert "  votes applied: none (0 given, none before 2025-03-22)\n" in out  # other profiles
    assert f"warning: {votes}: votes for profiles not replayed are ignored: gone" in (
        with_votes.stderr
    )
    assert "feedback:" not in without.stdout


GOOD = '{"day": "2025-03-20", "profile": "llm", "id": "2503.13531", "vote": 1}'


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("not json", ":2: not JSON: Expecting value"),
        ("[1]", ":2: Input should be a valid dictionary"),
        (GOOD.replace('"vote": 1', '"vote": 2'), ":2: vote: Input should be 1 or -1, got 2"),
        (GOOD.replace('"vote": 1', '"vote": "1"'), ":2: vote: Input should be 1 or -1, got '1'"),
        (GOOD.replace("2503.13531", "2503.1"), ":2: id: not an arXiv id (like 2401.01234)"),
        (GOOD.replace('"2025-03-20"', '"20 March"'), ":2: day: a day is written YYYY-MM-DD"),
        (GOOD.replace('"2025-03-20"', '"2025-02-30"'), ":2: day: a day is written YYYY-MM-DD"),
        (GOOD.replace('"2025-03-20"', "0"), ":2: day: a day is written YYYY-MM-DD, got 0"),
        (GOOD.replace('"2025-03-20"', '"2025-03-20T00:00"'), ":2: day: a day is written"),
        (GOOD.replace('"vote": 1', '"vote": true'), ":2: vote: a vote is 1 or -1, got True"),
        (GOOD.replace('"day": "2025-03-20", ', ""), ":2: day: required key is missing"),
        (GOOD.replace("}", ', "who": "me"}'), ":2: who: unknown key"),
        (GOOD.replace('"llm"', '""'), ":2: profile: String should have at least 1 character"),
    ],
    ids=lambda v: v if len(v) < 30 else None,
)
def test_a_bad_feedback_line_is_named_by_file_line_and_field(
    tmp_path: Path, line: str, error: str
) -> None:
    from bot.errors import ConfigErrors
    from bot.relevance.feedback import read_export

    path = tmp_path / "votes.jsonl"
    path.write_text(f"{GOOD}\n{line}\n\n", encoding="utf-8")
    with pytest.raises(ConfigErrors) as caught:
        read_export(path)
    [err] = caught.value.errors
    assert str(err).startswith(f"{path}{error}"), str(err)


def test_replay_refuses_a_bad_feedback_file_before_replaying(
    tmp_path: Path, profiles_dir: Path
) -> None:
    votes = tmp_path / "votes.jsonl"
    votes.write_text(GOOD + "\n" + GOOD.replace('"vote": 1', '"vote": 0') + "\n", encoding="utf-8")
    done = replay(str(ARCHIVE), "--profiles", str(profiles_dir), "--feedback", str(votes))
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        f"error: {votes}:2: vote: Input should be 1 or -1, got 0"
    )
    assert done.stdout == ""  # nothing replayed


def test_voted_papers_outside_the_archive_are_asked_of_the_arxiv_api(tmp_path: Path) -> None:
    # The profile names 0808.05394 as its example; the votes like 1707.08567: one request asks
    # for both, as the recorded query did (the example first, then the voted paper).
    votes = tmp_path / "votes.jsonl"
    votes.write_text(
        '{"day": "2025-03-19", "profile": "like", "id": "1707.08567", "vote": 1}\n',
        encoding="utf-8",
    )
    with arxiv_api() as api:
        config = like_config(tmp_path, api, LIKE.replace(', "1707.08567"', ""))
        report = tmp_path / "voted.jsonl"
        done = replay(
            str(ARCHIVE), "--config", str(config), "--to", "2025-03-22", "--report", str(report),
            "--jobs", "1", "--feedback", str(votes), offline=False,
        )  # fmt: skip
        assert [r.query["id_list"] for r in api.requests] == ["0808.05394,1707.08567"]
    assert done.returncode == 0, done.stderr
    assert "1707.08567" not in done.stderr  # found: only the unknown example is warned about
    assert "  votes applied: 1 of 1 (1 👍, 0 👎), the first from 2025-03-20 on\n" in done.stdout
    plain = tmp_path / "plain.jsonl"
    without = replay(
        str(ARCHIVE), "--config", str(config), "--to", "2025-03-22", "--report", str(plain),
        "--jobs", "1",
    )  # fmt: skip
    assert without.returncode == 0, without.stderr
    rows, plain_rows = read_report(report), read_report(plain)
    assert rows_of(rows, "2025-03-19") == rows_of(plain_rows, "2025-03-19")
    assert rows_of(rows, "2025-03-20") != rows_of(plain_rows, "2025-03-20")  # its abstract counts
