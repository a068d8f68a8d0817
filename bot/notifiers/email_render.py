"""An email digest as a MIME message: plain text first, HTML second, the same papers in both.

Pure: `build_message(delivery, recipient, sender, reply_to)` returns an EmailMessage and sends
nothing. The HTML comes from a Jinja2 template with autoescape on, so a `<script>` in a title is
text; only http(s) URLs become links (a `javascript:` link from a feed is dropped). The
Message-ID is derived from the delivery key, so the same digest always has the same id (a
resend after a crash is recognisable by mail systems and by the reader).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from jinja2 import Environment

from bot.models import Delivery, Match
from bot.notifiers.email_address import addr_spec, formatted
from bot.notifiers.email_address import parse as parse_address
from bot.render import headline, paper_url, safe_http_url, short_authors, why_line

_TEXT = """\
{{ profile }} — {{ day }}
{{ headline }}
{% for p in papers %}
{{ loop.index }}. {{ p.title }}
   {{ p.url or "(no link)" }}
   {{ p.authors }}
   score {{ p.score }}{% if p.upvotes is not none %} · {{ p.upvotes }} HF upvotes{% endif %}
{%- if p.why %}
   why: {{ p.why }}{% endif %}
{%- if p.summary %}
   summary: {{ p.summary }}{% endif %}
{% endfor %}
--
You get this because a digestbot profile sends "{{ profile }}" to you.
To stop: reply "unsubscribe" or write to {{ unsubscribe }}.
"""

_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>{{ profile }} — {{ day }}</title>
</head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif;
 line-height: 1.45; max-width: 680px;">
<h2 style="margin-bottom: 0.2em;">{{ profile }} — {{ day }}</h2>
<p style="margin-top: 0;">{{ headline }}</p>
<ol style="padding-left: 1.2em;">
{% for p in papers %}
<li style="margin-bottom: 1em;">
{% if p.url %}<a href="{{ p.url }}" style="font-weight: 600;">{{ p.title }}</a>
{%- else %}<strong>{{ p.title }}</strong>{% endif %}<br>
<span>{{ p.authors }}</span><br>
<span>score {{ p.score }}
{%- if p.upvotes is not none %} · {{ p.upvotes }} HF upvotes{% endif %}</span>
{% if p.why %}<br><span><em>why:</em> {{ p.why }}</span>{% endif %}
{% if p.summary %}<br><span><em>summary:</em> {{ p.summary }}</span>{% endif %}
</li>
{% endfor %}
</ol>
<p style="font-size: 0.85em;">You get this because a digestbot profile sends "{{ profile }}" to you.
To stop, <a href="mailto:{{ unsubscribe }}?subject=unsubscribe">write to {{ unsubscribe }}</a>.</p>
</body>
</html>
"""

_ENV = Environment(autoescape=True, keep_trailing_newline=True)
_TEXT_ENV = Environment(autoescape=False, keep_trailing_newline=True)  # plain: no escaping
TEXT_TEMPLATE = _TEXT_ENV.from_string(_TEXT)
HTML_TEMPLATE = _ENV.from_string(_HTML)


def one_line(text: str) -> str:
    """`text` fit for a header: white space folded, control characters dropped. Profiles are
    checked for them, but a row queued by an older version keeps the name it was queued with."""
    return " ".join(
        "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch.isspace()).split()
    )


def list_label(profile_id: str) -> str:
    """The profile id (a file name) as a List-Id label: an RFC 5322 atom, other characters "-"."""
    return re.sub(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]", "-", profile_id) or "profile"


def subject(delivery: Delivery) -> str:
    n = len(delivery.matches)
    noun = "paper" if n == 1 else "papers"
    return one_line(f"[digestbot] {delivery.profile_name}: {n} new {noun} — {delivery.digest_day}")


def message_id(delivery: Delivery, domain: str) -> str:
    digest = hashlib.sha256(delivery.key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def _paper(match: Match) -> dict[str, Any]:
    paper = match.paper
    upvotes = paper.extras.get("upvotes")
    summary = paper.extras.get("ai_summary")
    return {
        "title": paper.title,
        "url": safe_http_url(paper_url(paper)),
        "authors": short_authors(paper.authors),
        "score": f"{match.score:.2f}",
        "upvotes": upvotes if isinstance(upvotes, int) else None,
        "why": why_line(match),
        "summary": summary if isinstance(summary, str) else "",
    }


def build_message(
    delivery: Delivery,
    recipient: str,
    sender: str,
    reply_to: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The digest for one recipient, ready for SMTP. `recipient`, `sender` and `reply_to` are
    checked addresses, with or without a display name (bot/notifiers/email_address.py); the
    sender without one is shown as "digestbot"."""
    name, sender_addr = parse_address(sender)
    domain = sender_addr.rpartition("@")[2] or "digestbot.invalid"
    unsubscribe = addr_spec(reply_to or sender)
    context = {
        "profile": delivery.profile_name,
        "day": delivery.digest_day.isoformat(),
        "headline": headline(delivery),
        "papers": [_paper(m) for m in delivery.matches],
        "unsubscribe": unsubscribe,
    }
    msg = EmailMessage()
    msg["From"] = formatted(name or "digestbot", sender_addr)
    msg["To"] = recipient
    msg["Subject"] = subject(delivery)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = message_id(delivery, domain)
    msg["List-Id"] = (
        f"{one_line(delivery.profile_name)} <{list_label(delivery.profile_id)}.digestbot.{domain}>"
    )
    msg["List-Unsubscribe"] = (
        f"<mailto:{unsubscribe}?subject={quote('unsubscribe ' + delivery.profile_id)}>"
    )
    if reply_to:
        msg["Reply-To"] = reply_to
    msg.set_content(TEXT_TEMPLATE.render(context))
    msg.add_alternative(HTML_TEMPLATE.render(context), subtype="html")
    return msg
