"""A confirmed email vote link becomes a vote: `record_from_link(store, intent, profiles, day)`.

The web page's confirm handler (a POST: a GET on a link never votes, because mail scanners
follow links) verifies the token (bot/web/tokens.py) and hands the intent here. The vote is the
same row a Slack button or `digestbot feedback` writes (`Store.votes.record`): voter
`email:<recipient>`, origin `email`. Recording it twice changes nothing; the other link of the
same paper replaces it. Unlike a Slack button, no outbox lookup is needed to know the paper was
sent for that profile to that person: only digestbot's key could have signed the link.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from bot.errors import DigestbotError
from bot.relevance.votes import Vote
from bot.state.store import Store
from bot.web.tokens import VoteIntent


class VoteRefused(DigestbotError):
    """A valid link whose vote cannot be recorded (its profile no longer exists)."""


def record_from_link(
    store: Store, intent: VoteIntent, profiles: Collection[str], day: date
) -> Vote:
    """Record `intent` as `recipient`'s vote, given on `day` (the bot's local day), and return
    it. `profiles`: the ids of the profiles that exist now. Raises VoteRefused for another
    profile (deleted or renamed since the email was sent): nothing is written."""
    if intent.profile_id not in profiles:
        raise VoteRefused(
            f"the profile {intent.profile_id!r} no longer exists: the vote was not recorded",
            hint="vote from a newer digest, or on the web page",
        )
    vote = Vote(
        intent.profile_id, intent.paper_id, intent.vote, f"email:{intent.recipient}", "email", day
    )
    store.votes.record(vote)
    return vote
