"""`/v/<token>`: the "more like this" / "less like this" links of email digests.

GET verifies the token (bot/web/tokens.py: signed over profile, paper, vote, recipient and
expiry) and shows what it would record, with a confirm button; only the POST of that button
records (bot/web/vote_link.py `record_from_link`: voter `email:<recipient>`), because mail
scanners and link previews follow links. A forged, altered or expired
token is a 400 page saying so; nothing is recorded. The token is the permission: these two
addresses need no password (bot/web/security.py), but the POST still needs the CSRF token of
the confirm page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.state.store import Store
from bot.web.security import check_csrf

if TYPE_CHECKING:
    from bot.web.app import Site
    from bot.web.tokens import VoteIntent


def routes(site: Site) -> list[Route]:
    def confirm(request: Request) -> Response:
        token = request.path_params["token"]
        return _page(site, request, token, _intent(site, token), done=False)

    async def record(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        token = request.path_params["token"]
        intent = _intent(site, token)  # verified again: the POST is what counts
        return await run_in_threadpool(_record, site, request, token, intent)

    return [
        Route("/v/{token}", confirm, methods=["GET"]),
        Route("/v/{token}", record, methods=["POST"]),
    ]


def _intent(site: Site, token: str) -> VoteIntent:
    from bot.web.tokens import BadToken, verify

    if site.vote_secret is None:
        raise HTTPException(400, "Vote links are not enabled on this server (no secret_env).")
    try:
        return verify(token, site.vote_secret, site.now())
    except BadToken as exc:
        said = str(exc)
        raise HTTPException(400, f"{said[:1].upper()}{said[1:]}: {exc.hint}.") from exc


def _record(site: Site, request: Request, token: str, intent: VoteIntent) -> Response:
    from bot.web.digests import profiles_by_id
    from bot.web.vote_link import VoteRefused, record_from_link

    today = site.now().astimezone(ZoneInfo(site.settings.timezone)).date()
    store = Store.open(site.settings.state)
    try:
        record_from_link(store, intent, profiles_by_id(site).keys(), today)
    except VoteRefused as exc:
        said = str(exc)
        raise HTTPException(400, f"{said[:1].upper()}{said[1:]}.") from exc
    finally:
        store.close()
    return _page(site, request, token, intent, done=True)


def _page(site: Site, request: Request, token: str, intent: VoteIntent, *, done: bool) -> Response:
    store = Store.open_readonly(site.settings.state)
    try:
        paper = store.get_paper(intent.paper_id)
    finally:
        store.close()
    from bot.web.digests import profiles_by_id

    profile = profiles_by_id(site).get(intent.profile_id)
    context: dict[str, Any] = {
        "intent": intent,
        "paper": paper,
        "token": token,
        "done": done,
        "profile_name": profile.name if profile else intent.profile_id,
    }
    return site.render(request, "vote_link.html", **context)
