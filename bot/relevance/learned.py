"""What a profile learns from its readers' votes: a linear score over the voted papers, blended
with the profile's text score, leaning on the votes more as they accumulate.

The text model (relevance/scoring.py: DLDA on pseudo-positives for a keyword profile, PRF
around the examples for an example profile) knows what the YAML says. Votes say more: a reader
who saw a digest marks what belonged (+1, the set L) and what did not (-1, the set D). These
are the hardest negatives there are (the text model put them in the top 10), so the direction
from D's mean to L's mean is exactly what the text model gets wrong. The vote score is a
Rocchio / diagonal-LDA direction over the unit TF-IDF vectors (bench/feedback.py measured the
variants; bench/README.md has the table):

    w = mean v(L) - NEG * mean v(D) - BG * rbar          (either mean 0 when the set is empty)
    vote(x) = x . (w * inv)           inv = 1 / (sd_R + eps), R's per-term spread (scoring._Stats)

and the profile's raw score becomes

    raw(x) = text(x) / s_text + lam(n) * vote(x) / s_vote,   lam(n) = WEIGHT * n / (n + HALF)

with s_* the standard deviation of each score over R (held out) and n the number of votes: a
first vote nudges (1/21 of the text's weight), a hundred votes weigh almost as much as the text
(0.83). The constants are the best of bench/feedback.py's variants; the measured lift is small
(P@10 1.01x for keyword profiles, 1.14x for example profiles after 100 votes: bench/README.md).
No model is fit on the corpus: w is a few means of rows already in memory.

Held out: a voted paper may be one of R's rows (R's rows carry ids, relevance/reference.py).
Its score among R must come from the model fit without its vote, or it sits above almost every
new paper and the percentile gets a cliff at 1 - |L| / |R|. The means are linear, so that is
closed form: for r_i in L, mean v(L)_-i = (|L| mean v(L) - r_i) / (|L| - 1); likewise for D;
rbar_-i and inv_-i are R's leave-one-out statistics (scoring._Stats).

`category_bonus` (off: CATEGORY = 0) learns the voted papers' arXiv categories as a bonus added
after the percentile; measured on a benchmark whose relevance IS the category, it lifted more but
broke the score scale, so it is kept for measurement only.

Measured and not shipped (bench/feedback.py `--variant`, all off by default; bench/README.md has
the table): a logistic regression on the voted papers with a sample of R as weak negatives and
the text score as a feature, cross-fitted for R's voted rows (MODEL = 1: below the Rocchio
direction on both kinds, and about a second per fit, so 100 profiles' fits blow the 3 s budget
by minutes); a kNN score, the mean similarity to the KNN_K nearest liked papers minus NEG x the
same for the disliked (MODEL = 2: below the Rocchio direction); and the categories of the voted
papers as a term of the raw score (CATEGORY_RAW; scoring._with_raw_categories), before the
percentile, R's rows scored without their own vote, so the scale stays honest. Only the last
lifts much, on a benchmark whose relevance IS the category; it needs the categories of R's
papers, which the live run does not read (they come to it through `examples` in the bench).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, vstack

WEIGHT = 1.0  # the vote score's weight next to the text score, once votes are many ...
HALF = 20.0  # ... reached at half strength after this many votes
NEG = 0.5  # weight of the disliked papers' mean
BG = 1.0  # weight of R's mean: the liked papers against the recent papers
WHITEN = 1.0  # 1: terms scaled by R's spread (diagonal LDA); 0: plain dot products
CATEGORY = 0.0  # the largest score bonus a paper's categories can earn from the votes


@dataclass(frozen=True)
class VoteSet:
    """The voted papers of one profile as unit vectors over the day's vocabulary (rows), and,
    for each, its row in R or -1."""

    liked: csr_matrix
    liked_rows: np.ndarray
    disliked: csr_matrix
    disliked_rows: np.ndarray

    @property
    def n(self) -> int:
        return int(self.liked.shape[0] + self.disliked.shape[0])


@dataclass(frozen=True)
class VoteScore:
    """vote(x) = x . q - x . offset for a new paper x; `held_out` for each row of R."""

    q: np.ndarray
    offset: np.ndarray
    held_out: np.ndarray


def weight(n: int) -> float:
    """How much the votes count next to the profile's text, after n votes."""
    return WEIGHT * n / (n + HALF) if n else 0.0


def vote_score(
    votes: VoteSet,
    R: csr_matrix,
    R_inv: csr_matrix,
    inv: np.ndarray,
    rbar: np.ndarray,
    base: np.ndarray,
    self_inv: np.ndarray | None = None,
) -> VoteScore:
    """The vote score of new papers (q, offset) and of R's rows, each row of R scored by the
    model fit without it (as a voted paper and as part of rbar, sd). `R_inv`, `base`: R's rows
    whitened by the leave-one-out spread and their leave-one-out r_i . rbar_-i * inv_-i;
    `self_inv` (optional, else worked out): r_i . (r_i * inv_-i) (scoring._Stats)."""
    width = R.shape[1]
    Rw = R_inv if WHITEN else R
    w = np.zeros(width)
    sides = []
    for vectors, rows, sign in (
        (votes.liked, votes.liked_rows, 1.0),
        (votes.disliked, votes.disliked_rows, -NEG),
    ):
        k = vectors.shape[0]
        if k == 0 or sign == 0:
            continue
        mean = np.asarray(vectors.sum(axis=0)).ravel() / k
        w += sign * mean
        sides.append((k, mean, rows, sign))
    # One product over R for both sides (the score is linear in w); the voted rows' own
    # share is then taken out row by row.
    held = Rw @ w
    for k, mean, rows, sign in sides:
        at = rows[rows >= 0]
        if not at.size:
            continue
        # r_i . inv_-i . mean_-i with mean_-i = (k mean - r_i) / (k - 1): take r_i's own
        # share out (with one vote, the mean without it is nothing).
        with_mean = row_dots(Rw, at, mean)
        if self_inv is not None and WHITEN:
            self_dot = self_inv[at]
        else:
            self_dot = row_dots(Rw.multiply(R).tocsr(), at, np.ones(width))
        without = (k * with_mean - self_dot) / (k - 1) if k > 1 else np.zeros(at.size)
        held[at] += sign * (without - with_mean)
    if not WHITEN:
        n = R.shape[0]
        q, offset = w, BG * rbar
        # r_i . rbar_-i, rbar_-i = (n rbar - r_i) / (n - 1)
        self_sq = np.asarray(R.multiply(R).sum(axis=1)).ravel()
        held -= BG * (n * (R @ rbar) - self_sq) / max(n - 1, 1)
        return VoteScore(q, offset, held)
    q = w * inv
    offset = BG * rbar * inv
    held -= BG * base
    return VoteScore(q, offset, held)


def row_dots(M: csr_matrix, rows: np.ndarray, v: np.ndarray) -> np.ndarray:
    """M[rows] @ v, read from M's arrays in place (no sliced copy of M)."""
    starts, ends = M.indptr[rows], M.indptr[rows + 1]
    lengths = ends - starts
    first = np.cumsum(lengths) - lengths
    at = np.repeat(starts - first, lengths) + np.arange(int(lengths.sum()))
    owner = np.repeat(np.arange(rows.size), lengths)
    return np.bincount(owner, weights=M.data[at] * v[M.indices[at]], minlength=rows.size)


def category_bonus(
    liked: list[tuple[str, ...]], disliked: list[tuple[str, ...]]
) -> dict[str, float]:
    """Per arXiv category of the voted papers, the score bonus a new paper in it earns: the
    category's smoothed log-odds of being liked, against the profile's overall rate, squashed
    into [-CATEGORY, CATEGORY]. A paper's bonus is its best category's (relevance/scoring.py)."""
    if not CATEGORY or not (liked or disliked):
        return {}
    count: dict[str, list[int]] = {}
    for cats, side in [(c, 0) for c in liked] + [(c, 1) for c in disliked]:
        for c in dict.fromkeys(cats):
            count.setdefault(c, [0, 0])[side] += 1
    base = np.log((len(liked) + 1) / (len(disliked) + 1))
    return {
        c: CATEGORY * float(np.tanh(np.log((yes + 1) / (no + 1)) - base))
        for c, (yes, no) in sorted(count.items())
    }


# ------------------------------------------- measured, not shipped (bench/feedback.py --variant)
MODEL = 0.0  # 0: the Rocchio direction above; 1: logistic regression; 2: kNN
C_LR = 1.0  # logistic regression: inverse L2 strength
WEAK = 0.02  # weight of each sampled row of R as a weak negative (logistic regression)
WEAK_N = 500  # rows of R sampled (a fixed stride) as weak negatives
TEXT_SCALE = 3.0  # the text score's feature scale (larger: less shrunk by L2)
FOLDS = 5  # cross-fitting folds over the voted rows of R
KNN_K = 5  # kNN: the mean of the k most similar liked (and disliked) papers
CATEGORY_RAW = 0.0  # the voted papers' categories as a raw-score term (R's categories needed)
LR_BLEND = 0.0  # 0: the LR's decision (text coefficient learned); 1: text + lam * LR terms


def knn_scores(votes: VoteSet, R: csr_matrix, F: csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """mean of the KNN_K highest similarities to liked papers - NEG * the same for disliked,
    for R's rows (a voted row not counting itself) and for the new papers F."""
    held = np.zeros(R.shape[0])
    fresh = np.zeros(F.shape[0])
    for vectors, rows, sign in (
        (votes.liked, votes.liked_rows, 1.0),
        (votes.disliked, votes.disliked_rows, -NEG),
    ):
        k = vectors.shape[0]
        if k == 0:
            continue
        sr = np.asarray((R @ vectors.T).toarray())
        inside = np.flatnonzero(rows >= 0)
        sr[rows[inside], inside] = -np.inf
        sf = np.asarray((F @ vectors.T).toarray())
        held += sign * _top_mean(sr, int(KNN_K))
        fresh += sign * _top_mean(sf, int(KNN_K))
    return held, fresh


def _top_mean(s: np.ndarray, k: int) -> np.ndarray:
    k = min(k, s.shape[1])
    top = -np.sort(-s, axis=1)[:, :k]
    ok = np.isfinite(top)
    out: np.ndarray = np.where(ok, top, 0.0).sum(axis=1) / np.maximum(ok.sum(axis=1), 1)
    return out


def lr_scores(
    votes: VoteSet,
    R: csr_matrix,
    F: csr_matrix,
    t_r: np.ndarray,
    t_voted: np.ndarray,
    t_f: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression on the voted papers (+1 / -1) and a fixed sample of R as weak
    negatives, the text score a feature; R's voted rows scored cross-fitted."""
    from scipy.sparse import hstack
    from sklearn.linear_model import LogisticRegression

    X_v = vstack([votes.liked, votes.disliked], format="csr")
    y_v = np.r_[np.ones(votes.liked.shape[0]), np.zeros(votes.disliked.shape[0])]
    rows_v = np.r_[votes.liked_rows, votes.disliked_rows]
    voted_in_r = set(rows_v[rows_v >= 0].tolist())
    step = max(1, R.shape[0] // int(WEAK_N))
    weak = np.array([i for i in range(0, R.shape[0], step) if i not in voted_in_r], dtype=np.int64)

    def feats(X: csr_matrix, t: np.ndarray) -> csr_matrix:
        return hstack([X, csr_matrix(TEXT_SCALE * t[:, None])], format="csr")

    X_all = vstack([feats(X_v, t_voted), feats(R[weak], t_r[weak])], format="csr")
    y_all = np.r_[y_v, np.zeros(weak.size)]
    w_all = np.r_[np.ones(y_v.size), np.full(weak.size, WEAK)]

    def fit(keep: np.ndarray) -> tuple[np.ndarray, float]:
        if len(set(y_all[keep].tolist())) < 2:
            return np.zeros(X_all.shape[1]), 0.0
        m = LogisticRegression(C=C_LR, solver="liblinear", random_state=0)
        m.fit(X_all[keep], y_all[keep], sample_weight=w_all[keep])
        return m.coef_.ravel(), float(m.intercept_[0])

    def score(coef: np.ndarray, X: csr_matrix, t: np.ndarray) -> np.ndarray:
        text = coef[-1] * TEXT_SCALE * t
        terms: np.ndarray = X @ coef[:-1]
        if LR_BLEND:
            return terms  # blended by the caller
        return np.asarray(terms + text)

    everything = np.arange(y_all.size)
    coef, _ = fit(everything)
    held = score(coef, R, t_r)
    fresh = score(coef, F, t_f)
    inside = np.flatnonzero(rows_v >= 0)
    for fold in range(int(FOLDS)):
        out = inside[fold :: int(FOLDS)]
        if not out.size:
            continue
        c, _ = fit(np.setdiff1d(everything, out))
        held[rows_v[out]] = score(c, R[rows_v[out]], t_r[rows_v[out]])
    return held, fresh
