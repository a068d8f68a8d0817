"""Relevance of new papers to interest profiles, with the reasons for each match.

A paper is its title and abstract as a unit-length vector: BM25 tf x the stored corpus' IDF,
rare terms (df < min_df) left out (relevance/tfidf.py). Every score is taken against a REFERENCE SET
R, the last `REFERENCE_SIZE` papers stored before the scored day (shared by all profiles;
bot/relevance/reference.py):

    rbar = mean v(R);  b = unit(rbar);  sd = per-term standard deviation over R;
    eps = the EPS_QUANTILE quantile of the non-zero sd;  top_k(q) = the k papers of R nearest q

A profile WITH example papers (found in the store or on arXiv): the examples, plus
v(description + keywords) as one more positive, are its positives (recipe "prf + background",
bench/explore_recipes.py):

    c = unit(mean v(positives));  q = unit(c + PRF_BETA * mean v(top_PRF_K(c)))
        - W_NOT_LIKE * mean v(counter-examples)
    raw(x) = x . q - BACKGROUND * x . b

A profile WITHOUT: q0 = v(description. keywords. keywords), and the papers of R nearest it stand
in for examples (diagonal LDA on pseudo-positives):

    mu = mean v(top_PSEUDO_K(q0)) - W_NOT_LIKE * mean v(counter-examples)
    raw(x) = x . (mu - rbar) / (sd + eps)

(k is capped at 2% of R for a small R; while it is, q0 counts as one more positive in mu: a
young store's few nearest papers may all be off-topic.) The raw scores mean nothing across
profiles or days, so the SCORE is calibrated: the share of R whose raw score is strictly below
the paper's, in [0, 1] (0.99 = better than 99% of the recent papers). It depends on the recent
corpus, not on how many papers arrived that day, so one `min_score` works all week and means
the same in every profile. Then the profile's category boost and upvote weight are added (kept
within [0, 1]).

HELD-OUT scores for R. A new paper is scored by a model that was fit without it; a paper of R
was in the fit: in rbar and sd, and the k papers nearest the profile are its positives. Scored
by the same model, those k outrank almost any new paper (the scale stopped at 1 - k / len(R):
0.98 for keyword profiles, 0.998 for example profiles) and the others are pulled down by their
own weight in rbar and sd. So each row r_i of R is scored by the model fit on R WITHOUT it, as
a new paper is (leave-one-out, in closed form, all rows at once; `_Stats`):

    rbar_-i, sd_-i: over R without r_i (read at r_i's own terms only; eps is kept)
    the positive r_i, if any, is replaced by the next nearest paper of R (k stays k)
    raw_-i(r_i) = r_i . (mu_-i - rbar_-i) / (sd_-i + eps)     (keyword profiles)
    raw_-i(r_i) = r_i . q_-i - BACKGROUND * r_i . unit(rbar_-i)   (example profiles)

and the percentile compares a new paper's raw score with these: a new paper as good as the
best recent one scores near 1, and about a share 1 - t of new papers score t or more
(bench/daily_arxiv.py prints the check). The order of a day's papers is unchanged (a
percentile is monotone in the raw score).

Cold start: with fewer than `COLD_REFERENCE` stored papers, R is what there is plus the day's
papers themselves, which are then scored held out like the rest of R (a day's best paper
scores (n - 1) / n, never 1).

Votes: a profile's readers' net votes add a vote score to the raw score (relevance/learned.py),
voted papers that are rows of R scored held out; a YAML example voted -1 stops being an example
(and a counter-example voted +1 a counter-example).

Then, per profile: `exclude` vetoes; `categories` filters arXiv papers (unknown categories
pass); papers of followed `authors` always match (not capped, not thresholded, still vetoed by
`exclude`); the rest need `min_score` and are capped at `max_per_digest`, best first (equal
scores: higher raw score first, then by id). Each match carries reasons: followed author,
keyword hits, the most similar example paper, and the shared terms that weighed most in x . q
(only words of the paper's prose: no links, numbers or boilerplate, bot/relevance/reasons.py).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.sparse import csr_matrix, vstack

from bot.models import FOLLOWED_REASON, Match, Paper, Profile
from bot.relevance import learned, sparse
from bot.relevance.reasons import ReasonTerms
from bot.relevance.reference import Reference, StoredVector, widen
from bot.relevance.tfidf import DocFreqs, MemoryDocFreqs, Space, terms_of

COLD_REFERENCE = 200  # below this, the day's own papers join the reference set
K_SHARE = 50  # k is at most len(R) // K_SHARE (2%)
PRF_K = 10  # example profiles: papers of R added to the examples (pseudo-relevance feedback)
PRF_BETA = 1.0
BACKGROUND = 0.2  # example profiles: weight of the reference set's mean direction, subtracted
PSEUDO_K = 100  # keyword profiles: papers of R taken as positives
EPS_QUANTILE = 0.9
KEYWORD_REPEAT = 2  # keywords count twice next to the description
W_NOT_LIKE = 0.5
WHY_TERMS = 4  # shared terms shown as a reason
EXAMPLE_REASON_MIN = 0.1  # an example paper is named as a reason only when this similar
NEAR = 1e-4  # a percentile this far below min_score may still round up to it
LIKED_SHOWN = 2  # liked papers named in a reason ("like 3 papers you liked: a, b, ...")
UPVOTES_SCALE = math.log1p(100)  # 100 HF upvotes give the full `upvote_weight`
CHUNK = 256  # profiles scored together (evaluate)


@dataclass(frozen=True)
class _Stats:
    """What every profile of the day shares, from R; and, for each row of R, the same as the
    model fit on R WITHOUT that row sees it (leave-one-out), so that R's papers are scored as
    a new paper is: by a model that was not fit on them."""

    R: csr_matrix
    b: np.ndarray  # unit(rbar)
    rbar: np.ndarray
    inv: np.ndarray  # 1 / (sd + eps)
    offset: np.ndarray  # rbar / (sd + eps)
    R_inv: csr_matrix  # row i: r_i * inv_-i (inv of R without row i; eps kept)
    base: np.ndarray  # row i: r_i . offset_-i
    along_b: np.ndarray  # row i: r_i . b_-i
    self_inv: np.ndarray  # row i: r_i . (r_i * inv_-i), a voted row's own share (learned.py)

    @classmethod
    def of(cls, R: csr_matrix) -> _Stats:
        n, width = R.shape
        if n == 0:
            zero = np.zeros(width)
            return cls(R, zero, zero, zero, zero, R, np.zeros(0), np.zeros(0), np.zeros(0))
        rbar = np.asarray(R.mean(axis=0)).ravel()
        norm = float(np.linalg.norm(rbar))
        sq = np.asarray(R.multiply(R).mean(axis=0)).ravel()
        sd = np.sqrt(np.maximum(sq - rbar**2, 0.0))
        nonzero = sd[sd > 0]
        eps = float(np.quantile(nonzero, EPS_QUANTILE)) if nonzero.size else 1.0
        inv = 1.0 / (sd + eps)
        # Leave-one-out, entry by entry (R has one entry per row and term): r_i's own terms are
        # the only ones its score reads, and removing r_i changes the mean and sd of those terms
        # only (besides a 1/(n - 1) scale).
        rows = np.repeat(np.arange(n), np.diff(R.indptr))
        x, cols = R.data, R.indices
        xx, mean_at = x * x, rbar[cols]
        rest = max(n - 1, 1)
        mean_i = (n * mean_at - x) / rest
        sd_i = np.sqrt(np.maximum((n * sq[cols] - xx) / rest - mean_i**2, 0.0))
        inv_i = 1.0 / (sd_i + eps)
        R_inv = csr_matrix((x * inv_i, cols, R.indptr), shape=R.shape)
        base = np.bincount(rows, weights=x * mean_i * inv_i, minlength=n)
        # r_i . unit(rbar_-i), rbar_-i = (n rbar - r_i) / (n - 1)
        along = np.bincount(rows, weights=x * mean_at, minlength=n)
        self_sq = np.bincount(rows, weights=xx, minlength=n)
        norm_i = np.sqrt(np.maximum(n * n * norm**2 - 2 * n * along + self_sq, 0.0))
        along_b = np.divide(n * along - self_sq, norm_i, out=np.zeros(n), where=norm_i > 0)
        b = rbar / norm if norm else rbar
        self_inv = np.bincount(rows, weights=xx * inv_i, minlength=n)
        return cls(R, b, rbar, inv, rbar * inv, R_inv, base, along_b, self_inv)


@dataclass(frozen=True)
class _ProfileVector:
    q: sparse.Vec  # sparse over the vocabulary: raw(x) = x . q - x . offset
    offset: np.ndarray  # dense, shared by the profiles without votes
    examples: list[tuple[str, sparse.Vec]]  # (paper id, unit vector) of the found examples
    held_out: np.ndarray  # raw score of each row of R by the model fit without it
    liked_ids: list[str] = field(default_factory=list)  # papers voted +1, sorted ...
    liked: csr_matrix | None = None  # ... and their unit vectors, one row each
    vote_q: np.ndarray | None = None  # the votes' part of q and offset (learned.py), scaled
    vote_offset: np.ndarray | None = None

    def q_dense(self) -> np.ndarray:
        out = np.zeros(self.offset.size)
        out[self.q[0]] = self.q[1]
        return out


def excluded_by(profile: Profile, paper: Paper) -> str | None:
    """The `exclude` term found in the paper's title or abstract, if any."""
    return _excluded(profile, _Texts([paper]), 0)


def _excluded(profile: Profile, texts: _Texts, i: int) -> str | None:
    for term in profile.exclude:
        if texts.has(term, i):
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
    texts = _Texts([paper])
    return [k for k in profile.keywords if texts.has(k, 0)]


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
    reference: Reference | None = None,
    fresh_vectors: csr_matrix | None = None,
    explain: int = 0,
    votes: Mapping[str, Mapping[str, int]] | None = None,
    voted_vectors: Mapping[str, StoredVector] | None = None,
    everything: bool = True,
) -> dict[str, list[Candidate]]:
    """Every new paper for every profile, best first: what would be sent and what would not.
    `reference` is R (none: the cold start); `fresh_vectors`, if given, are `fresh`'s vectors
    in its vocabulary. Reasons are worked out for what passes and the first `explain` others.
    `votes` maps a profile id to its readers' net votes (paper id -> +1 / -1, relevance/votes.py
    `net`); the voted papers are looked up in R (by id) or in `examples` (a voted paper found
    in neither is left out) and feed the profile's vote score (relevance/learned.py);
    `voted_vectors` are the stored vectors of voted papers (Store.vectors_of), read instead of
    re-analysing their text. `everything=False`: only the candidates that pass (what `rank`
    needs; the papers below every threshold are skipped without being looked at one by one).

    Profiles are scored in chunks of CHUNK. A profile's vectors are sparse (a few thousand of
    the day's terms; bot/relevance/sparse.py), and a chunk's products with R and with the day's
    papers are one sparse x sparse product each, split among threads. A profile's scores do not
    depend on the chunk it is in, nor on the threads: the same numbers, to the last bit, as
    scored alone, and as the dense vectors of earlier versions gave (every sum is added in the
    same order)."""
    result: dict[str, list[Candidate]] = {p.id: [] for p in profiles}
    if not fresh or not profiles:
        return result
    examples = examples or {}
    voted = {p.id: {i: v for i, v in (votes or {}).get(p.id, {}).items() if v} for p in profiles}
    profiles = [with_votes(p, voted[p.id]) for p in profiles]
    reference = reference if reference is not None else Reference()
    in_r = reference.rows_of()
    analysed: dict[str, list[str]] = {}  # an example paper's terms, analysed once
    profile_parts = [_parts(p, examples, analysed) for p in profiles]
    # Voted papers that are not rows of R: their stored vectors, read as R's rows are (the state
    # keeps voted papers' vectors); the others are vectorised like example papers (analysing
    # 100 profiles x 100 old voted papers' text costs seconds).
    beyond_r = sorted({i for v in voted.values() for i in v if i not in in_r})
    stored_ids = [i for i in beyond_r if voted_vectors and i in voted_vectors]
    stored = set(stored_ids)
    outside = [i for i in beyond_r if i in examples and i not in stored]
    outside_terms = [terms_of(examples[i].text) for i in outside]
    # The space only needs the set of the terms: each example paper's terms once.
    distinct = {id(t): t for parts in profile_parts for _, _, t in parts}
    every = list(distinct.values()) + outside_terms
    paper_terms = [terms_of(p.text) for p in fresh] if fresh_vectors is None else []
    space = Space(paper_terms + every, freqs, vocabulary=reference.vocabulary)
    # After the day's papers' terms joined the vocabulary: the voted papers' terms that no
    # paper of R or of the day carries are left out (they add nothing to any score).
    stored_m = reference.decode_known(
        [voted_vectors[i] for i in stored_ids] if voted_vectors else []
    )
    width = len(space.vocabulary)
    F = widen(fresh_vectors, width) if fresh_vectors is not None else space.vectors(paper_terms)
    R = reference.matrix()
    cold = R.shape[0] < COLD_REFERENCE
    if cold:
        R = vstack([R, F], format="csr")
    stats = _Stats.of(R)
    outside_vectors = vstack(
        [widen(stored_m, width), widen(space.vectors(outside_terms), width)], format="csr"
    )
    outside_row = {pid: i for i, pid in enumerate([*stored_ids, *outside])}
    # Every voted paper's vector is a row of one matrix, R's rows first: a profile's liked and
    # disliked papers are then one slice each.
    pool = vstack([R, widen(outside_vectors, R.shape[1])], format="csr") if beyond_r else R
    shared = _Shared(space, stats)
    day = _Day(fresh, F)
    for start in range(0, len(profiles), CHUNK):
        chunk = range(start, min(start + CHUNK, len(profiles)))
        pvs = _profile_vectors(space, [profile_parts[i] for i in chunk], stats, shared)
        for j, i in enumerate(chunk):
            if voted[profiles[i].id] and R.shape[0]:
                pvs[j] = _with_vote_score(
                    pvs[j], voted[profiles[i].id], pool, in_r, outside_row, stats
                )
        raw = _raw_scores(day, pvs)
        for j, i in enumerate(chunk):
            profile, pv = profiles[i], pvs[j]
            raw_f = raw[j]
            if cold:  # the day's papers are R's last rows, and may have helped fit the profile
                raw_f = pv.held_out[R.shape[0] - len(fresh) :]
            if not pv.q[1].any():
                calibrated = np.zeros(len(fresh))  # a profile with no usable text scores nothing
            elif everything or (floor := _floor(profile)) is None:
                calibrated = _percentiles(pv.held_out, raw_f)
            else:  # `rank`: only the papers that can pass are read
                calibrated = _percentiles_from(
                    pv.held_out, raw_f, floor, day.authors.papers_of(profile)
                )
            result[profile.id] = _candidates(
                profile, day, raw_f, calibrated, pv, shared, explain, only_passing=not everything
            )
    return result


def rank(
    profiles: Sequence[Profile],
    fresh: Sequence[Paper],
    freqs: DocFreqs,
    examples: Mapping[str, Paper] | None = None,
    reference: Reference | None = None,
    fresh_vectors: csr_matrix | None = None,
    votes: Mapping[str, Mapping[str, int]] | None = None,
    voted_vectors: Mapping[str, StoredVector] | None = None,
) -> dict[str, list[Match]]:
    """For each profile id, the new papers that match it: best first, with reasons.
    `freqs` gives the IDF, `reference` R; `examples` maps example / counter-example ids (and
    voted papers) to their papers; `fresh_vectors` are the new papers' vectors if already
    made; `votes` the profiles' net votes (profile id -> paper id -> +1 / -1) and
    `voted_vectors` the voted papers' stored vectors."""
    evaluated = evaluate(
        profiles,
        fresh,
        freqs,
        examples,
        reference=reference,
        fresh_vectors=fresh_vectors,
        votes=votes,
        voted_vectors=voted_vectors,
        everything=False,
    )
    return {pid: [c.match for c in cands if c.passed] for pid, cands in evaluated.items()}


def rank_with_corpus(
    profiles: Sequence[Profile],
    fresh: Sequence[Paper],
    corpus: Sequence[str],
    examples: Mapping[str, Paper] | None = None,
) -> dict[str, list[Match]]:
    """`rank` with the IDF of `corpus` (texts, oldest first) plus the new papers, and the
    corpus as R: for small data and tests."""
    freqs = MemoryDocFreqs()
    freqs.add(terms_of(t) for t in [*corpus, *(p.text for p in fresh)])
    return rank(profiles, fresh, freqs, examples, Reference.of_texts(corpus, freqs))


def with_votes(profile: Profile, votes: Mapping[str, int]) -> Profile:
    """The profile's own lists as its readers' votes leave them: a vote outweighs the YAML for
    that paper (the reader has seen the paper; the file may be older), so a YAML example voted
    -1 is no longer an example, and a counter-example voted +1 no longer a counter-example.
    The votes themselves feed the vote score (relevance/learned.py), not these lists."""
    liked = {pid for pid, v in votes.items() if v > 0}
    disliked = {pid for pid, v in votes.items() if v < 0}
    if not (set(profile.examples) & disliked or set(profile.not_like) & liked):
        return profile
    return replace(
        profile,
        examples=tuple(i for i in profile.examples if i not in disliked),
        not_like=tuple(i for i in profile.not_like if i not in liked),
    )


# --------------------------------------------------------------------------- internals


def _parts(
    profile: Profile, examples: Mapping[str, Paper], analysed: dict[str, list[str]] | None = None
) -> list[tuple[str, str, list[str]]]:
    """(role, tf, terms) of each piece of text that makes up the profile: "text" (the
    description and keywords x2, sublinear tf), "example:<id>", "not_like:<id>" (papers, BM25).
    `analysed`: paper id -> terms, shared by the profiles of one run (the same example paper
    in many profiles is analysed once, and is the same list: its vector is made once)."""
    parts: list[tuple[str, str, list[str]]] = []
    text = ". ".join(
        [profile.description.strip()] * bool(profile.description.strip())
        + [". ".join(profile.keywords)] * (KEYWORD_REPEAT if profile.keywords else 0)
    )
    if text:
        parts.append(("text", "log", terms_of(text)))
    cache: dict[str, list[str]] = {} if analysed is None else analysed
    for role, ids in (("example", profile.examples), ("not_like", profile.not_like)):
        for pid in ids:
            if pid in examples:
                if pid not in cache:
                    cache[pid] = terms_of(examples[pid].text)
                parts.append((f"{role}:{pid}", "bm25", cache[pid]))
    return parts


class _Shared:
    """What the profiles of one `evaluate` call share: R's background direction, R and its
    whitened rows transposed (the products of sparse profile vectors with R's rows,
    bot/relevance/sparse.py), one dense buffer, and the vector of each piece of profile text,
    made once (an example paper is in many profiles), all pieces of a chunk in one
    `Space.vectors` call (its rows do not depend on each other)."""

    def __init__(self, space: Space, stats: _Stats) -> None:
        self.space = space
        self.width = len(space.vocabulary)
        self.bg = BACKGROUND * stats.b
        self.bg_along = BACKGROUND * stats.along_b
        self.zero = np.zeros(self.width)
        self.RT = stats.R.T.tocsr()
        self.R_invT = stats.R_inv.T.tocsr()
        self.dense = sparse.Dense(self.width)
        # (tf, id of the terms list) -> (the list, kept alive so the id stays its own; columns;
        # weights)
        self._rows: dict[tuple[str, int], tuple[list[str], np.ndarray, np.ndarray]] = {}

    def vectorise(self, parts_list: Sequence[list[tuple[str, str, list[str]]]]) -> None:
        for tf in ("log", "bm25"):
            todo: dict[int, list[str]] = {}
            for parts in parts_list:
                for _, kind, terms in parts:
                    if kind == tf and (tf, id(terms)) not in self._rows:
                        todo[id(terms)] = terms
            if not todo:
                continue
            m = self.space.vectors(list(todo.values()), tf)
            for r, (key, terms) in enumerate(todo.items()):
                start, end = m.indptr[r], m.indptr[r + 1]
                cols = m.indices[start:end].astype(np.int64)
                self._rows[(tf, key)] = (terms, cols, m.data[start:end])

    def vec(self, tf: str, terms: list[str]) -> sparse.Vec:
        _, cols, data = self._rows[(tf, id(terms))]
        return cols, data


def _profile_vector(
    space: Space, parts: list[tuple[str, str, list[str]]], stats: _Stats
) -> _ProfileVector:
    """One profile's vector (`_profile_vectors` for a chunk of one)."""
    return _profile_vectors(space, [parts], stats, _Shared(space, stats))[0]


@dataclass
class _Plan:
    """A profile's vector half made: its seed for the nearest papers of R, then q (example
    profiles) or mu (keyword profiles)."""

    kind: str  # "example", "keyword" or "none" (no usable text)
    seed: sparse.Vec
    k: int
    against: sparse.Vec | None  # W_NOT_LIKE * mean v(counter-examples), if any
    found: list[tuple[str, sparse.Vec]] = field(default_factory=list)
    top: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    after: int | None = None
    vector: sparse.Vec | None = None  # q or mu
    u: sparse.Vec | None = None
    n_pos: int = 0


def _profile_vectors(
    space: Space,
    parts_list: Sequence[list[tuple[str, str, list[str]]]],
    stats: _Stats,
    shared: _Shared,
) -> list[_ProfileVector]:
    """The vectors of a chunk of profiles (see the module docstring for the model), sparse
    (bot/relevance/sparse.py: the same numbers as the dense arithmetic). The products with R
    (the nearest papers of each seed, the held-out scores) are one sparse product per chunk."""
    shared.vectorise(parts_list)
    R = stats.R
    dense = shared.dense
    plans: list[_Plan] = []
    for parts in parts_list:
        vecs = [shared.vec(tf, terms) for _, tf, terms in parts]
        negatives = [
            vecs[i] for i, (role, _, _) in enumerate(parts) if role.startswith("not_like:")
        ]
        against = None
        if negatives:
            cols, vals = sparse.mean(negatives)
            against = (cols, W_NOT_LIKE * vals)
        found = [
            (role[8:], vecs[i]) for i, (role, _, _) in enumerate(parts) if role[:8] == "example:"
        ]
        if found:
            positives = [
                vecs[i] for i, (role, _, _) in enumerate(parts) if role[:8] in ("text", "example:")
            ]
            c = sparse.unit(sparse.mean(positives), dense)
            plans.append(_Plan("example", c, PRF_K, against, found))
            continue
        seed = next((vecs[i] for i, (role, _, _) in enumerate(parts) if role == "text"), None)
        if seed is None or not seed[1].any():
            plans.append(_Plan("none", sparse.EMPTY, 0, None))
        else:
            plans.append(_Plan("keyword", seed, PSEUDO_K, against))
    searched = [p for p in plans if p.kind != "none"]
    for p, (top, after) in zip(searched, _nearest_many(R, searched, shared), strict=True):
        p.top, p.after = top, after
    for p in plans:
        if p.kind == "example":
            p.u = sparse.combine(p.seed, sparse.mean_rows(R, p.top, dense), _prf_sum, dense)
            unit_u = sparse.unit(p.u, dense)
            p.vector = (
                unit_u if p.against is None else sparse.combine(unit_u, p.against, _minus, dense)
            )
        elif p.kind == "keyword":
            # While R is too small to give PSEUDO_K papers, the profile's own words are one more
            # positive: the few nearest papers of a young store may all be off-topic, and held
            # out one by one, they would leave the profile with nothing of its own.
            n_seed = 1 if p.top.size < PSEUDO_K else 0
            p.n_pos = n_pos = p.top.size + n_seed
            mu = sparse.combine(
                p.seed,
                sparse.mean_rows(R, p.top, dense),
                functools.partial(_pseudo_mean, n_seed=n_seed, k=p.top.size, n_pos=n_pos),
                dense,
            )
            p.vector = mu if p.against is None else sparse.combine(mu, p.against, _minus, dense)
    held = {
        kind: iter(
            sparse.rows_times(
                [p.vector for p in plans if p.kind == kind and p.vector is not None],
                shared.RT if kind == "example" else shared.R_invT,
            )
        )
        for kind in ("example", "keyword")
    }
    out: list[_ProfileVector] = []
    for p in plans:
        if p.kind == "none":
            out.append(_ProfileVector(sparse.EMPTY, shared.zero, [], np.zeros(R.shape[0])))
            continue
        assert p.vector is not None
        if p.kind == "example":
            assert p.u is not None
            against = p.against if p.against is not None else sparse.EMPTY
            held_out = next(held["example"]) - shared.bg_along
            held_out[p.top] = (
                _prf_held_out(R, p.top, p.after, p.u, against, dense) - shared.bg_along[p.top]
            )
            out.append(_ProfileVector(p.vector, shared.bg, p.found, held_out))
            continue
        held_out = next(held["keyword"]) - stats.base
        if p.top.size:
            # Without pseudo-positive i, the next nearest paper takes its place in mu (same k).
            # r_i . (r_i * inv_-i), and r_i . (r_next * inv_-i): R_inv has R's entries
            at = sparse.entries(R, p.top)
            owner = np.repeat(np.arange(p.top.size), np.diff(R.indptr)[p.top])
            swap = np.bincount(
                owner, weights=stats.R_inv.data[at] * R.data[at], minlength=p.top.size
            )
            if p.after is not None:
                swap -= dense.row_dots(stats.R_inv, p.top, sparse.of_row(R, p.after))
            held_out[p.top] -= swap / p.n_pos
        cols, vals = p.vector
        out.append(_ProfileVector((cols, vals * stats.inv[cols]), stats.offset, [], held_out))
    return out


def _prf_sum(seed: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """u = c + PRF_BETA * mean v(top_PRF_K(c))."""
    out: np.ndarray = seed + PRF_BETA * mean
    return out


def _pseudo_mean(seed: np.ndarray, mean: np.ndarray, n_seed: int, k: int, n_pos: int) -> np.ndarray:
    """mu = (n_seed * q0 + k * mean v(top_k(q0))) / n_pos."""
    out: np.ndarray = (n_seed * seed + mean * k) / n_pos
    return out


def _minus(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out: np.ndarray = a - b
    return out


def _raw_scores(day: _Day, pvs: Sequence[_ProfileVector]) -> np.ndarray:
    """raw(x) = x . q - x . offset for every profile (rows) and new paper x (columns)."""
    raw = sparse.rows_times([pv.q for pv in pvs], day.FT)
    along: dict[int, np.ndarray] = {}  # most profiles share one of two offsets
    for j, pv in enumerate(pvs):
        key = id(pv.offset)
        if key not in along:
            along[key] = day.F @ pv.offset
        raw[j] -= along[key]
    return raw


def _with_vote_score(
    pv: _ProfileVector,
    votes: Mapping[str, int],
    pool: csr_matrix,
    in_r: Mapping[str, int],
    outside_row: Mapping[str, int],
    stats: _Stats,
) -> _ProfileVector:
    """The text model `pv` blended with the profile's vote score (relevance/learned.py): each
    score divided by its spread over R (held out), the votes weighted by how many there are.
    `pool`: R's rows, then the vectors of voted papers outside R (`outside_row`)."""
    R = stats.R
    n_r = R.shape[0]
    sides: list[tuple[list[str], csr_matrix, np.ndarray]] = []
    for sign in (1, -1):
        # Sorted ids: the same votes give the same sums in the same order (determinism).
        ids = sorted(i for i, v in votes.items() if v == sign and (i in in_r or i in outside_row))
        ids = [i for i in ids if i in in_r] + [i for i in ids if i not in in_r]
        rows = np.array([in_r.get(i, -1) for i in ids], dtype=np.int64)
        at = [in_r[i] if i in in_r else n_r + outside_row[i] for i in ids]
        sides.append((ids, pool[np.array(at, dtype=np.int64)], rows))
    (liked_ids, liked, liked_rows), (_, disliked, disliked_rows) = sides
    found = learned.VoteSet(liked, liked_rows, disliked, disliked_rows)
    if not found.n:
        return pv
    vs = learned.vote_score(
        found, R, stats.R_inv, stats.inv, stats.rbar, stats.base, stats.self_inv
    )
    s_text, s_vote = float(np.std(pv.held_out)), float(np.std(vs.held_out))
    if not s_vote:
        return pv
    text = 1.0 / s_text if s_text else 0.0
    lam = learned.weight(found.n) / s_vote
    q = text * pv.q_dense() + lam * vs.q
    nonzero = np.flatnonzero(q)  # a zero adds nothing to any product
    return _ProfileVector(
        q=(nonzero, q[nonzero]),
        offset=text * pv.offset + lam * vs.offset,
        examples=pv.examples,
        held_out=text * pv.held_out + lam * vs.held_out,
        liked_ids=liked_ids,
        liked=liked,
        vote_q=lam * vs.q,
        vote_offset=lam * vs.offset,
    )


def _prf_held_out(
    R: csr_matrix,
    top: np.ndarray,
    after: int | None,
    u: sparse.Vec,
    against: sparse.Vec,
    dense: sparse.Dense,
) -> np.ndarray:
    """x . q_-i for each PRF neighbour r_i (x = r_i), q_-i = unit(u + PRF_BETA * d_i) - against
    with d_i = (r_next - r_i) / k: the profile vector had r_i not been in R."""
    k = top.size
    ru = dense.row_dots(R, top, u)
    rr = sparse.row_sq_sums(R, top)
    rn, un, nn = np.zeros(k), 0.0, 0.0
    if after is not None:
        nxt = sparse.of_row(R, after)
        rn = dense.row_dots(R, top, nxt)
        un = float(dense.row_dots(R, np.array([after]), u)[0])
        nn = float(np.sum(nxt[1] * nxt[1]))
    b = PRF_BETA / k
    dot = ru + b * (rn - rr)  # r_i . (u + beta d_i)
    sq = dense.dot(u) + 2 * b * (un - ru) + b * b * (nn - 2 * rn + rr)
    norm = np.sqrt(np.maximum(sq, 0.0))
    held: np.ndarray = np.divide(dot, norm, out=np.zeros(k), where=norm > 0)
    held -= dense.row_dots(R, top, against)
    return held


def _nearest_many(
    R: csr_matrix, plans: Sequence[_Plan], shared: _Shared
) -> list[tuple[np.ndarray, int | None]]:
    """For each plan, the k papers of R nearest its seed (at most 2% of R; ties by position)
    and the next one; the scores of R one product for all."""
    if not plans:
        return []
    n = R.shape[0]
    scores = sparse.rows_times([p.seed for p in plans], shared.RT) if n else None
    out: list[tuple[np.ndarray, int | None]] = []
    for j, p in enumerate(plans):
        k = min(p.k, max(1, n // K_SHARE), n)
        if k == 0 or scores is None:
            out.append((np.zeros(0, dtype=np.int64), None))
            continue
        ranked = _best(scores[j], k + 1)
        out.append((ranked[:k], int(ranked[k]) if ranked.size > k else None))
    return out


def _best(scores: np.ndarray, m: int) -> np.ndarray:
    """The positions of the m highest scores, highest first, ties by position: the first m of
    `np.lexsort((positions, -scores))`, without sorting all of them."""
    neg = -scores
    if m >= neg.size:
        return np.lexsort((np.arange(neg.size), neg))[:m]
    cut = np.partition(neg, m - 1)[m - 1]
    near = np.flatnonzero(neg <= cut)  # every score tied with the m-th is in
    return near[np.lexsort((near, neg[near]))][:m]


def _floor(profile: Profile) -> float | None:
    """The lowest percentile at which a paper may still reach `min_score` (with the largest
    bonus the profile can give, and a rounding step); None when even a paper below every
    paper of R may (a bonus alone reaches `min_score`)."""
    ceiling = sum(max(0.0, b) for b in profile.category_boost.values())
    ceiling += max(0.0, profile.upvote_weight)
    floor = profile.min_score - NEAR - ceiling
    return None if ceiling and floor <= 0 else floor


def _percentiles(held_out: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """The share of R's held-out scores strictly below each raw score."""
    raw_r = np.sort(held_out)
    out: np.ndarray = np.searchsorted(raw_r, raw, side="left") / max(1, raw_r.size)
    return out


def _percentiles_from(
    held_out: np.ndarray, raw: np.ndarray, floor: float, also: set[int]
) -> np.ndarray:
    """`_percentiles`, worked out only where it is positive and at least `floor`, and at the
    papers `also` (0 elsewhere): a profile's papers below its threshold are never read, and
    sorting all 5,000 scores of R for every profile cost more than the rest of its percentiles.
    The `need`-th lowest score of R (the fewest below a paper that put it at `floor`) splits
    them; only the scores above it are sorted."""
    n = held_out.size
    out = np.zeros(raw.size)
    if n == 0:
        return out
    need = max(1, math.ceil(floor * n) - 1)
    while need <= n and need / n < floor:  # the float comparison the percentile meets
        need += 1
    while need > 1 and (need - 1) / n >= floor:
        need -= 1
    if need <= n:
        kth = np.partition(held_out, need - 1)[need - 1]
        near = np.flatnonzero(raw > kth)  # at least `need` scores of R below: at `floor` or above
        if near.size:
            below = int(np.count_nonzero(held_out < kth))
            tail = np.sort(held_out[held_out >= kth])
            out[near] = (below + np.searchsorted(tail, raw[near], side="left")) / n
    for i in also:
        if not out[i]:
            out[i] = np.count_nonzero(held_out < raw[i]) / n
    return out


def _candidates(
    profile: Profile,
    day: _Day,
    raw: np.ndarray,
    calibrated: np.ndarray,
    pv: _ProfileVector,
    shared: _Shared,
    explain: int,
    only_passing: bool = False,
) -> list[Candidate]:
    """The candidates of one profile, best first. `only_passing` (evaluate's
    `everything=False`): only those that pass, and only the papers that can pass are looked at
    one by one: the score is the percentile plus at most the profile's largest bonus, rounded,
    so a paper whose percentile is below `_floor` cannot pass, unless a followed author wrote
    it; and once `max_per_digest` are sent, only a followed author's paper can be."""
    fresh = day.papers
    papers: Sequence[int] = range(len(fresh))
    authored = day.authors.papers_of(profile)
    floor = _floor(profile)
    if only_passing and floor is not None:
        near = np.flatnonzero((calibrated > 0) & (calibrated >= floor))
        papers = sorted({*near.tolist(), *authored})
    ranked: list[tuple[float, float, str, int]] = []
    for i in papers:
        paper = fresh[i]
        boost = category_bonus(profile, paper) if profile.category_boost else 0.0
        bonus = boost + upvote_bonus(profile, paper)
        # Rounded, so the threshold applies to the score the user is shown.
        score = round(min(1.0, max(0.0, float(calibrated[i]) + bonus)), 4)
        ranked.append((score, round(float(raw[i]), 9), paper.id, i))
    ranked.sort(key=lambda t: (-t[0], -t[1], t[2]))
    sent = others = 0
    decided: list[tuple[float, int, str | None, str | None, bool]] = []
    for score, _, _, i in ranked:
        if only_passing and sent >= profile.max_per_digest and i not in authored:
            continue  # cannot pass: the digest is full, and no followed author wrote it
        paper = fresh[i]
        author = followed_author(profile, paper) if i in authored else None
        vetoed = _excluded(profile, day.texts, i)
        if vetoed:
            held: str | None = f"excluded: {vetoed}"
        elif author:
            held = None  # followed: always sent, not thresholded, not capped
        elif not category_filter(profile, paper):
            held = "category"
        elif score <= 0 or score < profile.min_score:
            held = "below min_score"
        elif sent >= profile.max_per_digest:
            held = "over max_per_digest"
        else:
            held = None
            sent += 1
        passed = held is None
        if only_passing and not passed:
            continue
        # reasons cost a few array operations each: only for what someone will read
        explained = passed or others < explain
        others += 0 if passed or not explained else 1
        decided.append((score, i, held, author, explained))
    shown = [i for _, i, _, _, explained in decided if explained]
    # The liked papers named in the reasons of every paper explained: one product for all
    # (paper by paper, it cost as much as the vote scores themselves).
    liked = _liked_reasons(day.F, shown, pv, fresh)
    similar = _example_reasons(day.F, shown, pv, shared.dense)
    contributions = _contributions(day.F, shown, pv, shared.dense)
    out: list[Candidate] = []
    for score, i, held, author, explained in decided:
        if explained:
            why = contributions[i]
            reasons = _reasons(profile, day, i, why, shared, author, similar.get(i), liked.get(i))
            match = Match(fresh[i], profile.id, score, reasons, followed=author is not None)
        else:
            match = Match(fresh[i], profile.id, score, (), followed=author is not None)
        out.append(Candidate(match, held is None, held))
    return out


def _contributions(
    F: csr_matrix, rows: list[int], pv: _ProfileVector, dense: sparse.Dense
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """For each of `rows` (new papers): its terms' columns and their parts of x . q."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not rows:
        return out
    cols_q, vals_q = pv.q
    dense.buffer[cols_q] = vals_q
    try:
        for i in rows:
            start, end = F.indptr[i], F.indptr[i + 1]
            cols = F.indices[start:end]
            out[i] = (cols, F.data[start:end] * dense.buffer[cols])
    finally:
        dense.buffer[cols_q] = 0.0
    return out


def _reasons(
    profile: Profile,
    day: _Day,
    i: int,
    contribution: tuple[np.ndarray, np.ndarray],
    shared: _Shared,
    author: str | None,
    example: str | None,
    liked: str | None,
) -> tuple[str, ...]:
    reasons: list[str] = []
    if author:
        reasons.append(FOLLOWED_REASON + author)
    hits = [k for k in profile.keywords if day.texts.has(k, i)]
    if hits:
        reasons.append("keyword " + ", ".join(hits))
    if example:
        reasons.append(f"like your example paper {example}")
    if liked:
        reasons.append(liked)
    cols, contrib = contribution
    # The shared terms that weighed most, ties by column (as a sort by (-value, column)).
    positive = np.flatnonzero(contrib > 0)
    order = positive[np.lexsort((cols[positive], -contrib[positive]))]
    shown = day.reason_terms(i)  # no links, numbers or boilerplate (bot/relevance/reasons.py)
    terms: list[str] = []
    names = shared.space.terms
    for col in cols[order].tolist():
        if len(terms) == WHY_TERMS:
            break
        if names[col] in shown:
            terms.append(names[col])
    if terms:
        reasons.append("terms " + ", ".join(terms))
    return tuple(reasons)


def _example_reasons(
    F: csr_matrix, rows: list[int], pv: _ProfileVector, dense: sparse.Dense
) -> dict[int, str]:
    """For each of `rows` (new papers), the example paper most similar to it (equal
    similarities: the higher id), if at least EXAMPLE_REASON_MIN similar. Each similarity is
    a . b as `a.multiply(b).sum()` adds it: numpy's sum of the products of the shared terms, in
    column order."""
    if not pv.examples or not rows:
        return {}
    best: dict[int, tuple[float, str]] = {}
    for pid, (cols, vals) in pv.examples:
        dense.buffer[cols] = vals
        try:
            for i in rows:
                start, end = F.indptr[i], F.indptr[i + 1]
                theirs = dense.buffer[F.indices[start:end]]
                shared = theirs != 0
                sim = float(np.sum(F.data[start:end][shared] * theirs[shared]))
                if i not in best or (sim, pid) > best[i]:
                    best[i] = (sim, pid)
        finally:
            dense.buffer[cols] = 0.0
    return {i: pid for i, (sim, pid) in best.items() if sim >= EXAMPLE_REASON_MIN}


def _liked_reasons(
    F: csr_matrix, rows: list[int], pv: _ProfileVector, fresh: Sequence[Paper]
) -> dict[int, str]:
    """For each of `rows` (new papers) that the votes pulled up, "like 2 papers you liked: a, b":
    the liked papers at least EXAMPLE_REASON_MIN similar to it, most similar first (never a
    disliked one, never the paper itself: `preview` and the web page score past days, on
    which a liked paper is one of the day's own)."""
    if pv.liked is None or not pv.liked_ids or pv.vote_q is None or pv.vote_offset is None:
        return {}
    if not rows:
        return {}
    at = np.array(rows, dtype=np.int64)
    X = F[at]
    pulled = X @ pv.vote_q - X @ pv.vote_offset
    sims = np.asarray((X @ widen(pv.liked, F.shape[1]).T).toarray())
    out: dict[int, str] = {}
    for k, i in enumerate(rows):
        if pulled[k] <= 0:
            continue
        similar = sorted(
            zip(sims[k].tolist(), pv.liked_ids, strict=True), key=lambda t: (-t[0], t[1])
        )
        own = fresh[i].id
        ids = [pid for sim, pid in similar if sim >= EXAMPLE_REASON_MIN and pid != own]
        if ids:
            shown = ", ".join(ids[:LIKED_SHOWN]) + (", ..." if len(ids) > LIKED_SHOWN else "")
            out[i] = f"like {len(ids)} paper{'s' * (len(ids) > 1)} you liked: {shown}"
    return out


class _Day:
    """The day's new papers, as every profile reads them: their vectors (rows of F), their
    texts and their authors."""

    def __init__(self, papers: Sequence[Paper], F: csr_matrix) -> None:
        self.papers = papers
        self.F = F
        self.FT = F.T.tocsr()
        self.texts = _Texts(papers)
        self.authors = _AuthorIndex(papers)
        self._reason_terms: dict[int, ReasonTerms] = {}

    def reason_terms(self, i: int) -> ReasonTerms:
        """The terms of paper i that may be shown as reasons (made once: many profiles match
        the same paper)."""
        if i not in self._reason_terms:
            self._reason_terms[i] = ReasonTerms(self.papers[i])
        return self._reason_terms[i]


class _AuthorIndex:
    """The day's papers by their authors' last names: a profile that follows authors need only
    look at the papers with an author of a followed name's last name (`_same_person`)."""

    def __init__(self, fresh: Sequence[Paper]) -> None:
        self._fresh = fresh
        self._by_last: dict[str, set[int]] | None = None

    def papers_of(self, profile: Profile) -> set[int]:
        if not profile.authors:
            return set()
        if self._by_last is None:
            self._by_last = {}
            for i, paper in enumerate(self._fresh):
                for name in paper.authors:
                    key = _name_key(name)
                    if key:
                        self._by_last.setdefault(key[-1], set()).add(i)
        out: set[int] = set()
        for name in profile.authors:
            key = _name_key(name)
            if key:
                out |= self._by_last.get(key[-1], set())
        return out


class _Texts:
    """The texts of some papers, for the phrase tests of every profile (`exclude`, keyword
    reasons): each text made once, and its lower case kept when it is ASCII. An ASCII term can
    only match an ASCII text where its lower case is a substring of the text's (for ASCII,
    IGNORECASE is ASCII case folding), a test far cheaper than the regex, which still decides
    (whole words); other texts and terms go straight to the regex (Unicode case folding)."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.text = [p.text for p in papers]
        self.lower = [t.lower() if t.isascii() else None for t in self.text]

    def has(self, term: str, i: int) -> bool:
        low = self.lower[i]
        if low is not None and term.isascii() and _lower(term) not in low:
            return False
        return _phrase(term).search(self.text[i]) is not None


@functools.lru_cache(maxsize=65536)
def _lower(term: str) -> str:
    return term.lower()


_PHRASES: dict[str, re.Pattern[str]] = {}


def _phrase(term: str) -> re.Pattern[str]:
    """Case-insensitive whole-word match ("LN" doesn't hit "kiln"; "C++" still matches)."""
    if term not in _PHRASES:
        _PHRASES[term] = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
    return _PHRASES[term]


@functools.lru_cache(maxsize=65536)  # the same authors, paper after paper, profile after profile
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
