"""Cheap closed-form relevance recipes (issue 5), measured on the daily-arXiv replay and CSFCube.

Reuses daily_arxiv.py's loader, profiles, metrics and TfidfVectorizer() baseline; tries what the
product can afford per profile per day: linear scores over unit TF-IDF vectors built from the
stored corpus' document frequencies, plus a shared REFERENCE SET R = the most recent N (5000)
stored papers, whose vectors and statistics are computed once per day for all profiles.

    v(x)   unit vector of a paper: tf x smooth idf, L2 norm, tf = 1 + ln(count) ("log") or BM25's
           count * (k1 + 1) / (count + k1 * (1 - b + b * len / avglen)), k1 1.2, b .75 ("bm25");
           (1,2)-grams, English stop words, accents folded (the product's analyzer); idf := 0
           for terms with df < min_df. Profile texts always use 1 + ln(count).
    F      the day's new papers;  R  the reference set;  rbar = mean v(R);  b = unit(rbar)
           sd_t = standard deviation of term t's weight over R;  eps = 0.9 quantile of sd_t > 0
    c      example profile: unit(mean of v(example)); keyword profile: q0 = v(descr + kw x2)
    top_k(q)  the k papers of R with the largest v . q

Recipes, score(x) for a new paper x (names as in the tables):
    centroid              x . c
    bg g                  x . c - g * x . b        (Rocchio, the reference set as the negatives)
    prf k bB bg g         q = unit(c + B * mean v(top_k(c)));  x . q - g * x . b  (`xN`: N rounds)
    max-sim / best 2      max (mean of the best 2) of x . v(example)
    nb kappa              q_t = mu_t * ln(1 + kappa * mu_t / (rbar_t + 1e-4)), mu = mean of the
                          positives' vectors
    dlda [pseudoK]        x . (mu - rbar) / (sd + eps)   (diagonal LDA against R); mu = mean v of
                          the examples, or for keyword profiles of top_K(q0) ("pseudo-positives")
    LR                    liblinear logistic regression (C 1, balanced), positives vs R (for
                          keywords: top_100(q0) vs the rest of R), refit daily or weekly
    META ...              (question a) extra tokens per paper with their own corpus IDF, scaled by
                          w before the L2 norm: catW = cat_<c> for every listed arXiv category,
                          pcatW = pcat_<c> for the primary one, auW = au_<name> per author.
                          Relevance here IS "carries the category": reported apart.
    rolling               R's vectors keep the IDF of the day each paper arrived (as a product
                          that stores each paper's vector once would have them)

RECOMMENDED (FINAL_EXAMPLES / FINAL_KEYWORDS; the functions examples_vector / keywords_vector and
their sparse versions are the per-profile implementations, checked equal to the table's):
    vectors   bm25 tf, min_df 20 (at this corpus size, ~40k+ papers), R = the last 5000 papers
    examples  prf k10 b1 bg g0.2:   q = unit(c + 1.0 * mean v(top_10(c)));  x . q - 0.2 * x . b
    keywords  dlda pseudo100:       x . (mean v(top_100(q0)) - rbar) / (sd + eps)

    .venv/bin/python bench/explore_recipes.py daily --every 4 [--only 'a|b'] [--kind examples]
    .venv/bin/python bench/explore_recipes.py daily --final --every 1   # chosen recipes, 59 days
    .venv/bin/python bench/explore_recipes.py csfcube [--only TEXT]     # family check (~10 s)
    .venv/bin/python bench/explore_recipes.py cost    # 100 profiles x 500 papers, 5000 in R

Term counts of all papers are cached in $DIGESTBOT_BENCH_CACHE (default
/tmp/digestbot-bench-cache; derived data only, keyed on the day files): the first run takes ~40 s
more. Times in the tables are ms per (day x profile) for the recipe alone; the shared per-day
vectors are listed below each table (this code's vectors live in the 2.5M-term global vocabulary,
so they cost more than the product's per-call vocabulary would).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import pickle
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daily_arxiv as D
from _benchlib import DocFreq, data_dir, l2_rows, smooth_idf

CACHE = Path(os.environ.get("DIGESTBOT_BENCH_CACHE", "/tmp/digestbot-bench-cache"))


# ---- cached term counts -----------------------------------------------------------------------


def _data_key() -> str:
    files = sorted((data_dir() / "daily_arxiv" / "days").glob("*.jsonl.gz"))
    h = hashlib.sha1()
    for f in files:
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return h.hexdigest()[:12]


def cached_featurizer(data: D.Data, key: str) -> D.Featurizer:
    """daily_arxiv.Featurizer, its counts and vectorizer loaded from the cache when present."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{key}-{_data_key()}.pkl"
    if path.exists():
        with open(path, "rb") as fh:
            cv, counts = pickle.load(fh)
        f = object.__new__(D.Featurizer)
        f.cv, f.counts = cv, counts
        f.table = DocFreq(counts.shape[1])
        f.lengths = np.asarray(counts.sum(axis=1)).ravel()
        f.upto = 0
        return f
    f = D.Featurizer(data, key)
    with open(path, "wb") as fh:
        pickle.dump((f.cv, f.counts), fh, protocol=pickle.HIGHEST_PROTOCOL)
    return f


def load_authors(data: D.Data) -> list[tuple[str, ...]]:
    """Authors per paper, in load_days' order (first listing of each id)."""
    by_id: dict[str, tuple[str, ...]] = {}
    for path in sorted((data_dir() / "daily_arxiv" / "days").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                by_id.setdefault(rec["id"], tuple(rec.get("authors") or ()))
    return [by_id[i] for i in data.ids]


BLOCKS = ("cat", "pcat", "au")


class Meta:
    """Metadata tokens as extra columns: cat_<c> (every category), pcat_<c> (the first one),
    au_<author>; document frequencies grown day by day like the text's."""

    def __init__(self, data: D.Data) -> None:
        authors = load_authors(data)
        docs = []
        for cats, aus in zip(data.cats, authors, strict=True):
            toks = [f"cat_{c.lower()}" for c in dict.fromkeys(cats)]
            toks += [f"pcat_{c.lower()}" for c in cats[:1]]
            toks += [f"au_{' '.join(a.lower().split())}" for a in dict.fromkeys(aus)]
            docs.append(toks)
        cv = CountVectorizer(analyzer=lambda toks: toks, dtype=np.int32)
        self.counts = sp.csr_matrix(cv.fit_transform(docs))
        names = cv.get_feature_names_out()
        self.block = np.array([BLOCKS.index(n.split("_", 1)[0]) for n in names])
        self.table = DocFreq(self.counts.shape[1])
        self.upto = 0

    def advance(self, end: int) -> None:
        if end > self.upto:
            self.table.add(self.counts[self.upto : end])
            self.upto = end


# ---- per-day vectors --------------------------------------------------------------------------


@dataclass(frozen=True)
class Vec:
    """How papers become vectors (shared by all profiles for the day)."""

    tf: str = "log"  # "log": 1 + ln tf | "bm25": k1 1.2, b .75 (papers only; profile text: log)
    min_df: int = 1
    cat: float = 0.0
    pcat: float = 0.0
    au: float = 0.0
    ref: int = 5000  # reference set: the most recent `ref` papers before the day
    rolling: bool = False  # reference papers weighted with the IDF of THEIR listing day (stale)


@dataclass
class Mats:
    F: sp.csr_matrix  # new papers (unit rows), compact columns
    R: sp.csr_matrix  # reference set
    E: sp.csr_matrix  # example papers of every profile, stacked (5 per profile)
    ex_slices: list[slice]
    K: sp.csr_matrix  # keyword-profile texts (descr + kw x2)
    b: np.ndarray  # unit(mean(R)), dense over compact columns
    cols: np.ndarray  # global column of each compact column
    ref_rows: np.ndarray


def _weigh(counts: sp.csr_matrix, w: np.ndarray, tf: str, avgdl: float) -> sp.csr_matrix:
    m = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    if tf == "bm25":
        k1, b = 1.2, 0.75
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        denom = k1 * (1.0 - b + b * lengths / avgdl)
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        m.data = m.data * (k1 + 1.0) / (m.data + denom[rows])
    else:
        m.data = 1.0 + np.log(m.data)
    return sp.csr_matrix(m @ sp.diags(w))


class Ctx:
    """One scored day: the history is rows [0, hist_end)."""

    def __init__(self, data, text, meta, d, profiles):
        self.data, self.text, self.meta, self.d = data, text, meta, d
        self.start, self.end = data.day_bounds[d]
        self.hist_end = self.start
        self.fresh = range(self.start, self.end)
        self.profiles = profiles
        self._mats: dict[Vec, Mats] = {}
        self.vec_time: Counter[Vec] = Counter()

    def mats(self, v: Vec) -> Mats:
        if v in self._mats:
            return self._mats[v]
        t0 = time.perf_counter()
        idf = self.text.table.idf()
        idf[self.text.table.df < v.min_df] = 0.0
        avgdl = float(self.text.lengths[: self.hist_end].mean())
        ref_rows = np.arange(max(0, self.hist_end - v.ref), self.hist_end)
        ex_rows = [D.example_rows(self, p) for p in self.profiles["examples"]]
        rows = np.r_[np.array(self.fresh), ref_rows, np.concatenate(ex_rows)].astype(int)
        papers = _weigh(self.text.counts[rows], idf, v.tf, avgdl)
        if v.rolling:  # as if each reference paper's vector were kept from the day it was scored
            df, n_docs = self.text.table.df.copy(), self.text.table.n_docs
            parts = []  # the reference rows, newest day first
            for day in range(self.d - 1, -1, -1):
                lo, hi = self.data.day_bounds[day]
                if hi <= ref_rows[0]:
                    break
                df -= np.asarray((self.text.counts[lo:hi] > 0).sum(axis=0)).ravel()
                n_docs -= hi - lo
                old = smooth_idf(df.astype(np.float64), n_docs)
                old[df < v.min_df] = 0.0
                sel = ref_rows[(ref_rows >= lo) & (ref_rows < hi)]
                parts.append(_weigh(self.text.counts[sel], old, v.tf, avgdl))
            nf = len(self.fresh)
            papers = sp.vstack([papers[:nf], *parts[::-1], papers[nf + ref_rows.size :]]).tocsr()
        if v.cat or v.pcat or v.au:
            midf = self.meta.table.idf() * np.array([v.cat, v.pcat, v.au])[self.meta.block]
            papers = sp.hstack([papers, self.meta.counts[rows] @ sp.diags(midf)]).tocsr()
        kw = [D.keyword_text(p, True, 2) for p in self.profiles["keywords"]]
        ktext = _weigh(self.text.cv.transform(kw), idf, "log", avgdl)
        ktext = sp.hstack([ktext, sp.csr_matrix((len(kw), papers.shape[1] - ktext.shape[1]))])
        allm = sp.vstack([papers, ktext]).tocsr()
        allm.eliminate_zeros()
        cols = np.unique(allm.indices)
        allm = l2_rows(sp.csr_matrix(allm[:, cols]))
        nf, nr = len(self.fresh), len(ref_rows)
        ne = sum(len(r) for r in ex_rows)
        slices, at = [], 0
        for r in ex_rows:
            slices.append(slice(at, at + len(r)))
            at += len(r)
        R = allm[nf : nf + nr]
        b = np.asarray(R.mean(axis=0)).ravel()
        m = Mats(
            F=allm[:nf],
            R=R,
            E=allm[nf + nr : nf + nr + ne],
            ex_slices=slices,
            K=allm[nf + nr + ne :],
            b=b / np.linalg.norm(b),
            cols=cols,
            ref_rows=ref_rows,
        )
        self._mats[v] = m
        self.vec_time[v] += time.perf_counter() - t0
        return m

    # daily_arxiv.Day's interface, so D.example_rows / D.baseline_tfidf / D.recipe_scores work
    def as_day(self, feats) -> D.Day:
        return D.Day(self.data, self.d, self.fresh, self.hist_end, feats, {})


# ---- recipes ----------------------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n == 0, 1.0, n)


def centroids(m: Mats) -> np.ndarray:
    """unit(mean of the examples' unit vectors), one dense row per example profile."""
    return _unit(np.vstack([np.asarray(m.E[s].mean(axis=0)).ravel() for s in m.ex_slices]))


def seeds(m: Mats, kind: str) -> np.ndarray:
    return centroids(m) if kind == "examples" else m.K.toarray()


def top_k_mean(m: Mats, q: np.ndarray, k: int) -> np.ndarray:
    """mean of the k reference papers nearest each row of q (rows: profiles)."""
    s = m.R @ q.T  # n_ref x n_prof (dense)
    top = np.argpartition(-s, k - 1, axis=0)[:k]  # the k best per column (order irrelevant)
    return np.vstack([np.asarray(m.R[top[:, j]].mean(axis=0)).ravel() for j in range(q.shape[0])])


def prf(m: Mats, q: np.ndarray, k: int, beta: float, rounds: int = 1) -> np.ndarray:
    for _ in range(rounds):
        q = _unit(q + beta * top_k_mean(m, q, k))
    return q


def r_linear(
    m: Mats, kind: str, *, k=0, beta=0.0, rounds=1, gamma=0.0, pseudo=0, alpha=1.0, clip=False
) -> np.ndarray:
    """score = F @ q with q = unit(PRF(seed)) - gamma * b; `pseudo` k: the seed is replaced by
    unit(alpha * seed + unit(mean(top-k of R by seed))) (pseudo-positives for keyword profiles)."""
    q = seeds(m, kind)
    if pseudo:
        q = _unit(alpha * q + _unit(top_k_mean(m, q, pseudo)))
    if k and beta:
        q = prf(m, q, k, beta, rounds)
    q = q - gamma * m.b[None, :]
    if clip:
        q = np.maximum(q, 0.0)
    return np.asarray(m.F @ q.T)


def r_max(m: Mats, kind: str, *, top=1, gamma=0.0) -> np.ndarray:
    out = np.zeros((m.F.shape[0], len(m.ex_slices)))
    fb = m.F @ m.b
    for j, s in enumerate(m.ex_slices):
        sims = (m.F @ m.E[s].T).toarray() - gamma * fb[:, None]
        out[:, j] = np.sort(sims, axis=1)[:, -top:].mean(axis=1)
    return out


def r_nb(m: Mats, kind: str, *, kappa=1.0, pseudo=0, eps=1e-4) -> np.ndarray:
    """Background-normalised Rocchio: q_t = c_t * ln(1 + kappa * c_t / (rbar_t + eps)), where
    c = mean of the positives' unit vectors (examples, or keyword pseudo-positives) and rbar =
    mean of the reference set's. Terms frequent in R count less, rare-in-R profile terms more."""
    rbar = np.asarray(m.R.mean(axis=0)).ravel()
    if kind == "examples" and not pseudo:
        c = np.vstack([np.asarray(m.E[s].mean(axis=0)).ravel() for s in m.ex_slices])
    else:
        c = top_k_mean(m, seeds(m, kind), pseudo)
    q = c * np.log1p(kappa * c / (rbar[None, :] + eps))
    return np.asarray(m.F @ q.T)


def r_dlda(
    m: Mats,
    kind: str,
    *,
    pseudo=0,
    eps_q=0.5,
    prf_seed=(0, 0.0),
    with_seed=0.0,
    with_examples=False,
) -> np.ndarray:
    """Diagonal LDA against the reference set: q_t = (mu_t - rbar_t) / (sd_t + eps), with rbar,
    sd the per-term mean and standard deviation over R (shared by all profiles for the day) and
    eps = the eps_q quantile of the non-zero sd's. mu = mean of the positives: the examples, or
    the top `pseudo` papers of R by the seed (optionally PRF-expanded first: prf_seed = (k, beta)),
    plus `with_seed` x the seed vector, plus the examples themselves if `with_examples`."""
    R = m.R
    rbar = np.asarray(R.mean(axis=0)).ravel()
    sq = np.asarray(R.multiply(R).mean(axis=0)).ravel()
    sd = np.sqrt(np.maximum(sq - rbar**2, 0.0))
    eps = np.quantile(sd[sd > 0], eps_q)
    if kind == "examples" and not pseudo:
        mu = np.vstack([np.asarray(m.E[s].mean(axis=0)).ravel() for s in m.ex_slices])
    else:
        seed = seeds(m, kind)
        q = prf(m, seed, *prf_seed) if prf_seed[0] else seed
        mu = top_k_mean(m, q, pseudo)
        if with_examples:
            n_ex = np.array([s.stop - s.start for s in m.ex_slices])[:, None]
            ex_sum = np.vstack([np.asarray(m.E[s].sum(axis=0)).ravel() for s in m.ex_slices])
            mu = (pseudo * mu + ex_sum) / (pseudo + n_ex)
        mu = mu + with_seed * seed
    q = (mu - rbar[None, :]) / (sd[None, :] + eps)
    return np.asarray(m.F @ q.T)


class LR:
    """Logistic regression (liblinear, dual, balanced), positives vs the reference set; weights
    kept per profile and reused until `refit_days` calendar days have passed (1 = daily)."""

    def __init__(self, C=1.0, pseudo=0, refit_days=1, neg=0, min_df_note=""):
        self.C, self.pseudo, self.refit_days, self.neg = C, pseudo, refit_days, neg
        self.state: dict[tuple[str, int], tuple[date, np.ndarray, np.ndarray, float]] = {}
        self.fit_times: list[float] = []

    def __call__(self, m: Mats, kind: str, ctx: Ctx) -> np.ndarray:
        today = date.fromisoformat(ctx.data.day_names[ctx.d])
        out = np.zeros((m.F.shape[0], len(m.ex_slices)))
        R = m.R if not self.neg else m.R[-self.neg :]
        sims = None
        for j in range(out.shape[1]):
            st = self.state.get((kind, j))
            if st is None or (today - st[0]).days >= self.refit_days:
                t0 = time.perf_counter()
                if kind == "examples":
                    pos, neg = m.E[m.ex_slices[j]], R
                else:
                    if sims is None:
                        sims = R @ m.K.T.toarray()
                    top = np.argpartition(-sims[:, j], self.pseudo - 1)[: self.pseudo]
                    mask = np.ones(R.shape[0], bool)
                    mask[top] = False
                    pos, neg = R[top], R[mask]
                x = sp.vstack([pos, neg]).tocsr()
                used = np.unique(x.indices)
                x = sp.csr_matrix(x[:, used])
                y = np.r_[np.ones(pos.shape[0]), np.zeros(neg.shape[0])]
                clf = LogisticRegression(
                    C=self.C, class_weight="balanced", solver="liblinear", dual=True, max_iter=1000
                ).fit(x, y)
                self.fit_times.append(time.perf_counter() - t0)
                st = (today, m.cols[used], clf.coef_.ravel(), float(clf.intercept_[0]))
                self.state[(kind, j)] = st
            # apply stored weights (global columns) to today's vectors
            w = np.zeros(m.cols.size)
            pos_in = np.searchsorted(m.cols, st[1])
            ok = (pos_in < m.cols.size) & (m.cols[np.minimum(pos_in, m.cols.size - 1)] == st[1])
            w[pos_in[ok]] = st[2][ok]
            out[:, j] = m.F @ w + st[3]
        return out


# ---- the variant table ------------------------------------------------------------------------

TEXT = Vec()
Recipe = tuple[str, Vec, Callable]


def _lin(**kw):
    return lambda m, kind, ctx: r_linear(m, kind, **kw)


def _f(fn, **kw):
    return lambda m, kind, ctx: fn(m, kind, **kw)


def example_variants() -> list[Recipe]:
    V = []
    for tf in ("log", "bm25"):
        v = replace(TEXT, tf=tf)
        V.append((f"{tf}: centroid", v, _lin()))
        for g in (0.1, 0.2, 0.3, 0.5):
            V.append((f"{tf}: bg g{g}", v, _lin(gamma=g)))
        V.append((f"{tf}: bg g0.3 clip", v, _lin(gamma=0.3, clip=True)))
    v = TEXT
    V += [
        ("log: max-sim", v, _f(r_max, top=1)),
        ("log: mean of best 2", v, _f(r_max, top=2)),
        ("log: max-sim bg g0.3", v, _f(r_max, top=1, gamma=0.3)),
        ("log: prf k10 b.5", v, _lin(k=10, beta=0.5)),
        ("log: prf k10 b.5 bg g0.3", v, _lin(k=10, beta=0.5, gamma=0.3)),
        ("log: prf k20 b1 bg g0.3", v, _lin(k=20, beta=1.0, gamma=0.3)),
        ("log: prf k50 b1 bg g0.3", v, _lin(k=50, beta=1.0, gamma=0.3)),
        ("log: prf k20 b1 x2 bg g0.3", v, _lin(k=20, beta=1.0, rounds=2, gamma=0.3)),
        ("log: nb kappa1", v, _f(r_nb, kappa=1.0)),
        ("log: nb kappa10", v, _f(r_nb, kappa=10.0)),
        ("log: dlda eps.5", v, _f(r_dlda, eps_q=0.5)),
        ("log: dlda eps.9", v, _f(r_dlda, eps_q=0.9)),
        ("log min_df5: bg g0.3", replace(v, min_df=5), _lin(gamma=0.3)),
        ("log ref2000: bg g0.3", replace(v, ref=2000), _lin(gamma=0.3)),
        ("log ref10000: bg g0.3", replace(v, ref=10000), _lin(gamma=0.3)),
        ("log: LR C1 vs R daily", v, LR(C=1.0)),
    ]
    # (a) metadata tokens
    for cat in (0.5, 1.0, 2.0):
        mv = replace(v, cat=cat)
        V.append((f"META cat{cat}: centroid", mv, _lin()))
        V.append((f"META cat{cat}: bg g0.3", mv, _lin(gamma=0.3)))
    for pc in (1.0, 2.0):
        mv = replace(v, cat=1.0, pcat=pc)
        V.append((f"META cat1 pcat{pc}: centroid", mv, _lin()))
        V.append((f"META cat1 pcat{pc}: bg g0.3", mv, _lin(gamma=0.3)))
    V.append(("META au1: centroid", replace(v, au=1.0), _lin()))
    V.append(("META au1: bg g0.3", replace(v, au=1.0), _lin(gamma=0.3)))
    V.append(("META cat1 au1: bg g0.3", replace(v, cat=1.0, au=1.0), _lin(gamma=0.3)))
    V.append(("META cat1: LR C1 vs R daily", replace(v, cat=1.0), LR(C=1.0)))
    # round 2
    V += [
        ("log: prf k50 b1 bg g0.2", v, _lin(k=50, beta=1.0, gamma=0.2)),
        ("log: prf k50 b2 bg g0.3", v, _lin(k=50, beta=2.0, gamma=0.3)),
        ("log: prf k100 b1 bg g0.3", v, _lin(k=100, beta=1.0, gamma=0.3)),
        ("log min_df5: prf k50 b1 bg g0.3", replace(v, min_df=5), _lin(k=50, beta=1.0, gamma=0.3)),
        ("log min_df5: prf k50 b1 bg g0.2", replace(v, min_df=5), _lin(k=50, beta=1.0, gamma=0.2)),
        ("bm25: prf k50 b1 bg g0.2", replace(v, tf="bm25"), _lin(k=50, beta=1.0, gamma=0.2)),
        ("log: dlda pseudo50+ex eps.9", v, _f(r_dlda, pseudo=50, with_examples=True, eps_q=0.9)),
        ("log: dlda pseudo100+ex eps.9", v, _f(r_dlda, pseudo=100, with_examples=True, eps_q=0.9)),
        ("log: dlda pseudo20+ex eps.9", v, _f(r_dlda, pseudo=20, with_examples=True, eps_q=0.9)),
        ("META cat1.5: bg g0.3", replace(v, cat=1.5), _lin(gamma=0.3)),
        ("META pcat1: bg g0.3", replace(v, pcat=1.0), _lin(gamma=0.3)),
        ("META pcat2: bg g0.3", replace(v, pcat=2.0), _lin(gamma=0.3)),
        ("META cat1: prf k50 b1 bg g0.3", replace(v, cat=1.0), _lin(k=50, beta=1.0, gamma=0.3)),
        (
            "META cat1 pcat1: prf k50 b1 bg g0.3",
            replace(v, cat=1.0, pcat=1.0),
            _lin(k=50, beta=1.0, gamma=0.3),
        ),
        ("META cat2: prf k50 b1 bg g0.3", replace(v, cat=2.0), _lin(k=50, beta=1.0, gamma=0.3)),
    ]
    # round 3: the vocabulary cut (min_df) with PRF + background
    for md in (5, 10, 20):
        for tf in ("log", "bm25"):
            mv = replace(v, tf=tf, min_df=md)
            V.append((f"R3 {tf} min_df{md}: bg g0.3", mv, _lin(gamma=0.3)))
            V.append(
                (f"R3 {tf} min_df{md}: prf k50 b1 bg g0.3", mv, _lin(k=50, beta=1.0, gamma=0.3))
            )
            V.append(
                (f"R3 {tf} min_df{md}: prf k20 b1 bg g0.2", mv, _lin(k=20, beta=1.0, gamma=0.2))
            )
    V.append(
        (
            "R3 META cat1.5 min_df5: prf k50 b1 bg g0.3",
            replace(v, cat=1.5, min_df=5),
            _lin(k=50, beta=1.0, gamma=0.3),
        )
    )
    V.append(("R3 META cat1.5 min_df5: bg g0.3", replace(v, cat=1.5, min_df=5), _lin(gamma=0.3)))
    V.append(
        (
            "R5 rolling bm25: prf k10 b1 bg g0.2",
            replace(v, tf="bm25", rolling=True),
            _lin(k=10, beta=1.0, gamma=0.2),
        )
    )
    bm20 = replace(v, tf="bm25", min_df=20)
    V.append(("R6 bm25 min_df20: prf k10 b1 bg g0.2", bm20, _lin(k=10, beta=1.0, gamma=0.2)))
    V.append(("R6 bm25 min_df20: prf k10 b1 bg g0.3", bm20, _lin(k=10, beta=1.0, gamma=0.3)))
    V.append(
        (
            "R6 rolling bm25 min_df20: prf k10 b1 bg g0.2",
            replace(bm20, rolling=True),
            _lin(k=10, beta=1.0, gamma=0.2),
        )
    )
    for meta in ({"au": 1.0}, {"cat": 1.0}):
        label = " ".join(f"{key}{val:g}" for key, val in meta.items())
        V.append(
            (
                f"R6 META {label} bm25 min_df20: prf k10 b1 bg g0.2",
                replace(bm20, **meta),
                _lin(k=10, beta=1.0, gamma=0.2),
            )
        )
    V.append(
        (
            "R6 META cat1.5 bm25 min_df20: prf k10 b1 bg g0.2",
            replace(bm20, cat=1.5),
            _lin(k=10, beta=1.0, gamma=0.2),
        )
    )
    # round 4: BM25 tf and a small k, the part of the family that also passes CSFCube
    bm = replace(v, tf="bm25")
    for k, g in ((5, 0.2), (10, 0.2), (10, 0.3), (20, 0.2)):
        V.append((f"R4 bm25: prf k{k} b1 bg g{g}", bm, _lin(k=k, beta=1.0, gamma=g)))
    for meta in ({"cat": 1.0}, {"cat": 1.5}, {"cat": 1.0, "pcat": 1.0}, {"cat": 2.0}, {"au": 1.0}):
        label = " ".join(f"{key}{val}" for key, val in meta.items())
        V.append((f"R4 META {label} bm25: centroid", replace(bm, **meta), _lin()))
        V.append(
            (
                f"R4 META {label} bm25: prf k10 b1 bg g0.2",
                replace(bm, **meta),
                _lin(k=10, beta=1.0, gamma=0.2),
            )
        )
    return V


def keyword_variants() -> list[Recipe]:
    v = TEXT
    V: list[Recipe] = [
        ("log: q0 (current bot)", v, _lin()),
        ("bm25: q0", replace(v, tf="bm25"), _lin()),
        ("log: q0 bg g0.3", v, _lin(gamma=0.3)),
    ]
    for k, b in ((20, 1.0), (50, 1.0), (50, 2.0), (100, 2.0), (100, 4.0)):
        V.append((f"log: prf k{k} b{b}", v, _lin(k=k, beta=b)))
        for g in (0.2, 0.4):
            V.append((f"log: prf k{k} b{b} bg g{g}", v, _lin(k=k, beta=b, gamma=g)))
    V += [
        ("log: prf k50 b1 x2 bg g0.2", v, _lin(k=50, beta=1.0, rounds=2, gamma=0.2)),
        ("log: prf k100 b2 x2 bg g0.2", v, _lin(k=100, beta=2.0, rounds=2, gamma=0.2)),
        ("bm25: prf k50 b2 bg g0.2", replace(v, tf="bm25"), _lin(k=50, beta=2.0, gamma=0.2)),
        (
            "log min_df20: prf k50 b2 bg g0.2",
            replace(v, min_df=20),
            _lin(k=50, beta=2.0, gamma=0.2),
        ),
        ("log: pseudo100 a.5 bg g0.3", v, _lin(pseudo=100, alpha=0.5, gamma=0.3)),
        ("log: pseudo100 a0 bg g0.3", v, _lin(pseudo=100, alpha=0.0, gamma=0.3)),
        ("log: nb pseudo100 kappa1", v, _f(r_nb, pseudo=100, kappa=1.0)),
        ("log: nb pseudo100 kappa10", v, _f(r_nb, pseudo=100, kappa=10.0)),
        ("log: dlda pseudo100 eps.5", v, _f(r_dlda, pseudo=100, eps_q=0.5)),
        ("log: dlda pseudo100 eps.9", v, _f(r_dlda, pseudo=100, eps_q=0.9)),
        ("log min_df20: LR pseudo100 daily", replace(v, min_df=20), LR(pseudo=100)),
        ("log min_df20: LR pseudo100 weekly", replace(v, min_df=20), LR(pseudo=100, refit_days=7)),
        ("log min_df20: LR pseudo100 neg2000", replace(v, min_df=20), LR(pseudo=100, neg=2000)),
    ]
    # round 2: diagonal LDA around the pseudo-positives
    for k in (50, 100, 200):
        for e in (0.5, 0.9, 0.99):
            V.append((f"log: dlda pseudo{k} eps{e}", v, _f(r_dlda, pseudo=k, eps_q=e)))
    V += [
        (
            "log: dlda prf(k100 b4) pseudo100 eps.9",
            v,
            _f(r_dlda, pseudo=100, eps_q=0.9, prf_seed=(100, 4.0)),
        ),
        (
            "log: dlda prf(k50 b2) pseudo100 eps.9",
            v,
            _f(r_dlda, pseudo=100, eps_q=0.9, prf_seed=(50, 2.0)),
        ),
        ("log: dlda pseudo100 +seed1 eps.9", v, _f(r_dlda, pseudo=100, eps_q=0.9, with_seed=1.0)),
        (
            "log min_df20: dlda pseudo100 eps.9",
            replace(v, min_df=20),
            _f(r_dlda, pseudo=100, eps_q=0.9),
        ),
        (
            "log ref2000: dlda pseudo100 eps.9",
            replace(v, ref=2000),
            _f(r_dlda, pseudo=100, eps_q=0.9),
        ),
        (
            "log ref2000: dlda pseudo40 eps.9",
            replace(v, ref=2000),
            _f(r_dlda, pseudo=40, eps_q=0.9),
        ),
        ("bm25: dlda pseudo100 eps.9", replace(v, tf="bm25"), _f(r_dlda, pseudo=100, eps_q=0.9)),
        ("META cat1: dlda pseudo100 eps.9", replace(v, cat=1.0), _f(r_dlda, pseudo=100, eps_q=0.9)),
        ("META cat1: prf k100 b4 bg g0.4", replace(v, cat=1.0), _lin(k=100, beta=4.0, gamma=0.4)),
        (
            "R3 log min_df5: dlda pseudo100 eps.9",
            replace(v, min_df=5),
            _f(r_dlda, pseudo=100, eps_q=0.9),
        ),
        (
            "R3 log min_df10: dlda pseudo100 eps.9",
            replace(v, min_df=10),
            _f(r_dlda, pseudo=100, eps_q=0.9),
        ),
        (
            "R3 log min_df50: dlda pseudo100 eps.9",
            replace(v, min_df=50),
            _f(r_dlda, pseudo=100, eps_q=0.9),
        ),
        (
            "R3 log min_df20: dlda pseudo50 eps.9",
            replace(v, min_df=20),
            _f(r_dlda, pseudo=50, eps_q=0.9),
        ),
        (
            "R3 log min_df20: prf k100 b4 bg g0.4",
            replace(v, min_df=20),
            _lin(k=100, beta=4.0, gamma=0.4),
        ),
        (
            "R4 bm25 min_df20: dlda pseudo100 eps.9",
            replace(v, tf="bm25", min_df=20),
            _f(r_dlda, pseudo=100, eps_q=0.9),
        ),
        (
            "R4 bm25 min_df20: dlda pseudo50 eps.9",
            replace(v, tf="bm25", min_df=20),
            _f(r_dlda, pseudo=50, eps_q=0.9),
        ),
        (
            "R4 META cat1 bm25: dlda pseudo100 eps.9",
            replace(v, tf="bm25", cat=1.0),
            _f(r_dlda, pseudo=100, eps_q=0.9),
        ),
    ]
    V.append(
        (
            "R5 rolling bm25 min_df20: dlda pseudo100 eps.9",
            replace(v, tf="bm25", min_df=20, rolling=True),
            _f(r_dlda, pseudo=100, eps_q=0.9),
        )
    )
    V.append(
        (
            "R6 META cat1 bm25 min_df20: dlda pseudo100 eps.9",
            replace(v, tf="bm25", min_df=20, cat=1.0),
            _f(r_dlda, pseudo=100, eps_q=0.9),
        )
    )
    return V


# The recipes of the final full run (all 59 days): the recommended ones ("R6 bm25 min_df20: prf
# k10 b1 bg g0.2", "R4 bm25 min_df20: dlda pseudo100 eps.9"), their category variants, and the
# references they replace.
FINAL: dict[str, list[str]] = {
    "examples": [
        "log: centroid",
        "log: prf k50 b1 bg g0.3",
        "R6 bm25 min_df20: prf k10 b1 bg g0.2",
        "R6 rolling bm25 min_df20: prf k10 b1 bg g0.2",
        "R6 META au1 bm25 min_df20: prf k10 b1 bg g0.2",
        "R6 META cat1 bm25 min_df20: prf k10 b1 bg g0.2",
        "R6 META cat1.5 bm25 min_df20: prf k10 b1 bg g0.2",
    ],
    "keywords": [
        "log: q0 (current bot)",
        "log: prf k100 b4.0 bg g0.4",
        "log min_df20: LR pseudo100 daily",
        "log min_df20: LR pseudo100 weekly",
        "R4 bm25 min_df20: dlda pseudo100 eps.9",
        "R5 rolling bm25 min_df20: dlda pseudo100 eps.9",
        "R6 META cat1 bm25 min_df20: dlda pseudo100 eps.9",
    ],
}
# The recommended constants (what score_examples / score_keywords and `cost` use).
FINAL_EXAMPLES = {"tf": "bm25", "min_df": 20, "k": 10, "beta": 1.0, "gamma": 0.2}
FINAL_KEYWORDS = {"tf": "bm25", "min_df": 20, "k": 100, "eps_q": 0.9}


# ---- the chosen recipes, one profile at a time (the shape the product would run) ---------------


class Shared:
    """What every profile of the day shares, computed once per day from F and R (unit rows):
    the background direction b, DLDA's 1 / (sd_t + eps), and their products with F and R."""

    def __init__(self, F: sp.csr_matrix, R: sp.csr_matrix, eps_q: float = 0.9) -> None:
        self.F, self.R = F, R
        rbar = np.asarray(R.mean(axis=0)).ravel()
        self.b = rbar / np.linalg.norm(rbar)
        sd = np.sqrt(np.maximum(np.asarray(R.multiply(R).mean(axis=0)).ravel() - rbar**2, 0.0))
        self.inv = 1.0 / (sd + np.quantile(sd[sd > 0], eps_q))
        self.F_b, self.R_b = F @ self.b, R @ self.b  # background term
        self.F_rbar, self.R_rbar = F @ (rbar * self.inv), R @ (rbar * self.inv)  # DLDA's offset


def _rows_mean(m: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    return np.asarray(m[rows].sum(axis=0)).ravel() / len(rows)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argpartition(-scores, k - 1)[:k]


def examples_vector(sh: Shared, E: sp.csr_matrix, k: int, beta: float) -> np.ndarray:
    """Example profile: c = unit(mean(E)); P = mean of the k papers of R nearest c;
    q = unit(c + beta * P). Score of a paper x: x . q - gamma * x . b (== r_linear)."""
    c = np.asarray(E.sum(axis=0)).ravel()
    c /= np.linalg.norm(c)
    if k and beta:
        c = c + beta * _rows_mean(sh.R, _top(sh.R @ c, k))
        c /= np.linalg.norm(c)
    return c


def keywords_vector(sh: Shared, q0: np.ndarray, k: int) -> np.ndarray:
    """Keyword profile (diagonal LDA on pseudo-positives): mu = mean of the k papers of R
    nearest q0 = v(description + keywords x2); w = mu / (sd + eps). Score of a paper x:
    x . w - x . (rbar / (sd + eps))  (== r_dlda(pseudo=k))."""
    return _rows_mean(sh.R, _top(sh.R @ q0, k)) * sh.inv


def score_examples(sh: Shared, E: sp.csr_matrix, k: int, beta: float, gamma: float) -> np.ndarray:
    return sh.F @ examples_vector(sh, E, k, beta) - gamma * sh.F_b


def score_keywords(sh: Shared, q0: np.ndarray, k: int) -> np.ndarray:
    return sh.F @ keywords_vector(sh, q0, k) - sh.F_rbar


# The same two recipes touching only the terms involved (sparse vectors; F and R also kept as
# CSC, once per day, so that F . q and R . q read only q's columns): the cost no longer grows
# with the size of the day's vocabulary.


def _sum_rows(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    cols, inv = np.unique(m.indices, return_inverse=True)
    return cols, np.bincount(inv, weights=m.data, minlength=cols.size)


def _add(a: tuple, b: tuple, wa: float, wb: float) -> tuple[np.ndarray, np.ndarray]:
    cols, inv = np.unique(np.r_[a[0], b[0]], return_inverse=True)
    return cols, np.bincount(inv, weights=np.r_[wa * a[1], wb * b[1]], minlength=cols.size)


class SparseShared(Shared):
    def __init__(self, F: sp.csr_matrix, R: sp.csr_matrix, eps_q: float = 0.9) -> None:
        super().__init__(F, R, eps_q)
        self.Fc, self.Rc = F.tocsc(), R.tocsc()

    def dot(self, which: str, q: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        m = self.Fc if which == "F" else self.Rc
        return np.asarray(m[:, q[0]] @ q[1]).ravel()


def examples_vector_sparse(sh: SparseShared, E: sp.csr_matrix, k: int, beta: float) -> tuple:
    c = _sum_rows(E)
    c = (c[0], c[1] / np.linalg.norm(c[1]))
    if k and beta:
        top = _top(sh.dot("R", c), k)
        p = _sum_rows(sh.R[top])
        c = _add(c, p, 1.0, beta / k)
        c = (c[0], c[1] / np.linalg.norm(c[1]))
    return c


def keywords_vector_sparse(sh: SparseShared, q0: sp.csr_matrix, k: int) -> tuple:
    q0 = sp.csr_matrix(q0)
    top = _top(sh.dot("R", (q0.indices, q0.data)), k)
    cols, vals = _sum_rows(sh.R[top])
    return cols, vals / k * sh.inv[cols]


def verify(data: D.Data, text: D.Featurizer) -> None:
    """score_examples / score_keywords (one profile at a time) == the table's batch recipes."""
    d = D.scored_days(data)[-1]
    text.advance(data.day_bounds[d][0])
    profiles = {k: D.load_profiles(k) for k in D.TARGETS}
    ctx = Ctx(data, text, Meta.__new__(Meta), d, profiles)
    fe, fk = FINAL_EXAMPLES, FINAL_KEYWORDS
    m = ctx.mats(Vec(tf=fe["tf"], min_df=fe["min_df"]))
    batch = r_linear(m, "examples", k=fe["k"], beta=fe["beta"], gamma=fe["gamma"])
    sh = Shared(m.F, m.R)
    for j, sl in enumerate(m.ex_slices):
        one = score_examples(sh, m.E[sl], fe["k"], fe["beta"], fe["gamma"])
        assert np.allclose(one, batch[:, j], atol=1e-9), "score_examples != r_linear"
    m = ctx.mats(Vec(tf=fk["tf"], min_df=fk["min_df"]))
    batch = r_dlda(m, "keywords", pseudo=fk["k"], eps_q=fk["eps_q"])
    sh = Shared(m.F, m.R, fk["eps_q"])
    for j in range(m.K.shape[0]):
        one = score_keywords(sh, m.K[j].toarray().ravel(), fk["k"])
        assert np.allclose(one, batch[:, j], atol=1e-9), "score_keywords != r_dlda"
        ssh = SparseShared(m.F, m.R, fk["eps_q"])
        w = keywords_vector_sparse(ssh, m.K[j], fk["k"])
        assert np.allclose(ssh.dot("F", w) - sh.F_rbar, batch[:, j], atol=1e-9), "sparse kw"
    m = ctx.mats(Vec(tf=fe["tf"], min_df=fe["min_df"]))
    ssh = SparseShared(m.F, m.R)
    batch = r_linear(m, "examples", k=fe["k"], beta=fe["beta"], gamma=fe["gamma"])
    for j, sl in enumerate(m.ex_slices):
        q = examples_vector_sparse(ssh, m.E[sl], fe["k"], fe["beta"])
        assert np.allclose(ssh.dot("F", q) - fe["gamma"] * ssh.F_b, batch[:, j], atol=1e-9)
    print(f"verify: per-profile functions == batch recipes on {data.day_names[d]}")
    text.table, text.upto = DocFreq(text.counts.shape[1]), 0


def run_cost(args) -> None:
    """100 profiles x 500 new papers against a 5000-paper reference set, per-profile loops."""
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    data = D.load_days()
    text = cached_featurizer(data, "sanity")
    n = len(data.ids)
    fresh = np.arange(n - 500, n)
    ref = np.arange(n - 500 - args.ref, n - 500)
    verify(data, text)
    text.advance(n - 500)
    kw_profiles = D.load_profiles("keywords")
    print(f"setup {time.perf_counter() - t0:.0f} s; IDF over {text.upto} papers", flush=True)
    spaces = {(FINAL_EXAMPLES["tf"], FINAL_EXAMPLES["min_df"]), (FINAL_KEYWORDS["tf"], 20)}
    for tf, min_df in sorted(spaces | {("bm25", 1)}):  # min_df 1 for comparison
        reps = []
        for _ in range(3):
            t = time.perf_counter()
            idf = text.table.idf()
            idf[text.table.df < min_df] = 0.0
            avgdl = float(text.lengths[: n - 500].mean())
            ex_rows = rng.choice(n - 500 - args.ref, size=(100, 5), replace=False)
            kw = []
            for i in range(100):  # 100 keyword profiles: the 14, with one keyword dropped in turn
                p = kw_profiles[i % len(kw_profiles)]
                drop = (i // len(kw_profiles)) % (len(p.keywords) + 1)
                kws = tuple(x for j, x in enumerate(p.keywords) if j != drop - 1)
                kw.append(D.keyword_text(replace(p, keywords=kws), True, 2))
            rows = np.r_[fresh, ref, ex_rows.ravel()]
            allm = sp.vstack(
                [
                    _weigh(text.counts[rows], idf, tf, avgdl),
                    _weigh(text.cv.transform(kw), idf, "log", avgdl),
                ]
            ).tocsr()
            allm.eliminate_zeros()
            cols = np.unique(allm.indices)
            allm = l2_rows(sp.csr_matrix(allm[:, cols]))
            F, R = allm[:500], allm[500 : 500 + args.ref]
            E, K = allm[500 + args.ref : 500 + args.ref + 500], allm[500 + args.ref + 500 :]
            t_vec = time.perf_counter() - t
            t = time.perf_counter()
            sh = Shared(F, R, FINAL_KEYWORDS["eps_q"])
            t_shared = time.perf_counter() - t
            fe = FINAL_EXAMPLES
            t = time.perf_counter()
            ex_q = [
                examples_vector(sh, E[5 * i : 5 * i + 5], fe["k"], fe["beta"]) for i in range(100)
            ]
            ex_scores = [sh.F @ q - fe["gamma"] * sh.F_b for q in ex_q]
            t_ex = time.perf_counter() - t
            t = time.perf_counter()
            kw_q = [
                keywords_vector(sh, K[i].toarray().ravel(), FINAL_KEYWORDS["k"]) for i in range(100)
            ]
            kw_scores = [sh.F @ w - sh.F_rbar for w in kw_q]
            t_kw = time.perf_counter() - t
            t = time.perf_counter()
            for w, scores in zip(ex_q + kw_q, ex_scores + kw_scores, strict=True):
                # percentile calibration: the share of the reference set scoring below each paper
                # (the offset term is the same for F and R, so it can be left out of both)
                ref_sorted = np.sort(sh.R @ w)
                np.searchsorted(ref_sorted, scores + 0.0) / ref_sorted.size
            t_cal = time.perf_counter() - t
            t = time.perf_counter()
            ssh = SparseShared(F, R, FINAL_KEYWORDS["eps_q"])
            t_sshared = time.perf_counter() - t
            t = time.perf_counter()
            ex_q = [
                examples_vector_sparse(ssh, E[5 * i : 5 * i + 5], fe["k"], fe["beta"])
                for i in range(100)
            ]
            ex_scores = [ssh.dot("F", q) - fe["gamma"] * ssh.F_b for q in ex_q]
            t_sex = time.perf_counter() - t
            t = time.perf_counter()
            kw_q = [keywords_vector_sparse(ssh, K[i], FINAL_KEYWORDS["k"]) for i in range(100)]
            kw_scores = [ssh.dot("F", w) - ssh.F_rbar for w in kw_q]
            t_skw = time.perf_counter() - t
            t = time.perf_counter()
            for w, scores in zip(ex_q + kw_q, ex_scores + kw_scores, strict=True):
                ref_sorted = np.sort(ssh.dot("R", w))
                np.searchsorted(ref_sorted, scores) / ref_sorted.size
            t_scal = time.perf_counter() - t
            reps.append(
                (t_vec, t_shared, t_ex, t_kw, t_cal, cols.size, t_sshared, t_sex, t_skw, t_scal)
            )
        t_vec, t_shared, t_ex, t_kw, t_cal, ncols, t_sshared, t_sex, t_skw, t_scal = np.median(
            np.array(reps), axis=0
        )
        print(
            f"tf {tf}, min_df {min_df}: vocabulary of the day {ncols:.0f} terms\n"
            f"  vectors of 500 new + {args.ref} reference + 100 profiles: {1000 * t_vec:.0f} ms "
            f"(bench code, global 2.5M-term columns)\n"
            f"  shared per day (b, rbar, sd, F.b, F.rbar/sd): {1000 * t_shared:.0f} ms\n"
            f"  100 example profiles: {1000 * t_ex:.0f} ms ({10 * t_ex:.1f} ms/profile)\n"
            f"  100 keyword profiles: {1000 * t_kw:.0f} ms ({10 * t_kw:.1f} ms/profile)\n"
            f"  + percentile calibration of all 200 against R (R.q, sort): {1000 * t_cal:.0f} ms\n"
            f"  sparse version: shared (+ CSC copies of F, R) {1000 * t_sshared:.0f} ms; "
            f"100 example "
            f"profiles {1000 * t_sex:.0f} ms; 100 keyword profiles {1000 * t_skw:.0f} ms; "
            f"calibration of the 200 {1000 * t_scal:.0f} ms"
        )


# ---- the daily replay -------------------------------------------------------------------------


def run_daily(args) -> None:
    t0 = time.perf_counter()
    data = D.load_days()
    days = D.scored_days(data, args.every)
    if args.first:
        days = days[: args.first]
    profiles = {k: D.load_profiles(k) for k in D.TARGETS}
    feats = {k: cached_featurizer(data, k) for k in ("default", "sanity")}
    meta = Meta(data)
    kinds = [args.kind] if args.kind else list(D.TARGETS)
    variants = {"examples": example_variants(), "keywords": keyword_variants()}
    for kind in kinds:
        vs = variants[kind]
        if args.final:
            vs = [x for x in vs if x[0] in FINAL[kind]]
        elif args.only:
            vs = [x for x in vs if any(o in x[0] for o in args.only.split("|"))]
        variants[kind] = vs
    print(
        f"setup {time.perf_counter() - t0:.0f} s; {len(days)} days "
        f"{data.day_names[days[0]]}..{data.day_names[days[-1]]}",
        flush=True,
    )
    res: dict = defaultdict(list)
    tim: Counter = Counter()
    for d in days:
        start, _ = data.day_bounds[d]
        for f in feats.values():
            f.advance(start)
        meta.advance(start)
        ctx = Ctx(data, feats["sanity"], meta, d, profiles)
        day = ctx.as_day(feats)
        for kind in kinds:
            ps = profiles[kind]
            s = D.baseline_tfidf(day, ps, kind)
            res[(kind, "baseline TfidfVectorizer()")].extend(D.day_metrics(day, ps, s))
            for name, v, fn in variants[kind]:
                m = ctx.mats(v)
                t = time.perf_counter()
                s = fn(m, kind, ctx)
                tim[(kind, name)] += time.perf_counter() - t
                res[(kind, name)].extend(D.day_metrics(day, ps, s))
        for v, t in ctx.vec_time.items():
            tim[("vec", v)] += t
    print(f"replay {time.perf_counter() - t0:.0f} s", flush=True)
    for kind in kinds:
        b = D.summarise(res[(kind, "baseline TfidfVectorizer()")])
        n_pp = len(days) * len(profiles[kind])
        print(f"\n== {kind} ==  ({b[3]} day x profile pairs; ms = per day x profile)")
        print(f"{'variant':<42} {'P@10':>12} {'nDCG@10':>8} {'MAP':>13} {'ms':>7}")
        names = ["baseline TfidfVectorizer()"] + [x[0] for x in variants[kind]]
        for name in names:
            p, n, mp, _ = D.summarise(res[(kind, name)])
            ms = 1000 * tim[(kind, name)] / n_pp
            print(
                f"{name:<42} {p:.4f} {p / b[0]:.2f}x {n:.4f}  {mp:.4f} {mp / b[2]:.2f}x {ms:7.2f}"
            )
        for name, _, fn in variants[kind]:
            if isinstance(fn, LR) and fn.fit_times:
                ft = np.array(fn.fit_times) * 1000
                print(
                    f"  {name}: {ft.size} fits, ms per fit median {np.median(ft):.0f} "
                    f"p90 {np.percentile(ft, 90):.0f}"
                )
    print("\nshared per-day vectors (fresh + reference set + examples), ms per day:")
    for key, t in tim.items():
        if key[0] == "vec":
            print(f"  {key[1]}: {1000 * t / len(days):.0f}")


# ---- CSFCube: the reference set is the query's pool (or the whole corpus) ----------------------


def run_csfcube(args) -> None:
    import csfcube as C

    corpus, queries = C.load()
    base = C.evaluate(queries, C.baseline_tfidf_default(corpus, queries))
    pids = sorted(corpus)
    index = {p: i for i, p in enumerate(pids)}
    cv = CountVectorizer(**D.ANALYZERS["sanity"])
    counts = sp.csr_matrix(cv.fit_transform([C.text_of(corpus, p) for p in pids]))
    table = DocFreq(counts.shape[1])
    table.add(counts)
    avgdl = float(counts.sum()) / counts.shape[0]

    def run(tf: str, ref: str, min_df: int, recipe: Callable) -> dict:
        idf = table.idf()
        idf[table.df < min_df] = 0.0
        docs = l2_rows(_weigh(counts, idf, tf, avgdl))
        out = {}
        for q in queries:
            rows = [index[c] for c in q.pool]
            R = docs[rows] if ref == "pool" else docs
            b = np.asarray(R.mean(axis=0)).ravel()
            m = Mats(
                F=docs[rows],
                R=R,
                E=docs[[index[q.pid]]],
                ex_slices=[slice(0, 1)],
                K=docs[[index[q.pid]]],
                b=b / np.linalg.norm(b),
                cols=np.arange(docs.shape[1]),
                ref_rows=np.array(rows),
            )
            out[(q.pid, q.facet)] = recipe(m, "examples", None)[:, 0]
        return C.evaluate(queries, out)

    table_rows = [
        ("log: centroid (= current bot)", "log", "pool", 1, _lin()),
        ("bm25: centroid", "bm25", "pool", 1, _lin()),
        ("bm25: prf k3 b.5 (README recipe)", "bm25", "pool", 1, _lin(k=3, beta=0.5)),
    ]
    for tf in ("log", "bm25"):
        for ref in ("pool", "corpus"):
            for g in (0.1, 0.2, 0.3, 0.5):
                table_rows.append((f"{tf}: bg g{g} (R={ref})", tf, ref, 1, _lin(gamma=g)))
            for k, beta in ((3, 0.5), (10, 0.5), (10, 1.0), (20, 1.0), (50, 1.0)):
                table_rows.append(
                    (
                        f"{tf}: prf k{k} b{beta} bg g0.3 (R={ref})",
                        tf,
                        ref,
                        1,
                        _lin(k=k, beta=beta, gamma=0.3),
                    )
                )
            table_rows.append((f"{tf}: nb kappa1 (R={ref})", tf, ref, 1, _f(r_nb, kappa=1.0)))
            table_rows.append((f"{tf}: dlda eps.9 (R={ref})", tf, ref, 1, _f(r_dlda, eps_q=0.9)))
    # grid of the example family: tf x R x k x beta x gamma
    for tf in ("log", "bm25"):
        for ref in ("pool", "corpus"):
            for k in (3, 5, 10, 20):
                for beta in (0.5, 1.0):
                    for g in (0.0, 0.1, 0.2, 0.3):
                        table_rows.append(
                            (
                                f"G {tf} R={ref} prf k{k} b{beta} bg g{g}",
                                tf,
                                ref,
                                1,
                                _lin(k=k, beta=beta, gamma=g),
                            )
                        )
    for md in (1, 2, 5, 20):
        for ref in ("pool", "corpus"):
            table_rows.append(
                (
                    f"F bm25 min_df{md}: prf k10 b1 bg g0.2 (R={ref})",
                    "bm25",
                    ref,
                    md,
                    _lin(k=10, beta=1.0, gamma=0.2),
                )
            )
    for md in (2, 5):
        for ref in ("pool", "corpus"):
            table_rows.append(
                (f"log min_df{md}: bg g0.3 (R={ref})", "log", ref, md, _lin(gamma=0.3))
            )
            for k in (10, 50):
                table_rows.append(
                    (
                        f"log min_df{md}: prf k{k} b1 bg g0.3 (R={ref})",
                        "log",
                        ref,
                        md,
                        _lin(k=k, beta=1.0, gamma=0.3),
                    )
                )
    if args.only:
        table_rows = [r for r in table_rows if any(o in r[0] for o in args.only.split("|"))]
    print(f"{'variant':<40} {'MAP':>14} {'NDCG%20':>14}")
    a = base["all"]
    print(f"{'baseline TfidfVectorizer()':<40} {a['MAP']:.4f} 1.00x  {a['NDCG%20']:.4f} 1.00x")
    for name, tf, ref, md, fn in table_rows:
        r = run(tf, ref, md, fn)["all"]
        print(
            f"{name:<40} {r['MAP']:.4f} {r['MAP'] / a['MAP']:.2f}x  "
            f"{r['NDCG%20']:.4f} {r['NDCG%20'] / a['NDCG%20']:.2f}x"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["daily", "csfcube", "cost"])
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--first", type=int, default=0, help="only the first n of the chosen days")
    ap.add_argument("--kind", choices=list(D.TARGETS), default="")
    ap.add_argument("--only", default="", help="variants whose name contains one of a|b|c")
    ap.add_argument("--final", action="store_true", help="only the FINAL recipes")
    ap.add_argument("--ref", type=int, default=5000, help="cost: reference-set size")
    args = ap.parse_args()
    if args.what == "daily":
        run_daily(args)
    elif args.what == "csfcube":
        run_csfcube(args)
    else:
        run_cost(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
