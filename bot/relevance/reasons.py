"""Which shared terms may be shown to a reader as the reason for a match.

The scorer weighs every term of a paper, including the pieces of a link (`https`, `github`,
`com`, a user name), numbers (`48`, `19`) and boilerplate ("code is available at",
"et al."). They count in the score like any term (the ranking is measured with them), but as
a reason they explain nothing: "terms available https, code available, com". A term is shown
as a reason only if

- it occurs in the paper's prose: its title and abstract with links, e-mail addresses and DOIs
  taken out (so `omniscope` from `github.com/MAC-AutoML/OmniScope` is shown only if the prose
  says it too);
- none of its words is a number, a piece of a web address (`URL_WORDS`) or a boilerplate word
  (`BOILERPLATE_WORDS`), and it is not a boilerplate phrase (`BOILERPLATE_PHRASES`).

Terms are the analyzer's (relevance/tfidf.py): lower-case words and word pairs, stop words dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.models import Paper
from bot.relevance.tfidf import terms_of

# Words that, in a title or abstract, come from a web address (or name where code is hosted).
URL_WORDS = frozenset(
    {"http", "https", "www", "com", "org", "io", "github", "gitlab", "huggingface", "doi", "html"}
)
# Words of "code and data are publicly available / released", "Smith et al.".
BOILERPLATE_WORDS = frozenset({"available", "availability", "publicly", "released", "et", "al"})
# Pairs (stop words dropped) that say where to find things, or what every abstract says,
# not what the paper is about ("state-of-the-art" is "state art").
BOILERPLATE_PHRASES = frozenset(
    {
        "code data",
        "data code",
        "code models",
        "models code",
        "project page",
        "demo page",
        "state art",
        "achieves state",
        "achieves best",
        "results suggest",
        "results show",
        "results demonstrate",
        "experiments show",
        "experiments demonstrate",
        "extensive experiments",
        "based methods",
        "existing methods",
        "outperforms existing",
        "paper propose",
        "propose novel",
    }
)

# A link with a scheme, www.…, a bare domain with a path (aka.ms/x) or a common top-level
# domain (askchem.org), an e-mail address, a DOI.
_LINKS = re.compile(
    r"""
      \b[a-z][a-z0-9+.\-]*://\S*
    | \bwww\.\S*
    | \b[\w\-]+(?:\.[\w\-]+)+/\S*
    | \b[\w\-]+(?:\.[\w\-]+)*\.(?:com|org|net|io|ai|edu|gov|dev|app|me|co)\b\S*
    | \S+@\S+\.\w+
    | \b10\.\d{4,9}/\S+
    """,
    re.IGNORECASE | re.VERBOSE,
)


def prose(text: str) -> str:
    """`text` without its links, e-mail addresses and DOIs."""
    return _LINKS.sub(" ", text)


@lru_cache(maxsize=65536)  # the same terms, match after match
def readable(term: str) -> bool:
    """Whether `term` (a word or a pair) can stand as a reason on its own."""
    if term in BOILERPLATE_PHRASES:
        return False
    return not any(w.isdecimal() or w in URL_WORDS or w in BOILERPLATE_WORDS for w in term.split())


class ReasonTerms:
    """The terms of one paper that may be shown as reasons (asked only of the paper's terms)."""

    def __init__(self, paper: Paper) -> None:
        self._prose = _prose_terms(paper.text)

    def __contains__(self, term: object) -> bool:
        if not isinstance(term, str) or not readable(term):
            return False
        return self._prose is None or term in self._prose


@lru_cache(maxsize=4096)  # a paper matched by several profiles is analysed once
def _prose_terms(text: str) -> frozenset[str] | None:
    """The terms of `text` outside its links; None when it has no link (then all of them)."""
    if not _LINKS.search(text):
        return None
    return frozenset(terms_of(prose(text)))
