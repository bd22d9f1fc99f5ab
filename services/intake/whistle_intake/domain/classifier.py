"""Free text → ranked categories: a learned ranker, high-precision keyword overrides, triage.

The domain sees only "text in, ranked categories out" (`Ranker`); the model itself is data
loaded by an adapter. Whether a case needs a person (triage) is decided here, on the
confidence that the lead department is right: the probabilities of every leaf that the same
department leads are summed, because a wrong leaf under the right department still reaches
the right desk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

GENERAL = "general"
OVERRIDE_CONFIDENCE = 0.99


@dataclass(frozen=True)
class Suggestion:
    """One candidate category with its probability and the features that argued for it."""

    category: str
    probability: float
    evidence: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"category": self.category, "probability": round(self.probability, 4),
                "evidence": list(self.evidence)}


class Ranker(Protocol):
    """A model: every category ranked for a text, best first."""

    version: str
    threshold: float

    def rank(self, text: str, k: int | None = None) -> list[Suggestion]: ...


@dataclass(frozen=True)
class Rule:
    """Keywords that, when present, name the category with near certainty (an override)."""

    id: str
    category: str
    keywords: tuple[str, ...]
    unless: tuple[str, ...] = ()

    def hits(self, text: str) -> tuple[str, ...]:
        if any(u in text for u in self.unless):
            return ()
        return tuple(k for k in self.keywords if k in text)


@dataclass(frozen=True)
class Overrides:
    """The keyword layer: a short list of rules, each measured precise on the corpus."""

    rules: tuple[Rule, ...] = ()
    version: str = ""

    @classmethod
    def from_dict(cls, raw: Mapping) -> Overrides:
        rules = tuple(Rule(r["id"], r["category"], tuple(r["keywords"]),
                           tuple(r.get("unless", ()))) for r in raw["rules"])
        return cls(rules, str(raw.get("version", "")))

    def match(self, text: str) -> tuple[Rule, tuple[str, ...]] | None:
        """The first rule that fires, with its keywords found in the text."""
        for rule in self.rules:
            found = rule.hits(text)
            if found:
                return rule, found
        return None


@dataclass(frozen=True)
class Classification:
    """What intake decided: best guess, confidence, whether a person must triage, top-3."""

    category: str
    confidence: float
    needs_triage: bool
    method: str  # model | rule | rules_only
    suggestions: tuple[Suggestion, ...] = ()
    rule: str | None = None
    matched: tuple[str, ...] = ()
    model_version: str | None = None
    department_confidence: float = 0.0


def classify(text: str, *, ranker: Ranker | None, overrides: Overrides,
             lead_of: Mapping[str, str], top: int = 3) -> Classification:
    """Decide the category of a text; below the model's threshold the case goes to triage."""
    ranked = ranker.rank(text) if ranker is not None else []
    version = ranker.version if ranker is not None else None
    fired = overrides.match(text)
    if fired is not None:
        rule, found = fired
        first = Suggestion(rule.category, OVERRIDE_CONFIDENCE, found)
        others = [s for s in ranked if s.category != rule.category][:top - 1]
        return Classification(rule.category, OVERRIDE_CONFIDENCE, False, "rule",
                              (first, *others), rule.id, found, version,
                              OVERRIDE_CONFIDENCE)
    if not ranked:
        return Classification(GENERAL, 0.0, True, "rules_only", (), None, (), version, 0.0)
    best = ranked[0]
    dept_conf = department_confidence(ranked, lead_of)
    # `general` is learned from texts that name nothing a department could act on
    needs_triage = best.category == GENERAL or dept_conf < ranker.threshold
    return Classification(best.category, round(best.probability, 4), needs_triage, "model",
                          tuple(ranked[:top]), None, best.evidence, version, round(dept_conf, 4))


def department_confidence(ranked: Sequence[Suggestion], lead_of: Mapping[str, str]) -> float:
    """Probability that the best category's lead department is the right one."""
    lead = lead_of.get(ranked[0].category)
    return min(1.0, sum(s.probability for s in ranked if lead_of.get(s.category) == lead))
