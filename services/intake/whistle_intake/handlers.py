"""Use cases of intake: accept an incident, follow its case."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from prometheus_client import Counter
from whistle_common.consumer import Incoming
from whistle_common.envelope import new_event
from whistle_common.topics import INCIDENTS_RECEIVED
from whistle_common.usecase import Conflict, NotFound, register

from .adapters.model_store import ClassifierHolder
from .adapters.phones import normalize_cn_phone
from .domain import incident as rules
from .schemas import IncidentCreate, LocationIn

if TYPE_CHECKING:  # handlers see a unit's interface; which adapter it is, main.py decides
    from .adapters.uow import PgIntakeUnitOfWork as UnitOfWork

SOURCE = "/whistle/intake"
SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED = Counter("whistle_incidents_received_total", "Incidents accepted", ["source", "kind"])
REPLAYED = Counter("whistle_incidents_replayed_total", "Idempotent replays answered", ["source"])
for _source in ("hotline", "grid", "resident"):
    for _kind in ("complaint", "request", "report", "service_order"):
        RECEIVED.labels(_source, _kind)
CLASSIFIED = Counter("whistle_classifications_total", "Category decisions",
                     ["outcome", "category"])
CORRECTIONS_STORED = Counter("whistle_classification_corrections_stored_total",
                             "Labelled examples stored from a person's category choice")


@dataclass(frozen=True)
class Reference:
    """Read-only data the handlers need: catalogue, places (territory, its polygons and
    gazetteer) and classifier."""

    catalogue: object
    places: object
    classifier: ClassifierHolder


class IdempotencyConflict(Conflict):
    """Same idempotency key, different request."""

    slug, title = "idempotency-conflict", "Idempotency key reused"


register(rules.IncidentInvalid, 422, detail=lambda exc: exc.detail)


@dataclass(frozen=True)
class SubmitIncident:
    """An incident as a caller sent it, at the moment intake took it."""

    draft: IncidentCreate
    now: datetime


@dataclass(frozen=True)
class Outcome:
    """The stored incident (as a mapping) and whether this call created it."""

    created: bool
    row: Mapping[str, Any]


async def submit_incident(ref: Reference, uow: UnitOfWork, command: SubmitIncident) -> Outcome:
    """Validate, classify, store and announce an incident exactly once per (source, external_id)."""
    draft, now = command.draft, command.now
    request_hash = rules.fingerprint(draft.model_dump(mode="json"))
    try:
        row = _prepare(draft, ref=ref, now=now, request_hash=request_hash)
    except rules.IncidentInvalid:
        # a replay is answered as the first time even if the rules changed since
        existing = await uow.incidents.find_by_key(draft.source, draft.external_id)
        if existing is None:
            raise
        return _replay(existing, request_hash)
    row["tracking_no"] = rules.tracking_number(now.astimezone(SHANGHAI),
                                               await uow.incidents.next_sequence())
    if not await uow.incidents.insert_incident(row):
        existing = await uow.incidents.find_by_key(draft.source, draft.external_id)
        return _replay(existing, request_hash)
    await uow.outbox.add(INCIDENTS_RECEIVED, _received_event(row, ref, now))
    RECEIVED.labels(draft.source, draft.kind).inc()
    CLASSIFIED.labels(row["classification"]["outcome"], row["category"]).inc()
    return Outcome(True, {**row, "status": "received"})


def _replay(existing: Mapping[str, Any], request_hash: str) -> Outcome:
    if existing["request_hash"] != request_hash:
        raise IdempotencyConflict(f"external_id {existing['external_id']!r} of source "
                       f"{existing['source']!r} was used for a different request")
    REPLAYED.labels(existing["source"]).inc()
    return Outcome(False, existing)


def _prepare(draft: IncidentCreate, *, ref: Reference, now: datetime, request_hash: str) -> dict:
    description = rules.check_description(draft.description)
    rules.check_occurred_at(draft.occurred_at, now)
    loc = draft.location or LocationIn()
    where = rules.resolve_location(
        grid_code=loc.grid_code, address_id=loc.place_code, lat=loc.lat, lon=loc.lon,
        crs=loc.crs, address=loc.address, text=description, places=ref.places)
    category = rules.check_category(draft.category, ref.catalogue)
    if draft.kind == "service_order" and category is None:
        category = "service_order"
    if category is not None:
        classification = {"outcome": "given", "confidence": 1.0, "needs_triage": False,
                          "method": "given", "rule": None, "suggestions": [],
                          "model_version": ref.classifier.version}
    else:
        category, classification = _classify(ref.classifier, description)
    priority = draft.priority or ref.catalogue.category(category).priority
    return {
        "id": uuid.uuid4(), "source": draft.source, "external_id": draft.external_id,
        "request_hash": request_hash, "kind": draft.kind, "category": category,
        "classification": classification, "priority": priority, "description": description,
        "grid_code": where.grid_code, "location": _location(where, ref),
        "reporter": {"name": draft.reporter.name,
                     "phone": normalize_cn_phone(draft.reporter.phone)},
        "media_urls": draft.media_urls, "occurred_at": draft.occurred_at, "received_at": now,
    }


def _location(where: rules.ResolvedLocation, ref: Reference) -> dict[str, Any]:
    """The location as stored and announced: the place found, its path, and how."""
    path = ref.places.place(where.place_code) if where.routable else None
    return {"grid_code": where.grid_code, "place_code": where.place_code if path else None,
            "level": where.level, "lat": where.lat, "lon": where.lon, "address": where.address,
            "resolved_by": where.resolved_by, "confidence": where.confidence,
            "note": where.note or None, "path": path.as_list() if path else [],
            "territory_version": ref.places.territory.version}


def _classify(classifier: ClassifierHolder, description: str) -> tuple[str, dict]:
    """The category guessed from the text, and the record of how sure the guess is."""
    found = classifier.classify(description)
    outcome = "triage" if found.needs_triage else "classified"
    return found.category, {
        "outcome": outcome, "confidence": found.confidence, "needs_triage": found.needs_triage,
        "department_confidence": found.department_confidence, "method": found.method,
        "rule": found.rule, "matched": list(found.matched),
        "suggestions": [s.as_dict() for s in found.suggestions],
        "model_version": found.model_version or classifier.version}


def _received_event(row: dict, ref: Reference, now: datetime):
    incident_id = str(row["id"])
    data = {
        "incident_id": incident_id, "tracking_no": row["tracking_no"], "source": row["source"],
        "external_id": row["external_id"], "kind": row["kind"], "category": row["category"],
        "classification": row["classification"], "priority": row["priority"],
        "description": row["description"], "location": row["location"],
        "reporter": row["reporter"], "media_urls": row["media_urls"],
        "occurred_at": row["occurred_at"].isoformat() if row["occurred_at"] else None,
        "received_at": row["received_at"].isoformat(),
        "catalogue_version": ref.catalogue.version,
        "needs_triage": bool(row["classification"]["needs_triage"]
                             or row["location"]["level"] not in rules.ROUTABLE),
        "triage_reasons": [reason for reason, due in (
            ("category", row["classification"]["needs_triage"]),
            ("location", row["location"]["level"] not in rules.ROUTABLE)) if due],
        "suggestions": row["classification"]["suggestions"],
        "model_version": row["classification"]["model_version"],
    }
    return new_event("incident.received.v1", source=SOURCE, subject=incident_id, data=data,
                     now=now)


@dataclass(frozen=True)
class IncidentView:
    """An incident as the hotline sees it, with its timeline."""

    row: Mapping[str, Any]
    timeline: list[dict]


async def incident_view(uow: UnitOfWork, incident_id: str) -> IncidentView:
    row = await uow.incidents.get(incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return IncidentView(row, await uow.incidents.timeline(row["id"]))


@dataclass(frozen=True)
class SearchRequests:
    """Open311 search: by ids, else by service code and reception time."""

    ids: tuple[str, ...] = ()
    category: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 1000
    offset: int = 0  # paging: skip this many (newest first)
    statuses: tuple[str, ...] = ()  # any of these statuses; () for all


async def search_incidents(uow: UnitOfWork, query: SearchRequests) -> list[Mapping[str, Any]]:
    if query.ids:
        found = [await uow.incidents.get(i) for i in query.ids]
        rows = [row for row in found if row is not None
                and (not query.statuses or row["status"] in query.statuses)]
        return rows[query.offset:query.offset + query.limit]
    return await uow.incidents.search(source=None, category=query.category, status=None,
                                      start=query.start, end=query.end, limit=query.limit,
                                      offset=query.offset, statuses=query.statuses)


async def on_case_event(uow: UnitOfWork, msg: Incoming) -> None:
    """Keep the hotline-facing status and timeline current from cases.events, for the case's
    own incident and every incident merged into it (并单).

    A merge is news for the call that joined only: the others' status does not change, and a
    timeline entry on each of them for every further caller made a case of n callers cost
    n²/2 rows and updates (30 of each a call under a 20/s hotline load with merging on)."""
    env = msg.envelope
    if env.type == "case.merged.v1" and env.data.get("merged_incident_id"):
        await _joined(uow, env, str(env.data["merged_incident_id"]))
        return
    ids = [env.data.get("incident_id"), *(env.data.get("linked_incidents") or [])]
    for incident_id in dict.fromkeys(i for i in ids if i):
        await _follow(uow, env, incident_id, env.type)


async def _follow(uow: UnitOfWork, env: Any, incident_id: str, event_type: str,
                  status: str | None = None) -> None:
    current = await uow.incidents.status_of(incident_id)
    if current is None:
        return  # a case of an incident this intake never stored (another city's intake)
    expected = (env.data.get("deadlines") or {}).get("resolve_by")
    note = env.data.get("note") or env.data.get("reason") or env.data.get("result")
    await uow.incidents.follow(
        incident_id, status=status or rules.status_after(current, event_type),
        case_id=env.subject, agency=env.data.get("lead"),
        expected_at=datetime.fromisoformat(expected) if expected else None, at=env.time,
        event_type=env.type, note=json.dumps(note, ensure_ascii=False)[1:-1] if note else None)


async def _joined(uow: UnitOfWork, env: Any, incident_id: str) -> None:
    """An incident merged into an open case takes on the case's status and id."""
    current = await uow.incidents.status_of(incident_id)
    if current is None:
        return
    await _follow(uow, env, incident_id, env.type,
                  rules.status_of_case(env.data.get("status"), current))


async def on_correction(uow: UnitOfWork, msg: Incoming) -> None:
    """classification.corrected.v1 → a labelled example (the incident's text, the chosen
    category), stored once per event for the next retrain."""
    env = msg.envelope
    row = await uow.incidents.get(str(env.data.get("incident_id") or ""))
    if row is None:
        return  # an incident this intake never stored
    stored = await uow.incidents.insert_correction({
        "event_id": env.id, "incident_id": row["id"], "case_id": env.subject,
        "text": row["description"], "from_category": str(env.data.get("from_category")),
        "to_category": str(env.data.get("to_category")),
        "confirmed": bool(env.data.get("confirmed")), "reason": str(env.data.get("reason")),
        "corrected_by": str(env.data.get("by")), "model_version": env.data.get("model_version"),
        "corrected_at": env.time})
    if stored:
        CORRECTIONS_STORED.inc()
    await on_case_event(uow, msg)
