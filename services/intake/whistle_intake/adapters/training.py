"""Fit the learned classifier with scikit-learn and export it as plain arrays.

Features: sublinear TF-IDF over character 1–2-grams and rjieba words. Model: multinomial
logistic regression. Calibration: one temperature fitted on out-of-fold predictions of the
training data (never on the evaluation set). The triage threshold is read off the same
out-of-fold coverage/accuracy curve: the lowest department confidence at which the cases a
model would dispatch by itself are right at least `target` of the time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from .corpus import Example
from .textmodel import LinearTextModel, load_model, save_model, terms

NGRAMS = (1, 2)
WORDS = True
C = 20.0
MIN_DF = 2
FOLDS = 5
TARGET_ACCURACY = 0.90


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=partial(terms, ngrams=NGRAMS, words=WORDS),
                           sublinear_tf=True, min_df=MIN_DF, dtype=np.float32)


def _fit(texts: list[str], labels: list[str], weights: np.ndarray):
    vec = _vectorizer()
    x = vec.fit_transform(texts)
    clf = LogisticRegression(C=C, max_iter=3000)
    clf.fit(x, labels, sample_weight=weights)
    return vec, clf


def out_of_fold_logits(examples: Sequence[Example], seed: int = 7) -> tuple[np.ndarray, list]:
    """Decision values of each example from a model that never saw it (k-fold)."""
    labels = np.array([e.category for e in examples])
    texts = [e.text for e in examples]
    weights = np.array([e.weight for e in examples])
    classes = sorted(set(labels))
    logits = np.zeros((len(examples), len(classes)), dtype=np.float64)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(texts, labels):
        vec, clf = _fit([texts[i] for i in train], list(labels[train]), weights[train])
        part = clf.decision_function(vec.transform([texts[i] for i in test]))
        cols = [classes.index(c) for c in clf.classes_]
        logits[np.ix_(test, cols)] = part
        missing = [j for j in range(len(classes)) if j not in cols]
        logits[np.ix_(test, missing)] = -1e9
    return logits, classes


def fit_temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of the true classes."""
    best, best_nll = 1.0, float("inf")
    for t in np.geomspace(0.05, 20, 240):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = -logp[np.arange(len(truth)), truth].mean()
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def choose_threshold(dept_conf: np.ndarray, dept_right: np.ndarray,
                     target: float = TARGET_ACCURACY) -> tuple[float, list[dict]]:
    """Lowest threshold whose dispatched share is right ≥ target; and the whole curve."""
    curve, chosen = [], None
    for t in np.round(np.arange(0.0, 0.96, 0.05), 2):
        covered = dept_conf >= t
        accuracy = float(dept_right[covered].mean()) if covered.any() else 1.0
        curve.append({"threshold": float(t), "coverage": round(float(covered.mean()), 4),
                      "accuracy": round(accuracy, 4)})
        if chosen is None and accuracy >= target:
            chosen = float(t)
    return (chosen if chosen is not None else 0.95), curve


def train(examples: Sequence[Example], lead_of: Mapping[str, str], *, out_dir: Path,
          base_version: str = "", notes: Mapping | None = None) -> LinearTextModel:
    """Fit, calibrate, choose the threshold, export to `out_dir`, and load it back."""
    texts = [e.text for e in examples]
    labels = [e.category for e in examples]
    weights = np.array([e.weight for e in examples])
    logits, classes = out_of_fold_logits(examples)
    truth = np.array([classes.index(c) for c in labels])
    temperature = fit_temperature(logits, truth)
    probs = _softmax(logits / temperature)
    dept_conf, dept_right = _department_view(probs, classes, truth, lead_of)
    threshold, curve = choose_threshold(dept_conf, dept_right)
    vec, clf = _fit(texts, labels, weights)
    term_list = [t for t, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]
    digest = hashlib.sha256("\n".join(f"{e.category}\t{e.text}" for e in examples).encode())
    version = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + digest.hexdigest()[:8]
    meta = {
        "version": version, "base_version": base_version, "classes": list(clf.classes_),
        "ngrams": list(NGRAMS), "words": WORDS, "temperature": temperature,
        "threshold": threshold, "target_accuracy": TARGET_ACCURACY,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training": {"examples": len(examples), "features": len(term_list), "C": C,
                     "min_df": MIN_DF, "corrections": sum(e.source != "corpus"
                                                          for e in examples),
                     "correction_ids": sorted({e.source for e in examples
                                               if e.source != "corpus"})},
        "out_of_fold": {"leaf_accuracy": round(float((probs.argmax(1) == truth).mean()), 4),
                        "department_accuracy": round(float(dept_right.mean()), 4),
                        "curve": curve},
        **({"notes": dict(notes)} if notes else {}),
    }
    save_model(out_dir, meta, term_list, vec.idf_, clf.coef_.T, clf.intercept_)
    return load_model(out_dir)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _department_view(probs, classes, truth, lead_of):
    leads = np.array([lead_of.get(c, c) for c in classes])
    best = probs.argmax(1)
    best_lead = leads[best]
    same = leads[None, :] == best_lead[:, None]
    dept_conf = (probs * same).sum(axis=1)
    return dept_conf, best_lead == leads[truth]
