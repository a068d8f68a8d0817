"""The data that flows through the pipeline, and the one rule for naming a paper.

Everything here is a frozen dataclass: sources produce `Paper`s, the scorer turns them into
`Match`es against `Profile`s, the outbox groups matches into `Delivery`s, and each run ends in a
`RunReport`. `canonical_id()` is the single place that decides when two records are one paper.
`Check` is one line of `digestbot check --live`, made by notifiers' and sources' probes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

# New-style arXiv ids (0704.0001 .. 2607.26654, 4 or 5 digits after the dot) and old-style
# archive ids (hep-th/9901001, cond-mat/0412498). An optional version suffix is split off.
_NEW_ID = re.compile(r"(?P<id>\d{4}\.\d{4,5})(?P<version>v\d+)?")
_OLD_ID = re.compile(r"(?P<id>[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?P<version>v\d+)?")
_PREFIXES = (
    "oai:arxiv.org:",
    "arxiv:",
    "https://arxiv.org/abs/",
    "http://arxiv.org/abs/",
    "https://arxiv.org/pdf/",
    "http://arxiv.org/pdf/",
    "https://export.arxiv.org/abs/",
    "http://export.arxiv.org/abs/",
    "https://huggingface.co/papers/",
)


def split_arxiv_id(raw: str) -> tuple[str, str | None] | None:
    """Return (id without version, version or None) if `raw` names an arXiv paper, else None."""
    text = raw.strip()
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    text = text.removesuffix(".pdf").rstrip("/")
    for pattern in (_NEW_ID, _OLD_ID):
        m = pattern.fullmatch(text)
        if m:
            return m.group("id"), m.group("version")
    return None


def canonical_id(raw: str, source: str = "unknown") -> str:
    """The one id a paper is stored under: its arXiv id without version, else `source:raw`."""
    parsed = split_arxiv_id(raw)
    if parsed is not None:
        return parsed[0]
    return f"{source}:{raw.strip()}"


def fold_whitespace(text: str) -> str:
    """Fold hard line wraps and runs of white space into single spaces."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Paper:
    """One paper, as the bot knows it after parsing (and merging sources)."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    url: str = ""
    categories: tuple[str, ...] = ()
    published: str = ""  # ISO date (YYYY-MM-DD) of the paper itself, when known
    day: date | None = None  # the digest day the source listed it on
    source: str = ""
    version: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)  # upvotes, ai_summary, github_repo...

    @property
    def text(self) -> str:
        """What the scorer reads."""
        return f"{self.title}. {self.abstract}"

    def merged_with(self, other: Paper) -> Paper:
        """This paper with the blanks filled in from `other` (same canonical id). The other
        ids each is known by (`extras["aliases"]`, bot/identity.py) add up."""
        extras = {**other.extras, **self.extras}
        aliases = [
            a
            for p in (self, other)
            if isinstance(listed := p.extras.get("aliases"), list | tuple)
            for a in listed
        ]
        if aliases:
            extras["aliases"] = sorted(set(aliases) - {self.id})
        return replace(
            self,
            abstract=self.abstract or other.abstract,
            authors=self.authors or other.authors,
            url=self.url or other.url,
            categories=tuple(dict.fromkeys(self.categories + other.categories)),
            published=self.published or other.published,
            day=self.day or other.day,
            extras=extras,
        )


@dataclass(frozen=True)
class Profile:
    """One person's (or team's) interests, loaded from one YAML file."""

    id: str  # the file's stem: stable key for the outbox
    name: str
    description: str
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_score: float = 0.98  # a percentile among recent papers (bot/relevance/scoring.py)
    max_per_digest: int = 10
    categories: tuple[str, ...] = ()  # only papers in one of these (unknown categories pass)
    category_boost: Mapping[str, float] = field(default_factory=dict)
    examples: tuple[str, ...] = ()  # canonical ids of papers like the ones wanted
    not_like: tuple[str, ...] = ()  # canonical ids of papers unlike them
    authors: tuple[str, ...] = ()  # followed authors: their papers always match
    upvote_weight: float = 0.0  # how much HF upvotes add to the score (0..1 at 100 upvotes)
    destinations: tuple[str, ...] = ()  # "notifier:target", e.g. "slack:#papers-norm"
    path: str = ""
    # destination -> the target as written, when it says more than the destination: how a
    # message addresses it ("email:alice@lab.example" -> "Alice Liu <alice@lab.example>")
    addressees: Mapping[str, str] = field(default_factory=dict)
    # Example papers the profile's library (`library:`, bot/relevance/library.py) gives with
    # their text (title + abstract): used as they are, never looked up. Their ids are in
    # `examples`, after the YAML's `papers:`.
    library_papers: tuple[Paper, ...] = ()
    zotero: ZoteroLibrary | None = None  # a Zotero library read at run time, if any


@dataclass(frozen=True)
class ZoteroLibrary:
    """`library: zotero:` of a profile: a user's Zotero library, or one collection of it."""

    user: int
    collection: str | None = None  # a collection's name (or key); None: the whole library
    api_key_env: str | None = None  # the variable holding the API key (a private library)
    base_url: str = "https://api.zotero.org"


# The first reason of a followed author's paper is "followed author NAME". The outbox keeps the
# reasons, not `Match.followed`: it is read back from this prefix.
FOLLOWED_REASON = "followed author "


@dataclass(frozen=True)
class Match:
    """A paper that passed a profile, with the evidence for it."""

    paper: Paper
    profile_id: str
    score: float
    why: tuple[str, ...] = ()  # reasons: followed author, keyword hits, example, shared terms
    followed: bool = False  # matched because a followed author wrote it


@dataclass(frozen=True)
class Delivery:
    """One digest for one destination: what a notifier is asked to send."""

    profile_id: str
    profile_name: str
    destination: str  # "slack:#channel" or "console"
    digest_day: date
    matches: tuple[Match, ...]
    candidates: int  # how many new papers were considered ("N matched out of M")
    recovering: bool = False  # left `sending` by a crashed run: maybe already delivered

    @property
    def key(self) -> str:
        """Idempotency key of this digest: profile, destination, day and its exact papers."""
        ids = ",".join(sorted(m.paper.id for m in self.matches))
        digest = hashlib.sha256(ids.encode("utf-8")).hexdigest()[:16]
        return f"{self.profile_id}|{self.destination}|{self.digest_day.isoformat()}|{digest}"


@dataclass
class SourceReport:
    """What one source did in one run."""

    name: str
    health: dict[str, str] = field(default_factory=dict)  # digest day -> health (bot/health.py)
    fetched: int = 0
    new: int = 0
    error: str | None = None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        trouble = ("failed", "stale", "unexpected_empty")
        return self.error is None and not any(h in trouble for h in self.health.values())

    @property
    def status(self) -> str:
        """One word for the summary line: the worst health seen."""
        for worst in ("failed", "stale", "unexpected_empty", "ok", "expected_empty"):
            if worst in self.health.values():
                return worst
        return "not run"


@dataclass
class DestinationReport:
    """What one destination did in one run."""

    destination: str
    sent: int = 0  # papers delivered
    failed: int = 0  # papers left queued
    error: str | None = None
    hint: str | None = None


@dataclass
class RunReport:
    """Counts per stage, per source and per destination; the run's exit code derives from it."""

    sources: list[SourceReport] = field(default_factory=list)
    destinations: dict[str, DestinationReport] = field(default_factory=dict)
    new_papers: int = 0
    matches: int = 0
    profile_errors: int = 0
    stopped: bool = False

    @property
    def failed(self) -> bool:
        return any(not s.ok for s in self.sources) or any(
            d.failed or d.error for d in self.destinations.values()
        )

    def summary(self) -> str:
        parts = [f"{s.name}: {s.status} fetched={s.fetched} new={s.new}" for s in self.sources]
        parts += [
            f"{d.destination}: sent={d.sent} failed={d.failed}" for d in self.destinations.values()
        ]
        parts.append(f"new={self.new_papers} matches={self.matches}")
        return "run: " + "; ".join(parts)


@dataclass(frozen=True)
class Check:
    """One line of `digestbot check --live`: what was checked, and how it went.

    `status` is "ok", "failed" (exit 1) or "skipped" (not checked, with why). `detail` is what
    was proven, or the reason it failed; `hint` the next step. Never a secret in either."""

    name: str  # "slack auth.test", "slack #papers", "email smtp.example.org:587", "source hf"
    status: Literal["ok", "failed", "skipped"]
    detail: str
    hint: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def lines(self) -> list[str]:
        """The check as printed: one line, plus a hint line when it failed."""
        if self.status == "failed":
            head = f"{self.name}: failed: {self.detail}"
        else:
            head = f"{self.name}: {self.status}" + (f" ({self.detail})" if self.detail else "")
        return [head] + ([f"  hint: {self.hint}"] if self.hint and self.failed else [])
