"""`digestbot feedback`, `digestbot profile learned`, and votes in `preview` and `status`: the real
CLI in a subprocess on a state written by a real `once` run over the recorded Hugging Face day of
2026-07-31 (tests/e2e.py), the arXiv API a loopback server answering with a recorded payload.

What these prove: votes are taken in every id form a profile's `papers:` accepts (a `-ID` with a
version is a vote, not `-v`), as `cli:<login name>` on today's day in the bot's time zone; `~ID`
withdraws every voter's vote on the paper for that profile only; a paper outside the state is
looked up once on arXiv and cached; an unknown paper, profile or token exits 2 and records
nothing; `--list`, `--export` (exact JSON lines, sorted) and `status` show the votes; an
unwritable export exits 1; `profile learned` prints paste-able lines and `--write` merges them
keeping the file's comments, order and quoting (a broken file is refused, an unwritable one left
whole); and, end to end, a vote moves the next ranking the way it was cast.
"""

from __future__ import annotations

import json
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.relevance.votes import Vote
from bot.state.store import Store
from tests.e2e import BM25_ID, ROOT, SPEC_ID, SPEC_PROFILE, Bot, make_bot
from tests.fixture_server import FIXTURES, FixtureServer
from tests.test_preview import TWO_IDS, arxiv_api

DAY = "2026-07-31"
HF_DAY = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"
RAG_PROFILE = """\
name: RAG
description: Retrieval-augmented generation and sparse retrieval.
keywords: [retrieval augmented generation, BM25]
"""
# Titles as recorded (read from the fixture without bot code).
TITLES = {
    p["paper"]["id"]: p["paper"]["title"] for p in json.loads(HF_DAY.read_text(encoding="utf-8"))
}


def today() -> date:
    return datetime.now(ZoneInfo("Europe/Berlin")).date()  # the harness' `timezone`


@pytest.fixture(scope="module")
def recorded_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state file holding the 30 papers of 2026-07-31, written by a real `once` run."""
    root = tmp_path_factory.mktemp("recorded")
    with make_bot(root) as bot:
        bot.hf.serve_hf_day(DAY, HF_DAY)
        done = bot.run("once", "--date", DAY)  # no profile: the papers are stored only
        assert done.returncode == 0, done.stderr
    store = Store.open(bot.state)  # folds the WAL into the file, which is then copied
    store.close()
    return bot.state


@pytest.fixture
def voting(tmp_path: Path, recorded_state: Path) -> Iterator[Bot]:
    """A bot with profiles `spec` and `rag`, its state a copy of `recorded_state`."""
    with make_bot(tmp_path) as bot:
        bot.profile("spec.yaml", SPEC_PROFILE)
        bot.profile("rag.yaml", RAG_PROFILE)
        bot.state.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(recorded_state, bot.state)
        bot.env["LOGNAME"] = "alice"  # getpass.getuser() reads it first
        yield bot


def votes_in(bot: Bot) -> list[tuple[str, str, int, str, str]]:
    store = Store.open_readonly(bot.state)
    try:
        return sorted(
            (v.profile_id, v.paper_id, v.value, v.voter, v.origin) for v in store.votes.all()
        )
    finally:
        store.close()


def record(bot: Bot, *votes: Vote) -> None:
    """Votes as another way in (a Slack click) records them."""
    store = Store.open(bot.state)
    try:
        for vote in votes:
            store.votes.record(vote)
    finally:
        store.close()


# --------------------------------------------------------------------------- feedback


def test_votes_in_every_id_form_are_recorded_listed_and_counted(voting: Bot) -> None:
    done = voting.run(
        "feedback", "spec",
        f"+{SPEC_ID}v2",  # versioned
        f"-arXiv:{BM25_ID}",
        "+https://arxiv.org/abs/2607.27230",
        "-https://arxiv.org/pdf/2607.28410v1",
        "-2607.28074v2",  # would be -2 -6 ... -v (--verbose) to a plain option parser
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    day = today()
    lines = done.stdout.splitlines()
    assert lines[:5] == [
        f"+1 {SPEC_ID} 'Revisiting Lossy Verification in Speculative Decoding: Mech…' for spec",
        f"-1 {BM25_ID} 'BM25 Wins at Scale: A Scaling Study of Retrieval-Augmented…' for spec",
        "+1 2607.27230 'Multi-Head Attention Residuals' for spec",
        "-1 2607.28410 'Can Large Language Models Execute Parent Orders?' for spec",
        "-1 2607.28074 'Echoverse: Deep, Evolving Environments for Training Compute…' for spec",
    ]
    assert lines[5] == (
        f"5 vote(s) recorded as cli:alice on {day} (0 unchanged), 0 withdrawn; spec now has "
        "2 👍 and 3 👎 (they count from the next run on)"
    )
    assert done.stderr == ""  # not --verbose
    assert votes_in(voting) == sorted(
        ("spec", pid, value, "cli:alice", "cli")
        for pid, value in [
            (SPEC_ID, 1), (BM25_ID, -1), ("2607.27230", 1), ("2607.28410", -1), ("2607.28074", -1),
        ]
    )  # fmt: skip
    store = Store.open_readonly(voting.state)
    assert {v.day for v in store.votes.all()} == {day}
    store.close()

    again = voting.run("feedback", "spec", f"+{SPEC_ID}", f"+{BM25_ID}")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[:2] == [
        f"+1 {SPEC_ID} 'Revisiting Lossy Verification in Speculative Decoding: Mech…' for spec"
        " (already so: unchanged)",
        f"+1 {BM25_ID} 'BM25 Wins at Scale: A Scaling Study of Retrieval-Augmented…' for spec",
    ]
    assert "1 vote(s) recorded as cli:alice" in again.stdout and "(1 unchanged)" in again.stdout

    listed = voting.run("feedback", "spec", "--list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == "votes for spec (oldest first):"
    assert (
        f"  +1  2607.27230  'Multi-Head Attention Residuals'  by cli:alice via cli on {day}"
        in listed.stdout.splitlines()
    )
    assert listed.stdout.splitlines()[-1] == (
        "5 vote(s): 3 👍, 2 👎 from 1 voter(s); net: 3 paper(s) liked, 2 disliked"
    )
    status = voting.run("status")
    assert "votes for spec: 3 👍, 2 👎\n" in status.stdout
    assert "votes for rag" not in status.stdout


def test_withdraw_forgets_the_paper_for_every_voter_of_that_profile(voting: Bot) -> None:
    day = date(2026, 7, 31)
    record(
        voting,
        Vote("spec", SPEC_ID, 1, "slack:U1", "slack", day),
        Vote("spec", SPEC_ID, -1, "slack:U2", "slack", day),
        Vote("rag", SPEC_ID, -1, "slack:U1", "slack", day),
        Vote("spec", BM25_ID, -1, "slack:U1", "slack", day),
    )
    done = voting.run("feedback", "spec", f"+{SPEC_ID}", f"~{SPEC_ID}", "~2607.27230")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [  # the last mention of a paper counts
        f"~  {SPEC_ID} 'Revisiting Lossy Verification in Speculative Decoding: Mech…': "
        "2 vote(s) withdrawn for spec",
        "~  2607.27230 'Multi-Head Attention Residuals': no vote on it for spec",
    ]
    assert votes_in(voting) == [
        ("rag", SPEC_ID, -1, "slack:U1", "slack"),  # another profile's vote stays
        ("spec", BM25_ID, -1, "slack:U1", "slack"),
    ]


def test_unknown_profile_exits_2_naming_the_known_ones(voting: Bot) -> None:
    for args in (["nope", f"+{SPEC_ID}"], ["nope", "--list"], ["nope", "--export", "-"]):
        done = voting.run("feedback", *args)
        assert done.returncode == 2, args
        assert done.stderr.splitlines() == [
            f"error: no profile 'nope' in {voting.root / 'config' / 'profiles'}: "
            "nothing was recorded",
            "  hint: known profiles: rag, spec",
        ], args
    learned = voting.run("profile", "learned", "nope")
    assert learned.returncode == 2 and "hint: known profiles: rag, spec" in learned.stderr
    assert votes_in(voting) == []


@pytest.mark.parametrize("token", ["+notanid", "2607.26627", "+2607.266", "*2607.26627"], ids=str)
def test_a_malformed_vote_records_nothing(voting: Bot, token: str) -> None:
    done = voting.run("feedback", "spec", f"+{SPEC_ID}", token)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == f"error: not a vote: {token!r}: nothing was recorded"
    assert "hint: write +ID (more like this), -ID (less like this) or ~ID" in done.stderr
    assert votes_in(voting) == []


def test_an_unknown_paper_records_nothing(voting: Bot) -> None:
    with arxiv_api() as api:  # answers id_list=0808.05394,1707.08567 as recorded: 1707 only
        voting.config.write_text(
            voting.config.read_text(encoding="utf-8") + f"arxiv_api:\n  base_url: {api.base_url}\n",
            encoding="utf-8",
        )
        done = voting.run("feedback", "spec", f"+{SPEC_ID}", "-0808.05394", "+1707.08567")
        offline = voting.run("feedback", "spec", "--offline", f"+{SPEC_ID}", "+1707.08567")
        requests = [r.query["id_list"] for r in api.requests]
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: unknown paper(s) 0808.05394: not found in the state or on arXiv: nothing was "
        "recorded",
        "  hint: check the id(s) (a typo?); a paper must exist on arXiv to be voted on",
    ]
    assert requests == ["0808.05394,1707.08567"]  # once, both ids; --offline asks nothing
    assert offline.returncode == 2
    assert offline.stderr.splitlines()[0] == (
        "error: unknown paper(s) 1707.08567: not found in the state: nothing was recorded"
    )
    assert votes_in(voting) == []
    store = Store.open_readonly(voting.state)
    assert store.corpus.example("1707.08567") is None  # nothing cached either
    store.close()


def test_a_paper_outside_the_state_is_looked_up_once_and_cached(voting: Bot) -> None:
    recording = json.loads(TWO_IDS.read_text(encoding="utf-8"))
    with FixtureServer() as api:
        # The recorded bytes, whatever the query: they hold 1707.08567's entry, as arXiv's
        # answer for that id alone would (the feed's own title names the recorded query).
        api.add("/api/query", recording["body"].encode("latin-1"))
        voting.config.write_text(
            voting.config.read_text(encoding="utf-8") + f"arxiv_api:\n  base_url: {api.base_url}\n",
            encoding="utf-8",
        )
        first = voting.run("feedback", "spec", "+1707.08567")
        second = voting.run("feedback", "rag", "-1707.08567")
        requests = [r.query["id_list"] for r in api.requests]
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == (
        "+1 1707.08567 'Proceedings of Workshop AEW10: Concepts in Information Theo…' for spec"
    )
    assert second.returncode == 0, second.stderr
    assert requests == ["1707.08567"]  # the second command found it in the state's cache
    assert votes_in(voting) == [
        ("rag", "1707.08567", -1, "cli:alice", "cli"),
        ("spec", "1707.08567", 1, "cli:alice", "cli"),
    ]


def test_export_writes_every_vote_as_sorted_json_lines(voting: Bot, tmp_path: Path) -> None:
    record(
        voting,
        Vote("spec", SPEC_ID, 1, "slack:U1", "slack", date(2026, 8, 3)),
        Vote("spec", SPEC_ID, 1, "slack:U2", "slack", date(2026, 8, 3)),
        Vote("rag", BM25_ID, 1, "slack:U1", "slack", date(2026, 8, 3)),
        Vote("spec", BM25_ID, -1, "cli:bob", "cli", date(2026, 7, 31)),
    )
    done = voting.run("feedback", "--export", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f'{{"day": "2026-07-31", "profile": "spec", "id": "{BM25_ID}", "vote": -1}}\n'
        f'{{"day": "2026-08-03", "profile": "rag", "id": "{BM25_ID}", "vote": 1}}\n'
        f'{{"day": "2026-08-03", "profile": "spec", "id": "{SPEC_ID}", "vote": 1}}\n'
        f'{{"day": "2026-08-03", "profile": "spec", "id": "{SPEC_ID}", "vote": 1}}\n'
    )
    target = tmp_path / "votes.jsonl"
    to_file = voting.run("feedback", "spec", "--export", str(target))
    assert to_file.returncode == 0, to_file.stderr
    assert target.read_text(encoding="utf-8").splitlines() == [
        line for line in done.stdout.splitlines() if '"spec"' in line
    ]
    assert to_file.stderr == f"3 vote(s) written to {target}\n"

    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    unwritable = voting.run("feedback", "--export", str(blocked / "votes.jsonl"))
    assert unwritable.returncode == 1
    assert unwritable.stderr.splitlines()[0] == (
        f"error: cannot write {blocked / 'votes.jsonl'}: Not a directory"
    )


# --------------------------------------------------------------------------- profile learned

TEMPLATE = ROOT / "config" / "profiles" / "normalization.yaml"
BLOCK = """\
name: Speculative decoding
# the papers I liked
papers:
  - "2607.26627"   # the lossy one
  - arXiv:2607.28410v2
not_like:
  - '2607.27230'
keywords: [speculative decoding]  # phrases
"""


def test_learned_prints_lines_and_write_merges_into_the_template(voting: Bot) -> None:
    path = voting.profile("norm.yaml", TEMPLATE.read_text(encoding="utf-8"))
    original = path.read_text(encoding="utf-8")
    day = date(2026, 7, 31)
    record(
        voting,
        Vote("norm", SPEC_ID, 1, "slack:U1", "slack", day),
        Vote("norm", "2607.27230", 1, "cli:alice", "cli", day),
        Vote("norm", BM25_ID, -1, "slack:U1", "slack", day),
        Vote("norm", "2607.28410", 1, "slack:U1", "slack", day),  # netted out: not learned
        Vote("norm", "2607.28410", -1, "slack:U2", "slack", day),
    )
    printed = voting.run("profile", "learned", "norm")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines() == [
        f"# votes on norm: 2 liked and 1 disliked paper(s) not in {path};",
        "# put these lines in its place (or run `digestbot profile learned norm --write`):",
        f'papers: ["{SPEC_ID}", "2607.27230"]',
        f"#   {SPEC_ID}: {TITLES[SPEC_ID]}",
        f"#   2607.27230: {TITLES['2607.27230']}",
        f'not_like: ["{BM25_ID}"]',
        f"#   {BM25_ID}: {TITLES[BM25_ID]}",
    ]
    assert path.read_text(encoding="utf-8") == original  # printing writes nothing

    written = voting.run("profile", "learned", "norm", "--write")
    assert written.returncode == 0, written.stderr
    assert path.read_text(encoding="utf-8") == (
        original + f'papers: ["{SPEC_ID}", "2607.27230"]\nnot_like: ["{BM25_ID}"]\n'
    )
    assert written.stdout.splitlines()[-1] == (
        f"{path}: ok (written and checked: 2 example paper(s), 1 counter-example(s)); "
        "the votes stay in the state"
    )
    check = voting.run("check")
    assert check.returncode == 0, check.stderr
    assert len(votes_in(voting)) == 5
    again = voting.run("profile", "learned", "norm", "--write")
    assert again.stdout == f"{path}: nothing to write: it already lists every paper voted on\n"


def test_write_moves_a_paper_voted_against_the_file_keeping_its_style(voting: Bot) -> None:
    path = voting.profile("own.yaml", BLOCK)
    day = date(2026, 7, 31)
    record(
        voting,
        Vote("own", "2607.27230", 1, "slack:U1", "slack", day),  # in not_like: moves
        Vote("own", "2607.28410", -1, "slack:U1", "slack", day),  # in papers (arXiv:..v2)
        Vote("own", SPEC_ID, 1, "slack:U1", "slack", day),  # already listed
    )
    done = voting.run("profile", "learned", "own", "--write")
    assert done.returncode == 0, done.stderr
    assert path.read_text(encoding="utf-8") == (
        "name: Speculative decoding\n"
        "# the papers I liked\n"
        "papers:\n"
        '  - "2607.26627"   # the lossy one\n'
        '  - "2607.27230"\n'
        "not_like:\n"
        '  - "2607.28410"\n'
        "keywords: [speculative decoding]  # phrases\n"
    )


def test_write_refuses_a_broken_file_and_leaves_it_untouched(voting: Bot) -> None:
    text = "name: Broken\ndescription: x\nmin_score: high\n"
    path = voting.profile("broken.yaml", text)
    record(voting, Vote("broken", SPEC_ID, 1, "slack:U1", "slack", date(2026, 7, 31)))
    for args in ([], ["--write"]):
        done = voting.run("profile", "learned", "broken", *args)
        assert done.returncode == 2
        assert done.stderr.splitlines()[0].startswith(
            f"error: {path}:3: min_score: Input should be a valid number"
        )
    assert path.read_text(encoding="utf-8") == text


def test_write_that_cannot_be_written_leaves_the_file_whole(voting: Bot) -> None:
    path = voting.profile("norm.yaml", TEMPLATE.read_text(encoding="utf-8"))
    original = path.read_bytes()
    record(voting, Vote("norm", SPEC_ID, 1, "slack:U1", "slack", date(2026, 7, 31)))
    # A WAL state needs its -shm file written even to be read: a rollback journal does not.
    db = sqlite3.connect(voting.state)
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()

    def no_file_may_grow() -> None:  # EFBIG on any write: a full disk, in effect
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    done = subprocess.run(
        [sys.executable, "-m", "bot", "profile", "learned", "norm", "--write", "--config",
         str(voting.config)],
        cwd=ROOT, env=voting.env, capture_output=True, text=True, timeout=120, check=False,
        preexec_fn=no_file_may_grow,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"error: cannot write {path}: File too large: the file is unchanged" in (
        done.stderr.splitlines()  # after joblib's warning that it cannot use shared memory
    )
    assert path.read_bytes() == original
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp


# --------------------------------------------------------------------------- end to end

# Everything of the day is listed, best first: no threshold, no cap.
AGENTS = """\
name: LLM agents
description: Agents built on large language models, their memory and their environments.
keywords: [LLM agents, memory]
min_score: 0.0
max_per_digest: 100
"""


NEXT_DAY = "2026-08-03"


def ranking(bot: Bot, day: str = DAY) -> tuple[list[str], dict[str, Any]]:
    """`day`'s papers in preview's order: those it would send, then the best few held back
    (a paper scored 0 is held back)."""
    done = bot.run("preview", "agents", "--since", DAY, "--format", "json", "--offline")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    [listed] = [d for d in doc["days"] if d["day"] == day]
    return [p["id"] for p in listed["sent"] + listed["under"]], doc


def rank(ids: list[str], pid: str) -> int:
    return ids.index(pid) if pid in ids else len(ids)  # not listed: below every listed one


def next_day_copies() -> bytes:
    """DERIVED from the recorded 2026-07-31 day: the same 30 items, each paper under a new id
    (2607.x -> 2608.x) and listed on 2026-08-03, so the next day holds a paper exactly like
    each of the day before's. Nothing else is changed."""
    items = json.loads(HF_DAY.read_text(encoding="utf-8"))
    for item in items:
        item["paper"]["id"] = item["paper"]["id"].replace("2607.", "2608.", 1)
        item["paper"]["submittedOnDailyAt"] = f"{NEXT_DAY}T00:00:00.000Z"
    return json.dumps(items).encode()


def test_a_vote_moves_the_next_ranking_the_way_it_was_cast(tmp_path: Path) -> None:
    # A vote counts for the papers that come after it: the reader likes one paper of a digest
    # and dislikes another; the next day's paper like the liked one rises, the one like the
    # disliked one sinks. (The voted papers' own scores are held out: a paper is never scored
    # by its own vote, relevance/learned.py.)
    with make_bot(tmp_path) as bot:
        bot.hf.serve_hf_day(DAY, HF_DAY)
        bot.profile("agents.yaml", AGENTS)
        assert bot.run("once", "--date", DAY).returncode == 0
        bot.hf.serve_hf_day(NEXT_DAY, next_day_copies())
        assert bot.run("once", "--date", NEXT_DAY).returncode == 0
        before, _ = ranking(bot, NEXT_DAY)
        assert len(before) >= 20
        low, high = before[-3], before[1]  # next day: one near the bottom, one near the top
        liked, disliked = (pid.replace("2608.", "2607.", 1) for pid in (low, high))

        voted = bot.run("feedback", "agents", f"+{liked}", f"-{disliked}")
        assert voted.returncode == 0, voted.stderr
        after, doc = ranking(bot, NEXT_DAY)
        text = bot.run("preview", "agents", "--since", DAY, "--offline")
        status = bot.run("status")

    assert rank(after, low) < rank(before, low)  # like the liked paper: up
    assert rank(after, high) > rank(before, high)  # like the disliked paper: down
    [day] = [d for d in doc["days"] if d["day"] == DAY]
    listed = {p["id"]: p for p in day["sent"] + day["under"]}
    assert listed[liked]["voted"] == 1
    assert disliked not in listed or listed[disliked]["voted"] == -1
    assert {p["id"] for p in listed.values() if p["voted"] is not None} <= {liked, disliked}
    assert doc["votes"] == {"up": 1, "down": 1}
    lines = text.stdout.splitlines()
    assert lines[1] == (
        "votes: 1 👍, 1 👎 (net: 1 paper(s) liked, 1 disliked; `digestbot feedback agents --list`)"
    )
    assert sum("👍 voted" in ln for ln in lines) == 1
    assert any(f"  {liked}  " in ln and "👍 voted" in ln for ln in lines)
    assert all("👎 voted" not in ln for ln in lines if f"  {disliked}  " not in ln)
    assert "votes for agents: 1 👍, 1 👎" in status.stdout


def test_write_keeps_a_four_space_indentation(voting: Bot) -> None:
    text = 'name: Deep\npapers:\n    - "2607.26627"\nnotify:\n    slack: "#papers-spec"\n'
    path = voting.profile("deep.yaml", text)
    record(voting, Vote("deep", BM25_ID, 1, "slack:U1", "slack", date(2026, 7, 31)))
    done = voting.run("profile", "learned", "deep", "--write")
    assert done.returncode == 0, done.stderr
    assert path.read_text(encoding="utf-8") == text.replace(
        '"2607.26627"\n', f'"2607.26627"\n    - "{BM25_ID}"\n'
    )


def test_write_refuses_a_layout_it_cannot_keep(voting: Bot) -> None:
    text = "name: Spaced\nkeywords: [ speculative decoding,  draft model ]\n"
    path = voting.profile("spaced.yaml", text)
    record(voting, Vote("spaced", BM25_ID, 1, "slack:U1", "slack", date(2026, 7, 31)))
    done = voting.run("profile", "learned", "spaced", "--write")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: {path}: cannot merge into this file without changing its layout (spacing, "
        "indentation, line breaks): nothing was written",
        "  hint: run without --write and paste the printed lines yourself",
    ]
    assert path.read_text(encoding="utf-8") == text
    printed = voting.run("profile", "learned", "spaced")  # the lines to paste still print
    assert printed.returncode == 0 and f'papers: ["{BM25_ID}"]' in printed.stdout
