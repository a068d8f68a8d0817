"""`digestbot init` and `digestbot profile new`, through the real CLI: init writes exactly the
shipped config (so the two cannot drift), a fresh folder checks clean and runs a dry run against
the loopback HF server from that folder, nothing is overwritten without --force, and a scaffolded
profile passes `check` as written and shows up in `preview`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.config import load_profile
from bot.onboarding import STARTER_FILES, new_profile_text, slugify
from tests.conftest import FIXTURES, ROOT
from tests.e2e import SPEC_ID, Bot
from tests.fixture_server import FixtureServer
from tests.web_harness import free_port, wait_for

DAY = "2026-07-31"
HF_0731 = FIXTURES / "hf_daily_papers_2026-07-31_30items.json"


def digestbot_env() -> dict[str, str]:
    """The environment of a user's shell: no Slack token, no digestbot variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK", "DIGESTBOT"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def digestbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: from `cwd`, no --config, no Slack token in the environment."""
    env = digestbot_env()
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_init_writes_the_shipped_config_and_says_what_next(tmp_path: Path) -> None:
    result = digestbot("init", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    for name in STARTER_FILES:  # byte for byte: the template and config/ cannot drift apart
        assert (tmp_path / "digestbot" / name).read_bytes() == (ROOT / name).read_bytes()
    assert result.stdout.splitlines() == [
        "wrote digestbot/config/bot.yaml",
        "wrote digestbot/config/profiles/normalization.yaml",
        "next steps:",
        "  1. cd digestbot",
        "  2. edit config/profiles/normalization.yaml: your interests, in the words of papers "
        '(or add another: digestbot profile new "My topic")',
        "  3. digestbot check                  validates the files",
        "  4. digestbot once --dry-run         fetches today's papers, prints what would be sent",
        "  5. then connect Slack or email (README), `digestbot check --live`, and `digestbot run`",
    ]


def test_an_initialised_folder_checks_and_runs_a_dry_run(
    tmp_path: Path, fixture_server: FixtureServer
) -> None:
    assert digestbot("init", "mybot", cwd=tmp_path).returncode == 0
    folder = tmp_path / "mybot"
    config = folder / "config" / "bot.yaml"
    # The written config, pointed at the loopback server; one recorded day is served, so no
    # look-back (the day before would be unexpectedly empty).
    text = config.read_text(encoding="utf-8")
    text = text.replace("https://huggingface.co", fixture_server.base_url)
    text = text.replace("# lookback_days: 1 ", "lookback_days: 0 ")
    text = text.replace("# allow_private: false", "allow_private: true ")  # the loopback server
    config.write_text(text, encoding="utf-8")
    fixture_server.serve_hf_day(DAY, HF_0731)

    checked = digestbot("check", cwd=folder)  # the default --config, config/bot.yaml, is there
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines() == [
        "config/bot.yaml: ok (sources: hf_daily; time zone UTC)",
        "http.contact: still the placeholder you@example.org: put your email or a project URL "
        "there so that source operators can reach you (until then the User-Agent names no one)",
        "slack: not usable (SLACK_BOT_TOKEN is not set): digests go to the console",
        "profile normalization: ok ('Normalization in transformers' -> slack:#papers-norm)",
    ]

    dry = digestbot("once", "--dry-run", "--date", DAY, cwd=folder)
    assert dry.returncode == 0, dry.stderr
    [agent] = {r.headers["user-agent"] for r in fixture_server.requests}
    assert agent.startswith("digestbot/") and " " not in agent  # the placeholder is not sent
    assert f"Normalization in transformers — {DAY}" in dry.stdout
    assert "out of 30" in dry.stdout
    assert [r.query["date"] for r in fixture_server.requests_to("/api/daily_papers")] == [DAY]
    assert not (folder / "data").exists()  # a dry run writes nothing

    real = digestbot("once", "--date", DAY, cwd=folder)
    assert real.returncode == 0, real.stderr
    assert (folder / "data" / "digestbot.sqlite3").is_file()  # `state:` resolves inside DIR

    # After that one run, `digestbot web` on the same shipped config serves the three pages: the
    # day's digest (with its vote buttons), search, and the profile editor.
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "bot", "web", "--listen", f"127.0.0.1:{port}"],
        cwd=folder,
        env=digestbot_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        digests = wait_for(f"http://127.0.0.1:{port}/digests", web)
        editor = httpx.get(f"http://127.0.0.1:{port}/profiles/normalization", timeout=10)
        search = httpx.get(f"http://127.0.0.1:{port}/search?q=normalization", timeout=10)
    finally:
        web.send_signal(signal.SIGTERM)
        _, err = web.communicate(timeout=30)
    assert web.returncode == 0, err
    assert digests.status_code == 200 and "Normalization in transformers" in digests.text
    # Nothing passed min_score that day (matches=0): the page shows what came closest, votable.
    assert DAY in digests.text and "Just under the threshold" in digests.text
    assert 'action="/vote"' in digests.text
    assert editor.status_code == 200 and "<textarea" in editor.text
    assert "Normalization in transformers" in editor.text  # the profile's own YAML
    assert search.status_code == 200


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    assert digestbot("init", "bot", cwd=tmp_path).returncode == 0
    profile = tmp_path / "bot" / "config" / "profiles" / "normalization.yaml"
    profile.write_text("name: Mine\nkeywords: [x]\n", encoding="utf-8")

    refused = digestbot("init", "bot", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "error: bot/config/bot.yaml already exists: nothing was written",
        "error: bot/config/profiles/normalization.yaml already exists: nothing was written",
        "  hint: edit it, choose another DIR, or pass --force to overwrite",
    ]
    assert profile.read_text(encoding="utf-8") == "name: Mine\nkeywords: [x]\n"

    forced = digestbot("init", "bot", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert profile.read_bytes() == (ROOT / "config/profiles/normalization.yaml").read_bytes()


def test_profile_new_passes_check_and_shows_up_in_preview(bot: Bot) -> None:
    bot.hf.serve_hf_day(DAY, HF_0731)
    assert bot.run("once", "--date", DAY).returncode == 0  # stores the day's papers

    made = bot.run("profile", "new", "Speculative decoding")
    path = bot.root / "config" / "profiles" / "speculative-decoding.yaml"
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines() == [
        f"wrote {path} (profile id speculative-decoding)",
        "next: describe your interest in its description and keywords, then `digestbot check` "
        "and `digestbot preview speculative-decoding`",
    ]

    checked = bot.run("check")
    assert checked.returncode == 0, checked.stderr
    assert "profile speculative-decoding: ok ('Speculative decoding' -> console)" in checked.stdout

    preview = bot.run("preview", "speculative-decoding", "--since", DAY)
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.startswith(
        "preview of speculative-decoding (Speculative decoding): min_score 0.98"
    )
    assert f"  {SPEC_ID}  Revisiting Lossy Verification" in preview.stdout  # a 0.xx score first

    again = bot.run("profile", "new", "Speculative  Decoding!")  # the same file name
    assert again.returncode == 2
    assert f"error: {path} already exists: not overwritten" in again.stderr


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Speculative decoding", "speculative-decoding"),
        ("Retrieval-augmented generation (RAG)", "retrieval-augmented-generation-rag"),
        ("Zürich NLP: état de l'art", "zurich-nlp-etat-de-l-art"),
        ("  --GPU kernels--  ", "gpu-kernels"),
        ("???", ""),
        ("量子", ""),
        ("a" * 59 + " b" * 5, "a" * 59),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


@pytest.mark.parametrize(
    "title",
    ["Speculative decoding", 'Quotes " and: colons # and \\ backslashes', "  Spaced\n out  "],
)
def test_new_profile_loads_with_its_title(tmp_path: Path, title: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(new_profile_text(title), encoding="utf-8")
    profile = load_profile(path)
    folded = " ".join(title.split())
    assert (profile.name, profile.description, profile.keywords) == (folded, folded, ())
    assert profile.destinations == ()


def test_each_optional_line_of_the_shipped_profile_passes_check_uncommented(bot: Bot) -> None:
    """The template's commented examples (`# papers: [...]`, `# authors: [...]`...) are meant to
    be uncommented as they are: each one, uncommented, still passes `check`. One profile file
    per line, all checked by one `check` (it checks every file of the folder, naming any that
    fails)."""
    template = (ROOT / "config/profiles/normalization.yaml").read_text(encoding="utf-8")
    lines = template.splitlines(keepends=True)
    optional = [i for i, line in enumerate(lines) if re.match(r"# [a-z_]+: ", line)]
    assert len(optional) == 6  # papers, not_like, authors, categories, category_boost, upvotes
    for n, i in enumerate(optional):
        uncommented = [*lines[:i], lines[i].removeprefix("# "), *lines[i + 1 :]]
        bot.profile(f"optional-{n}.yaml", "".join(uncommented))
    checked = bot.run("check")
    assert checked.returncode == 0, checked.stderr
    for n in range(len(optional)):  # each file was read and passed
        assert f"profile optional-{n}: ok (" in checked.stdout
