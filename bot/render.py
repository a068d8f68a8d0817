"""Text helpers shared by the notifiers: links, short author lists, the "why" line, escaping.

Everything here is pure. Paper text comes from the outside world, so anything that a channel
would interpret (Slack's `<...>` control sequences, later HTML) is escaped by the helper for that
channel, never by hand at the call site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.models import Delivery, Match, Paper


def paper_url(paper: Paper) -> str:
    """The link shown for a paper: its source URL if it is http(s), else the arXiv abstract."""
    if paper.url and urlsplit(paper.url).scheme in ("http", "https"):
        return paper.url
    if ":" not in paper.id:  # a canonical arXiv id
        return f"https://arxiv.org/abs/{paper.id}"
    return ""


def safe_http_url(url: object) -> str | None:
    """`url` if it is an http(s) URL, else None (a `javascript:` link from a feed is dropped)."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    return url if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc else None


def short_authors(authors: tuple[str, ...], keep: int = 3) -> str:
    if not authors:
        return "unknown authors"
    if len(authors) <= keep:
        return ", ".join(authors)
    return ", ".join(authors[:keep]) + " et al."


def score_fact(match: Match) -> str | None:
    """ "score 0.97", or None for a followed author's paper: it is sent for its author whatever
    it scores (a profile that only follows people scores 0), and its why line names them."""
    return None if match.followed else f"score {match.score:.2f}"


def why_line(match: Match) -> str:
    """The reasons of a match on one line, e.g. "keyword RMSNorm; terms layer norm, pre ln"."""
    return "; ".join(match.why)


def headline(delivery: Delivery) -> str:
    n = len(delivery.matches)
    noun = "paper" if n == 1 else "papers"
    return f"{n} new {noun} matched out of {delivery.candidates}"


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` cut to at most `limit` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ellipsis))].rstrip() + ellipsis


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack reserves, so `<!channel>`, `<@U123>` and
    `<https://evil|click>` in paper text show as text, never as a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
