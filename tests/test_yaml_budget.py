"""The shape of bot.yaml and profiles: a nested-alias bomb ("billion laughs") is refused with
file and line before anything walks the tree, a recursive alias is refused, an ordinary anchor
or merge key keeps working, and absurd nesting is refused before the parser slows to a crawl.

The bomb tests run the real `digestbot check` in a subprocess: its timeout is a safety net (the
unguarded walk of 9**9 strings runs for minutes), not a timing assertion.
"""

from __future__ import annotations

import io
import random
import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.config import load_profile, load_settings
from bot.errors import ConfigError
from bot.yaml_budget import check_budget, may_break_budget
from tests.conftest import FIXTURES
from tests.e2e import SPEC_ID, SPEC_PROFILE, Bot, posted_ids


def billion_laughs(last: str) -> str:
    """The classic nested-alias bomb: each line an anchored list of nine aliases of the line
    before, the first of nine strings; `last` would expand to 9**9 (387 million) strings, from
    about 330 bytes. Lines: a: is the first, e: the fifth."""
    lines = ["a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append(f"{last}: [" + ",".join(["*h"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_profile_is_refused_with_file_and_line_and_the_others_keep_working(
    bot: Bot,
) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    laughs = "name: Laughs\ndescription: lol\n" + billion_laughs("keywords")
    bomb = bot.profile("laughs.yaml", laughs)
    assert len(bomb.read_bytes()) < 400

    check = bot.run("check", timeout=60)
    assert check.returncode == 2
    assert "profile spec: ok" in check.stdout
    # a: is line 3; the aliases of d (7381 nodes each) on line 6 (e:) pass the budget.
    assert (
        f"error: {bomb}:7: alias *d makes the file expand to more than 10000 nodes"
        " (nested aliases, a 'billion laughs')"
    ) in check.stderr
    assert "hint: write the values out" in check.stderr
    assert "1 error(s) in 1 file(s)" in check.stderr

    # A run (the daemon re-reads the profiles every run) serves the other profiles.
    bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
    run = bot.run("once", "--date", "2026-07-31", timeout=60)
    assert run.returncode == 2  # a profile was skipped
    assert f"profile skipped: {bomb}:7: alias *d" in run.stderr
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]


def test_alias_bomb_in_bot_yaml_is_refused_with_file_and_line(bot: Bot) -> None:
    text = bot.config.read_text(encoding="utf-8")
    bot.config.write_text(text + billion_laughs("laughs"), encoding="utf-8")
    line = len(text.splitlines()) + 5  # e:, the fifth line of the bomb

    check = bot.run("check", timeout=60)
    assert check.returncode == 2
    assert f"error: {bot.config}:{line}: alias *d makes the file expand" in check.stderr
    assert "Traceback" not in check.stderr


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("name: Loop\ndescription: d\nkeywords: &k [a, *k]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert str(caught.value) == (
        f"{path}:3: alias *k is inside the node it names (a structure that contains itself)"
    )


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    (tmp_path / "bot.yaml").write_text(
        textwrap.dedent("""\
        timezone: UTC
        sources:
          - &hf
            kind: hf_daily
            schedule: "0 9 * * mon-fri"
            lookback_days: 2
          - <<: *hf
            name: hf_evening
            schedule: "0 18 * * mon-fri"
        """),
        encoding="utf-8",
    )
    settings = load_settings(tmp_path / "bot.yaml")
    assert [(s.label, s.schedule, s.lookback_days) for s in settings.sources] == [
        ("hf_daily", "0 9 * * mon-fri", 2),
        ("hf_evening", "0 18 * * mon-fri", 2),
    ]
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "name: Shared\ndescription: &topic speculative decoding\nkeywords: [*topic, draft model]\n",
        encoding="utf-8",
    )
    assert load_profile(profile).keywords == ("speculative decoding", "draft model")


def test_absurd_nesting_is_refused_at_its_line(bot: Bot) -> None:
    bot.profile("spec.yaml", SPEC_PROFILE)
    deep = bot.profile(
        "deep.yaml", "name: Deep\ndescription: d\nkeywords: " + "[" * 5000 + "]" * 5000
    )
    check = bot.run("check", timeout=60)
    assert check.returncode == 2
    assert "profile spec: ok" in check.stdout
    assert f"error: {deep}:3: nested more than 50 levels deep" in check.stderr
    assert "Traceback" not in check.stderr


@pytest.mark.parametrize(
    "text",
    [
        "- " * 60 + "x\n",  # compact block sequences, all on one line
        "? " * 60 + "x\n",  # explicit keys, likewise
        "[" * 60 + "]" * 60 + "\n",  # flow sequences
    ],
    ids=["dashes", "question-marks", "brackets"],
)
def test_nesting_on_one_line_is_refused(tmp_path: Path, text: str) -> None:
    """A file of one line (the budget parse is skipped for short alias-free files) that nests
    60 levels deep is still refused at its line."""
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    assert err.value.line == 1
    assert "nested more than 50 levels deep" in str(err.value)


def _random_yaml(rng: random.Random) -> str:
    """A random document: nested lists and mappings (a shared one now and then: an anchor and
    an alias), dumped in block, flow or mixed style; block style nests lists on one line
    ("- - - x") and mappings in lists ("- a: b")."""
    shared: list[object] = []

    def node(depth: int) -> object:
        if shared and rng.random() < 0.3:
            return rng.choice(shared)
        if depth == 0 or rng.random() < 0.25:
            return rng.choice(["x", "y z", 1, None])
        if rng.random() < 0.6:  # one item: a chain that nests on one line ("- - - x")
            made: object = [node(depth - 1) for _ in range(rng.choice([1, 1, 3]))]
        else:
            made = {k: node(depth - 1) for k in rng.sample("abc", rng.randint(1, 2))}
        shared.append(made)
        return made

    yaml = YAML(typ="rt")
    yaml.default_flow_style = rng.choice([False, True, None])
    out = io.StringIO()
    yaml.dump(node(rng.randint(1, 6)), out)
    return out.getvalue()


def test_a_text_whose_budget_parse_is_skipped_can_never_break_a_budget() -> None:
    """`may_break_budget` says False only for texts `check_budget` always passes: 2,000
    random documents, against a small depth (4) and alias budget (3), so that both are often
    broken."""
    rng = random.Random(1729)
    skipped = refused = 0
    for _ in range(2000):
        text = _random_yaml(rng)
        events = list(YAML(typ="rt").parse(io.StringIO(text)))
        try:
            check_budget(events, "t.yaml", budget=3, max_depth=4)
        except ConfigError:
            refused += 1
            assert may_break_budget(text, max_depth=4), text
        if not may_break_budget(text, max_depth=4):
            skipped += 1
    assert skipped > 200 and refused > 200  # both sides were exercised
