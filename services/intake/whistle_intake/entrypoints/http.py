"""HTTP API of intake: decode, call a handler, encode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from whistle_common.auth import Principal, require
from whistle_common.db import UNAVAILABLE
from whistle_common.problems import ProblemError

from .. import handlers
from ..adapters import repository as repo
from ..domain.incident import IncidentInvalid
from ..schemas import IncidentAccepted, IncidentCreate, IncidentRead, TimelineEntry

router = APIRouter(prefix="/v1", tags=["intake"])
Writer = Annotated[Principal, Depends(require("incidents:write"))]
Reader = Annotated[Principal, Depends(require("incidents:read"))]
DB_DOWN = UNAVAILABLE

PROBLEMS = {422: {"description": "validation problem (application/problem+json)"},
            429: {"description": "over the client's rate; retry after the given seconds"},
            409: {"description": "same idempotency key, different body"},
            503: {"description": "storage unavailable; retry after the given seconds"}}


def unavailable() -> ProblemError:
    return ProblemError(503, "unavailable", "Service unavailable",
                        "incident storage is unavailable; nothing was stored",
                        headers={"Retry-After": "5"})


async def accept(request: Request, draft: IncidentCreate, client: str) -> handlers.Outcome:
    """Run submit_incident, mapping domain and storage failures to problem details."""
    request.app.state.buckets.check(client)
    runtime = request.app.state.runtime
    try:
        return await handlers.submit_incident(runtime.db(), draft, ref=request.app.state.ref,
                                              now=datetime.now(UTC))
    except IncidentInvalid as exc:
        raise ProblemError(422, exc.slug, exc.slug.replace("-", " ").capitalize(),
                           exc.detail) from exc
    except handlers.Conflict as exc:
        raise ProblemError(409, "idempotency-conflict", "Idempotency key reused",
                           str(exc)) from exc
    except DB_DOWN as exc:
        raise unavailable() from exc


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
                            classification=found)


@router.get("/incidents/{incident_id}", response_model=IncidentRead)
async def get_incident(incident_id: str, request: Request, _: Reader) -> IncidentRead:
    """Status and timeline as seen from the hotline."""
    try:
        async with request.app.state.runtime.db().acquire() as conn:
            row = await repo.get(conn, incident_id)
            if row is None:
                raise ProblemError(404, "not-found", "Not found", f"no incident {incident_id}")
            entries = await repo.timeline(conn, row["id"])
    except DB_DOWN as exc:
        raise unavailable() from exc
    return IncidentRead(
        incident_id=str(row["id"]), tracking_no=row["tracking_no"], source=row["source"],
        kind=row["kind"], category=row["category"], priority=row["priority"],
        status=row["status"], description=row["description"], grid_code=row["grid_code"],
        received_at=row["received_at"], case_id=row["case_id"], agency=row["agency"],
        expected_at=row["expected_at"],
        timeline=[TimelineEntry(**dict(e)) for e in entries])


@router.get("/categories")
async def categories(request: Request) -> dict:
    """The dispatch catalogue (派单目录), with its version."""
    return request.app.state.ref.catalogue.as_dict()


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value
