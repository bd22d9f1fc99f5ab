"""Request and response bodies of the intake API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LocationIn(BaseModel):
    """Any of: a grid code, a place code (grid, community or street), a point, address text.
    With none of them intake reads the description; what places nothing goes to triage."""

    model_config = ConfigDict(extra="forbid")
    grid_code: str | None = Field(None, max_length=32)
    place_code: str | None = Field(None, max_length=32)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    crs: Literal["wgs84", "gcj02", "bd09"] = Field(
        "wgs84", description="coordinate system of lat/lon: GPS (wgs84), most Chinese map "
                             "SDKs (gcj02), Baidu (bd09)")
    address: str | None = Field(None, max_length=500)


class ReporterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=32)


class IncidentCreate(BaseModel):
    """POST /v1/incidents."""

    model_config = ConfigDict(extra="forbid")
    source: Literal["hotline", "grid", "resident"]
    external_id: str = Field(min_length=1, max_length=128)
    kind: Literal["complaint", "request", "report", "service_order"]
    category: str | None = Field(None, max_length=64)
    description: str = Field(max_length=20_000)
    location: LocationIn | None = None
    reporter: ReporterIn = Field(default_factory=ReporterIn)
    priority: Literal["urgent", "normal"] | None = None
    occurred_at: datetime | None = None
    media_urls: list[str] = Field(default_factory=list, max_length=10)


class Suggestion(BaseModel):
    category: str
    probability: float
    evidence: list[str]


class IncidentAccepted(BaseModel):
    incident_id: str
    tracking_no: str
    status: str
    received_at: datetime
    category: str = Field(description="the given category, or the classifier's best guess")
    confidence: float
    needs_triage: bool = Field(description="true: no department is ordered until the street "
                                           "office assigns the case (triage queue)")
    suggestions: list[Suggestion] = Field(description="top-3 categories with probabilities "
                                                      "and evidence")
    model_version: str | None = None
    classification: dict
    location: dict = Field(description="where intake placed the incident and how; level "
                                       "'unresolved' means triage places it")


class TimelineEntry(BaseModel):
    at: datetime
    status: str
    event_type: str
    note: str | None = None


class IncidentRead(BaseModel):
    incident_id: str
    tracking_no: str
    source: str
    kind: str
    category: str
    priority: str
    status: str
    description: str
    grid_code: str | None
    location: dict = Field(description="the place found (level grid, community, street or "
                                       "unresolved), its path, and how it was resolved")
    received_at: datetime
    case_id: str | None
    agency: str | None
    expected_at: datetime | None
    timeline: list[TimelineEntry]
