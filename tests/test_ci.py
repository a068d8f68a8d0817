"""CI runs the README's test command, and that command sets up everything the whole suite needs
on a fresh machine: Debian's chromium for the browser tests (tests/test_web_browser.py), the
virtualenv with the test extra, then every test."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    lines = quick.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("# 2. set up and run the whole"))
    return next(line for line in lines[at + 1 :] if not line.startswith("#"))


def test_ci_runs_the_readme_test_command() -> None:
    command = readme_test_command()
    assert command == "bash .ci/test"
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in run  # a line of its own, verbatim


def test_the_test_command_installs_chromium_and_runs_every_test() -> None:
    script = (ROOT / ".ci" / "test").read_text(encoding="utf-8")
    assert re.search(r"apt-get install -y -qq chromium\b", script)
    assert script.rstrip().endswith(
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "
        ".venv/bin/python -m compileall -q bot \\\n"
        '    && .venv/bin/pytest -n auto "$@"'
    )
