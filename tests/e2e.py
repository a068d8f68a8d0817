"""The end-to-end harness: a config folder wired to loopback servers, and the real CLI.

`Bot` writes a bot.yaml pointing the sources at a FixtureServer and Slack at a SlackStandIn,
and runs `python -m bot ...` in a subprocess on it, so exit codes, output and the state file
are exactly what a user gets. The `bot` fixture (tests/conftest.py) builds one per test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.fixture_server import FixtureServer
from tests.slack_standin import SlackStandIn

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "xoxb-e2e-0123456789-SECRET"
SPEC_ID = "2607.26627"  # "Revisiting Lossy Verification in Speculative Decoding..."
BM25_ID = "2607.26497"  # "BM25 Wins at Scale: ..."
# A profile written for one paper of the recorded 2026-07-31 HF day: SPEC_ID.
SPEC_PROFILE = """\
name: Speculative decoding
description: Faster LLM inference by drafting tokens and verifying them with the target model.
keywords: [speculative decoding, draft model, lossy verification]
min_score: 0.95  # a percentile: better than 95% of the recent papers
notify:
  slack: "#papers-spec"
"""
CHANNELS = {"#papers-spec": "C0SPEC", "#papers-rag": "C0RAG", "#ops": "C0OPS"}


@dataclass
class Bot:
    """A config folder wired to the loopback servers, and a way to run the CLI on it."""

    root: Path
    hf: FixtureServer
    slack: SlackStandIn
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.root / "config" / "bot.yaml"

    @property
    def state(self) -> Path:
        return self.root / "data" / "state.sqlite3"

    def profile(self, name: str, text: str) -> Path:
        path = self.root / "config" / "profiles" / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args, "--config", str(self.config)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def write_config(root: Path, hf_url: str, slack_url: str, extra: str = "") -> None:
    (root / "config" / "profiles").mkdir(parents=True)
    (root / "config" / "bot.yaml").write_text(
        textwrap.dedent(f"""\
        timezone: Europe/Berlin
        state: ../data/state.sqlite3
        profiles: profiles/
        sources:
          - kind: hf_daily
            schedule: "0 9 * * mon-fri"
            base_url: {hf_url}
            lookback_days: 0  # one recorded day is served; the day before would be empty
        slack:
          token_env: SLACK_BOT_TOKEN
          base_url: {slack_url}
          max_retries: 1
        http:
          timeout: 5
          retries: 2
          backoff: 0.05
          allow_private: true  # the loopback servers
        """)
        + textwrap.dedent(extra),
        encoding="utf-8",
    )


@contextmanager
def make_bot(root: Path, extra_config: str = "") -> Iterator[Bot]:
    """A Bot in `root`; `extra_config` is appended to its bot.yaml."""
    with FixtureServer() as hf, SlackStandIn(token=TOKEN, channels=CHANNELS) as slack:
        write_config(root, hf.base_url, slack.base_url, extra_config)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK", "DIGESTBOT"))}
        env["SLACK_BOT_TOKEN"] = TOKEN
        yield Bot(root, hf, slack, env)


def posted_ids(slack: SlackStandIn, channel: str) -> list[str]:
    """arXiv ids linked from the paper sections of every message posted to `channel`."""
    ids = []
    for post in slack.messages_in(channel):
        for block in post.blocks:
            text = block.get("text", {}).get("text", "") if block.get("type") == "section" else ""
            if text.startswith("*<https://arxiv.org/abs/"):
                ids.append(text.split("/abs/", 1)[1].split("|", 1)[0])
    return ids
