"""Free Chinese text → catalogue category, by a keyword rule table kept as data."""

from __future__ import annotations

from dataclasses import dataclass

GENERAL = "general"


@dataclass(frozen=True)
class Rule:
    """Keywords that point at one category with a weight."""

    id: str
    category: str
    weight: float
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Classification:
    """The category chosen, how sure we are, and which rule decided it."""

    category: str
    confidence: float
    rule: str | None
    matched: tuple[str, ...] = ()


class Classifier:
    """Scores each category by the summed weight of its rules that fire."""

    def __init__(self, rules: list[Rule], version: str = "") -> None:
        self.rules = rules
        self.version = version

    @classmethod
    def from_dict(cls, raw: dict) -> Classifier:
        rules = [Rule(r["id"], r["category"], float(r["weight"]), tuple(r["keywords"]))
                 for r in raw["rules"]]
        return cls(rules, raw.get("version", ""))

    def classify(self, text: str) -> Classification:
        """Pick the best-scoring category; unmatched text goes to `general` for triage."""
        scores: dict[str, float] = {}
        strongest: dict[str, tuple[float, Rule, tuple[str, ...]]] = {}
        for rule in self.rules:
            hits = tuple(k for k in rule.keywords if k in text)
            if not hits:
                continue
            # each extra keyword of the same rule adds a little, so stronger evidence wins
            score = rule.weight * (1 + 0.25 * (len(hits) - 1))
            scores[rule.category] = scores.get(rule.category, 0.0) + score
            if rule.category not in strongest or score > strongest[rule.category][0]:
                strongest[rule.category] = (score, rule, hits)
        if not scores:
            return Classification(GENERAL, 0.0, None)
        best = max(scores, key=lambda c: (scores[c], -self._order(c)))
        confidence = round(scores[best] / sum(scores.values()), 3)
        _, rule, hits = strongest[best]
        return Classification(best, confidence, rule.id, hits)

    def _order(self, category: str) -> int:
        for index, rule in enumerate(self.rules):
            if rule.category == category:
                return index
        return len(self.rules)
