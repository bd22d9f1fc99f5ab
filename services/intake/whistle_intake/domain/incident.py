"""Rules of accepting an incident: validation, tracking numbers, request fingerprints."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

SOURCES = ("hotline", "grid", "resident")
KINDS = ("complaint", "request", "report", "service_order")
PRIORITIES = ("urgent", "normal")
MAX_DESCRIPTION = 4000  # Open311 GeoReport v2 allows 4,000 characters
CLOCK_SKEW = timedelta(minutes=5)


class IncidentInvalid(ValueError):
    """An incident that cannot be accepted; `slug` names the problem type."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug, self.detail = slug, detail


@dataclass(frozen=True)
class ResolvedLocation:
    """Where the incident is, as finely as the caller's words allow, and how that was found.

    `level` is grid, community or street when dispatch can route it; "unresolved" sends the
    incident to triage, where a person places it (the caller is never refused for that).
    """

    grid_code: str | None
    place_code: str | None
    level: str  # grid | community | street | unresolved
    lat: float | None
    lon: float | None
    address: str | None
    resolved_by: str  # grid_code | address_id | coordinates | address:<method> | unresolved
    confidence: float = 1.0
    note: str = ""

    @property
    def routable(self) -> bool:
        return self.level in ROUTABLE


ROUTABLE = ("grid", "community", "street")


def check_description(text: str) -> str:
    """Trimmed description, or IncidentInvalid when empty or too long."""
    text = (text or "").strip()
    if not text:
        raise IncidentInvalid("description-required", "description must not be empty")
    if len(text) > MAX_DESCRIPTION:
        raise IncidentInvalid("description-too-long",
                              f"description has {len(text)} characters; at most {MAX_DESCRIPTION}")
    return text


def check_occurred_at(occurred_at: datetime | None, now: datetime) -> None:
    """An incident cannot have happened in the future (a few minutes of clock skew allowed)."""
    if occurred_at is None:
        return
    if occurred_at.tzinfo is None:
        raise IncidentInvalid("timestamp-without-offset", "occurred_at must carry a UTC offset")
    if occurred_at > now + CLOCK_SKEW:
        raise IncidentInvalid("occurred-in-future",
                              f"occurred_at {occurred_at.isoformat()} is after {now.isoformat()}")


def resolve_location(*, grid_code: str | None, address_id: str | None, lat: float | None,
                     lon: float | None, crs: str, address: str | None, text: str,
                     places) -> ResolvedLocation:
    """The finest place the caller gave: a grid code, a place code (Open311 address_id), a
    point, the address, else the description itself. A code or point that is wrong is the
    caller's error (422); words that place nothing are a person's job (triage), not a refusal.
    `places` answers place(code), locate(lat, lon, crs), resolve(text), point_of(code)."""
    if grid_code:
        if places.place(grid_code) is None or places.place(grid_code).grid is None:
            raise IncidentInvalid("unknown-grid",
                                  f"grid_code {grid_code!r} is not in the territory")
        return ResolvedLocation(grid_code, grid_code, "grid", lat, lon, address, "grid_code")
    if address_id:
        path = places.place(address_id)
        if path is None:
            raise IncidentInvalid("unknown-place",
                                  f"address_id {address_id!r} is not a grid, community or "
                                  "street of the territory")
        return _at(path, lat, lon, address, "address_id", places)
    if (lat is None) != (lon is None):
        raise IncidentInvalid("incomplete-coordinates", "give both lat and lon, or neither")
    if lat is not None:
        found = places.locate(lat, lon, crs)
        if found is not None:
            return ResolvedLocation(found.grid_code, found.grid_code, "grid", lat, lon, address,
                                    f"coordinates:{found.method}")
        if not address:
            raise IncidentInvalid("location-outside-territory",
                                  f"({lat}, {lon}) is not within any grid of the territory")
    for words, how in ((address, "address"), (text, "description")):
        if not words:
            continue
        found = places.resolve(words)
        if found.level in ROUTABLE:
            path = places.place(found.code)
            return _at(path, lat, lon, address, f"{how}:{found.method}", places,
                       confidence=found.confidence, note=found.note)
        if how == "address" and found.method == "contradiction":
            return ResolvedLocation(None, found.code, "unresolved", lat, lon, address,
                                    "unresolved", 0.0, found.note)
    return ResolvedLocation(None, None, "unresolved", lat, lon, address, "unresolved", 0.0,
                            "no place of the territory could be read from the call")


def _at(path, lat, lon, address, how: str, places, *, confidence: float = 1.0,
        note: str = "") -> ResolvedLocation:
    """A resolved place; without coordinates of its own, a point inside the place."""
    grid = path.grid.code if path.grid else None
    if lat is None:
        lat, lon = places.point_of(path.code) or (None, None)
    return ResolvedLocation(grid, path.code, path.level, lat, lon, address, how, confidence,
                            note)


def check_category(category: str | None, catalogue) -> str | None:
    """The leaf code of a catalogue category or alias; None means: classify the text."""
    if category is None:
        return None
    leaf = catalogue.canonical(category)
    if leaf is None:
        raise IncidentInvalid("unknown-category", f"category {category!r} is not in the catalogue")
    return leaf


def tracking_number(received_local: datetime, sequence: int) -> str:
    """Human-readable ticket: local date and a sequence, e.g. WS20261121-00001234."""
    return f"WS{received_local:%Y%m%d}-{sequence:08d}"


def fingerprint(payload: dict) -> str:
    """Stable hash of a request body, to tell a replay from a different request."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


CASE_STATUS = {
    "case.created.v1": "accepted",
    "case.queued_for_triage.v1": "triage",
    "case.dispatched.v1": "dispatched",
    "case.acknowledged.v1": "in_progress",
    "case.arrived.v1": "in_progress",
    "case.returned.v1": "rerouting",
    "case.assigned.v1": "dispatched",
    "case.resolved.v1": "resolved",
    "case.reopened.v1": "reopened",
    "case.closed.v1": "closed",
}
STATUS_RANK = {"received": 0, "triage": 1, "accepted": 1, "dispatched": 2, "rerouting": 2,
               "in_progress": 3, "resolved": 4, "reopened": 2, "closed": 5}


# the hotline-facing status of an incident merged into a case with this status (并单)
MERGED_INTO = {"triage": "triage", "pending_assignment": "rerouting", "dispatched": "dispatched",
               "acknowledged": "in_progress", "in_progress": "in_progress",
               "reopened": "reopened"}


def status_of_case(case_status: str | None, current: str) -> str:
    """The status an incident takes on when it joins an open case (never going back)."""
    new = MERGED_INTO.get(case_status or "", "dispatched")
    return new if STATUS_RANK[new] >= STATUS_RANK.get(current, 0) else current


def status_after(current: str, event_type: str) -> str:
    """The hotline-facing status after a case event (events may arrive late: never go back,
    except a reopen, which legitimately does)."""
    new = CASE_STATUS.get(event_type)
    if new is None:
        return current
    if event_type == "case.reopened.v1" and current != "closed":
        return new
    return new if STATUS_RANK[new] >= STATUS_RANK.get(current, 0) else current
