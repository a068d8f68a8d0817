"""TF-IDF relevance of new papers to interest profiles, with the terms that made each match.

The model: one TfidfVectorizer whose IDF is fitted on the whole stored corpus (every paper seen
so far) plus the run's new papers, so that a word common in *all* of arXiv weighs little even on a
day when it happens to be rare. Papers are vectorised on title + abstract; a profile on its
description plus its keywords (repeated, so they weigh more than the prose around them). The
score is the cosine of the two L2-normalised vectors, so it lies in [0, 1], plus the profile's
`category_boost` for the paper's arXiv categories (kept in [0, 1]).

Pure and deterministic: the same corpus, papers and profiles give the same matches in the same
order (score descending, ties by paper id).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.models import Match, Paper, Profile

KEYWORD_WEIGHT = 2  # how many times the keywords are repeated in the profile text
WHY_TERMS = 4  # terms kept as the explanation of a match


def make_vectorizer() -> TfidfVectorizer:
    """Settings after arxiv-sanity-lite's: unigrams and bigrams (so "layer normalization"
    stays a phrase), sublinear tf, English stop words, accents folded."""
    return TfidfVectorizer(
        ngram_range=(1, 2),
        sublinear_tf=True,
        stop_words="english",
        strip_accents="unicode",
        lowercase=True,
        dtype=np.float64,
    )


def profile_text(profile: Profile) -> str:
    keywords = ". ".join(profile.keywords)
    return ". ".join([profile.description, *([keywords] * KEYWORD_WEIGHT)])


def _exclude_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    alternatives = "|".join(re.escape(t.lower()) for t in sorted(terms))
    # Word boundaries where the term starts/ends with a word character, so "LN" doesn't veto
    # "kiln" while "C++" still matches.
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def excluded_by(profile: Profile, paper: Paper) -> str | None:
    """The `exclude` term found in the paper's title or abstract, if any."""
    pattern = _exclude_pattern(profile.exclude)
    if pattern is None:
        return None
    found = pattern.search(paper.text.lower())
    return found.group(0) if found else None


def category_filter(profile: Profile, paper: Paper) -> bool:
    """Whether `paper` may match `profile` by category. A paper whose categories are unknown
    (Hugging Face lists none) passes: the filter narrows arXiv papers, it does not hide HF's."""
    if not profile.categories or not paper.categories:
        return True
    return bool(set(profile.categories) & set(paper.categories))


def category_bonus(profile: Profile, paper: Paper) -> float:
    return sum(profile.category_boost.get(c, 0.0) for c in dict.fromkeys(paper.categories))


def rank(
    profiles: Sequence[Profile], fresh: Sequence[Paper], corpus: Iterable[str]
) -> dict[str, list[Match]]:
    """For each profile id, the new papers that pass its threshold: best first, at most
    `max_per_digest`, each with the terms that contributed most to its score."""
    result: dict[str, list[Match]] = {p.id: [] for p in profiles}
    if not fresh or not profiles:
        return result
    vectorizer = make_vectorizer()
    documents = [*corpus, *(p.text for p in fresh)]
    try:
        vectorizer.fit(documents)
    except ValueError:  # every document is empty or only stop words: nothing can match
        return result
    terms = vectorizer.get_feature_names_out()
    papers_m = vectorizer.transform([p.text for p in fresh])
    profiles_m = vectorizer.transform([profile_text(p) for p in profiles])
    scores = (papers_m @ profiles_m.T).toarray()  # cosine: rows are L2-normalised

    for j, profile in enumerate(profiles):
        # Rounded first, so the threshold applies to the score the user is shown; a category
        # boost moves a paper within [0, 1] but never makes a paper with no shared term match.
        final = [
            round(min(1.0, max(0.0, s + category_bonus(profile, p))), 4) if s > 0 else 0.0
            for s, p in zip(scores[:, j], fresh, strict=True)
        ]
        order = sorted(range(len(fresh)), key=lambda i: (-final[i], fresh[i].id))
        matches: list[Match] = []
        for i in order:
            score = final[i]
            if score < profile.min_score or score <= 0.0:
                break
            if excluded_by(profile, fresh[i]) or not category_filter(profile, fresh[i]):
                continue
            contrib = papers_m[i].multiply(profiles_m[j]).tocoo()
            top = sorted(zip(contrib.data, contrib.col, strict=True), key=lambda t: (-t[0], t[1]))
            why = tuple(str(terms[col]) for _, col in top[:WHY_TERMS])
            matches.append(Match(fresh[i], profile.id, score, why))
            if len(matches) == profile.max_per_digest:
                break
        result[profile.id] = matches
    return result
