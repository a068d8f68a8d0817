"""Daily arXiv: does a profile written for an arXiv category rank that day's papers of the
category first?

Replays ../shared/bench/daily_arxiv/days (287 real announcement days). Each day's NEW papers are
scored (an id listed on an earlier day is never scored again); a paper is relevant to a profile
when it carries the profile's category. Profiles live in bench/profiles/{keywords,examples}/ (one
per category, 14 categories, written once): keywords from arXiv's category descriptions, or the
first 5 papers of the category (primary category) listed before the scored window. Per scored
day and profile: P@10, nDCG@10 (binary gains) and AP over the day's whole ranking; averaged over
(day, profile) pairs that have at least one relevant paper. Everything that needs an IDF (or
negatives) sees only papers first listed on days BEFORE the scored day.

    .venv/bin/python bench/daily_arxiv.py            # project vs baselines, PASS/FAIL
    .venv/bin/python bench/daily_arxiv.py --explore  # the table of variants behind the recipe
    .venv/bin/python bench/daily_arxiv.py --every 2  # score every 2nd day of the window (faster)

`project_scores` is the one function to switch to the product's scorer (relevance.scoring) once its
new API exists; data loading, metrics and baselines stay independent of bot/.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from ruamel.yaml import YAML
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchlib import (
    DocFreq,
    average_precision,
    data_dir,
    l2_rows,
    mean_of,
    ndcg_at,
    order,
    paper_text,
    precision_at,
    simple_tokens,
    tfidf_rows,
)

PROFILES = Path(__file__).resolve().parent / "profiles"
WINDOW_DAYS = 90  # the last 90 day-files are the scored window; everything before is history
MIN_NEW = 50  # days with fewer new papers (weekend re-listings, a 3-paper day) are not scored
TARGETS = {"keywords": 1.15, "examples": 1.5}  # P@10 and MAP vs the TfidfVectorizer() baseline


# ---- data -------------------------------------------------------------------------------------


@dataclass
class Data:
    ids: list[str]
    texts: list[str]
    cats: list[tuple[str, ...]]
    day_names: list[str]
    day_bounds: list[tuple[int, int]]  # rows [start, end) first listed on that day

    def row_of(self, pid: str) -> int:
        return self._index_or_build()[pid]

    def _index_or_build(self) -> dict[str, int]:
        if not hasattr(self, "_index"):
            self._index = {p: i for i, p in enumerate(self.ids)}
        return self._index


def load_days() -> Data:
    ids: list[str] = []
    texts: list[str] = []
    cats: list[tuple[str, ...]] = []
    names: list[str] = []
    bounds: list[tuple[int, int]] = []
    seen: set[str] = set()
    for path in sorted((data_dir() / "daily_arxiv" / "days").glob("*.jsonl.gz")):
        start = len(ids)
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec["id"] in seen:
                    continue
                seen.add(rec["id"])
                ids.append(rec["id"])
                texts.append(paper_text(rec["title"] or "", rec["summary"] or ""))
                cats.append(tuple(rec["categories"] or ()))
        names.append(path.name.split(".")[0])
        bounds.append((start, len(ids)))
    return Data(ids, texts, cats, names, bounds)


def scored_days(data: Data, every: int = 1) -> list[int]:
    first = len(data.day_names) - WINDOW_DAYS
    days = [
        d
        for d in range(first, len(data.day_names))
        if data.day_bounds[d][1] - data.day_bounds[d][0] >= MIN_NEW
    ]
    return days[::every]


@dataclass(frozen=True)
class Profile:
    cat: str
    name: str
    description: str
    keywords: tuple[str, ...]
    papers: tuple[str, ...]


def load_profiles(kind: str) -> list[Profile]:
    yaml = YAML(typ="safe")
    out = []
    for path in sorted((PROFILES / kind).glob("*.yaml")):
        doc = yaml.load(path.read_text(encoding="utf-8"))
        out.append(
            Profile(
                path.stem,
                doc["name"],
                doc.get("description") or "",
                tuple(doc.get("keywords") or ()),
                tuple(doc.get("papers") or ()),
            )
        )
    return out


# ---- per-day context: history-only statistics -------------------------------------------------


ANALYZERS: dict[str, dict] = {
    "default": {},  # TfidfVectorizer() defaults: lowercase, \b\w\w+\b, unigrams
    "sanity": {"ngram_range": (1, 2), "stop_words": "english", "strip_accents": "unicode"},
    "uni_stop": {"stop_words": "english", "strip_accents": "unicode"},
}


class Featurizer:
    """Term counts of every paper under one analyzer, plus the document frequencies of the papers
    seen so far. The vocabulary is collected over all papers only to size the arrays: a term
    with no history document has idf 0, exactly as if it were missing from a vectorizer fitted
    on the history alone, so no future statistics leak in."""

    def __init__(self, data: Data, key: str) -> None:
        self.cv = CountVectorizer(dtype=np.int32, **ANALYZERS[key])
        self.counts = sp.csr_matrix(self.cv.fit_transform(data.texts))
        self.table = DocFreq(self.counts.shape[1])
        self.lengths = np.asarray(self.counts.sum(axis=1)).ravel()
        self.upto = 0  # rows [0, upto) are in the table

    def advance(self, end: int) -> None:
        if end > self.upto:
            self.table.add(self.counts[self.upto : end])
            self.upto = end

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return sp.csr_matrix(self.cv.transform(texts))


@dataclass
class Day:
    data: Data
    index: int
    fresh: range  # rows of the day's new papers
    hist_end: int  # rows [0, hist_end) are history
    feats: dict[str, Featurizer]
    _idf: dict[str, np.ndarray]

    def idf(self, key: str) -> np.ndarray:
        """IDF of the history; "sanity@5" = analyzer "sanity" with terms of df < 5 dropped."""
        if key not in self._idf:
            base, _, min_df = key.partition("@")
            f = self.feats[base]
            assert f.upto == self.hist_end
            idf = f.table.idf()
            if min_df:
                idf[f.table.df < int(min_df)] = 0.0
            self._idf[key] = idf
        return self._idf[key]

    def vec(
        self,
        key: str,
        rows: Sequence[int] | range,
        sublinear: bool,
        bm25: tuple[float, float] | None = None,
    ) -> sp.csr_matrix:
        f = self.feats[key.partition("@")[0]]
        avgdl = float(f.lengths[: self.hist_end].mean()) if bm25 else 1.0
        return tfidf_rows(f.counts[list(rows)], self.idf(key), sublinear, bm25, avgdl)

    def vec_text(self, key: str, texts: Sequence[str], sublinear: bool) -> sp.csr_matrix:
        f = self.feats[key.partition("@")[0]]
        return tfidf_rows(f.transform(texts), self.idf(key), sublinear)


# ---- profile texts ----------------------------------------------------------------------------


def keyword_text(p: Profile, description: bool, weight: int) -> str:
    kw = ". ".join(p.keywords)
    return ". ".join(([p.description] if description else []) + [kw] * weight)


def example_rows(day: Day, p: Profile) -> list[int]:
    rows = [day.data.row_of(pid) for pid in p.papers]
    assert all(r < day.hist_end for r in rows), "example papers must precede the scored day"
    return rows


def examples_text(day: Day, p: Profile) -> str:
    return " ".join(day.data.texts[r] for r in example_rows(day, p))


# ---- baselines --------------------------------------------------------------------------------


def baseline_tfidf(day: Day, profiles: Sequence[Profile], kind: str) -> np.ndarray:
    """TfidfVectorizer() defaults fitted on the history (via document frequencies: identical,
    checked against scikit-learn by --check); profile text = keywords or the examples joined."""
    fresh = day.vec("default", day.fresh, sublinear=False)
    texts = [
        keyword_text(p, False, 1) if kind == "keywords" else examples_text(day, p) for p in profiles
    ]
    prof = day.vec_text("default", texts, sublinear=False)
    return (fresh @ prof.T).toarray()


class Bm25History:
    """rank_bm25.BM25Okapi over the day's new papers, its IDF and average length taken from the
    history (document frequencies of the papers seen before the day), like every other method."""

    def __init__(self, data: Data) -> None:
        self.tokens = [simple_tokens(t) for t in data.texts]
        self.nd: Counter[str] = Counter()
        self.n_docs = 0
        self.n_tokens = 0
        self.upto = 0

    def advance(self, end: int) -> None:
        for toks in self.tokens[self.upto : end]:
            self.nd.update(set(toks))
            self.n_tokens += len(toks)
        self.n_docs += max(0, end - self.upto)
        self.upto = max(self.upto, end)

    def scores(self, day: Day, profiles: Sequence[Profile], kind: str) -> np.ndarray:
        from rank_bm25 import BM25Okapi

        assert self.upto == day.hist_end
        bm = BM25Okapi([self.tokens[r] for r in day.fresh])
        n_fresh = bm.corpus_size
        bm.idf, bm.corpus_size = {}, self.n_docs
        bm._calc_idf(self.nd)
        bm.corpus_size, bm.avgdl = n_fresh, self.n_tokens / self.n_docs
        out = np.zeros((n_fresh, len(profiles)))
        for j, p in enumerate(profiles):
            text = keyword_text(p, False, 1) if kind == "keywords" else examples_text(day, p)
            out[:, j] = bm.get_scores(simple_tokens(text))
        return out


# ---- the configurable family (exploration, and the project recipe) ----------------------------


@dataclass(frozen=True)
class Recipe:
    analyzer: str = "sanity"
    sublinear: bool = True
    bm25: tuple[float, float] | None = None  # BM25 tf saturation on the papers' side
    description: bool = True  # keyword profiles: description + keywords x weight
    kw_weight: int = 2
    prf_k: int = 0  # keyword profiles: add beta x centroid of the day's top k
    prf_beta: float = 0.0
    hist_prf_k: int = 0  # keyword profiles: add beta x centroid of the top k recent history papers
    hist_prf_pool: int = 5000
    hist_prf_beta: float = 0.0
    examples: str = "centroid"  # "concat" | "centroid" | "max" | "logreg" | "svm" | "svm_cos"
    C: float = 1.0
    negatives: int = 2000  # classifier: the most recent history papers, as negatives
    mix: float = 0.0  # classifier score blended with the centroid cosine: (1-mix)*clf + mix*cos


def _prf(q: sp.csr_matrix, pool: sp.csr_matrix, k: int, beta: float) -> sp.csr_matrix:
    s = (pool @ q.T).toarray().ravel()
    top = np.argsort(-s, kind="stable")[:k]
    q2 = q + beta * sp.csr_matrix(pool[top].mean(axis=0))
    return l2_rows(sp.csr_matrix(q2))


def keyword_scores(r: Recipe, day: Day, profiles: Sequence[Profile]) -> np.ndarray:
    fresh = day.vec(r.analyzer, day.fresh, r.sublinear, r.bm25)
    prof = day.vec_text(
        r.analyzer, [keyword_text(p, r.description, r.kw_weight) for p in profiles], r.sublinear
    )
    if r.hist_prf_k and r.hist_prf_beta:
        lo = max(0, day.hist_end - r.hist_prf_pool)
        pool = day.vec(r.analyzer, range(lo, day.hist_end), r.sublinear, r.bm25)
        prof = sp.vstack(
            [_prf(prof[j], pool, r.hist_prf_k, r.hist_prf_beta) for j in range(prof.shape[0])]
        )
    if r.prf_k:
        prof = sp.vstack([_prf(prof[j], fresh, r.prf_k, r.prf_beta) for j in range(prof.shape[0])])
    cos = (fresh @ sp.csr_matrix(prof).T).toarray()
    if r.examples != "expand_logreg":
        return cos
    # pseudo-examples: the recent history papers nearest the (expanded) keyword profile become
    # the positives of a classifier against the rest of the recent history
    negs = day.vec(
        r.analyzer, range(max(0, day.hist_end - r.negatives), day.hist_end), r.sublinear, r.bm25
    )
    fresh_c, negs_c = _compact(fresh, negs)
    sims = (negs @ sp.csr_matrix(prof).T).toarray()
    out = np.zeros_like(cos)
    for j in range(prof.shape[0]):
        top = np.argsort(-sims[:, j], kind="stable")[: r.hist_prf_k]
        rest = np.setdiff1d(np.arange(negs_c.shape[0]), top)
        out[:, j] = (1 - r.mix) * _classify(r, negs_c[top], negs_c[rest], fresh_c) + r.mix * cos[
            :, j
        ]
    return out


def _compact(*mats: sp.csr_matrix) -> list[sp.csr_matrix]:
    """The same matrices restricted to the columns any of them uses: the classifiers then work
    in a space of ~10^5 terms instead of the whole vocabulary (same result, much faster)."""
    cols = np.unique(np.concatenate([m.indices for m in mats]))
    return [sp.csr_matrix(m[:, cols]) for m in mats]


def _classify(
    r: Recipe, pos: sp.csr_matrix, neg: sp.csr_matrix, fresh: sp.csr_matrix
) -> np.ndarray:
    x = sp.vstack([pos, neg]).tocsr()
    y = np.r_[np.ones(pos.shape[0]), np.zeros(neg.shape[0])]
    if r.examples == "logreg" or r.examples == "expand_logreg":
        clf = LogisticRegression(
            C=r.C, class_weight="balanced", solver="liblinear", dual=True, max_iter=1000
        ).fit(x, y)
        return clf.predict_proba(fresh)[:, 1]
    clf = LinearSVC(C=r.C, class_weight="balanced", max_iter=10000).fit(x, y)
    if r.examples == "svm":
        return clf.decision_function(fresh)
    w = clf.coef_.ravel()  # "svm_cos": cosine to the weight vector, clipped to [0, 1]
    return np.clip(fresh @ (w / max(np.linalg.norm(w), 1e-12)), 0.0, 1.0)


def _centroid(m: sp.csr_matrix) -> sp.csr_matrix:
    return l2_rows(sp.csr_matrix(m.mean(axis=0)))


def example_scores(r: Recipe, day: Day, profiles: Sequence[Profile]) -> np.ndarray:
    fresh_full = day.vec(r.analyzer, day.fresh, r.sublinear, r.bm25)
    out = np.zeros((fresh_full.shape[0], len(profiles)))
    neg_rows = list(range(max(0, day.hist_end - r.negatives), day.hist_end))
    negs_full = day.vec(r.analyzer, neg_rows, r.sublinear, r.bm25)
    ex_rows = [example_rows(day, p) for p in profiles]
    exs_full = [day.vec(r.analyzer, rows, r.sublinear, r.bm25) for rows in ex_rows]
    fresh, negs, *exs = _compact(fresh_full, negs_full, *exs_full)
    for j, p in enumerate(profiles):
        rows, ex = ex_rows[j], exs[j]
        if r.examples == "concat":
            q = day.vec_text(r.analyzer, [examples_text(day, p)], r.sublinear)
            out[:, j] = (fresh_full @ q.T).toarray().ravel()
            continue
        centroid = _centroid(ex)
        cos_centroid = (fresh @ centroid.T).toarray().ravel()
        if r.examples == "centroid":
            out[:, j] = cos_centroid
            continue
        if r.examples == "max":
            out[:, j] = (fresh @ ex.T).toarray().max(axis=1)
            continue
        keep = [i for i, row in enumerate(neg_rows) if row not in set(rows)]
        pos = ex
        if r.examples.startswith("expand"):
            # pseudo-positives: the history papers nearest the examples' centroid
            sims = (negs @ centroid.T).toarray().ravel()
            top = np.argsort(-sims, kind="stable")[: r.hist_prf_k]
            pos = sp.vstack([ex, negs[top]]).tocsr()
            keep = [i for i in keep if i not in set(top.tolist())]
            if r.examples == "expand_centroid":
                q = l2_rows(sp.csr_matrix(centroid + r.hist_prf_beta * _centroid(negs[top])))
                out[:, j] = (1 - r.mix) * (fresh @ q.T).toarray().ravel() + r.mix * cos_centroid
                continue
        s = _classify(r, pos, negs[keep], fresh)
        out[:, j] = (1 - r.mix) * s + r.mix * cos_centroid
    return out


def recipe_scores(r: Recipe, day: Day, profiles: Sequence[Profile], kind: str) -> np.ndarray:
    return (
        keyword_scores(r, day, profiles) if kind == "keywords" else example_scores(r, day, profiles)
    )


# The winning recipes (table in bench/README.md). Both use the arxiv-sanity analyzer ((1,2)-grams,
# English stop words, accents folded), 1 + ln(tf), the smooth IDF of the history, L2 norm.
PROJECT = {
    # keywords: description + keywords x2; the 100 papers nearest to it among the last 5000 seen
    # become pseudo-examples for a logistic regression against the other 4900; terms seen in
    # fewer than 20 history papers are dropped. Score = the classifier's probability.
    "keywords": Recipe(
        analyzer="sanity@20",
        sublinear=True,
        description=True,
        kw_weight=2,
        examples="expand_logreg",
        hist_prf_k=100,
        negatives=5000,
        C=1.0,
    ),
    # examples: logistic regression, the 5 examples against the last 2000 papers seen.
    "examples": Recipe(
        analyzer="sanity", sublinear=True, examples="logreg", C=1.0, negatives=2000, mix=0.0
    ),
}


class ProductScorer:
    """The product's scorer (relevance.scoring.evaluate) fed day by day as `digestbot replay` does
    (bot/replay.py): corpus document frequencies and a rolling reference set R of the last 5000
    papers, each paper vectorised once with the IDF of the day it arrived. History days are
    added to the IDF, then pushed into R; a scored day is vectorised with the IDF of the days
    before it, scored, then added."""

    def __init__(self, data: Data) -> None:
        from bot.relevance.reference import Reference
        from bot.relevance.tfidf import MemoryDocFreqs

        self.data = data
        self.freqs = MemoryDocFreqs()
        self.reference = Reference()
        self.upto = 0  # rows [0, upto) are in freqs and R
        self.profiles: dict[str, list] = {}
        self.last: dict[str, np.ndarray] = {}
        # Per kind, every new paper's score (its percentile) for every profile: the score scale.
        self.scale: dict[str, list[float]] = {kind: [] for kind in TARGETS}

    def _paper(self, row: int):  # bot.models.Paper (imported lazily)
        from bot.models import Paper

        # data.texts[row] is "title. abstract" already: Paper.text reads it back unchanged
        # but for a trailing ". " (no term).
        return Paper(id=self.data.ids[row], title=self.data.texts[row], abstract="")

    def _push(self, start: int, end: int, *, before: bool) -> sp.csr_matrix:
        from bot.relevance.tfidf import Space, terms_of

        terms = [terms_of(self._paper(r).text) for r in range(start, end)]
        if not before:
            self.freqs.add(terms)
        vectors = Space(terms, self.freqs, vocabulary=self.reference.vocabulary).vectors(terms)
        if before:
            self.freqs.add(terms)
        self.reference.push(vectors)
        return vectors

    def advance(self, end: int) -> None:
        """Read the history days up to row `end` (whole days, as the replay reads them)."""
        for start, stop in self.data.day_bounds:
            if start >= self.upto and stop <= end and stop > start:
                self._push(start, stop, before=False)
        self.upto = max(self.upto, end)

    def scores(self, day: Day) -> dict[str, np.ndarray]:
        """Per kind, (day's new papers x profiles, in load_profiles order): n - position in the
        product's full ranking of the day (its percentile score, ties by raw score, then id)."""
        from bot.config import load_profiles as load_bot_profiles
        from bot.relevance.scoring import evaluate
        from bot.relevance.tfidf import Space, terms_of

        for kind in TARGETS:
            if kind not in self.profiles:
                loaded, errors = load_bot_profiles(PROFILES / kind)
                assert not errors, errors
                self.profiles[kind] = loaded
        self.advance(day.hist_end)
        fresh = [self._paper(r) for r in day.fresh]
        index = self.data._index_or_build()
        wanted = {pid for ps in self.profiles.values() for p in ps for pid in p.examples}
        examples = {
            pid: self._paper(index[pid])
            for pid in wanted
            if pid in index and index[pid] < day.hist_end
        }
        terms = [terms_of(p.text) for p in fresh]
        vectors = Space(terms, self.freqs, vocabulary=self.reference.vocabulary).vectors(terms)
        row = {p.id: i for i, p in enumerate(fresh)}
        result = {}
        for kind in TARGETS:
            profiles = self.profiles[kind]
            evaluated = evaluate(
                profiles,
                fresh,
                self.freqs,
                examples,
                reference=self.reference,
                fresh_vectors=vectors,
            )
            out = np.zeros((len(fresh), len(profiles)))
            for j, profile in enumerate(profiles):
                for pos, c in enumerate(evaluated[profile.id]):
                    out[row[c.match.paper.id], j] = len(fresh) - pos
                    self.scale[kind].append(c.match.score)
            result[kind] = out
        self.freqs.add(terms)
        self.reference.push(vectors)
        self.upto = day.fresh.stop
        return result


_PRODUCT: dict[int, ProductScorer] = {}


def project_scores(day: Day, profiles: Sequence[Profile], kind: str) -> np.ndarray:
    """The product's scorer, relevance.scoring as `digestbot replay` runs it (ProductScorer): the
    day's full ranking per profile (the profiles' YAML files, read by bot.config)."""
    if id(day.data) not in _PRODUCT:
        _PRODUCT[id(day.data)] = ProductScorer(day.data)
    scorer = _PRODUCT[id(day.data)]
    if scorer.upto <= day.hist_end:  # the first kind asked for this day: score both
        scorer.last = scorer.scores(day)
    assert [p.id for p in scorer.profiles[kind]] == [p.cat for p in profiles]
    return scorer.last[kind]


SCALE_THRESHOLDS = (0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


def scale_lines(kind: str) -> list[str]:
    """How the product's scores of new papers spread at the top: the share of (new paper,
    profile) pairs scoring >= t. A percentile that is honest for new papers gives about 1 - t
    at every t; a cliff shows as a share that drops to ~0 before t reaches 1."""
    scores = np.sort(np.asarray([s for sc in _PRODUCT.values() for s in sc.scale[kind]]))
    if not scores.size:
        return []
    cells = []
    for t in SCALE_THRESHOLDS:
        share = (scores.size - np.searchsorted(scores, t, side="left")) / scores.size
        cells.append(f">= {t}: {100 * share:.2f}% (x{share / (1 - t):.2f})")
    p99, p999 = (scores[round((scores.size - 1) * q)] for q in (0.99, 0.999))
    return [
        f"score scale, {scores.size} (new paper, profile) pairs; share scoring >= t "
        f"(x: / the 1 - t of an honest percentile):",
        "  " + "; ".join(cells[:3]),
        "  " + "; ".join(cells[3:]),
        f"  p99 {p99:.4f}, p99.9 {p999:.4f}, max {scores[-1]:.4f}",
    ]


def legacy_project_scores(day: Day, profiles: Sequence[Profile], kind: str) -> np.ndarray:
    """The logistic-regression recipes (PROJECT) this benchmark measured before the port."""
    return recipe_scores(PROJECT[kind], day, profiles, kind)


# ---- the replay -------------------------------------------------------------------------------


Method = Callable[[Day, Sequence[Profile], str], np.ndarray]


def day_metrics(day: Day, profiles: Sequence[Profile], scores: np.ndarray) -> list[tuple]:
    ids = [day.data.ids[r] for r in day.fresh]
    out = []
    for j, p in enumerate(profiles):
        rel = [1 if p.cat in day.data.cats[r] else 0 for r in day.fresh]
        if not any(rel):
            continue
        ranked = [rel[i] for i in order(scores[:, j], ids)]
        out.append((precision_at(ranked, 10), ndcg_at(ranked, 10), average_precision(ranked)))
    return out


def check_baseline(day: Day, profiles: Sequence[Profile], kind: str) -> None:
    """The document-frequency baseline equals TfidfVectorizer() fitted on the history texts."""
    vec = TfidfVectorizer().fit(day.data.texts[: day.hist_end])
    texts = [
        keyword_text(p, False, 1) if kind == "keywords" else examples_text(day, p) for p in profiles
    ]
    ref = (vec.transform([day.data.texts[r] for r in day.fresh]) @ vec.transform(texts).T).toarray()
    assert np.allclose(ref, baseline_tfidf(day, profiles, kind), atol=1e-9), "baseline mismatch"
    print(f"check: baseline == TfidfVectorizer() fitted on {day.hist_end} history papers ({kind})")


def replay(methods: dict[str, dict[str, Method]], every: int, check: bool) -> dict:
    t0 = time.perf_counter()
    data = load_days()
    days = scored_days(data, every)
    profiles = {k: load_profiles(k) for k in TARGETS}
    keys = {"default"} | {PROJECT[k].analyzer.partition("@")[0] for k in TARGETS}
    for per_kind in methods.values():
        for m in per_kind.values():
            if isinstance(m, Recipe):
                keys.add(m.analyzer.partition("@")[0])
    feats = {k: Featurizer(data, k) for k in sorted(keys)}
    bm25 = Bm25History(data)
    print(
        f"loaded {len(data.ids)} unique papers over {len(data.day_names)} days; scoring "
        f"{len(days)} days {data.day_names[days[0]]}..{data.day_names[days[-1]]} "
        f"({sum(data.day_bounds[d][1] - data.day_bounds[d][0] for d in days)} new papers), "
        f"{len(profiles['keywords'])} profiles; setup {time.perf_counter() - t0:.0f} s"
    )
    results: dict = {k: {name: [] for name in methods[k]} for k in methods}
    timing: Counter[str] = Counter()
    for d in days:
        start, end = data.day_bounds[d]
        for f in feats.values():
            f.advance(start)
        bm25.advance(start)
        day = Day(data, d, range(start, end), start, feats, {})
        if check and d == days[0]:
            for kind in TARGETS:
                check_baseline(day, profiles[kind], kind)
        for kind, per_kind in methods.items():
            for name, m in per_kind.items():
                t = time.perf_counter()
                if isinstance(m, Recipe):
                    s = recipe_scores(m, day, profiles[kind], kind)
                elif m == "bm25":
                    s = bm25.scores(day, profiles[kind], kind)
                else:
                    s = m(day, profiles[kind], kind)
                timing[f"{kind}:{name}"] += time.perf_counter() - t
                results[kind][name].extend(day_metrics(day, profiles[kind], s))
    print(f"replay done in {time.perf_counter() - t0:.0f} s")
    return {"results": results, "timing": timing}


def summarise(rows: list[tuple]) -> tuple[float, float, float, int]:
    return (
        mean_of(r[0] for r in rows),
        mean_of(r[1] for r in rows),
        mean_of(r[2] for r in rows),
        len(rows),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--explore", action="store_true", help="also run the variant table")
    parser.add_argument("--every", type=int, default=1, help="score every n-th window day")
    parser.add_argument(
        "--variants", default="", help="with --explore: only variants whose name contains this text"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="verify the baseline against scikit-learn on the first scored day",
    )
    args = parser.parse_args()
    methods: dict[str, dict] = {}
    for kind in TARGETS:
        methods[kind] = {
            "baseline TfidfVectorizer()": baseline_tfidf,
            "baseline BM25Okapi": "bm25",
            "PROJECT": project_scores,
        }
        if args.explore:
            methods[kind].update({n: r for n, r in EXPLORE[kind].items() if args.variants in n})
    out = replay(methods, args.every, args.check)
    ok = True
    for kind in TARGETS:
        res = out["results"][kind]
        b = summarise(res["baseline TfidfVectorizer()"])
        print(f"\n== {kind} profiles ==   (day x profile pairs with >= 1 relevant paper: {b[3]})")
        print(f"{'method':<44} {'P@10':>13} {'nDCG@10':>8} {'MAP':>13}   s")
        for name, rows in res.items():
            p, n, m, _ = summarise(rows)
            print(
                f"{name:<44} {p:.4f} {p / b[0]:.2f}x {n:.4f}  {m:.4f} {m / b[2]:.2f}x "
                f"{out['timing'][f'{kind}:{name}']:5.1f}"
            )
        for line in scale_lines(kind):
            print(line)
        p, _, m, _ = summarise(res["PROJECT"])
        target = TARGETS[kind]
        for label, ratio in (("P@10", p / b[0]), ("MAP", m / b[2])):
            passed = ratio >= target
            ok &= passed
            print(
                f"target {kind} {label} >= {target}x base: {ratio:.3f}x "
                f"{'PASS' if passed else 'FAIL'}"
            )
    return 0 if ok else 1


EXPLORE: dict[str, dict[str, Recipe]] = {
    "keywords": {
        "default analyzer + sublinear": Recipe(analyzer="default", description=False, kw_weight=1),
        "uni+stop, raw tf, keywords only": Recipe(
            analyzer="uni_stop", sublinear=False, description=False, kw_weight=1
        ),
        "uni+stop+sublinear, keywords only": Recipe(
            analyzer="uni_stop", description=False, kw_weight=1
        ),
        "(1,2)+stop, raw tf, keywords only": Recipe(
            sublinear=False, description=False, kw_weight=1
        ),
        "(1,2)+stop+sublinear, keywords only": Recipe(description=False, kw_weight=1),
        "current bot: descr + kw x2": Recipe(),
        "descr + kw x3": Recipe(kw_weight=3),
        "current bot, bm25 tf": Recipe(sublinear=False, bm25=(1.2, 0.75)),
        "current bot + day PRF k10 b.5": Recipe(prf_k=10, prf_beta=0.5),
        "current bot + day PRF k20 b1": Recipe(prf_k=20, prf_beta=1.0),
        "current bot + hist PRF k20 b.5": Recipe(hist_prf_k=20, hist_prf_beta=0.5),
        "current bot + hist PRF k20 b1": Recipe(hist_prf_k=20, hist_prf_beta=1.0),
        "current bot + hist PRF k50 b1": Recipe(hist_prf_k=50, hist_prf_beta=1.0),
        "current bot + hist PRF k50 b2": Recipe(hist_prf_k=50, hist_prf_beta=2.0),
        "current bot + hist PRF k100 b2": Recipe(hist_prf_k=100, hist_prf_beta=2.0),
        "pseudo-pos logreg k50 neg2000 C1": Recipe(examples="expand_logreg", hist_prf_k=50),
        "pseudo-pos logreg k100 neg5000 C1": Recipe(
            examples="expand_logreg", hist_prf_k=100, negatives=5000
        ),
        "R2 pseudo-pos logreg k100 neg5000 min_df20": Recipe(
            analyzer="sanity@20", examples="expand_logreg", hist_prf_k=100, negatives=5000
        ),
        "R2 pseudo-pos logreg k200 neg5000": Recipe(
            examples="expand_logreg", hist_prf_k=200, negatives=5000
        ),
    },
    "examples": {
        "default analyzer, centroid": Recipe(analyzer="default", sublinear=False),
        "(1,2)+stop+sublinear, concat": Recipe(examples="concat"),
        "(1,2)+stop+sublinear, centroid": Recipe(examples="centroid"),
        "(1,2)+stop+sublinear, max-sim": Recipe(examples="max"),
        "uni+stop+sublinear, centroid": Recipe(analyzer="uni_stop", examples="centroid"),
        "bm25 tf, centroid": Recipe(sublinear=False, bm25=(1.2, 0.75), examples="centroid"),
        "logreg C=1 neg2000": Recipe(examples="logreg"),
        "logreg C=0.1 neg2000": Recipe(examples="logreg", C=0.1),
        "logreg C=10 neg2000": Recipe(examples="logreg", C=10.0),
        "logreg C=1 neg500": Recipe(examples="logreg", negatives=500),
        "logreg C=1 neg5000": Recipe(examples="logreg", negatives=5000),
        "uni+stop logreg C=1 neg2000": Recipe(analyzer="uni_stop", examples="logreg"),
        "svm C=0.1 neg2000 (decision)": Recipe(examples="svm", C=0.1),
        "svm C=0.1 neg2000 (cos to w)": Recipe(examples="svm_cos", C=0.1),
        "logreg C=1 + 0.5 centroid": Recipe(examples="logreg", mix=0.5),
        "expand centroid k20 b1 (hist 2000)": Recipe(
            examples="expand_centroid", hist_prf_k=20, hist_prf_beta=1.0
        ),
        "expand centroid k50 b2 (hist 5000)": Recipe(
            examples="expand_centroid", hist_prf_k=50, hist_prf_beta=2.0, negatives=5000
        ),
        "expand logreg k20 neg2000 C1": Recipe(examples="expand_logreg", hist_prf_k=20),
        "expand logreg k50 neg5000 C1": Recipe(
            examples="expand_logreg", hist_prf_k=50, negatives=5000
        ),
        "expand logreg k100 neg5000 C1": Recipe(
            examples="expand_logreg", hist_prf_k=100, negatives=5000
        ),
        "R2 centroid min_df5": Recipe(analyzer="sanity@5", examples="centroid"),
        "R2 centroid min_df20": Recipe(analyzer="sanity@20", examples="centroid"),
        "R2 logreg min_df5": Recipe(analyzer="sanity@5", examples="logreg"),
        "R2 logreg min_df20": Recipe(analyzer="sanity@20", examples="logreg"),
        "R2 logreg min_df50": Recipe(analyzer="sanity@50", examples="logreg"),
        "R2 uni logreg min_df20": Recipe(analyzer="uni_stop@20", examples="logreg"),
        "R2 expand logreg k50 neg5000 min_df20": Recipe(
            analyzer="sanity@20", examples="expand_logreg", hist_prf_k=50, negatives=5000
        ),
    },
}


if __name__ == "__main__":
    raise SystemExit(main())
