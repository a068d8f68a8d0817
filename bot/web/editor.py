"""The profile editor: a profile's YAML in a text area, checked and previewed as it is typed.

Checking is `check`'s: the draft goes through config.load_profile (as text, under the file's
own name, so errors name the same file, line and field). A valid draft is previewed with the
`preview` logic (bot/preview.py, offline: nothing is fetched) over the last `WINDOW` days that
have stored papers, with two charts (bot/web/charts.py). The JavaScript (static/editor.js) only
POSTs the form as the Preview button does and swaps the result in: without it the page works
the same, one click at a time.

Saving writes the text as typed (comments stay; the browser's CRLF line ends become LF),
atomically (a temp file in the same folder, then rename), only over a `*.yaml` file of the
profiles folder found by listing it (bot/web/security.py `profile_file`), and only when the
file is still what the page loaded (the SHA-256 of its bytes travels in the form); an invalid
draft is not saved. A new profile is `digestbot profile new`'s (bot/onboarding.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.config import load_profile
from bot.errors import ConfigError, ConfigErrors, DigestbotError
from bot.state.store import Store
from bot.web.charts import alerts_chart, scores_chart
from bot.web.security import check_csrf, profile_file

if TYPE_CHECKING:
    from bot.preview import Preview
    from bot.web.app import Site

WINDOW = 14  # stored days a draft is previewed over
MAX_TEXT = 200_000  # characters of a draft (a profile is a few hundred)


@dataclass(frozen=True)
class ShownError:
    file: str
    line: int | None
    field: str | None
    text: str
    hint: str | None


@dataclass
class Outcome:
    """What the result section shows for a draft: its errors, or its preview and charts."""

    errors: list[ShownError] = field(default_factory=list)
    preview: dict[str, Any] | None = None
    message: str = ""


def routes(site: Site) -> list[Route]:
    def listing(request: Request) -> Response:
        return _listing(site, request)

    def edit(request: Request) -> Response:
        path = _file(site, request)
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        saved = request.query_params.get("saved") == "1"
        return _editor(site, request, path, text, _hash(data), saved=saved)

    async def preview(request: Request) -> Response:
        form = await _form(request)
        path = _file(site, request)
        text, hash_ = _draft(form)
        return await run_in_threadpool(_editor, site, request, path, text, hash_)

    async def save(request: Request) -> Response:
        form = await _form(request)
        path = _file(site, request)
        text, hash_ = _draft(form)
        return await run_in_threadpool(_save, site, request, path, text, hash_)

    async def new(request: Request) -> Response:
        form = await _form(request)
        return await run_in_threadpool(_new, site, request, form.get("name"))

    return [
        Route("/profiles", listing),
        Route("/profiles/new", new, methods=["POST"]),
        Route("/profiles/{profile}", edit, methods=["GET"]),
        Route("/profiles/{profile}", save, methods=["POST"]),
        Route("/profiles/{profile}/preview", preview, methods=["POST"]),
    ]


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form(max_fields=20, max_part_size=MAX_TEXT * 4)
    check_csrf(request, form)
    return dict(form)


def _file(site: Site, request: Request) -> Path:
    path = profile_file(site.settings.profiles_dir, request.path_params["profile"])
    if path is None:
        raise HTTPException(
            404,
            "No such profile file (the editor opens *.yaml files of the profiles folder, by name).",
        )
    return path


def _draft(form: dict[str, Any]) -> tuple[str, str]:
    text, hash_ = form.get("text"), form.get("hash")
    if not isinstance(text, str) or not isinstance(hash_, str):
        raise HTTPException(400, "The form lacks the profile's text.")
    if len(text) > MAX_TEXT:
        raise HTTPException(400, f"The profile is longer than {MAX_TEXT} characters.")
    # A textarea submits CRLF line ends (HTML's form encoding); the file keeps LF.
    return text.replace("\r\n", "\n"), hash_


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _listing(site: Site, request: Request, status: int = 200, **context: Any) -> Response:
    folder = site.settings.profiles_dir
    rows = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            profile = load_profile(path, site.settings.notifiers)
            rows.append({"id": path.stem, "name": profile.name, "error": ""})
        except (ConfigError, ConfigErrors):  # shown, with its lines, when it is opened
            rows.append({"id": path.stem, "name": path.stem, "error": "has an error: open it"})
    return site.render(request, "profiles.html", status, profiles=rows, **context)


def _editor(
    site: Site,
    request: Request,
    path: Path,
    text: str,
    hash_: str,
    *,
    status: int = 200,
    saved: bool = False,
    conflict: str = "",
) -> Response:
    outcome = evaluate(site, path, text)
    context: dict[str, Any] = {}
    if outcome.preview is not None:
        context = {
            "alerts_svg": outcome.preview.pop("alerts_svg"),
            "scores_svg": outcome.preview.pop("scores_svg"),
        }
    return site.render(
        request,
        "editor.html",
        status,
        profile_id=path.stem,
        text=text,
        hash=hash_,
        errors=outcome.errors,
        preview=outcome.preview,
        message=outcome.message,
        saved=saved,
        conflict=conflict,
        **context,
    )


def evaluate(site: Site, path: Path, text: str) -> Outcome:
    """The draft `text` of the profile file `path`: its errors as `check` finds them, else
    what it would have sent over the last stored days, with the two charts."""
    from bot.preview import preview_days

    try:
        profile = load_profile(path, site.settings.notifiers, text=text)
    except ConfigErrors as exc:
        return Outcome(errors=[_shown(e, path) for e in exc.errors])
    except ConfigError as exc:
        return Outcome(errors=[_shown(exc, path)])
    store = Store.open_readonly(site.settings.state)
    try:
        days = store.stored_days(WINDOW)
    finally:
        store.close()
    if not days:
        return Outcome(
            message="The draft is valid. No papers are stored yet: run "
            "`digestbot once`, then the preview shows what it would send."
        )
    try:
        result = preview_days(site.settings, profile, days[0], days[-1], offline=True)
    except DigestbotError as exc:
        return Outcome(message=f"The draft is valid, but it cannot be previewed: {exc}")
    return Outcome(preview=_charted(site, result))


def _charted(site: Site, result: Preview) -> dict[str, Any]:
    p = result.profile
    per_day = [(d.day, len(d.sent)) for d in result.days]
    scores = [s for d in result.days for s in d.scores]
    return {
        "days": result.days,
        "sent": sum(n for _, n in per_day),
        "alerts_svg": alerts_chart(site.env, per_day, p.min_score, p.max_per_digest),
        "scores_svg": scores_chart(site.env, scores, p.min_score),
    }


def _shown(err: ConfigError, path: Path) -> ShownError:
    where = err.file if err.line is None else f"{err.file}:{err.line}"
    prefix = f"{where}: {err.field}: " if err.field else f"{where}: "
    file = path.name if err.file == str(path) else err.file
    return ShownError(file, err.line, err.field, str(err).removeprefix(prefix), err.hint)


def _save(site: Site, request: Request, path: Path, text: str, hash_: str) -> Response:
    if _hash(path.read_bytes()) != hash_:
        return _editor(
            site,
            request,
            path,
            text,
            hash_,
            status=409,
            conflict=f"{path.name} was changed on disk since this page loaded it: nothing was "
            "saved. Copy your draft, reload the page, and apply it to the file as it is now.",
        )
    outcome = evaluate(site, path, text)
    if outcome.errors:
        return _editor(
            site,
            request,
            path,
            text,
            hash_,
            status=400,
            conflict="Not saved: the draft has errors (below).",
        )
    write_atomically(path, text)
    return RedirectResponse(f"/profiles/{path.stem}?saved=1", status_code=303)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text`: a temp file in the same folder (not *.yaml, so a crash leaves
    nothing a run would load), flushed to disk, then renamed over it; the mode is kept."""
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _new(site: Site, request: Request, name: object) -> Response:
    from bot.onboarding import write_new_profile

    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        return _listing(
            site, request, 400, error="Give the new profile a title (120 characters at most)."
        )
    try:
        path = write_new_profile(site.settings.profiles_dir, name)
    except ValueError as exc:
        return _listing(site, request, 400, error=str(exc), name=name)
    except FileExistsError as exc:
        return _listing(
            site,
            request,
            409,
            name=name,
            error=f"A profile {Path(str(exc)).name} exists already: open it instead.",
        )
    return RedirectResponse(f"/profiles/{path.stem}", status_code=303)
