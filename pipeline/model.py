"""The trained theme classifier: one scikit-learn Pipeline.

Input records (``dataset.model_record``) hold the finding's ``text``, its paragraph
(``context``), the sentence before it (``previous``), its headings (``section``) and
what the rules found (``rule_ids``, ``rule_early``, ``rule_multi``). Features: TF-IDF
of word 1-2-grams and character 4-grams of the text, TF-IDF of the context, previous
sentence and headings, and (``rule_features``) three blocks per theme from the rules:
the training precision of the best rule that fired, a rule firing near the sentence
start, two rules agreeing. Classifier: one logistic regression per theme, its scores
calibrated by Platt scaling on grouped out-of-fold decision values, and a decision
threshold per theme chosen on those same scores to maximise F1.

The inner folds refit only the regressions: the TF-IDF weights and the rules'
precisions are learnt once on all the training findings, so for a rare rule the
inner folds see a precision that counted the finding itself, and calibration and
thresholds are a little optimistic. ``evaluate`` refits the whole pipeline inside each
outer fold, so its figures are not affected. Measured: learning each training finding's
rule precisions on the other letters only (cross-fitting) gave combined micro-F1 0.805
and macro-F1 0.789 against 0.807 and 0.792, and the same on labelling round 4 (0.805;
measured before joint letters were grouped as one), so the simpler fit was kept.

With rule features the classifier is the combined tagger: the rules' matches are
evidence it weighs against the words. Whether a tag would stand without the
rules' contribution tells its source (``both``, ``rules`` or ``model``).
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from scipy import sparse

DEFAULT_PARAMS = {
    "seed": 13,
    "word_ngrams": [1, 2],
    "char_ngrams": [4, 4],
    "use_char": True,
    "min_df": 2,
    "C": 8.0,
    "rule_features": True,
    "context_features": True,
    "context_weight": 1.5,
    "previous_weight": 1.0,
    "section_features": True,
    "inner_folds": 5,
    "threshold_tolerance": 0.01,
    "class_weight": "balanced",
    "jobs": 0,
}


TEXT_FIELDS = ("text", "context", "previous", "section")


class Field(BaseEstimator, TransformerMixin):
    """Take one field of each record (a pipeline step needs a class, not a lambda)."""

    def __init__(self, name: str = "text"):
        self.name = name

    def __sklearn_is_fitted__(self):
        return True  # stateless

    def fit(self, records, y=None):
        return self

    def transform(self, records):
        empty = "" if self.name in TEXT_FIELDS else []
        return [r.get(self.name) or empty for r in records]


class ThemeIndicators(BaseEstimator, TransformerMixin):
    """One 0/1 column per theme: did the rules find it."""

    def __init__(self, themes: Sequence[str] = ()):
        self.themes = tuple(themes)

    def __sklearn_is_fitted__(self):
        return True  # stateless

    def fit(self, values, y=None):
        return self

    def transform(self, values):
        index = {t: i for i, t in enumerate(self.themes)}
        rows, cols = [], []
        for row, themes in enumerate(values):
            for theme in set(themes):
                if theme in index:
                    rows.append(row)
                    cols.append(index[theme])
        data = np.ones(len(rows), dtype=np.float64)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(values), len(self.themes)))


class Scale(BaseEstimator, TransformerMixin):
    """Multiply a feature block by a constant (how much it counts against the others)."""

    def __init__(self, factor: float = 1.0):
        self.factor = factor

    def __sklearn_is_fitted__(self):
        return True

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X * self.factor


class TolerantTfidf(TfidfVectorizer):
    """A TfidfVectorizer that gives no columns, rather than an error, when the
    field has no words in training (e.g. no finding has a previous sentence)."""

    def fit_transform(self, raw_documents, y=None):
        try:
            self.empty_ = False
            return super().fit_transform(raw_documents, y)
        except ValueError as exc:
            if "empty vocabulary" not in str(exc) and "no terms remain" not in str(exc):
                raise
            self.empty_ = True
            return sparse.csr_matrix((len(raw_documents), 0), dtype=self.dtype)

    def fit(self, raw_documents, y=None):
        self.fit_transform(raw_documents, y)
        return self

    def transform(self, raw_documents):
        if getattr(self, "empty_", False):
            return sparse.csr_matrix((len(raw_documents), 0), dtype=self.dtype)
        return transform_distinct(super().transform, list(raw_documents))

    def __sklearn_is_fitted__(self):
        return hasattr(self, "empty_")


def transform_distinct(transform, texts: list[str]):
    """``transform(texts)``, each distinct text vectorised once: a paragraph is every one
    of its sentences' context, and a section heading is shared by many findings."""
    index: dict[str, int] = {}
    rows = [index.setdefault(t, len(index)) for t in texts]
    if len(index) == len(texts):
        return transform(texts)
    return transform(list(index))[rows]


class RuleConfidence(BaseEstimator, TransformerMixin):
    """Per theme, the reliability of the best rule that fired: each rule's
    precision on the training data (smoothed: (correct + 1) / (fires + 2)),
    learnt when the pipeline is fitted, as Snorkel weighs labelling functions."""

    def __init__(self, themes: Sequence[str] = ()):
        self.themes = tuple(themes)

    def fit(self, rule_ids, Y=None):
        index = {t: i for i, t in enumerate(self.themes)}
        fires: dict[str, int] = {}
        correct: dict[str, int] = {}
        Y = np.asarray(Y) if Y is not None else None
        for row, rules in enumerate(rule_ids):
            for rule in set(rules):
                theme = rule.split("/", 1)[0]
                if theme not in index:
                    continue
                fires[rule] = fires.get(rule, 0) + 1
                if Y is not None and Y[row, index[theme]]:
                    correct[rule] = correct.get(rule, 0) + 1
        self.precision_ = {r: (correct.get(r, 0) + 1) / (n + 2) for r, n in sorted(fires.items())}
        return self

    def transform(self, rule_ids):
        index = {t: i for i, t in enumerate(self.themes)}
        out = np.zeros((len(rule_ids), len(self.themes)))
        for row, rules in enumerate(rule_ids):
            for rule in rules:
                theme = rule.split("/", 1)[0]
                if theme in index:
                    out[row, index[theme]] = max(out[row, index[theme]],
                                                 self.precision_.get(rule, 0.5))
        return sparse.csr_matrix(out)


_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def _words(text: str) -> list[str]:
    # keep "not" and the like: they decide judgements and many themes' sense
    return _WORD.findall(text.lower())


_LEMMAS: dict[str, str] = {}


def _lemmas(text: str) -> list[str]:
    """Words as lemmas (the lookup table of spacy-lookups-data): "delays" and
    "delayed" count as "delay", which character n-grams otherwise had to learn."""
    if not _LEMMAS:
        from .rules import lemma_table

        _LEMMAS.update(lemma_table())
    get = _LEMMAS.get
    return [get(w, w) for w in _WORD.findall(text.lower())]


RULE_BLOCKS = ("rule_confidence", "rule_early", "rule_multi")


def build_features(themes: Sequence[str], params: dict) -> FeatureUnion:
    """Text blocks first, then (with ``rule_features``) the rule-derived blocks,
    each ``len(themes)`` columns wide and last, so that the classifier can remove
    the rules' contribution to tell a tag's source."""

    tokenizer = _lemmas if params.get("lemmatize", False) else _words

    def words(field: str, weight: float | None = None, **options) -> Pipeline:
        steps = [("text", Field(field)),
                 ("tfidf", TolerantTfidf(tokenizer=tokenizer, token_pattern=None, lowercase=False,
                                           min_df=params["min_df"], sublinear_tf=True,
                                           dtype=np.float64, **options))]
        if weight is not None:
            steps.append(("scale", Scale(weight)))
        return Pipeline(steps)

    parts = [("words", words("text", ngram_range=tuple(params["word_ngrams"])))]
    if params.get("use_char", True):
        parts.append(("chars", Pipeline([
            ("text", Field("text")),
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(params["char_ngrams"]),
                                      min_df=params["min_df"], sublinear_tf=True, lowercase=True,
                                      max_features=60000, dtype=np.float64)),
        ])))
    if params.get("context_features"):
        # annotators read the paragraph to resolve "this" and "they"; so does the model
        parts.append(("context", words("context", params.get("context_weight", 1.0))))
        parts.append(("previous", words("previous", params.get("previous_weight", 1.0))))
    if params.get("section_features"):
        parts.append(("section", words("section", 1.0)))
    if params.get("rule_features"):
        parts.append(("rule_confidence", Pipeline([("rules", Field("rule_ids")),
                                                   ("confidence", RuleConfidence(themes))])))
        parts.append(("rule_early", Pipeline([("themes", Field("rule_early")),
                                              ("indicators", ThemeIndicators(themes))])))
        parts.append(("rule_multi", Pipeline([("themes", Field("rule_multi")),
                                              ("indicators", ThemeIndicators(themes))])))
    return FeatureUnion(parts)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def _platt(decision: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Platt scaling: p = sigmoid(a * decision + b), fitted by logistic regression."""
    if target.min() == target.max():
        return 1.0, (10.0 if target[0] else -10.0)
    lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    lr.fit(decision.reshape(-1, 1), target)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def best_threshold(scores: np.ndarray, target: np.ndarray, tolerance: float = 0.0) -> float:
    """The score threshold halfway between the highest and the lowest cut whose F1 is
    within ``tolerance`` of the best (cuts between them may score lower). With
    tolerance 0, the best cut alone (the first of equal ones), as before.

    Out-of-fold F1 is flat near its best and noisy: its single best cut moved by up to
    0.30 when one of three letters' labels was left out in turn, and five new labels
    moved it from 0.39 to 0.22 for a theme. The middle of the near-best range jumps less
    (largest change 0.30 -> 0.16, mean 0.063 -> 0.037; benchmarks/threshold_stability.py)
    and, with tolerance 0.01, gave a better cross-validated F1 (measured 2026-11-24;
    README, "Models")."""
    if target.sum() == 0:
        return 0.5
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_target = scores[order], target[order]
    tp = np.cumsum(sorted_target)
    fp = np.cumsum(1 - sorted_target)
    fn = target.sum() - tp
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    if tolerance > 0:
        near = np.flatnonzero(f1 >= f1.max() - tolerance)
        first, last = int(near[0]), int(near[-1])
    else:
        first = last = int(np.argmax(f1))

    def cut(k: int) -> float:
        # halfway to the next score (0.05 below the lowest), as the best point's cut was
        following = sorted_scores[k + 1] if k + 1 < len(sorted_scores) else sorted_scores[k] - 0.05
        return (sorted_scores[k] + following) / 2

    return float(max(0.05, min(0.95, (cut(first) + cut(last)) / 2)))


# liblinear's random generator is one per process, seeded as a fit starts; its dual
# solver draws from it all through the fit, outside the GIL. Two fits on threads of one
# process (a grid search around the model) would take each other's draws.
_LIBLINEAR = threading.Lock()


def _fit_fold(model, X, Y, split):
    """All themes' logistic regressions on one fold: the out-of-fold decision values
    for ``split`` (train, test), or, without a split, each theme's final model as
    (coef, intercept, decision on X), None where the theme has one class only."""
    # one at a time on threads of one process (see _LIBLINEAR): the BLAS limit is the
    # process's too, and one fold's end would lift it under another's fit
    with _LIBLINEAR, single_threaded_blas():
        return _fit_fold_body(model, X, Y, split)


def single_threaded_blas():
    """liblinear sums with BLAS, whose result depends on its thread count in the last
    digits: one thread everywhere makes a model the same on any machine, whether the
    fits run in parallel or not."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _fit_fold_body(model, X, Y, split):
    from sklearn.base import clone

    if split is None:
        out = []
        for j in range(Y.shape[1]):
            y = Y[:, j]
            if y.min() == y.max():
                out.append(None)
                continue
            fitted = clone(model).fit(X, y)
            out.append((fitted.coef_[0], fitted.intercept_[0], fitted.decision_function(X)))
        return out
    train, test = split
    X_train, X_test = X[train], X[test]
    decisions = np.zeros((len(test), Y.shape[1]))
    for j in range(Y.shape[1]):
        y = Y[train, j]
        if y.min() == y.max():
            decisions[:, j] = 10.0 if y[0] else -10.0
            continue
        decisions[:, j] = clone(model).fit(X_train, y).decision_function(X_test)
    return decisions


class ThemeClassifier(BaseEstimator, ClassifierMixin):
    """Per theme: logistic regression, Platt calibration and an F1-best threshold,
    both learnt on grouped out-of-fold decision values."""

    def __init__(self, themes: Sequence[str] = (), C: float = 8.0, inner_folds: int = 5,
                 seed: int = 13, n_rule_features: int = 0, class_weight="balanced", n_jobs: int = 1,
                 threshold_tolerance: float = 0.01):
        self.themes = tuple(themes)
        self.threshold_tolerance = threshold_tolerance
        self.C = C
        self.inner_folds = inner_folds
        self.seed = seed
        self.n_rule_features = n_rule_features
        self.class_weight = class_weight
        self.n_jobs = n_jobs

    def _model(self, shape: tuple[int, int]):
        # liblinear's dual solver where findings are fewer than features (4,122 findings,
        # ~28,000 features): 2.4 times faster than the primal one here, with the same
        # cross-validated F1 to the third decimal (measured 2026-11-24)
        return LogisticRegression(C=self.C, solver="liblinear", dual=shape[0] < shape[1],
                                  class_weight=self.class_weight, max_iter=2000,
                                  random_state=self.seed)

    def fit(self, X, Y, groups=None):
        from joblib import Parallel, delayed

        from . import workers

        X = sparse.csr_matrix(X)
        Y = np.asarray(Y, dtype=int)
        n, k = Y.shape
        groups = np.asarray(groups if groups is not None else np.arange(n))
        folds = min(self.inner_folds, len(np.unique(groups)))
        splits = list(GroupKFold(n_splits=folds).split(X, Y, groups)) if folds >= 2 else []
        # the folds' fits and the final fits are independent: run them on all cores;
        # each is deterministic, so the result does not depend on the order
        tasks = [*splits, None]
        # the workers end with the run, even after kill -9
        with workers.quiet_loky_stop(), workers.worker_pool():
            fitted = list(workers.start(Parallel(n_jobs=self.n_jobs, max_nbytes=None, return_as="generator"),
                                        (delayed(_fit_fold)(self._model(X.shape), X, Y, split) for split in tasks)))
        oof = np.zeros((n, k))
        for split, result in zip(splits, fitted):
            oof[split[1]] = result
        final = fitted[-1]
        coef = np.zeros((k, X.shape[1]))
        intercept = np.zeros(k)
        platt = np.zeros((k, 2))
        thresholds = np.full(k, 0.5)
        for j in range(k):
            if Y[:, j].min() == Y[:, j].max():
                intercept[j] = 10.0 if Y[0, j] else -10.0
                platt[j] = (1.0, 0.0)
                continue
            coef[j], intercept[j], own_decision = final[j]
            decision = oof[:, j] if folds >= 2 else own_decision
            platt[j] = _platt(decision, Y[:, j])
            thresholds[j] = best_threshold(_sigmoid(platt[j, 0] * decision + platt[j, 1]), Y[:, j],
                                           self.threshold_tolerance)
        self.coef_ = coef
        self.intercept_ = intercept
        self.platt_ = platt
        self.thresholds_ = thresholds
        self.classes_ = np.array(self.themes)
        return self

    def decision_function(self, X):
        return np.asarray(sparse.csr_matrix(X) @ self.coef_.T) + self.intercept_

    def predict_proba(self, X):
        return _sigmoid(self.decision_function(X) * self.platt_[:, 0] + self.platt_[:, 1])

    def predict(self, X):
        return (self.predict_proba(X) >= self.thresholds_).astype(int)

    def text_only_proba(self, X):
        """Scores without the rule indicators' contribution (for a tag's source)."""
        return self.proba_and_text_only(X)[1]

    def proba_and_text_only(self, X):
        """``predict_proba`` and ``text_only_proba`` of X, its product with the
        coefficients computed once for both."""
        X = sparse.csr_matrix(X)
        z = self.decision_function(X)
        proba = _sigmoid(z * self.platt_[:, 0] + self.platt_[:, 1])
        if self.n_rule_features:
            rules = X[:, -self.n_rule_features:]
            z = z - np.asarray(rules @ self.coef_[:, -self.n_rule_features:].T)
        return proba, _sigmoid(z * self.platt_[:, 0] + self.platt_[:, 1])


def build_pipeline(themes: Sequence[str], params: dict) -> Pipeline:
    params = {**DEFAULT_PARAMS, **params}
    return Pipeline([
        ("features", build_features(themes, params)),
        ("classifier", ThemeClassifier(themes, C=params["C"], inner_folds=params["inner_folds"],
                                       seed=params["seed"],
                                       n_rule_features=len(themes) * len(RULE_BLOCKS)
                                       if params["rule_features"] else 0,
                                       class_weight=params["class_weight"],
                                       n_jobs=params.get("jobs", 1),
                                       threshold_tolerance=params["threshold_tolerance"])),
    ])


def fit_pipeline(records: Sequence[dict], Y: np.ndarray, groups: Sequence[str],
                 themes: Sequence[str], params: dict) -> Pipeline:
    pipeline = build_pipeline(themes, params)
    with single_threaded_blas():
        pipeline.fit(list(records), Y, classifier__groups=list(groups))
    return strip_unpicklable_sets(pipeline)


@dataclass
class Explanation:
    start: int
    end: int
    text: str
    weight: float

    def as_dict(self) -> dict:
        # "rule": "model" keeps every evidence span the same shape as the rules'
        return {"start": self.start, "end": self.end, "text": self.text, "rule": "model",
                "weight": round(self.weight, 4)}


def explain(pipeline: Pipeline, record: dict, theme_index: int, k: int = 3,
            words_row=None) -> list[Explanation]:
    """The words that weighed most for a theme in this finding, with their offsets.

    ``words_row`` is the finding's row of the features (the word block is its first
    columns), as a sparse row or as its (column indices, values), where the caller
    has it; otherwise the text is vectorised again."""
    tfidf, names, coef = _explainer(pipeline)
    text = record.get("text") or ""
    if isinstance(words_row, tuple):
        indices, data = words_row
    else:
        row = (tfidf.transform([text]) if words_row is None else words_row).tocsr()
        indices, data = row.indices, row.data
    keep = indices < len(names)
    indices, data = indices[keep], data[keep]
    values = data * coef[theme_index][indices]
    positive = values > 0
    contributions = sorted(zip(values[positive].tolist(), names[indices[positive]].tolist()),
                           key=lambda c: (-c[0], c[1]))
    words = _word_positions(text)
    found: list[Explanation] = []
    for weight, term in contributions:
        span = _find_term(term.split(), words, text)
        if span and not any(e.start < span[1] and span[0] < e.end for e in found):
            found.append(Explanation(span[0], span[1], text[span[0]:span[1]], float(weight)))
        if len(found) == k:
            break
    return found


def _explainer(pipeline: Pipeline):
    """The word vectorizer, its feature names and the coefficients, found once per
    loaded model (``named_steps`` builds a new mapping on every call)."""
    found = _EXPLAINERS.get(pipeline)
    if found is None:
        union = pipeline.named_steps["features"]
        tfidf = dict(union.transformer_list)["words"].named_steps["tfidf"]
        # (building the names took most of the time of tagging a letter)
        found = (tfidf, tfidf.get_feature_names_out(), pipeline.named_steps["classifier"].coef_)
        _EXPLAINERS[pipeline] = found
    return found


@functools.lru_cache(maxsize=64)
def _word_positions(text: str) -> tuple[tuple[str, int, int], ...] | None:
    """The words the vectorizer reads, with their offsets (None where lower-casing
    changes the text's length, so that offsets would not carry over). Kept for the
    last few texts: a finding with several tags from the model is read once."""
    lower = text.lower()
    if len(lower) != len(text):
        return None
    return tuple((m.group(), *m.span()) for m in _WORD.finditer(lower))


def _find_term(term: list[str], words: Sequence[tuple[str, int, int]] | None,
               text: str) -> tuple[int, int] | None:
    """Where an n-gram of the vectorizer first stands in the text."""
    if words is None:
        pattern = r"(?<![A-Za-z0-9])" + r"\W+".join(re.escape(w) for w in term) + r"(?![A-Za-z0-9])"
        match = re.search(pattern, text, flags=re.IGNORECASE)
        return (match.start(), match.end()) if match else None
    n = len(term)
    for i in range(len(words) - n + 1):
        if words[i][0] == term[0] and all(words[i + m][0] == term[m] for m in range(1, n)):
            return words[i][1], words[i + n - 1][2]
    return None


# kept beside the models rather than on them, so that a saved model never holds them
_EXPLAINERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------- judgement model

JUDGEMENT_PARAMS = {"C": 4.0, "word_ngrams": [1, 3], "char_ngrams": [3, 4], "min_df": 2, "seed": 13}


def build_judgement_pipeline(params: dict | None = None) -> Pipeline:
    """strength / development / neutral from a finding's words (negations kept)."""
    params = {**JUDGEMENT_PARAMS, **(params or {})}
    features = FeatureUnion([
        ("words", Pipeline([
            ("text", Field("text")),
            ("tfidf", TfidfVectorizer(tokenizer=_words, token_pattern=None, lowercase=False,
                                      ngram_range=tuple(params["word_ngrams"]),
                                      min_df=params["min_df"], sublinear_tf=True,
                                      dtype=np.float64)),
        ])),
        ("chars", Pipeline([
            ("text", Field("text")),
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(params["char_ngrams"]),
                                      min_df=params["min_df"], sublinear_tf=True,
                                      max_features=40000, dtype=np.float64)),
        ])),
    ])
    return Pipeline([
        ("features", features),
        ("classifier", LogisticRegression(C=params["C"], max_iter=3000, class_weight="balanced",
                                          random_state=params["seed"])),
    ])


def strip_unpicklable_sets(pipeline: Pipeline) -> Pipeline:
    """Drop what makes a fitted TfidfVectorizer pickle differently on every run:
    ``stop_words_`` (a set, pickled in hash order) and ``_stop_words_id`` (an
    object's memory address). Neither is needed to predict, so the same data
    gives a byte-identical artifact."""
    for _, step in pipeline.named_steps["features"].transformer_list:
        tfidf = step.named_steps.get("tfidf")
        for name in ("stop_words_", "_stop_words_id"):
            if tfidf is not None and hasattr(tfidf, name):
                delattr(tfidf, name)
    return pipeline
