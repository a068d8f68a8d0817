"""Start-up stays light: the real CLI imports only what the command it runs needs. Every CLI
process (and the suite starts hundreds) paid for scikit-learn's import, over a second, for the
text analyzer alone; the web server, PostgreSQL's driver and the browser are for some commands
only. Python's own import log (PYTHONPROFILEIMPORTTIME) tells what a real run imported."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import FIXTURES
from tests.e2e import ROOT, SPEC_ID, SPEC_PROFILE, Bot, posted_ids

# Modules a scoring run on SQLite delivering to Slack, for profiles without a `library:`, has
# no use for (top-level packages): the web server, PostgreSQL's driver, the browser, the email
# templates, the BibTeX parser.
NOT_FOR_A_RUN = {
    "sklearn",
    "starlette",
    "uvicorn",
    "psycopg",
    "psycopg_pool",
    "playwright",
    "jinja2",
    "bibtexparser",
    "pylatexenc",
}
# ... and reading the state (`status`) needs no vectors either.
NOT_FOR_STATUS = NOT_FOR_A_RUN | {"numpy", "scipy"}
NOT_FOR_HELP = NOT_FOR_STATUS | {"httpx", "slack_sdk", "pydantic"}


def imported(stderr: str) -> set[str]:
    """The top-level packages named in an import-time log."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                names.add(name.split(".", 1)[0])
    return names


def test_a_scoring_run_and_status_import_only_what_they_need(bot: Bot) -> None:
    bot.hf.serve_hf_day("2026-07-31", FIXTURES / "hf_daily_papers_2026-07-31_30items.json")
    bot.profile("spec.yaml", SPEC_PROFILE)
    bot.env["PYTHONPROFILEIMPORTTIME"] = "1"
    result = bot.run("once", "--date", "2026-07-31")
    assert result.returncode == 0, result.stderr[-2000:]
    assert posted_ids(bot.slack, "#papers-spec") == [SPEC_ID]  # it really scored and delivered
    modules = imported(result.stderr)
    assert {"numpy", "scipy", "slack_sdk"} <= modules  # the log is read right
    assert modules & NOT_FOR_A_RUN == set()

    status = bot.run("status")
    assert status.returncode == 0, status.stderr[-2000:]
    assert "slack_sdk" in imported(status.stderr)
    assert imported(status.stderr) & NOT_FOR_STATUS == set()


def test_help_imports_none_of_the_heavy_libraries() -> None:
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    modules = imported(result.stderr)
    assert "click" in modules
    assert modules & NOT_FOR_HELP == set()


def test_numpy_computes_on_one_blas_thread_unless_the_operator_says_otherwise() -> None:
    """Scoring's many small dense vectors are faster on one BLAS thread than with a pool to
    wake (bot/__init__.py); a thread count the operator set is kept."""
    probe = (
        "import bot.relevance.scoring, threadpoolctl; "
        "print(max(p['num_threads'] for p in threadpoolctl.threadpool_info()))"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    one = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert one.returncode == 0, one.stderr
    assert one.stdout.strip() == "1"
    two = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, "OPENBLAS_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
    )
    assert two.stdout.strip() == "2", two.stderr
