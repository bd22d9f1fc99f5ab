"""Department assessment (统一考核): the three rates and a weighted score."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Facts:
    """Counts for one department in one period (cases dispatched to it in the period)."""

    dispatched: int
    acknowledged_on_time: int
    resolved: int
    resolved_on_time: int
    rated: int
    satisfied: int            # satisfied + basically satisfied
    returns: int
    reopens: int


@dataclass(frozen=True)
class Assessment:
    response_rate: float | None
    resolution_rate: float | None
    on_time_resolution_rate: float | None
    satisfaction_rate: float | None
    score: float | None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def assess(facts: Facts, weights: dict[str, float]) -> Assessment:
    """Rates from counts; the score weighs the rates that exist (weights renormalised)."""
    rates = {
        "response": _rate(facts.acknowledged_on_time, facts.dispatched),
        "resolution": _rate(facts.resolved, facts.dispatched),
        "satisfaction": _rate(facts.satisfied, facts.rated),
    }
    present = {k: w for k, w in weights.items() if rates.get(k) is not None}
    score = None
    if present:
        total = sum(present.values())
        score = round(100 * sum(rates[k] * w for k, w in present.items()) / total, 2)
    return Assessment(rates["response"], rates["resolution"],
                      _rate(facts.resolved_on_time, facts.dispatched), rates["satisfaction"],
                      score)
