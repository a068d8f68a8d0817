"""The web page's ASGI app: `create_app(settings, ...)` wires the pages, templates and defences.

    /                      -> /digests
    /digests, /search      the digests sent, by day and profile; search of the stored papers
    /vote                  POST: 👍/👎 on a paper for a profile (bot/web/digests.py)
    /v/<token>             an email vote link: GET confirms, POST records (bot/web/vote_page.py)
    /profiles[/<id>]       the profile editor with its live preview and charts (bot/web/editor.py)
    /static/...            the stylesheet and the editor's script (package data, no CDN)

The state is opened read-only per request (`Store.open_readonly`); only a vote opens it for
writing, and only a profile save writes a file. Templates autoescape everything; errors are a
plain page with a status and a sentence, never a traceback (logged, redacted, instead: the
security middleware catches what a page raised, bot/web/security.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.config import Settings
from bot.web import digests, editor, vote_page
from bot.web.security import SecurityMiddleware, Signer, safe_url

HEADINGS = {
    400: "This link cannot be used",
    401: "Password required",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Changed on disk",
}


@dataclass(frozen=True)
class Site:
    """What every page reads: the settings, the templates, the clock and the vote secret."""

    settings: Settings
    env: Environment
    vote_secret: bytes | None  # signs email vote links (`secret_env`); None: links are off
    now: Callable[[], datetime]

    def render(
        self, request: Request, template: str, status: int = 200, /, **context: Any
    ) -> Response:
        page = self.env.get_template(template).render(
            csrf=request.state.csrf, here=_here(request), **context
        )
        return HTMLResponse(page, status_code=status)


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("bot.web", "templates"),
        autoescape=select_autoescape(["html", "svg"]),
    )
    env.filters["safe_url"] = safe_url
    return env


def create_app(
    settings: Settings,
    *,
    password: str | None = None,
    csrf_secret: bytes | None = None,
    vote_secret: bytes | None = None,
    now: Callable[[], datetime] | None = None,
) -> Starlette:
    """The app serving `settings`' state and profiles. `password`: HTTP Basic for every page
    but the static files and vote links; `csrf_secret`: signs the CSRF cookies (default: a
    fresh one per process); `vote_secret`: verifies email vote links."""
    site = Site(settings, templates(), vote_secret, now or (lambda: datetime.now(UTC)))
    signer = Signer(csrf_secret or secrets.token_bytes(32))
    routes = [
        Route("/", lambda _: RedirectResponse("/digests", status_code=303)),
        *digests.routes(site),
        *vote_page.routes(site),
        *editor.routes(site),
        Mount("/static", StaticFiles(packages=[("bot.web", "static")]), name="static"),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error_page(site, request, exc.status_code, exc.detail)

    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, signer=signer, password=password)],
        exception_handlers={HTTPException: http_error},
    )
    app.state.signer = signer
    app.state.site = site
    return app


def _error_page(site: Site, request: Request, status: int, message: str) -> Response:
    heading = HEADINGS.get(status, "Error")
    if getattr(request.state, "csrf", None) is None:  # outside the middleware: never
        return Response(f"{heading}\n", status)
    return site.render(request, "error.html", status, code=status, heading=heading, message=message)


def _here(request: Request) -> str:
    """This page's path and query: where a vote form sends the browser back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
