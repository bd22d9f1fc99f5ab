"""Measure a classifier on labelled text: accuracy, macro-F1, per category, confusions, the
coverage/accuracy curve, and the latency of one classification."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from ..domain.classifier import Classification
from .corpus import Example

Classify = Callable[[str], Classification]


def evaluate(classify: Classify, examples: Sequence[Example],
             lead_of: Mapping[str, str]) -> dict:
    """Every figure of the evaluation report for one classifier on one labelled set."""
    rows, latencies = [], []
    for example in examples:
        started = time.perf_counter()
        result = classify(example.text)
        latencies.append((time.perf_counter() - started) * 1000)
        rows.append((example, result))
    n = len(rows)
    leaf_right = [r.category == e.category for e, r in rows]
    dept_right = [lead_of.get(r.category) == lead_of.get(e.category) for e, r in rows]
    dispatched = [(ok, ok_leaf) for (e, r), ok, ok_leaf in zip(rows, dept_right, leaf_right,
                                                                strict=True)
                  if not r.needs_triage]
    per_category = _per_category(rows)
    confusions = Counter((e.category, r.category) for e, r in rows if r.category != e.category)
    top3 = [e.category in {s.category for s in r.suggestions[:3]} for e, r in rows]
    return {
        "examples": n,
        "categories": len({e.category for e, _ in rows}),
        "leaf_accuracy": _ratio(sum(leaf_right), n),
        "department_accuracy": _ratio(sum(dept_right), n),
        "top3_accuracy": _ratio(sum(top3), n),
        "macro_f1": round(sum(p["f1"] for p in per_category.values())
                          / max(1, len(per_category)), 4),
        "at_threshold": {
            "triage_rate": _ratio(n - len(dispatched), n),
            "dispatched_department_accuracy": _ratio(sum(ok for ok, _ in dispatched),
                                                     len(dispatched)),
            "dispatched_leaf_accuracy": _ratio(sum(ok for _, ok in dispatched),
                                               len(dispatched)),
        },
        "curve": _curve(rows, dept_right),
        "per_category": per_category,
        "top_confusions": [{"true": t, "predicted": p, "count": c}
                           for (t, p), c in confusions.most_common(20)],
        "latency_ms": _percentiles(latencies),
    }


def _ratio(part: float, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _per_category(rows) -> dict[str, dict]:
    truth = Counter(e.category for e, _ in rows)
    predicted = Counter(r.category for _, r in rows)
    right = Counter(e.category for e, r in rows if e.category == r.category)
    out = {}
    for code in sorted(truth):
        precision = right[code] / predicted[code] if predicted[code] else 0.0
        recall = right[code] / truth[code]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[code] = {"support": truth[code], "precision": round(precision, 4),
                     "recall": round(recall, 4), "f1": round(f1, 4)}
    return out


def _curve(rows, dept_right: list[bool]) -> list[dict]:
    """Department confidence threshold → share dispatched without a person, and its accuracy."""
    curve = []
    for step in range(0, 20):
        t = step / 20
        kept = [ok for (_, r), ok in zip(rows, dept_right, strict=True)
                if r.method == "rule" or r.department_confidence >= t]
        curve.append({"threshold": t, "coverage": _ratio(len(kept), len(rows)),
                      "accuracy": _ratio(sum(kept), len(kept))})
    return curve


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": pick(0.5), "p99": pick(0.99), "max": round(ordered[-1], 3)}
