"""HTTP API of intake: decode, call a handler, encode."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from whistle_common.auth import Principal, require
from whistle_common.problems import ProblemError
from whistle_common.usecase import run_use_case

from .. import handlers
from ..schemas import IncidentAccepted, IncidentCreate, IncidentRead, TimelineEntry

router = APIRouter(prefix="/v1", tags=["intake"])
Writer = Annotated[Principal, Depends(require("incidents:write"))]
Reader = Annotated[Principal, Depends(require("incidents:read"))]

PROBLEMS = {422: {"description": "validation problem (application/problem+json)"},
            429: {"description": "over the client's rate; retry after the given seconds"},
            409: {"description": "same idempotency key, different body"},
            503: {"description": "storage unavailable; retry after the given seconds"}}


async def accept(request: Request, draft: IncidentCreate, client: str) -> handlers.Outcome:
    """Run submit_incident for a client within its rate."""
    request.app.state.buckets.check(client)
    return await run_use_case(request.app.state.runtime.uow,
                              partial(handlers.submit_incident, request.app.state.ref),
                              handlers.SubmitIncident(draft, datetime.now(UTC)))


@router.post("/incidents", status_code=201, response_model=IncidentAccepted, responses=PROBLEMS)
async def post_incident(draft: IncidentCreate, request: Request, response: Response,
                        caller: Writer) -> IncidentAccepted:
    """Accept an incident; a replay of (source, external_id) returns the first answer (200)."""
    outcome = await accept(request, draft, caller.client)
    if not outcome.created:
        response.status_code = 200
    row = outcome.row
    response.headers["Location"] = f"/v1/incidents/{row['id']}"
    found = _json(row["classification"])
    return IncidentAccepted(incident_id=str(row["id"]), tracking_no=row["tracking_no"],
                            status=row["status"], received_at=row["received_at"],
                            category=row["category"], confidence=found.get("confidence", 0.0),
                            needs_triage=bool(found.get("needs_triage", False)),
                            suggestions=found.get("suggestions", []),
                            model_version=found.get("model_version") or found.get("version"),
                            classification=found, location=_json(row["location"]))


@router.get("/incidents/{incident_id}", response_model=IncidentRead)
async def get_incident(incident_id: str, request: Request, _: Reader) -> IncidentRead:
    """Status and timeline as seen from the hotline."""
    view = await run_use_case(request.app.state.runtime.uow, handlers.incident_view, incident_id)
    row = view.row
    return IncidentRead(
        incident_id=str(row["id"]), tracking_no=row["tracking_no"], source=row["source"],
        kind=row["kind"], category=row["category"], priority=row["priority"],
        status=row["status"], description=row["description"], grid_code=row["grid_code"],
        location=_json(row["location"]), received_at=row["received_at"],
        case_id=row["case_id"], agency=row["agency"], expected_at=row["expected_at"],
        timeline=[TimelineEntry(**dict(e)) for e in view.timeline])


@router.get("/categories")
async def categories(request: Request) -> dict:
    """The dispatch catalogue (派单目录), with its version."""
    return request.app.state.ref.catalogue.as_dict()


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


@router.get("/grids")
async def grid_at(request: Request, _: Reader, lat: float = Query(ge=-90, le=90),
                  lon: float = Query(ge=-180, le=180),
                  crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84") -> dict:
    """The grid at a point (WGS-84, GCJ-02 or BD-09), with its path and how it was found."""
    places = request.app.state.ref.places
    found = places.locate(lat, lon, crs)
    if found is None:
        raise ProblemError(404, "location-outside-territory", "Outside the territory",
                           f"({lat}, {lon}) {crs} is not within any grid of the territory")
    path = places.place(found.grid_code)
    return {"grid_code": found.grid_code, "method": found.method,
            "distance_m": found.distance_m, "path": path.as_list(),
            "territory_version": places.territory.version}


@router.get("/places/resolve")
async def resolve_place(request: Request, _: Reader,
                        address: str = Query(min_length=1, max_length=500)) -> dict:
    """What the platform reads from address text: the finest place, its path, how sure."""
    places = request.app.state.ref.places
    found = places.resolve(address)
    path = places.place(found.code) if found.code else None
    point = places.point_of(found.code) if found.code else None
    return {"address": address, **found.as_dict(),
            "path": path.as_list() if path else [],
            "point": {"lat": point[0], "lon": point[1]} if point else None,
            "territory_version": places.territory.version}
