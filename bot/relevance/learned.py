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

Measured and not shipped (bench/README.md, "feedback.py", has the tables and the commit that
carried them): a logistic regression on the voted papers cross-fitted for R's voted rows (below
this direction on both kinds of profile, and about a second per fit), a kNN score (below it
too), and the voted papers' arXiv categories, as a bonus after the percentile (broke the scale)
or as a term of the raw score (lifts most, on a benchmark whose relevance IS the category).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from bot.relevance.sparse import row_dots

WEIGHT = 1.0  # the vote score's weight next to the text score, once votes are many ...
HALF = 20.0  # ... reached at half strength after this many votes
NEG = 0.5  # weight of the disliked papers' mean
BG = 1.0  # weight of R's mean: the liked papers against the recent papers
WHITEN = 1.0  # 1: terms scaled by R's spread (diagonal LDA); 0: plain dot products


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
