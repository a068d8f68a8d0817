"""The web page over real HTTP: the app served by uvicorn on 127.0.0.1, asked with httpx, on a
state written by two real `once` runs (tests/web_harness.py; one of its titles is hostile).

What these prove: the pages are served with their security headers; the digest page shows what
was sent (score, reasons, destination, upvotes) and the papers just under the threshold; search
finds papers by title, author and id; a vote is the same row Slack and `feedback` write; every
POST needs the CSRF token; a profile name can spell no path; hostile titles are escaped; a
failure shows no traceback; the editor checks, previews, saves atomically and refuses a file
changed on disk; the password guards every page but the static files and vote links; an email
vote link records only on its confirm POST, and a forged, altered or expired one is a 400;
`digestbot web` serves until SIGTERM (exit 0) and refuses an open address without a password;
`digestbot run` with `web:` serves the page and stops it with the daemon.
"""

from __future__ import annotations

import dataclasses
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from bot.errors import DigestbotError
from bot.state.store import Store
from bot.web.app import create_app
from bot.web.security import safe_url
from bot.web.server import WebServer
from bot.web.tokens import VoteIntent, sign
from tests.conftest import ROOT
from tests.e2e import SPEC_ID, SPEC_PROFILE, Bot, make_bot
from tests.web_harness import (
    HOSTILE,
    NOW,
    VOTE_SECRET,
    Web,
    free_port,
    served,
    stored_bot,
    wait_for,
)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    with stored_bot(tmp_path_factory.mktemp("web")) as harness:
        yield harness


@pytest.fixture(scope="module")
def web(bot: Bot) -> Iterator[Web]:
    with served(bot) as page:
        yield page


@pytest.fixture
def client(web: Web) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=30) as c:
        yield c


def csrf_of(client: httpx.Client, path: str) -> str:
    """The CSRF token of the page at `path` (its cookie is now in the client's jar)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def votes_of(bot: Bot) -> list[tuple[str, str, int, str, str]]:
    store = Store.open_readonly(bot.state)
    try:
        return [(v.profile_id, v.paper_id, v.value, v.voter, v.origin) for v in store.votes.all()]
    finally:
        store.close()


def test_pages_and_security_headers(client: httpx.Client) -> None:
    for path in ("/digests", "/profiles", "/profiles/spec", "/search?q=lossy", "/nowhere"):
        page = client.get(path)
        assert page.status_code == (404 if path == "/nowhere" else 200), path
        assert page.headers["content-security-policy"] == (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "server" not in page.headers
        assert "<script>" not in page.text  # no inline script anywhere (the CSP forbids it)
        assert " style=" not in page.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/digests"
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    first = httpx.get(client.base_url.join("/digests"))  # a fresh browser: gets its cookie
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("digestbot_csrf=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


def test_digest_page(client: httpx.Client) -> None:
    page = client.get("/digests")  # the newest day with a digest
    assert page.status_code == 200
    text = page.text
    assert "<h1>Digests of 2026-07-31</h1>" in text
    sent = text.split('<article class="paper sent"')[1].split("</article>")[0]
    assert f'data-paper="{SPEC_ID}"' in sent
    assert f'href="https://arxiv.org/abs/{SPEC_ID}"' in sent
    assert "score <strong>0.97</strong> — keyword speculative decoding, draft model" in sent
    assert "sent to slack:#papers-spec" in sent
    assert "▲ 4 upvotes" in sent
    under = text.split('<h3 class="under-head">Just under the threshold</h3>')[1]
    held = re.findall(r'<article class="paper under" data-paper="([^"]+)"', under)
    assert len(held) == 3 and SPEC_ID not in held
    assert under.count("held back: below min_score") == 3
    # Nothing was sent on 2026-08-03, but its papers are stored: the page shows what came
    # closest, under the threshold; a day with nothing stored is not a page.
    quiet = client.get("/digests?day=2026-08-03")
    assert quiet.status_code == 200 and "0 paper(s) sent" in quiet.text
    assert "Just under the threshold" in quiet.text
    assert client.get("/digests?day=2026-07-01").status_code == 404
    assert client.get("/digests?day=../../etc").status_code == 404


def test_search(client: httpx.Client) -> None:
    def found(q: str) -> list[str]:
        page = client.get("/search", params={"q": q})
        assert page.status_code == 200
        return re.findall(r'<article class="paper" data-paper="([^"]+)"', page.text)

    assert found("lossy verification") == [SPEC_ID]
    assert found("Tianyu Wang") == [SPEC_ID]
    assert found(SPEC_ID) == [SPEC_ID]
    assert found("Constitutional Midtraining") == ["2607.26654"]  # the 2026-08-03 day
    assert found("%") == [] and found("__") == []  # LIKE wildcards are plain text
    assert "at least two characters" in client.get("/search?q=a").text


def test_hostile_title_is_escaped_everywhere(client: httpx.Client) -> None:
    escaped = "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    for path in ("/digests", f"/search?q={SPEC_ID}", "/profiles/spec"):
        text = client.get(path).text
        assert HOSTILE.strip() not in text and "<img" not in text, path
        assert escaped in text, path


def test_links_only_http() -> None:
    assert safe_url("https://arxiv.org/abs/2607.26627") == "https://arxiv.org/abs/2607.26627"
    assert safe_url("HTTP://example.org/x") == "HTTP://example.org/x"
    for bad in (
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>",
        "//evil.example/x",
        'https://x.example/"onmouseover=alert(1)',
        "",
        None,
    ):
        assert safe_url(bad) is None, bad


def test_vote_from_the_page(bot: Bot, client: httpx.Client) -> None:
    token = csrf_of(client, "/digests")
    before = votes_of(bot)
    form = {"profile": "spec", "paper": "2607.26497", "vote": "1", "next": "/digests"}
    missing = client.post("/vote", data=form)
    assert missing.status_code == 403 and "expired or did not come from this page" in missing.text
    forged = client.post("/vote", data={**form, "csrf": "abc.def"})
    assert forged.status_code == 403
    assert votes_of(bot) == before  # nothing recorded
    done = client.post("/vote", data={**form, "csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/digests"
    assert votes_of(bot) == [*before, ("spec", "2607.26497", 1, "web:local", "web")]
    # An outside address in `next` is not followed; an unknown profile or paper is refused.
    away = client.post(
        "/vote", data={**form, "vote": "-1", "next": "//evil.example/", "csrf": token}
    )
    assert away.status_code == 303 and away.headers["location"] == "/digests"
    assert votes_of(bot)[-1] == ("spec", "2607.26497", -1, "web:local", "web")  # replaced
    assert client.post("/vote", data={**form, "profile": "nope", "csrf": token}).status_code == 404
    assert client.post("/vote", data={**form, "paper": "2401.0", "csrf": token}).status_code == 404
    assert client.post("/vote", data={**form, "vote": "5", "csrf": token}).status_code == 400


def test_every_post_needs_the_csrf_token(web: Web, client: httpx.Client) -> None:
    app = web.server.server.config.app
    posts = [
        r.path.replace("{profile}", "spec").replace("{token}", "x")
        for r in app.routes
        if isinstance(r, Route) and r.methods and "POST" in r.methods
    ]
    assert sorted(posts) == [
        "/profiles/new",
        "/profiles/spec",
        "/profiles/spec/preview",
        "/v/x",
        "/vote",
    ]
    client.get("/digests")  # the cookie alone is not enough: the form must carry it too
    path = web.settings.profiles_dir / "spec.yaml"
    before = path.read_bytes()
    for post in posts:
        answer = client.post(post, data={"text": "name: x\n", "hash": "", "name": "Other"})
        assert answer.status_code == 403, post
    assert path.read_bytes() == before
    assert not (web.settings.profiles_dir / "other.yaml").exists()


def test_profile_names_spell_no_path(web: Web, client: httpx.Client) -> None:
    token = csrf_of(client, "/profiles")
    folder = web.settings.profiles_dir
    outside = folder.parent / "bot.yaml"
    before = outside.read_bytes()
    (folder / "notes.txt").write_text("not a profile\n", encoding="utf-8")
    for name in ("..%2Fbot", "..%2F..%2Fconfig%2Fbot", "%2E%2E", "notes.txt", "notes", "spec.yaml"):
        assert client.get(f"/profiles/{name}").status_code == 404, name
        saved = client.post(f"/profiles/{name}", data={"csrf": token, "text": "x", "hash": ""})
        assert saved.status_code == 404, name
    assert client.get("/profiles/../bot").status_code == 404  # normalised by the client: /bot
    assert outside.read_bytes() == before
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "not a profile\n"
    # A new profile's file name is made of its title's letters and digits only.
    made = client.post(
        "/profiles/new", data={"csrf": token, "name": "../../bot"}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"] == "/profiles/bot"
    assert (folder / "bot.yaml").is_file() and outside.read_bytes() == before
    (folder / "bot.yaml").unlink()


def test_editor_checks_and_previews_a_draft(web: Web, client: httpx.Client) -> None:
    token = csrf_of(client, "/profiles/spec")
    path = web.settings.profiles_dir / "spec.yaml"
    editor = client.get("/profiles/spec").text
    hash_ = re.search(r'name="hash" value="([0-9a-f]{64})"', editor)
    assert hash_ is not None
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="alerts-chart"' in editor
    assert '<title id="alerts-chart-title">Alerts per day at min_score 0.95</title>' in editor
    assert "Over the last 2 stored day(s): 1 paper(s) sent" in editor

    broken = SPEC_PROFILE.replace("min_score: 0.95", "min_score: lots")
    answer = client.post(
        "/profiles/spec/preview", data={"csrf": token, "hash": hash_.group(1), "text": broken}
    )
    assert answer.status_code == 200
    errors = re.findall(r'<li class="error" data-line="(\d*)">(.*?)</li>', answer.text)
    assert errors == [
        (
            "4",
            "spec.yaml, line 4, <code>min_score</code>: Input should be a valid number, "
            "got &#39;lots&#39;",
        )
    ]
    wider = SPEC_PROFILE.replace("min_score: 0.95", "min_score: 0.5")
    answer = client.post(
        "/profiles/spec/preview",
        data={"csrf": token, "hash": hash_.group(1), "text": wider.replace("\n", "\r\n")},
    )
    assert "Alerts per day at min_score 0.5</title>" in answer.text
    sent = re.search(r"Over the last 2 stored day\(s\): (\d+) paper\(s\) sent", answer.text)
    assert sent is not None and int(sent.group(1)) > 1
    assert path.read_text(encoding="utf-8") == SPEC_PROFILE  # a preview writes nothing


def test_editor_saves_atomically_and_refuses_a_changed_file(web: Web, client: httpx.Client) -> None:
    folder = web.settings.profiles_dir
    path = folder / "saving.yaml"
    path.write_text(SPEC_PROFILE, encoding="utf-8")
    path.chmod(0o640)
    token = csrf_of(client, "/profiles/saving")
    page = client.get("/profiles/saving").text
    hash_ = re.search(r'name="hash" value="([0-9a-f]{64})"', page)
    assert hash_ is not None
    draft = "# my own comment\n" + SPEC_PROFILE.replace("draft model", "draft model, medusa")
    # A draft with an error is not saved.
    bad = client.post(
        "/profiles/saving",
        data={"csrf": token, "hash": hash_.group(1), "text": draft + "min_score: 7\n"},
    )
    assert bad.status_code == 400 and "Not saved" in bad.text
    assert path.read_text(encoding="utf-8") == SPEC_PROFILE
    # Saved as typed (comment kept, CRLF made LF), same mode, no temp file left.
    good = client.post(
        "/profiles/saving",
        data={"csrf": token, "hash": hash_.group(1), "text": draft.replace("\n", "\r\n")},
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == "/profiles/saving?saved=1"
    assert path.read_text(encoding="utf-8") == draft
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    assert "Saved saving.yaml." in client.get(good.headers["location"]).text
    # The old hash no longer matches the file: a second save from the old page is refused.
    stale = client.post(
        "/profiles/saving",
        data={"csrf": token, "hash": hash_.group(1), "text": SPEC_PROFILE},
    )
    assert (
        stale.status_code == 409 and "was changed on disk since this page loaded it" in stale.text
    )
    assert path.read_text(encoding="utf-8") == draft
    path.unlink()


def test_new_profile_from_the_template(web: Web, client: httpx.Client) -> None:
    token = csrf_of(client, "/profiles")
    made = client.post(
        "/profiles/new", data={"csrf": token, "name": "Graph Neural Nets"}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"] == "/profiles/graph-neural-nets"
    path = web.settings.profiles_dir / "graph-neural-nets.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#") and 'name: "Graph Neural Nets"' in text
    again = client.post("/profiles/new", data={"csrf": token, "name": "Graph neural nets"})
    assert again.status_code == 409 and "graph-neural-nets.yaml exists already" in again.text
    editor = client.get(made.headers["location"]).text
    assert '<ul class="errors">' not in editor  # the template is a valid profile
    path.unlink()


def test_a_failure_shows_no_traceback(bot: Bot, web: Web, tmp_path: Path) -> None:
    broken = tmp_path / "state.sqlite3"
    broken.write_bytes(b"not a database, " * 200)
    settings = dataclasses.replace(web.settings, state_path=broken)
    server = WebServer(create_app(settings), "127.0.0.1", 0)
    server.start()
    try:
        page = httpx.get(f"http://127.0.0.1:{server.port}/digests")
    finally:
        server.stop()
    assert page.status_code == 500
    assert "<h1>Something went wrong</h1>" in page.text
    for leak in ("Traceback", "StateError", str(tmp_path), "sqlite"):
        assert leak not in page.text
    assert page.headers["x-frame-options"] == "DENY"


def test_password(bot: Bot) -> None:
    with served(bot, password="s3cret pass") as page:
        url = page.url
        assert httpx.get(f"{url}/digests").status_code == 401
        assert httpx.get(f"{url}/digests").headers["www-authenticate"].startswith("Basic")
        assert httpx.get(f"{url}/digests", auth=("alice", "wrong")).status_code == 401
        assert httpx.get(f"{url}/profiles/spec", auth=("alice", "s3cret pass")).status_code == 200
        assert httpx.get(f"{url}/static/style.css").status_code == 200  # open
        assert httpx.get(f"{url}/v/abc").status_code == 400  # open: the token is the permission
        with httpx.Client(base_url=url, auth=("alice", "s3cret pass")) as client:
            token = csrf_of(client, "/digests")
            done = client.post(
                "/vote",
                data={"profile": "spec", "paper": SPEC_ID, "vote": "-1", "csrf": token},
            )
            assert done.status_code == 303
    assert ("spec", SPEC_ID, -1, "web:alice", "web") in votes_of(bot)


def start(bot: Bot, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args, "--config", str(bot.config)],
        cwd=ROOT,
        env=bot.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_digestbot_web_serves_until_sigterm(bot: Bot) -> None:
    port = free_port()
    proc = start(bot, "web", "--listen", f"127.0.0.1:{port}")
    try:
        page = wait_for(f"http://127.0.0.1:{port}/digests", proc)
        assert page.status_code == 200 and SPEC_ID in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"the web page is served on http://127.0.0.1:{port}/" in err


def test_digestbot_web_refuses_an_open_address_without_password(bot: Bot) -> None:
    done = bot.run("web", "--listen", "0.0.0.0:8080")
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: --listen: 0.0.0.0 is not a loopback address: anyone who reaches it could vote"
    )
    # A password variable named but not set: refused too, naming the variable.
    config = bot.root / "config" / "nopass.yaml"
    config.write_text(
        bot.config.read_text(encoding="utf-8")
        + "web:\n  listen: 192.0.2.1:8080\n  password_env: DIGESTBOT_WEB_PASSWORD\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "web", "--config", str(config)],
        cwd=ROOT,
        env=bot.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"error: {config}: web.password_env: $DIGESTBOT_WEB_PASSWORD is not set: the web page is"
        " served only with its password"
    )


def test_run_serves_the_page_and_stops_with_the_daemon(tmp_path: Path) -> None:
    port = free_port()
    with make_bot(tmp_path, f"web:\n  listen: 127.0.0.1:{port}\n") as fresh:
        fresh.profile("spec.yaml", SPEC_PROFILE)
        proc = start(fresh, "run")
        try:
            page = wait_for(f"http://127.0.0.1:{port}/profiles", proc)
            assert page.status_code == 200 and "Speculative decoding" in page.text
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"the web page is served on http://127.0.0.1:{port}/" in err
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/profiles", timeout=2)


def link(intent: VoteIntent, secret: bytes = VOTE_SECRET) -> str:
    return f"/v/{sign(intent, secret)}"


def test_email_vote_links(bot: Bot, client: httpx.Client) -> None:
    later = NOW.date() + timedelta(days=60)
    intent = VoteIntent("spec", "2607.26654", 1, "ada@lab.example", later)
    before = votes_of(bot)
    # Forged (another key), altered (one character of the payload), expired, malformed: 400.
    forged = client.get(link(intent, b"another-secret-of-enough-length-000"))
    assert forged.status_code == 400
    assert "This vote link is not one digestbot made" in forged.text
    good = sign(intent, VOTE_SECRET)
    altered = ("A" if good[0] != "A" else "B") + good[1:]
    assert client.get(f"/v/{altered}").status_code == 400
    expired = client.get(
        link(VoteIntent("spec", "2607.26654", 1, "ada@lab.example", NOW.date() - timedelta(days=1)))
    )
    assert expired.status_code == 400 and "This vote link has expired" in expired.text
    assert client.get("/v/not-a-token").status_code == 400
    assert (
        client.post(f"/v/{altered}", data={"csrf": csrf_of(client, "/digests")}).status_code == 400
    )
    # GET, as a mail scanner does: a confirm page, nothing recorded.
    page = client.get(f"/v/{good}")
    assert page.status_code == 200
    assert "<h1>More like this?</h1>" in page.text and "Constitutional Midtraining" in page.text
    assert f'<form method="post" action="/v/{good}">' in page.text
    assert client.head(f"/v/{good}").status_code == 200
    assert votes_of(bot) == before
    # The confirm POST needs the page's CSRF token, then records the vote once.
    assert client.post(f"/v/{good}").status_code == 403
    assert votes_of(bot) == before
    token = CSRF.search(page.text)
    assert token is not None
    done = client.post(f"/v/{good}", data={"csrf": token.group(1)})
    assert done.status_code == 200 and "Your vote is recorded" in done.text
    assert votes_of(bot) == [*before, ("spec", "2607.26654", 1, "email:ada@lab.example", "email")]


def test_a_port_in_use_is_a_clear_error(web: Web) -> None:
    taken = WebServer(create_app(web.settings), "127.0.0.1", web.server.port)
    with pytest.raises(DigestbotError) as caught:
        taken.start()
    assert str(caught.value) == (
        f"the web page cannot listen on 127.0.0.1:{web.server.port} (in use, or not an address"
        " of this machine; the log above says which)"
    )
