"""Slack's Block Kit layout of a digest: `build_messages`, pure and deterministic, and the limits.

Shared by the bot token (`slack.py`) and the incoming webhook (`slack_webhook.py`): both post
exactly these messages. One digest is one message, plus continuations when it is long (the
token threads them under the first; a webhook posts them in a row).

Slack's limits, and where each number comes from:

    constant                value    source
    MAX_BLOCKS              50       Block Kit reference, "Blocks": up to 50 blocks per message
    MAX_SECTION_TEXT        3,000    Block Kit reference, section block: `text` max 3000 chars
    MAX_HEADER_TEXT         150      Block Kit reference, header block: `text` max 150 chars
    MAX_MESSAGE_TEXT        40,000   chat.postMessage reference: longer `text` -> msg_too_long
    MAX_BLOCKS_JSON         12,000   undocumented: Slack answers `msg_blocks_too_long` for ~13,200
                                     characters of blocks (slackapi/bolt-js#2509, #2867; Slack staff
                                     there: "12,000 text characters with a buffer for containers")

The undocumented limit is measured conservatively: as `json.dumps(blocks)`, i.e. the JSON
slack-sdk puts on the wire, containers and `\\uXXXX` escapes included.

Buttons (`build_messages(..., buttons=True)`, only when the daemon listens for them over Socket
Mode: bot/notifiers/slack_socket.py): each paper's section is followed by an `actions` block with
"More like this" / "Less like this" (action ids VOTE_UP / VOTE_DOWN, our own namespace). A
button's `value` is `vote_value(profile id, paper id)`, at most MAX_BUTTON_VALUE characters (a
paper whose value would be longer gets no buttons); the listener reads it back with
`read_vote_value` and still checks it against the outbox, never trusting it. With buttons a paper
takes two blocks, so a message holds fewer papers: the packing counts blocks per paper.

Paper text comes from the internet. Every piece of it goes through `escape_mrkdwn` (and link
targets through `_link_target`), so a title like `<!channel>` shows as text and never pings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.models import Delivery, Match, fold_whitespace
from bot.render import (
    escape_mrkdwn,
    headline,
    paper_url,
    score_fact,
    short_authors,
    truncate,
    why_line,
)

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_MESSAGE_TEXT = 40_000
MAX_BLOCKS_JSON = 12_000
MAX_BUTTON_VALUE = 2000  # Block Kit reference, button element: `value` max 2000 chars

VOTE_UP = "digestbot_vote_up"  # action ids of the vote buttons
VOTE_DOWN = "digestbot_vote_down"
VOTE_BLOCK = "digestbot_vote_"  # + the paper's position in the digest: unique per message

# Our own budgets, well inside Slack's: one paper's section never takes more than this much of
# a message's JSON (so one paper always fits next to the header), and a link target longer
# than this is shown as plain bold text rather than risking the section limit.
_MAX_PAPER_JSON = 4000
_MAX_LINK_TARGET = 1000
_MAX_FALLBACK_NAME = 150  # the profile name in the fallback text; the date always follows
# (title, authors, why) limits in characters of escaped text, tried in order until the
# section fits; the last tier always fits.
_CLIP_TIERS: tuple[tuple[int, int, int], ...] = ((400, 300, 300), (200, 150, 150), (80, 60, 60))


@dataclass(frozen=True)
class SlackMessage:
    """One `chat.postMessage` call: fallback text, blocks, and the papers it carries."""

    text: str
    blocks: list[dict[str, Any]]
    paper_ids: tuple[str, ...]


def _clip(text: str, limit: int) -> str:
    """`text` escaped for mrkdwn and cut to at most `limit` characters of escaped text.

    Cut character by character so an entity like `&amp;` is never split."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    for ch in text:
        piece = escape_mrkdwn(ch)
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out).rstrip() + "…"


def _link_target(url: str) -> str:
    """A URL made safe inside `<url|text>`: nothing in it can end the link or split it."""
    safe = "".join(
        quote(ch, safe="") if ch in "|<>" or ch.isspace() or not ch.isprintable() else ch
        for ch in url
    )
    return escape_mrkdwn(safe)


def _json_len(value: object) -> int:
    """Characters of `value` as slack-sdk sends it (json.dumps defaults: ASCII, ", " and ": ")."""
    return len(json.dumps(value))


def _mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _facts(match: Match, why_limit: int) -> str:
    facts = [f for f in (score_fact(match),) if f]
    upvotes = match.paper.extras.get("upvotes")
    if isinstance(upvotes, int) and not isinstance(upvotes, bool):
        facts.append(f"▲ {upvotes} upvote{'' if upvotes == 1 else 's'}")
    why = fold_whitespace(why_line(match))
    if why:
        facts.append("why: " + _clip(why, why_limit))
    return " · ".join(facts)


def _paper_section(match: Match) -> dict[str, Any]:
    """The section for one paper: linked title, authors, facts. Truncated, never dropped."""
    paper = match.paper
    title_text = fold_whitespace(paper.title) or paper.id
    authors_text = fold_whitespace(short_authors(tuple(fold_whitespace(a) for a in paper.authors)))
    target = _link_target(paper_url(paper))
    block: dict[str, Any] = {}
    for title_limit, authors_limit, why_limit in _CLIP_TIERS:
        title = _clip(title_text, title_limit)
        # A title cannot break out of the link: `<` and `>` are escaped, and a `|` after the
        # separator is part of the text.
        if target and len(target) <= _MAX_LINK_TARGET:
            first = f"*<{target}|{title}>*"
        else:
            first = f"*{title}*"
        text = "\n".join((first, _clip(authors_text, authors_limit), _facts(match, why_limit)))
        block = _mrkdwn_section(text)
        if len(text) <= MAX_SECTION_TEXT and _json_len(block) <= _MAX_PAPER_JSON:
            return block
    return block  # the last tier: at most ~80+60+60 characters of text, 6x when \u-escaped


def vote_value(profile_id: str, paper_id: str) -> str:
    """A vote button's value: the profile and the paper, as a compact JSON pair."""
    return json.dumps([profile_id, paper_id], separators=(",", ":"))


def read_vote_value(value: object) -> tuple[str, str] | None:
    """(profile id, paper id) from a button value `vote_value` wrote; None for anything else
    (not a string, too long, not JSON, not a pair of non-empty strings)."""
    if not isinstance(value, str) or not value or len(value) > MAX_BUTTON_VALUE:
        return None
    try:
        pair = json.loads(value)
    except ValueError:
        return None
    if (
        not isinstance(pair, list)
        or len(pair) != 2
        or not all(isinstance(part, str) and part.strip() for part in pair)
    ):
        return None
    return pair[0], pair[1]


def _vote_block(profile_id: str, paper_id: str, position: int) -> dict[str, Any] | None:
    """The "More like this" / "Less like this" buttons of one paper; None when its value would
    not fit in a button."""
    value = vote_value(profile_id, paper_id)
    if len(value) > MAX_BUTTON_VALUE:
        return None
    return {
        "type": "actions",
        "block_id": f"{VOTE_BLOCK}{position}",
        "elements": [
            {
                "type": "button",
                "action_id": action_id,
                "text": {"type": "plain_text", "text": label, "emoji": True},
                "value": value,
            }
            for action_id, label in (
                (VOTE_UP, "👍 More like this"),
                (VOTE_DOWN, "👎 Less like this"),
            )
        ],
    }


def _header_text(delivery: Delivery) -> str:
    day = delivery.digest_day.isoformat()
    name = fold_whitespace(delivery.profile_name) or delivery.profile_id
    suffix = f" — {day}"
    return truncate(name, MAX_HEADER_TEXT - len(suffix)) + suffix


def _fallback(delivery: Delivery, what: str) -> str:
    name = fold_whitespace(delivery.profile_name) or delivery.profile_id
    return _clip(name, _MAX_FALLBACK_NAME) + escape_mrkdwn(
        f": {what} ({delivery.digest_day.isoformat()})"
    )


def build_messages(delivery: Delivery, *, buttons: bool = False) -> list[SlackMessage]:
    """The messages for one digest: the first with a header, the rest meant as thread replies.

    Papers keep their order and each appears in exactly one message, with its vote buttons right
    after it when `buttons`. A message is closed when one more paper would exceed MAX_BLOCKS or
    MAX_BLOCKS_JSON.
    """
    head: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header_text(delivery)}},
        _mrkdwn_section(escape_mrkdwn(headline(delivery))),
    ]
    papers: list[tuple[str, list[dict[str, Any]]]] = []
    for position, match in enumerate(delivery.matches):
        blocks = [_paper_section(match)]
        vote = _vote_block(delivery.profile_id, match.paper.id, position) if buttons else None
        if vote is not None:
            blocks.append(vote)
        papers.append((match.paper.id, blocks))

    # Continuations start with "continued (k/n)"; n is unknown while packing, so reserve room
    # for the widest such block.
    digits = "9" * len(str(len(papers) + 1))
    widest_context = _context(f"continued ({digits}/{digits})")

    groups: list[list[tuple[str, list[dict[str, Any]]]]] = [[]]
    count, size = len(head), _json_len(head)
    for paper_id, blocks in papers:
        extra = sum(_json_len(block) + 2 for block in blocks)  # plus the ", " separators
        if groups[-1] and (count + len(blocks) > MAX_BLOCKS or size + extra > MAX_BLOCKS_JSON):
            groups.append([])
            count, size = 1, _json_len([widest_context])
        groups[-1].append((paper_id, blocks))
        count += len(blocks)
        size += extra

    total = len(groups)
    messages: list[SlackMessage] = []
    for k, group in enumerate(groups, start=1):
        if k == 1:
            first: list[dict[str, Any]] = head
            text = _fallback(delivery, headline(delivery))
        else:
            first = [_context(f"continued ({k}/{total})")]
            text = _fallback(delivery, f"continued ({k}/{total})")
        messages.append(
            SlackMessage(
                text=text,
                blocks=[*first, *(block for _, blocks in group for block in blocks)],
                paper_ids=tuple(paper_id for paper_id, _ in group),
            )
        )
    return messages
