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
    """Where the incident is: a grid of the territory, with what the caller said."""

    grid_code: str
    lat: float | None
    lon: float | None
    address: str | None
    resolved_by: str  # "grid_code" or "coordinates"


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


def resolve_location(*, grid_code, lat, lon, address, territory) -> ResolvedLocation:
    """Find the grid from its code or from coordinates; fail with a precise reason."""
    if not grid_code and (lat is None or lon is None):
        if address:
            raise IncidentInvalid("location-unresolvable",
                                  "an address alone cannot be placed in a grid: add grid_code "
                                  "or lat/lon")
        raise IncidentInvalid("missing-location", "location needs grid_code or lat and lon")
    if grid_code:
        if territory.path(grid_code) is None:
            raise IncidentInvalid("unknown-grid",
                                  f"grid_code {grid_code!r} is not in the territory")
        return ResolvedLocation(grid_code, lat, lon, address, "grid_code")
    path = territory.nearest(lat, lon)
    if path is None:
        raise IncidentInvalid("location-outside-territory",
                              f"({lat}, {lon}) is not within any grid of the territory")
    return ResolvedLocation(path.grid.code, lat, lon, address, "coordinates")


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


def status_after(current: str, event_type: str) -> str:
    """The hotline-facing status after a case event (events may arrive late: never go back,
    except a reopen, which legitimately does)."""
    new = CASE_STATUS.get(event_type)
    if new is None:
        return current
    if event_type == "case.reopened.v1" and current != "closed":
        return new
    return new if STATUS_RANK[new] >= STATUS_RANK.get(current, 0) else current
