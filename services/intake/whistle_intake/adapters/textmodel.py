"""The learned classifier at run time: features of a text and a linear model stored as arrays.

A model is two files in one directory: `model.json` (version, classes, feature settings,
temperature, threshold, evaluation) and `weights.npz` (terms, idf, weights, bias). Both load
without running code: JSON, and NumPy arrays read with `allow_pickle=False`.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import rjieba
from zhconv import zhconv as _zhconv

from ..domain.classifier import Suggestion

FORMAT = "whistle-linear-text/1"
_SPLIT = re.compile(r"[^\w]+")
_DIGITS = re.compile(r"\d+")


class ModelUnavailable(RuntimeError):
    """A model directory that is missing, incomplete or inconsistent."""


@cache
def _to_simplified() -> dict[int, int]:
    """One-character traditional → simplified table (str.translate is fast; whole-phrase
    conversion is not needed for features)."""
    _zhconv.loaddict()
    table = _zhconv.zhcdicts["zh2Hans"]
    return {ord(k): ord(v) for k, v in table.items() if len(k) == 1 and len(v) == 1}


def normalize(text: str) -> str:
    """Full-width → half-width, traditional → simplified, lower case, digits folded to 0."""
    text = unicodedata.normalize("NFKC", text).translate(_to_simplified()).lower()
    return _DIGITS.sub("0", text)


def terms(text: str, *, ngrams: tuple[int, int] = (1, 3), words: bool = True) -> list[str]:
    """Character n-grams within each run of word characters, plus jieba words (prefix `w:`)."""
    low, high = ngrams
    out: list[str] = []
    norm = normalize(text)
    for run in _SPLIT.split(norm):
        for n in range(low, high + 1):
            out.extend(run[i:i + n] for i in range(len(run) - n + 1))
    if words:
        out.extend(f"w:{w}" for w in rjieba.cut(norm) if len(w) >= 2 and not w.isspace())
    return out


@dataclass
class LinearTextModel:
    """Sublinear TF-IDF (l2-normalised) into a multinomial linear model with a temperature."""

    meta: dict[str, Any]
    vocabulary: dict[str, int]
    term_list: list[str]
    idf: np.ndarray
    weights: np.ndarray  # features × classes
    bias: np.ndarray
    classes: list[str]

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    @property
    def threshold(self) -> float:
        return float(self.meta["threshold"])

    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts: dict[int, int] = {}
        vocab = self.vocabulary
        for term in terms(text, ngrams=tuple(self.meta["ngrams"]), words=self.meta["words"]):
            index = vocab.get(term)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float32,
                         count=len(counts))
        values = tf * self.idf[idx]
        return idx, values / np.linalg.norm(values)

    def probabilities(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probabilities over classes, feature indices, feature values) of one text."""
        idx, values = self._vector(text)
        logits = self.bias + (values @ self.weights[idx] if len(idx) else 0.0)
        logits = logits / float(self.meta["temperature"])
        logits = logits - logits.max()
        exp = np.exp(logits)
        return exp / exp.sum(), idx, values

    def rank(self, text: str, k: int | None = None) -> list[Suggestion]:
        """Every class by probability (best first); evidence for the first three."""
        probs, idx, values = self.probabilities(text)
        order = np.argsort(-probs)
        ranked = []
        for position, c in enumerate(order if k is None else order[:k]):
            evidence = self._evidence(int(c), idx, values) if position < 3 else ()
            ranked.append(Suggestion(self.classes[c], float(probs[c]), evidence))
        return ranked

    def _evidence(self, c: int, idx: np.ndarray, values: np.ndarray) -> tuple[str, ...]:
        if not len(idx):
            return ()
        contribution = values * self.weights[idx, c].astype(np.float32)
        best = np.argsort(-contribution)[:5]
        return tuple(self.term_list[idx[i]].removeprefix("w:") for i in best
                     if contribution[i] > 0)


def load_model(directory: Path) -> LinearTextModel:
    """Read a model directory; ModelUnavailable when anything is missing or inconsistent."""
    try:
        meta = json.loads((directory / "model.json").read_text("utf-8"))
        with np.load(directory / "weights.npz", allow_pickle=False) as arrays:
            term_list = arrays["terms"].tolist()
            idf = arrays["idf"].astype(np.float32)
            weights = arrays["weights"]
            bias = arrays["bias"].astype(np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelUnavailable(f"cannot read model in {directory}: {exc}") from exc
    classes = list(meta.get("classes", []))
    if meta.get("format") != FORMAT:
        raise ModelUnavailable(f"{directory}: format {meta.get('format')!r} is not {FORMAT}")
    if weights.shape != (len(term_list), len(classes)) or bias.shape != (len(classes),) \
            or idf.shape != (len(term_list),):
        raise ModelUnavailable(f"{directory}: array shapes do not match the classes and terms")
    vocabulary = {t: i for i, t in enumerate(term_list)}
    return LinearTextModel(meta, vocabulary, term_list, idf, weights, bias, classes)


def save_model(directory: Path, meta: dict[str, Any], term_list: list[str], idf: np.ndarray,
               weights: np.ndarray, bias: np.ndarray) -> None:
    """Write a model directory (arrays compressed; weights as float16 to keep it small)."""
    directory.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(directory / "weights.npz", terms=np.array(term_list),
                        idf=idf.astype(np.float32), weights=weights.astype(np.float16),
                        bias=bias.astype(np.float32))
    (directory / "model.json").write_text(
        json.dumps({"format": FORMAT, **meta}, ensure_ascii=False, indent=1) + "\n", "utf-8")
