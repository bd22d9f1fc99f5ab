"""HTTP API of dispatch: decode, call a handler, encode."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from whistle_common.auth import Principal, authenticate, authenticated, require
from whistle_common.problems import ProblemError
from whistle_common.usecase import run_use_case

from .. import handlers
from ..domain.case import Case
from ..schemas import (
    AssignCreate,
    ExtensionDecision,
    RatingCreate,
    ReportCreate,
    SplitCreate,
    WhistleCreate,
)

router = APIRouter(prefix="/v1", tags=["dispatch"])
Caller = Annotated[Principal, Depends(authenticated)]


async def street_office_or_operator(request: Request) -> Principal:
    """Who supervises cases: an operator, the district's street office (dept:street_office),
    or a street's office (street:<code>) for its own street's cases."""
    caller = authenticate(request)
    if not (caller.is_operator or "street_office" in caller.departments() or caller.streets()):
        raise ProblemError(403, "forbidden", "Forbidden",
                           "needs operator, the street office or a street:<code> scope")
    return caller


def own_streets(caller: Principal) -> frozenset[str] | None:
    """The streets a caller may act on; None: every street."""
    if caller.is_operator or "street_office" in caller.departments():
        return None
    return frozenset(caller.streets())


Supervisor = Annotated[Principal, Depends(street_office_or_operator)]


def _ctx(request: Request) -> handlers.Context:
    return request.app.state.ctx


def _may_read_all(p: Principal) -> bool:
    return p.is_operator or p.has("incidents:read")


def _view(case: Case, timeline: list[dict] | None = None) -> dict:
    lead = case.lead
    body = {
        "case_id": case.id, "incident_id": case.incident_id, "status": case.status,
        "category": case.category, "kind": case.kind, "priority": case.priority,
        "tracking_no": case.facts.get("tracking_no"), "description": case.facts["description"],
        "location": {"path": case.facts["path"], "address": case.facts.get("address")},
        "reporter_phone": case.facts.get("reporter_phone_masked"),
        "lead": lead.dept if lead else None, "returns": case.returns,
        "reopens": case.reopens, "rating": case.rating,
        "suggestions": case.facts.get("suggestions", []),
        "classified_as": case.facts.get("classified_as"),
        "model_version": case.facts.get("model_version"),
        "deadlines": {"ack_by": lead.ack_by, "resolve_by": lead.resolve_by} if lead else None,
        "assignments": [{"dept": a.dept, "role": a.role, "status": a.status,
                         "ordered_at": a.ordered_at, "ack_by": a.ack_by,
                         "resolve_by": a.resolve_by, "acknowledged_at": a.acknowledged_at,
                         "resolved_at": a.resolved_at, "result": a.result,
                         "extension_requested_hours": a.extension_requested_hours,
                         "escalations": a.escalations}
                        for a in case.assignments],
        "created_at": case.created_at,
        "callers": case.callers,
        "linked_incidents": [
            {"incident_id": i["incident_id"], "tracking_no": i.get("tracking_no"),
             "description": i.get("description"), "address": i.get("address"),
             "received_at": i.get("received_at"), "reporter_phone":
             i.get("reporter_phone_masked"), "score": i.get("score"),
             "reasons": i.get("reasons"), "merged_at": i.get("merged_at")}
            for i in case.linked],
        "split_from": case.facts.get("split_from"),
    }
    if timeline is not None:
        body["timeline"] = timeline
    return body


async def _run(request: Request, handler, command):
    """Run a use case with the service's context on a fresh unit of work."""
    return await run_use_case(request.app.state.runtime.uow,
                              partial(handler, _ctx(request)), command)


@router.get("/cases/{case_id}")
async def get_case(case_id: str, request: Request, caller: Caller) -> dict:
    """A case with assignments, deadlines and its full timeline."""
    case, timeline = await run_use_case(request.app.state.runtime.uow, handlers.get_case,
                                        handlers.CaseRef(case_id))
    mine = caller.departments() & {a.dept for a in case.assignments} or \
        case.facts.get("street") in caller.streets()
    if not (_may_read_all(caller) or mine):
        raise ProblemError(403, "forbidden", "Forbidden",
                           "this case was not dispatched to you nor is it in your street")
    return _view(case, timeline)


@router.get("/cases")
async def list_cases(request: Request, caller: Caller, status: str | None = None,
                     dept: str | None = None, street: str | None = None,
                     overdue: bool = False, limit: int = Query(50, ge=1, le=500),
                     cursor: str | None = None) -> dict:
    """Cases newest first; a department sees only its own, a street office its street's.
    `cursor` comes from `next`."""
    streets = caller.streets()
    if not _may_read_all(caller) and streets and not caller.departments():
        if street is not None and street not in streets:
            raise ProblemError(403, "forbidden", "Forbidden",
                               f"you may not list street {street}'s cases")
        street = street or sorted(streets)[0]
    elif not _may_read_all(caller):
        own = caller.departments()
        if not own:
            raise ProblemError(403, "forbidden", "Forbidden", "needs operator or dept scope")
        if dept is not None and dept not in own:
            raise ProblemError(403, "forbidden", "Forbidden", f"you may not list {dept}'s cases")
        dept = dept or sorted(own)[0]
    query = handlers.CaseQuery(status=status, dept=dept, street=street, overdue=overdue,
                               limit=limit, before=_decode_cursor(cursor))
    items = await run_use_case(request.app.state.runtime.uow, handlers.list_cases, query)
    nxt = (f"{items[-1]['created_at'].isoformat()}|{items[-1]['case_id']}"
           if len(items) == limit else None)
    return {"items": items, "next": nxt}


def _decode_cursor(cursor: str | None):
    if not cursor:
        return None
    try:
        at, _, ident = cursor.partition("|")
        return datetime.fromisoformat(at), uuid.UUID(ident)
    except ValueError as exc:
        raise ProblemError(400, "bad-cursor", "Bad cursor", "use the `next` value as is") from exc


@router.post("/cases/{case_id}/reports")
async def post_report(case_id: str, body: ReportCreate, request: Request, caller: Caller) -> dict:
    """A department reports on a case dispatched to it (scope dept:<code>)."""
    depts = caller.departments()
    if not depts:
        raise ProblemError(403, "forbidden", "Forbidden", "needs a dept:<code> scope")
    dept = body.dept or (next(iter(depts)) if len(depts) == 1 else None)
    if dept is None or dept not in depts:
        raise ProblemError(403, "forbidden", "Forbidden", "report as one of your departments")
    report = handlers.Report(case_id, dept, body.model_dump(exclude_none=True), channel="http")
    return _view(await _run(request, handlers.apply_report, report))


@router.post("/cases/{case_id}/whistle")
async def post_whistle(case_id: str, body: WhistleCreate, request: Request,
                       caller: Supervisor) -> dict:
    """The street office or an operator summons more departments (吹哨)."""
    case, added = await _run(request, handlers.whistle,
                             handlers.Whistle(case_id, tuple(body.departments), body.reason,
                                              streets=own_streets(caller)))
    return {**_view(case), "summoned": added}


@router.post("/cases/{case_id}/assign")
async def post_assign(case_id: str, body: AssignCreate, request: Request,
                      caller: Supervisor) -> dict:
    """A person routes a case: triage, after returns, or a category change (an operator, or
    a street office on its street's cases)."""
    return _view(await _run(request, handlers.assign, handlers.Assign(
        case_id, dept=body.dept, category=body.category, by=caller.client, learn=body.learn,
        place=body.place, streets=own_streets(caller))))


@router.post("/cases/{case_id}/split")
async def post_split(case_id: str, body: SplitCreate, request: Request,
                     caller: Supervisor) -> dict:
    """Undo a wrong merge (并单): the incident leaves the case and is dispatched as a case of
    its own. Answers the case it left and the new one."""
    case, new = await _run(request, handlers.split, handlers.Split(
        case_id, body.incident_id, by=caller.client, streets=own_streets(caller)))
    return {**_view(case), "split": _view(new)}


@router.post("/cases/{case_id}/rating")
async def post_rating(case_id: str, body: RatingCreate, request: Request,
                      _: Annotated[Principal, Depends(require("incidents:write"))]) -> dict:
    """The hotline's call-back rating; unsatisfied reopens the case (重办)."""
    return _view(await _run(request, handlers.rate,
                            handlers.Rate(case_id, body.rating, body.comment)))


@router.post("/cases/{case_id}/extensions")
async def post_extension_decision(case_id: str, body: ExtensionDecision, request: Request,
                                  caller: Supervisor) -> dict:
    """The street office (operator) approves or refuses an extension request."""
    return _view(await _run(request, handlers.decide_extension, handlers.DecideExtension(
        case_id, dept=body.dept, approve=body.approve, by=caller.client, hours=body.hours,
        note=body.note, streets=own_streets(caller))))


@router.get("/me")
async def me(caller: Caller) -> dict:
    """Who the token is and what it may do here (the console signs people in with it)."""
    return {"client": caller.client, "scopes": sorted(caller.scopes),
            "operator": caller.is_operator, "departments": sorted(caller.departments()),
            "streets": sorted(caller.streets()),
            "street_office": "street_office" in caller.departments()}


@router.get("/departments")
async def departments(request: Request) -> list[dict]:
    """The departments orders go to, with their topics."""
    from whistle_common.topics import orders_topic

    return [{"code": d.code, "name": d.name, "level": d.level, "duty": d.duty,
             "topic": orders_topic(d.code)}
            for d in _ctx(request).catalogue.departments.values()]


@router.get("/grids/{grid_code}")
async def grid(grid_code: str, request: Request) -> dict:
    """A grid's five-level path (city–district–street–community–grid)."""
    path = _ctx(request).territory.path(grid_code)
    if path is None:
        raise ProblemError(404, "not-found", "Not found", f"no grid {grid_code}")
    return {"grid_code": grid_code, "path": path.as_list(), "street_kind": path.street_kind,
            "street_has_enforcement_team": path.street_has_enforcement_team}
