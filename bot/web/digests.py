"""The digests page, the search of the stored papers, and the 👍/👎 every paper shown carries.

A digest day (a day with deliveries, or one of the last RECENT_DAYS days with stored papers)
shows, per profile, the papers the outbox delivered (or is delivering) with the score, reasons
and destinations recorded when it was queued, then the few just under the threshold (on a day
when nothing passed `min_score`, what came closest): those come from the `preview` logic
(bot/preview.py) run on that one day, so they are scored as `digestbot preview` would score them
today (its IDF is the corpus as it is now). Without a `day`, the newest day with a digest.

A vote is `Store.votes.record` with origin `web` and voter `web:<the Basic user, or "local">`,
the same row Slack's buttons and `digestbot feedback` write: one state connection opened for
writing just for it. The profile must be a loaded profile and the paper a stored one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.config import load_profiles
from bot.errors import DigestbotError
from bot.models import Profile
from bot.relevance.votes import Vote
from bot.state.outbox import Delivered
from bot.state.store import Store
from bot.web.security import check_csrf, local_path, voter_name

if TYPE_CHECKING:
    from bot.relevance.scoring import Candidate
    from bot.web.app import Site

log = logging.getLogger(__name__)

SEARCH_LIMIT = 50
RECENT_DAYS = 14  # days with stored papers listed even when nothing was sent on them


@dataclass
class Group:
    """One profile's digest of one day, as the page shows it."""

    id: str
    name: str
    sent: list[Delivered] = field(default_factory=list)
    under: list[Candidate] = field(default_factory=list)
    votes: dict[str, int] = field(default_factory=dict)
    note: str = ""


def routes(site: Site) -> list[Route]:
    # Plain functions: Starlette runs them on its thread pool (SQLite and scoring block).
    def digests_page(request: Request) -> Response:
        return _digests(site, request)

    def search_page(request: Request) -> Response:
        return _search(site, request)

    async def vote(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        return await run_in_threadpool(_vote, site, request, dict(form))

    return [
        Route("/digests", digests_page),
        Route("/search", search_page),
        Route("/vote", vote, methods=["POST"]),
    ]


def profiles_by_id(site: Site) -> dict[str, Profile]:
    """The profiles that load now (a broken file is left out, as a run leaves it out)."""
    profiles, _ = load_profiles(site.settings.profiles_dir, site.settings.notifiers)
    return {p.id: p for p in profiles}


def _digests(site: Site, request: Request) -> Response:
    profiles = profiles_by_id(site)
    store = Store.open_readonly(site.settings.state)
    try:
        # Days with a digest, and the recent days with stored papers: a day on which nothing
        # passed min_score (a new user's first run, often) still shows what came closest.
        sent_days = store.outbox.digest_days()
        days = sorted({*sent_days, *store.stored_days(RECENT_DAYS)}, reverse=True)
        day = _day(request.query_params.get("day"), days, sent_days)
        delivered = store.outbox.delivered(day) if day else []
        counts = {}
        groups: dict[str, Group] = {}
        for item in delivered:
            group = groups.setdefault(item.profile_id, Group(item.profile_id, item.profile_name))
            group.sent.append(item)
        for profile in profiles.values() if day else ():
            groups.setdefault(profile.id, Group(profile.id, profile.name))
        for group in groups.values():
            counts[group.id] = store.votes.net(group.id)
    finally:
        store.close()
    chosen = request.query_params.get("profile") or None
    if chosen is not None and chosen not in groups:
        chosen = None
    day_profiles = [{"id": g.id, "name": g.name} for g in groups.values()]
    shown = [groups[chosen]] if chosen else list(groups.values())
    for group in shown:
        group.votes = counts[group.id]
        if day is not None:
            _add_under(site, group, profiles.get(group.id), day)
    return site.render(
        request,
        "digests.html",
        days=days,
        day=day,
        profile=chosen,
        day_profiles=day_profiles,
        groups=shown,
    )


def _add_under(site: Site, group: Group, profile: Profile | None, day: date) -> None:
    """The papers just under the threshold that day, by the preview logic (offline: example
    papers the state does not know are left out, nothing is fetched)."""
    from bot.preview import preview_days

    if profile is None:
        group.note = "This profile is not installed now (or its file has an error)."
        return
    try:
        result = preview_days(site.settings, profile, day, day, offline=True)
    except DigestbotError as exc:
        group.note = f"Papers under the threshold are not shown: {exc}"
        return
    sent = {item.paper.id for item in group.sent}
    group.under = [c for d in result.days for c in d.under if c.match.paper.id not in sent]


def _day(given: str | None, days: list[date], sent_days: list[date]) -> date | None:
    if given:
        try:
            chosen = date.fromisoformat(given)
        except ValueError:
            raise HTTPException(404, "No such day: use a date like 2026-07-31.") from None
        if chosen not in days:
            raise HTTPException(404, f"No digest and no stored papers on {chosen}.")
        return chosen
    return (sent_days or days)[0] if days else None


def _search(site: Site, request: Request) -> Response:
    query = (request.query_params.get("q") or "").strip()[:200]
    papers = []
    message = ""
    if len(query) < 2:
        message = "Type at least two characters of a title, an author or an arXiv id."
    else:
        store = Store.open_readonly(site.settings.state)
        try:
            papers = store.search_papers(query, SEARCH_LIMIT)
        finally:
            store.close()
        if not papers:
            message = f"No stored paper matches {query!r}."
        elif len(papers) == SEARCH_LIMIT:
            message = f"The first {SEARCH_LIMIT} matches, newest first."
    profiles = [{"id": p.id, "name": p.name} for p in profiles_by_id(site).values()]
    return site.render(
        request, "search.html", query=query, papers=papers, message=message, profiles=profiles
    )


def _vote(site: Site, request: Request, form: dict[str, Any]) -> Response:
    profile_id, paper_id, value = form.get("profile"), form.get("paper"), form.get("vote")
    if value not in ("1", "-1") or not isinstance(profile_id, str) or not isinstance(paper_id, str):
        raise HTTPException(400, "A vote names a profile, a paper and 1 or -1.")
    if profile_id not in profiles_by_id(site):
        raise HTTPException(404, "No such profile is installed.")
    reader = Store.open_readonly(site.settings.state)
    try:
        known = reader.get_paper(paper_id) is not None
    finally:
        reader.close()
    if not known:
        raise HTTPException(404, "No such paper is stored.")
    record(site, profile_id, paper_id, int(value), voter_name(request.state.user), "web")
    return RedirectResponse(local_path(form.get("next"), "/digests"), status_code=303)


def record(site: Site, profile_id: str, paper_id: str, value: int, voter: str, origin: str) -> None:
    """Record one vote, on a state connection opened for it alone."""
    today = site.now().astimezone(ZoneInfo(site.settings.timezone)).date()
    store = Store.open(site.settings.state)
    try:
        store.votes.record(Vote(profile_id, paper_id, value, voter, origin, today))
    finally:
        store.close()
    log.info("web vote %+d on %s for %s by %s", value, paper_id, profile_id, voter)
