"""Transfer by responsibility (按责转办): category + place → lead and co-departments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SERVICE_ORDER = "service_order"
TRIAGE = "street_office"


@dataclass(frozen=True)
class Routing:
    """Who must act: one lead (主办), any co-departments (协办), and how the case resolves."""

    lead: str
    co: tuple[str, ...]
    resolution: str  # "lead" or "lead_and_co"
    rules_applied: tuple[str, ...] = ()


def route(category: Any, place: dict[str, Any], place_rules: list[Any], *, kind: str) -> Routing:
    """Choose departments from the catalogue line, then apply the place rules in order.

    `category` has lead/co/resolution; each place rule has match/replace/description.
    A service order (群众点单) always goes to the community (社区派单).
    """
    if kind == SERVICE_ORDER:
        return Routing("community", (), "lead", ("service order → community",))
    lead, co = category.lead, list(category.co)
    applied = []
    for rule in place_rules:
        if all(place.get(k) == v for k, v in rule.match.items()):
            lead = rule.replace.get(lead, lead)
            co = [rule.replace.get(c, c) for c in co]
            applied.append(rule.description)
    co = tuple(dict.fromkeys(c for c in co if c != lead))
    return Routing(lead, co, category.resolution, tuple(applied))


def next_candidate(candidates: tuple[str, ...], tried: set[str]) -> str | None:
    """The next department to try after a return (退单), or None when none is left."""
    for dept in candidates:
        if dept not in tried:
            return dept
    return None
