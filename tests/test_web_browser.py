"""The web page in a real browser: Debian's Chromium driven by Playwright (its own browser
download cannot work here: `executable_path` points at the Debian binary), on the app served on
127.0.0.1 for a state written by real `once` runs (tests/web_harness.py).

Flows: the editor previews a typed keyword (the list and the charts change), shows a YAML error
with its line and clears it once fixed, and saves the text as typed; a 👍 on the digest page is
recorded; an email vote link is confirmed with its button. One browser for the module.

Chromium missing is a failure saying how to install it, never a skip (`.ci/test` installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.state.store import Store
from bot.web.tokens import VoteIntent, sign
from tests.e2e import SPEC_ID, Bot
from tests.web_harness import VOTE_SECRET, Web, served, stored_bot

CHROMIUM_ENV = "DIGESTBOT_CHROMIUM"
# Debian's chromium package: /usr/bin/chromium is a shell wrapper, the browser is this.
CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
TIMEOUT = 15_000  # ms for a preview to come back (a 2-core machine running the suite)

PROFILE = """\
# A profile written in the browser test.
name: Browser test
description: Faster LLM inference by drafting tokens and verifying them with the target model.
min_score: 0.93
keywords:
  - speculative decoding
  - draft model
"""


def chromium() -> str:
    for candidate in (os.environ.get(CHROMIUM_ENV), *CHROMIUM):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    pytest.fail(
        "the browser tests need Debian's Chromium: `apt-get install -y chromium` (as root; "
        f".ci/test does it), or set ${CHROMIUM_ENV} to a Chromium binary",
        pytrace=False,
    )


expect.set_options(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium()
    with sync_playwright() as pw:
        # No name resolves but loopback's: the browser cannot leave the machine either.
        found = pw.chromium.launch(
            executable_path=path,
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        try:
            yield found
        finally:
            found.close()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    with stored_bot(tmp_path_factory.mktemp("browser")) as bot, served(bot) as page:
        yield page


@pytest.fixture
def page(browser: Browser, web: Web) -> Iterator[Page]:
    context = browser.new_context(base_url=web.url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(TIMEOUT)
    found = context.new_page()
    errors: list[str] = []
    found.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    found.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield found
    finally:
        context.close()
    assert errors == []  # no script error, no CSP violation


def votes(bot: Bot) -> list[tuple[str, str, int, str, str]]:
    store = Store.open_readonly(bot.state)
    try:
        return [(v.profile_id, v.paper_id, v.value, v.voter, v.origin) for v in store.votes.all()]
    finally:
        store.close()


def test_editor_previews_checks_and_saves(web: Web, page: Page) -> None:
    path = web.settings.profiles_dir / "browser.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    page.goto("/profiles/browser")
    result = page.locator("#result")
    sent = page.locator("ol.would-send li")
    expect(sent).to_have_count(2)  # 2026-07-31's best two
    alerts = page.locator("#alerts-chart desc")
    before_alerts = alerts.text_content()
    before_scores = page.locator("#scores-chart desc").text_content()

    text = page.locator("#text")
    text.click()
    page.keyboard.press("Control+End")
    text.press_sequentially("  - constitutional midtraining\n")
    # "Constitutional Midtraining: ...", of 2026-08-03, now scores 0.94: sent that day.
    expect(page.locator('ol.would-send li[data-paper="2607.26654"]')).to_have_count(1)
    expect(sent).to_have_count(3)
    assert alerts.text_content() != before_alerts
    assert page.locator("#scores-chart desc").text_content() != before_scores

    text.press_sequentially("min_score: 0.5\n")  # a key given twice: invalid YAML
    error = result.locator("li.error")
    expect(error).to_have_count(1)
    expect(error).to_contain_text("browser.yaml, line 9: invalid YAML: found duplicate key")
    assert error.get_attribute("data-line") == "9"
    for _ in range(len("min_score: 0.5\n")):
        page.keyboard.press("Backspace")
    expect(error).to_have_count(0)
    expect(sent).to_have_count(3)

    page.locator("#save").click()
    expect(page.locator("p.done")).to_have_text("Saved browser.yaml.")
    assert path.read_text(encoding="utf-8") == PROFILE + "  - constitutional midtraining\n"
    path.unlink()


def test_vote_on_the_digest_page(web: Web, page: Page) -> None:
    page.goto("/digests")
    paper = page.locator(f'article.sent[data-paper="{SPEC_ID}"]')
    paper.get_by_role("button", name="more like this").click()
    expect(paper.locator(".voted")).to_have_text("liked")
    assert ("spec", SPEC_ID, 1, "web:local", "web") in votes(web.bot)


def test_follow_an_email_vote_link_and_confirm(web: Web, page: Page) -> None:
    intent = VoteIntent("spec", "2607.27851", -1, "ada@lab.example", date(2026, 10, 1))
    page.goto(f"/v/{sign(intent, VOTE_SECRET)}")  # as from a mail client: a plain GET
    expect(page.locator("h1")).to_have_text("Less like this?")
    assert ("spec", "2607.27851", -1, "email:ada@lab.example", "email") not in votes(web.bot)
    page.get_by_role("button", name="Yes, less like this").click()
    expect(page.locator("p.done")).to_contain_text("Your vote is recorded")
    assert ("spec", "2607.27851", -1, "email:ada@lab.example", "email") in votes(web.bot)
