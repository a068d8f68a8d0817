"""Relevance of new papers to interest profiles, with the reasons for each match.

A paper is its title and abstract as a unit-length TF-IDF vector (bot/tfidf.py), with the IDF
of the stored corpus. A profile is one vector too, Rocchio-style:

    q = W_DESCRIPTION * v(description) + W_KEYWORDS * v(keywords)
        + W_EXAMPLES * mean(v(example papers)) - W_NOT_LIKE * mean(v(counter-examples))

scaled to unit length. The score is the cosine of the two (0 = no shared term, 1 = the same
words), plus the profile's category boost and upvote weight, kept in [0, 1]. It does not depend
on how many other papers arrived that day, so one `min_score` works all week.

Then, per profile: `exclude` vetoes; `categories` filters arXiv papers (unknown categories
pass); papers of followed `authors` always match (not capped, not thresholded, still vetoed by
`exclude`); the rest need `min_score` and are capped at `max_per_digest`, best first, ties by
id. Each match carries reasons: followed author, keyword hits, the most similar example paper,
and the shared terms that weighed most.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from bot.models import Match, Paper, Profile
from bot.tfidf import DocFreqs, MemoryDocFreqs, Space, terms_of

W_DESCRIPTION = 1.0
W_KEYWORDS = 1.0
W_EXAMPLES = 1.0
W_NOT_LIKE = 0.5
WHY_TERMS = 4  # shared terms shown as a reason
EXAMPLE_REASON_MIN = 0.1  # an example paper is named as a reason only when this similar
UPVOTES_SCALE = math.log1p(100)  # 100 HF upvotes give the full `upvote_weight`


@dataclass(frozen=True)
class _ProfileVector:
    vector: csr_matrix  # 1 x vocabulary, unit length (or all zero)
    examples: list[tuple[str, csr_matrix]]  # (paper id, unit vector) of the found examples


def excluded_by(profile: Profile, paper: Paper) -> str | None:
    """The `exclude` term found in the paper's title or abstract, if any."""
    for term in profile.exclude:
        if _phrase(term).search(paper.text):
            return term.lower()
    return None


def category_filter(profile: Profile, paper: Paper) -> bool:
    """Whether `paper` may match `profile` by category. A paper whose categories are unknown
    (Hugging Face lists none) passes: the filter narrows arXiv papers, it does not hide HF's."""
    if not profile.categories or not paper.categories:
        return True
    return bool(set(profile.categories) & set(paper.categories))


def category_bonus(profile: Profile, paper: Paper) -> float:
    return sum(profile.category_boost.get(c, 0.0) for c in dict.fromkeys(paper.categories))


def upvote_bonus(profile: Profile, paper: Paper) -> float:
    upvotes = paper.extras.get("upvotes")
    if not profile.upvote_weight or not isinstance(upvotes, int) or upvotes <= 0:
        return 0.0
    return profile.upvote_weight * min(1.0, math.log1p(upvotes) / UPVOTES_SCALE)


def followed_author(profile: Profile, paper: Paper) -> str | None:
    """The first followed author who wrote `paper` (names compared without case or accents;
    "G. Hinton" follows "Geoffrey Hinton")."""
    if not profile.authors:  # most profiles follow nobody: skip the name work
        return None
    written = [_name_key(a) for a in paper.authors]
    for name in profile.authors:
        key = _name_key(name)
        if any(_same_person(key, other) for other in written):
            return name
    return None


def keyword_hits(profile: Profile, paper: Paper) -> list[str]:
    return [k for k in profile.keywords if _phrase(k).search(paper.text)]


@dataclass(frozen=True)
class Candidate:
    """A paper as a profile sees it: its score, whether it would be sent, and why not."""

    match: Match
    passed: bool
    held_back: str | None = None  # "excluded: x", "category", "below min_score", "over cap"


def evaluate(
    profiles: Sequence[Profile],
    fresh: Sequence[Paper],
    freqs: DocFreqs,
    examples: Mapping[str, Paper] | None = None,
    *,
    explain: int = 0,
) -> dict[str, list[Candidate]]:
    """Every new paper for every profile, best first (ties by id): what would be sent and
    what would not. Reasons are worked out for what passes and the first `explain` others."""
    result: dict[str, list[Candidate]] = {p.id: [] for p in profiles}
    if not fresh or not profiles:
        return result
    examples = examples or {}
    paper_terms = [terms_of(p.text) for p in fresh]
    profile_parts = [_parts(p, examples) for p in profiles]
    every = paper_terms + [t for parts in profile_parts for _, t in parts]
    space = Space(every, freqs)
    papers_m = space.vectors(paper_terms)
    for profile, parts in zip(profiles, profile_parts, strict=True):
        pv = _profile_vector(space, parts)
        raw = (papers_m @ pv.vector.T).toarray().ravel()
        result[profile.id] = _candidates(profile, fresh, papers_m, raw, pv, space, explain)
    return result


def rank(
    profiles: Sequence[Profile],
    fresh: Sequence[Paper],
    freqs: DocFreqs,
    examples: Mapping[str, Paper] | None = None,
) -> dict[str, list[Match]]:
    """For each profile id, the new papers that match it: best first, with reasons.
    `freqs` gives the IDF; `examples` maps example / counter-example ids to their papers."""
    evaluated = evaluate(profiles, fresh, freqs, examples)
    return {pid: [c.match for c in cands if c.passed] for pid, cands in evaluated.items()}


def rank_with_corpus(
    profiles: Sequence[Profile],
    fresh: Sequence[Paper],
    corpus: Sequence[str],
    examples: Mapping[str, Paper] | None = None,
) -> dict[str, list[Match]]:
    """`rank` with the IDF of `corpus` (texts) plus the new papers: for small data and tests."""
    freqs = MemoryDocFreqs()
    freqs.add(terms_of(t) for t in [*corpus, *(p.text for p in fresh)])
    return rank(profiles, fresh, freqs, examples)


# --------------------------------------------------------------------------- internals

_PART_WEIGHTS = {"description": W_DESCRIPTION, "keywords": W_KEYWORDS}


def _parts(profile: Profile, examples: Mapping[str, Paper]) -> list[tuple[str, list[str]]]:
    """(role, terms) of each piece of text that makes up the profile."""
    parts: list[tuple[str, list[str]]] = []
    if profile.description.strip():
        parts.append(("description", terms_of(profile.description)))
    if profile.keywords:
        parts.append(("keywords", terms_of(". ".join(profile.keywords))))
    for pid in profile.examples:
        if pid in examples:
            parts.append((f"example:{pid}", terms_of(examples[pid].text)))
    for pid in profile.not_like:
        if pid in examples:
            parts.append((f"not_like:{pid}", terms_of(examples[pid].text)))
    return parts


def _profile_vector(space: Space, parts: list[tuple[str, list[str]]]) -> _ProfileVector:
    vectors = space.vectors([terms for _, terms in parts])
    total = csr_matrix((1, len(space.terms)), dtype=np.float64)
    found: list[tuple[str, csr_matrix]] = []
    positives = [i for i, (role, _) in enumerate(parts) if role.startswith("example:")]
    negatives = [i for i, (role, _) in enumerate(parts) if role.startswith("not_like:")]
    for i, (role, _) in enumerate(parts):
        if role in _PART_WEIGHTS:
            total = total + _PART_WEIGHTS[role] * vectors[i]
    if positives:
        total = total + (W_EXAMPLES / len(positives)) * _sum_rows(vectors, positives)
        found = [(parts[i][0].split(":", 1)[1], vectors[i]) for i in positives]
    if negatives:
        total = total - (W_NOT_LIKE / len(negatives)) * _sum_rows(vectors, negatives)
    norm = math.sqrt(float(total.multiply(total).sum()))
    return _ProfileVector(total / norm if norm else total, found)


def _sum_rows(m: csr_matrix, rows: list[int]) -> csr_matrix:
    return csr_matrix(m[rows].sum(axis=0))


def _candidates(
    profile: Profile,
    fresh: Sequence[Paper],
    papers_m: csr_matrix,
    raw: np.ndarray,
    pv: _ProfileVector,
    space: Space,
    explain: int,
) -> list[Candidate]:
    rows: list[tuple[float, str, int, str | None, str | None]] = []
    for i, paper in enumerate(fresh):
        cosine = max(0.0, float(raw[i]))
        bonus = category_bonus(profile, paper) + upvote_bonus(profile, paper)
        # Rounded first, so the threshold applies to the score the user is shown; bonuses move
        # a paper within [0, 1] but never make a paper with no shared term match.
        score = round(min(1.0, max(0.0, cosine + bonus)), 4) if cosine > 0 else 0.0
        author = followed_author(profile, paper)
        vetoed = excluded_by(profile, paper)
        if vetoed:
            held: str | None = f"excluded: {vetoed}"
        elif author:
            held = None  # followed: always sent, not thresholded, not capped
        elif not category_filter(profile, paper):
            held = "category"
        elif score <= 0 or score < profile.min_score:
            held = "below min_score"
        else:
            held = None
        rows.append((score, paper.id, i, held, author))
    rows.sort(key=lambda t: (-t[0], t[1]))
    sent = others = 0
    out: list[Candidate] = []
    for score, _, i, held, author in rows:
        if held is None and not author:
            if sent >= profile.max_per_digest:
                held = "over max_per_digest"
            else:
                sent += 1
        passed = held is None
        if passed or others < explain:
            match = _match(profile, fresh[i], score, papers_m[i], pv, space, author)
            others += 0 if passed else 1
        else:  # reasons cost a sparse product each: only for what someone will read
            match = Match(fresh[i], profile.id, score, (), followed=author is not None)
        out.append(Candidate(match, passed, held))
    return out


def _match(
    profile: Profile,
    paper: Paper,
    score: float,
    vector: csr_matrix,
    pv: _ProfileVector,
    space: Space,
    author: str | None,
) -> Match:
    reasons: list[str] = []
    if author:
        reasons.append(f"followed author {author}")
    hits = keyword_hits(profile, paper)
    if hits:
        reasons.append("keyword " + ", ".join(hits))
    if pv.examples:
        best_id, best = max(
            ((pid, float((vector @ v.T).toarray()[0, 0])) for pid, v in pv.examples),
            key=lambda t: (t[1], t[0]),
        )
        if best >= EXAMPLE_REASON_MIN:
            reasons.append(f"like your example paper {best_id}")
    contrib = vector.multiply(pv.vector).tocoo()
    top = sorted(zip(contrib.data, contrib.col, strict=True), key=lambda t: (-t[0], t[1]))
    terms = [space.terms[col] for value, col in top if value > 0][:WHY_TERMS]
    if terms:
        reasons.append("terms " + ", ".join(terms))
    return Match(paper, profile.id, score, tuple(reasons), followed=author is not None)


_PHRASES: dict[str, re.Pattern[str]] = {}


def _phrase(term: str) -> re.Pattern[str]:
    """Case-insensitive whole-word match ("LN" doesn't hit "kiln"; "C++" still matches)."""
    if term not in _PHRASES:
        _PHRASES[term] = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
    return _PHRASES[term]


def _name_key(name: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    if "," in folded:  # "Hinton, Geoffrey" -> "geoffrey hinton"
        last, _, first = folded.partition(",")
        folded = f"{first} {last}"
    return tuple(w for w in re.split(r"[\s.\-]+", folded) if w)


def _same_person(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Same last name, and first names equal or one an initial of the other."""
    if not a or not b or a[-1] != b[-1]:
        return False
    if len(a) == 1 or len(b) == 1:
        return len(a) == len(b)
    first_a, first_b = a[0], b[0]
    if len(first_a) == 1 or len(first_b) == 1:
        return first_a[0] == first_b[0]
    return first_a == first_b
