"""Merging duplicate calls (并单): does an incoming incident belong to an open case?

An incident matches an open case when all of these hold:

* category — the same category, or a sibling in the catalogue tree (same class under the
  same area). A sibling, or any category in `MergePolicy.text_required` (e.g. `general`),
  needs corroborating text (similarity ≥ `min_text_similarity`): a gas smell beside a burst
  water main shares the class 公用事业 but is a different problem. Another class never matches.
* place — the same grid, or representative points within the policy's distance (metres,
  haversine; per-category overrides, e.g. an outage is reported from a wider area).
* time — the incident comes no earlier than the case opened and within the window of the
  case's category (boundary included).
* status — the case is still open (not resolved, closed or otherwise finished).

Among the matching cases the highest score wins; ties go to the most recently opened case.
Pure rules: standard library only; nothing here reads a clock or the catalogue.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType

# statuses of a case that can still absorb a duplicate call (see case.py)
MERGEABLE_STATUSES = frozenset({"triage", "pending_assignment", "dispatched", "acknowledged",
                                "in_progress", "reopened"})
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Candidate:
    """An open (or not) case as seen by the merge rules: its category, its first report's
    place and time, and `text` — its description, or the texts of all its reports one per
    line (an incident is compared with each line, so a case learns the wording of the calls
    it absorbed)."""

    case_id: str
    category: str
    area: str
    klass: str
    lat: float | None
    lon: float | None
    grid: str | None
    text: str
    opened_at: datetime
    status: str = "dispatched"


@dataclass(frozen=True)
class OpenCase:
    """What the store answers for a possible candidate: the columns the merge rules read,
    without the case's whole document (the catalogue adds its area and class)."""

    case_id: str
    category: str
    status: str
    lat: float | None
    lon: float | None
    grid: str | None
    texts: list[str]
    opened_at: datetime


@dataclass(frozen=True)
class Incoming:
    """A new incident, classified and placed, before it becomes (or joins) a case."""

    incident_id: str
    category: str
    area: str
    klass: str
    lat: float | None
    lon: float | None
    grid: str | None
    text: str
    opened_at: datetime
    # the category is only the classifier's guess (the incident needs triage): the text must
    # corroborate even within the same category
    text_required: bool = False


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class MergePolicy:
    """The knobs of the merge rules. Windows and distances are looked up by the case's
    category code, falling back to the defaults."""

    distance_m: float = 500.0
    distances: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "water": 1500.0, "power": 1500.0, "gas_supply": 1500.0, "heating": 1500.0}))
    windows: Mapping[str, timedelta] = field(default_factory=lambda: _frozen({
        "water": timedelta(hours=6), "power": timedelta(hours=6),
        "gas_leak": timedelta(hours=6), "gas_supply": timedelta(hours=6),
        "drainage": timedelta(hours=6),
        "noise": timedelta(hours=2), "construction_noise": timedelta(hours=2),
        "industrial_noise": timedelta(hours=2)}))
    default_window: timedelta = timedelta(hours=24)
    min_text_similarity: float = 0.2
    text_required: frozenset[str] = frozenset({"general"})
    # weights of the score's parts: category, place, text, time (normalised to sum 1)
    weights: Mapping[str, float] = field(default_factory=lambda: _frozen({
        "category": 0.3, "place": 0.3, "text": 0.25, "time": 0.15}))

    def window(self, category: str) -> timedelta:
        return self.windows.get(category, self.default_window)

    def distance(self, category: str) -> float:
        return self.distances.get(category, self.distance_m)


@dataclass(frozen=True)
class Match:
    """The case an incident joins, how sure (0–1) and why."""

    case_id: str
    score: float
    reasons: list[str]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Box:
    """A latitude/longitude rectangle (degrees); `lon_min`/`lon_max` are None when it spans
    every longitude (a point within reach of a pole)."""

    lat_min: float
    lat_max: float
    lon_min: float | None
    lon_max: float | None


def search_box(lat: float, lon: float, metres: float) -> Box:
    """A rectangle holding every point within `metres` (haversine) of the point, so that a
    database can rule out far cases with plain comparisons before the place rule measures
    what is left. A little larger than needed, never smaller; the longitude bounds use the
    box's edge nearest the pole, where a degree of longitude is shortest, and may run past
    ±180 (a query compares, it does not wrap — a city does not straddle the antimeridian)."""
    dlat = math.degrees(metres / EARTH_RADIUS_M) * 1.001
    lat_min, lat_max = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    widest = max(abs(lat_min), abs(lat_max))
    if widest >= 89.9:
        return Box(lat_min, lat_max, None, None)
    dlon = dlat / math.cos(math.radians(widest))
    return Box(lat_min, lat_max, lon - dlon, lon + dlon)


def normalize(text: str) -> str:
    """NFKC, lower case, without whitespace, punctuation and symbols."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


@lru_cache(maxsize=4096)
def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the normalized text (the character itself for one character).

    Cached: a call is compared with every line of every nearby open case, and those lines
    come back call after call (a fifth of dispatch's time under load went to recomputing
    them)."""
    norm = normalize(text)
    if len(norm) < 2:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i:i + 2] for i in range(len(norm) - 1))


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams (0 when either text is empty)."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


def case_text_similarity(text: str, case_text: str) -> float:
    """The best similarity of a text with any line of a case's text."""
    return max((text_similarity(text, line) for line in case_text.splitlines() if line),
               default=0.0)


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


def score(incoming: Incoming, case: Candidate, policy: MergePolicy) -> Match | None:
    """The match of an incident with one case, or None when a rule rules it out."""
    if case.status not in MERGEABLE_STATUSES:
        return None
    # category
    if incoming.category == case.category:
        category_score, category_reason = 1.0, "same category"
    elif incoming.area == case.area and incoming.klass == case.klass:
        category_score, category_reason = 0.5, f"sibling category {case.category}"
    else:
        return None
    # time
    elapsed = incoming.opened_at - case.opened_at
    window = policy.window(case.category)
    if elapsed < timedelta(0) or elapsed > window:
        return None
    time_score = 1.0 - elapsed / window if window > timedelta(0) else 1.0
    # place
    limit = policy.distance(case.category)
    same_grid = incoming.grid is not None and incoming.grid == case.grid
    metres = None
    if None not in (incoming.lat, incoming.lon, case.lat, case.lon):
        metres = haversine_m(incoming.lat, incoming.lon, case.lat, case.lon)
    if same_grid:
        place_score = 1.0 if metres is None else max(0.5, 1.0 - metres / limit / 2)
    elif metres is not None and metres <= limit:
        place_score = 1.0 - metres / limit / 2 if limit > 0 else 1.0
    else:
        return None
    # text
    similarity = case_text_similarity(incoming.text, case.text)
    needs_text = (category_score < 1.0 or case.category in policy.text_required
                  or incoming.text_required)
    if needs_text and similarity < policy.min_text_similarity:
        return None
    parts = {"category": category_score, "place": place_score, "text": similarity,
             "time": time_score}
    total = sum(policy.weights.get(k, 0.0) for k in parts)
    value = sum(policy.weights.get(k, 0.0) * v for k, v in parts.items()) / total if total \
        else 0.0
    reasons = [category_reason]
    if same_grid:
        reasons.append("same grid")
    if metres is not None:
        reasons.append(f"{round(metres)} m apart")
    reasons += [f"text similarity {similarity:.2f}",
                f"{_minutes(elapsed)} after the case opened"]
    return Match(case.case_id, round(min(1.0, max(0.0, value)), 4), reasons)


def best_match(incoming: Incoming, candidates: Iterable[Candidate],
               policy: MergePolicy | None = None) -> Match | None:
    """The open case the incident should join: the highest score, ties by the most recently
    opened case (then the greatest case id, so the answer never depends on the order)."""
    policy = policy or MergePolicy()
    best: tuple[float, datetime, str] | None = None
    chosen: Match | None = None
    for case in candidates:
        found = score(incoming, case, policy)
        if found is None:
            continue
        key = (found.score, case.opened_at, case.case_id)
        if best is None or key > best:
            best, chosen = key, found
    return chosen
