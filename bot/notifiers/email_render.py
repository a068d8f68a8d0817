"""An email digest as a MIME message: plain text first, HTML second, the same papers in both.

Pure: `build_message(delivery, recipient, sender, reply_to)` returns an EmailMessage and sends
nothing; `build_group_message(deliveries, ...)` is one email carrying several profiles' digests
of one day for one recipient (email's `group: recipient`), a section per profile. The HTML
comes from a Jinja2 template with autoescape on, so a `<script>` in a title is text; only
http(s) URLs become links (a `javascript:` link from a feed is dropped). The Message-ID is
derived from the delivery keys, so the same digest (or group of digests) always has the same
id (a resend after a crash is recognisable by mail systems and by the reader). Given `links`
(`web:` configured), each paper gets "more like this" / "less like this" links, signed for its
profile, its paper and the recipient (bot/web/tokens.py); in plain text every paper field is
kept on one line, so that no title can pass for such a link.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.models import Delivery, Match
from bot.notifiers.email_address import addr_spec, formatted
from bot.notifiers.email_address import parse as parse_address
from bot.render import headline, paper_url, safe_http_url, score_fact, short_authors, why_line
from bot.web.tokens import VoteLinks

if TYPE_CHECKING:
    from jinja2 import Template

# Why the reader gets this email, naming the profiles (both templates; escaped in HTML).
_FOOTER = """\
{%- macro footer() -%}
You get this because {% if grouped %}digestbot profiles {% for n in profiles -%}
"{{ n }}"{{ ", " if loop.revindex > 2 else (" and " if loop.revindex == 2 else "") }}
{%- endfor %} send{% else %}a digestbot profile sends "{{ profiles[0] }}"{% endif %} to you.
{%- endmacro %}"""

_TEXT = """\
{{ title }}
{{ headline }}
{% for s in sections %}
{%- if grouped %}
== {{ s.profile }} ==
{{ s.headline }}
{% endif %}
{%- for p in s.papers %}
{{ loop.index }}. {{ p.title|line }}
   {{ p.url or "(no link)" }}
   {{ p.authors|line }}
{%- if p.facts %}
   {{ p.facts|line }}{% endif %}
{%- if p.why %}
   why: {{ p.why|line }}{% endif %}
{%- if p.summary %}
   summary: {{ p.summary|line }}{% endif %}
{%- if p.votes %}
   more like this: {{ p.votes[0] }}
   less like this: {{ p.votes[1] }}{% endif %}
{% endfor %}
{%- endfor %}
--
{{ footer() }}
To stop: reply "unsubscribe" or write to {{ unsubscribe }}.
"""

_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>{{ title }}</title>
</head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif;
 line-height: 1.45; max-width: 680px;">
<h2 style="margin-bottom: 0.2em;">{{ title }}</h2>
<p style="margin-top: 0;">{{ headline }}</p>
{% for s in sections %}
{%- if grouped %}
<h3 style="margin-bottom: 0.2em;">{{ s.profile }}</h3>
<p style="margin-top: 0;">{{ s.headline }}</p>
{% endif -%}
<ol style="padding-left: 1.2em;">
{% for p in s.papers %}
<li style="margin-bottom: 1em;">
{% if p.url %}<a href="{{ p.url }}" style="font-weight: 600;">{{ p.title }}</a>
{%- else %}<strong>{{ p.title }}</strong>{% endif %}<br>
<span>{{ p.authors }}</span>{% if p.facts %}<br>
<span>{{ p.facts }}</span>{% endif %}
{% if p.why %}<br><span><em>why:</em> {{ p.why }}</span>{% endif %}
{% if p.summary %}<br><span><em>summary:</em> {{ p.summary }}</span>{% endif %}
{%- if p.votes %}
<br><span><a href="{{ p.votes[0] }}">more like this</a> ·
<a href="{{ p.votes[1] }}">less like this</a></span>{% endif %}
</li>
{% endfor %}
</ol>
{% endfor -%}
<p style="font-size: 0.85em;">{{ footer() }}
To stop, <a href="mailto:{{ unsubscribe }}?subject=unsubscribe">write to {{ unsubscribe }}</a>.</p>
</body>
</html>
"""


@functools.cache
def _templates() -> tuple[Template, Template]:
    """The (plain text, HTML) templates, compiled on the first email: Jinja2 is imported then,
    not by every command that reads a config naming the email notifier."""
    from jinja2 import Environment

    env = Environment(autoescape=True, keep_trailing_newline=True)
    text_env = Environment(autoescape=False, keep_trailing_newline=True)  # plain: no escaping
    # In plain text a line break in a paper's text would start a line of its own, one that could
    # pass for the bot's (a fake "more like this:" link): each value is kept on its line.
    text_env.filters["line"] = lambda text: " ".join(str(text).split())
    return text_env.from_string(_FOOTER + _TEXT), env.from_string(_FOOTER + _HTML)


def one_line(text: str) -> str:
    """`text` fit for a header: white space folded, control characters dropped. Profiles are
    checked for them, but a row queued by an older version keeps the name it was queued with."""
    return " ".join(
        "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch.isspace()).split()
    )


def list_label(profile_id: str) -> str:
    """The profile id (a file name) as a List-Id label: an RFC 5322 atom, other characters "-"."""
    return re.sub(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]", "-", profile_id) or "profile"


def group_subject(deliveries: Sequence[Delivery]) -> str:
    """ "[digestbot] A, B: 4 new papers — day": the profiles' names, the papers of all."""
    n = sum(len(d.matches) for d in deliveries)
    noun = "paper" if n == 1 else "papers"
    names = ", ".join(d.profile_name for d in deliveries)
    return one_line(f"[digestbot] {names}: {n} new {noun} — {deliveries[0].digest_day}")


def group_message_id(deliveries: Sequence[Delivery], domain: str) -> str:
    """Derived from the deliveries' keys (each names its profile, destination, day and exact
    papers): the same email always has the same id, and one delivery alone keeps the id it
    has as a digest of its own."""
    keys = "\n".join(sorted(d.key for d in deliveries))
    digest = hashlib.sha256(keys.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def _paper(match: Match, votes: tuple[str, str] | None = None) -> dict[str, Any]:
    """What the templates show of one paper; `votes`: its (more, less like this) links."""
    paper = match.paper
    upvotes = paper.extras.get("upvotes")
    summary = paper.extras.get("ai_summary")
    facts = [score_fact(match)]
    if isinstance(upvotes, int):
        facts.append(f"{upvotes} HF upvotes")
    return {
        "title": paper.title,
        "url": safe_http_url(paper_url(paper)),
        "authors": short_authors(paper.authors),
        "facts": " · ".join(f for f in facts if f),
        "why": why_line(match),
        "summary": summary if isinstance(summary, str) else "",
        "votes": votes,
    }


def build_message(
    delivery: Delivery,
    recipient: str,
    sender: str,
    reply_to: str | None = None,
    now: datetime | None = None,
    links: VoteLinks | None = None,
) -> EmailMessage:
    """The digest for one recipient, ready for SMTP."""
    return build_group_message([delivery], recipient, sender, reply_to, now, links)


def build_group_message(
    deliveries: Sequence[Delivery],
    recipient: str,
    sender: str,
    reply_to: str | None = None,
    now: datetime | None = None,
    links: VoteLinks | None = None,
) -> EmailMessage:
    """One email for one recipient carrying `deliveries` (one digest day, one per profile):
    with one, that profile's digest; with several, a section per profile, in their order.
    `recipient`, `sender` and `reply_to` are checked addresses, with or without a display
    name (bot/notifiers/email_address.py); the sender without one is shown as "digestbot".
    With `links`, each paper carries its vote links for its section's profile and the bare
    address of `recipient`, valid 60 days from `now` (the sending time, default: now)."""
    sent = now or datetime.now(UTC)
    to = addr_spec(recipient)
    name, sender_addr = parse_address(sender)
    domain = sender_addr.rpartition("@")[2] or "digestbot.invalid"
    unsubscribe = addr_spec(reply_to or sender)
    day = deliveries[0].digest_day.isoformat()
    grouped = len(deliveries) > 1
    names = [d.profile_name for d in deliveries]
    if grouped:
        n = sum(len(d.matches) for d in deliveries)
        noun = "paper" if n == 1 else "papers"
        title = f"Your papers — {day}"
        top = f"{n} new {noun} from {len(deliveries)} profiles: {', '.join(names)}"
        label, unsubscribe_ids = "digest", " ".join(d.profile_id for d in deliveries)
        list_name = "digestbot"
    else:
        title, top = f"{names[0]} — {day}", headline(deliveries[0])
        label, unsubscribe_ids = list_label(deliveries[0].profile_id), deliveries[0].profile_id
        list_name = names[0]
    context = {
        "title": title,
        "headline": top,
        "grouped": grouped,
        "sections": [
            {
                "profile": d.profile_name,
                "headline": headline(d),
                "papers": [
                    _paper(m, links.pair(d.profile_id, m.paper.id, to, sent) if links else None)
                    for m in d.matches
                ],
            }
            for d in deliveries
        ],
        "profiles": names,
        "unsubscribe": unsubscribe,
    }
    msg = EmailMessage()
    msg["From"] = formatted(name or "digestbot", sender_addr)
    msg["To"] = recipient
    msg["Subject"] = group_subject(deliveries)
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = group_message_id(deliveries, domain)
    msg["List-Id"] = f"{one_line(list_name)} <{label}.digestbot.{domain}>"
    msg["List-Unsubscribe"] = (
        f"<mailto:{unsubscribe}?subject={quote('unsubscribe ' + unsubscribe_ids)}>"
    )
    if reply_to:
        msg["Reply-To"] = reply_to
    text_template, html_template = _templates()
    msg.set_content(text_template.render(context))
    msg.add_alternative(html_template.render(context), subtype="html")
    return msg
