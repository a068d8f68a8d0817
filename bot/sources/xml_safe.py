"""Parsing a source's XML safely: the one place the arXiv formats and any journal feed are
turned from bytes into an element tree.

defusedxml with document type declarations, entities and external references forbidden: no feed
needs them, so a payload carrying them (billion laughs, an external entity pointing at a local
file) is refused before it is expanded or read. An HTML page (a maintenance or error page from
the publisher or a proxy) is recognised before parsing, as its DOCTYPE would otherwise read as a
refused DTD. Every failure is one `ParseError`, in the words of the source that asked.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from bot.errors import ParseError
from bot.models import fold_whitespace

_HTML_TITLE = re.compile(rb"<title[^>]*>(?P<title>.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Voice:
    """How one source names what it read and what to do about each failure."""

    what: str  # "the arXiv RSS feed": the subject of every message
    why_refused: str  # after "declares a document type or entities (...)"
    html_hint: str
    refused_hint: str
    garbled_hint: str


def safe_root(content: bytes, voice: Voice, *, url: str | None = None) -> ET.Element:
    """The root element, parsed safely; every failure becomes one ParseError."""
    if looks_like_html(content):
        title_match = _HTML_TITLE.search(content[:4096])
        title = title_match.group("title").decode("utf-8", "replace") if title_match else ""
        shown = f" titled {fold_whitespace(title)[:80]!r}" if title.strip() else ""
        raise ParseError(
            f"{voice.what} was an HTML page{shown}, not XML", url=url, hint=voice.html_hint
        )
    try:
        root: ET.Element = SafeET.fromstring(
            content, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise ParseError(
            f"{voice.what} declares a document type or entities ({type(exc).__name__}); "
            f"{voice.why_refused}",
            url=url,
            hint=voice.refused_hint,
        ) from exc
    except (ET.ParseError, ValueError) as exc:
        raise ParseError(
            f"{voice.what} is not well-formed XML ({first_line(exc)})",
            url=url,
            hint=voice.garbled_hint,
        ) from exc
    return root


def looks_like_html(content: bytes) -> bool:
    """An HTML (or XHTML) page: checked before parsing, as its DOCTYPE would be refused."""
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml"):
        head = head.partition(b"?>")[2].lstrip()
    return head.startswith((b"<!doctype html", b"<html"))


def first_line(exc: BaseException) -> str:
    """An exception's first line, short enough for a one-line error."""
    return (str(exc) or type(exc).__name__).splitlines()[0][:200]
