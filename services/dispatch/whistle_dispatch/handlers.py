"""Use cases of dispatch: open cases, apply department reports, whistle, assign."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from prometheus_client import Counter, Histogram
from whistle_common.consumer import Incoming, Rejected
from whistle_common.envelope import new_event
from whistle_common.outbox import enqueue_many
from whistle_common.signing import SENDER_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from whistle_common.topics import CASES_EVENTS, EVENT_TYPES, orders_topic

from .adapters import repository as repo
from .domain import deadlines as dl
from .domain.case import Case, DomainEvent, IllegalTransition
from .domain.privacy import mask_phone
from .domain.routing import Routing, route
from .domain.supervision import Policy, next_due, stage_name, still_pending

SOURCE = "/whistle/dispatch"
DISPATCH_LATENCY = Histogram(
    "whistle_dispatch_latency_seconds", "Incident received → order on a department topic",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
ACK_SECONDS = Histogram("whistle_department_ack_seconds", "Order → acknowledgement (报到)",
                        ["dept"], buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800,
                                           86400, 172800, 345600))
REPORTS = Counter("whistle_reports_total", "Department reports", ["kind", "channel", "outcome"])
REJECTED = Counter("whistle_reports_rejected_total", "Reports refused", ["reason"])
RETURNS = Counter("whistle_returns_total", "Cases returned (退单)", ["role"])
ESCALATIONS = Counter("whistle_escalations_total", "Escalations (督办) by level", ["level"])
OVERDUE = Counter("whistle_overdue_total", "Deadlines missed", ["deadline"])
REOPENS = Counter("whistle_reopens_total", "Cases reopened after an unsatisfied rating")
CLOSED = Counter("whistle_cases_closed_total", "Cases closed", ["reason"])
RESOLVED = Counter("whistle_cases_resolved_total", "Cases resolved (办结)")
TRIAGED = Counter("whistle_cases_triage_total", "Cases queued for a person to choose the category")
CORRECTIONS = Counter("whistle_classification_corrections_total",
                      "Category choices by a person, by why they were made", ["reason"])
for _reason in ("triage", "return", "change"):
    CORRECTIONS.labels(_reason)
for _level in ("street", "district", "city"):
    ESCALATIONS.labels(_level)
for _deadline in ("ack", "resolve"):
    OVERDUE.labels(_deadline)
for _role in ("lead", "co"):
    RETURNS.labels(_role)


@dataclass(frozen=True)
class Context:
    """Reference data and policy the handlers need."""

    catalogue: Any
    territory: Any
    is_workday: dl.IsWorkday
    secrets: dict[str, str]
    max_returns: int = 2
    time_scale: float = 1.0
    policy: Policy = Policy({"street": 7200, "district": 14400, "city": 28800})
    autoclose_seconds: float = 7 * 86400


class NotFound(LookupError):
    """No such case."""


def case_deadlines(ctx: Context, category: str, priority: str, now: datetime) -> dl.Deadlines:
    computed = dl.compute(ctx.catalogue.category(category).deadlines, priority, now,
                          ctx.is_workday)
    return dl.scaled(computed, now, ctx.time_scale)


async def on_incident(ctx: Context, conn: asyncpg.Connection, msg: Incoming) -> None:
    """incident.received.v1 → one case, dispatched to its departments (idempotent)."""
    data = msg.envelope.data
    incident_id = msg.envelope.subject
    if await repo.exists_for_incident(conn, incident_id):
        return  # the same incident under another event id: still one case
    category = data.get("category")
    if ctx.catalogue.category(category) is None:
        raise Rejected(f"unknown category {category!r}", "invalid-incident")
    path = ctx.territory.path((data.get("location") or {}).get("grid_code") or "")
    if path is None:
        raise Rejected("incident has no known grid_code", "invalid-incident")
    now = datetime.now(UTC)
    leaf = ctx.catalogue.category(category)
    category = leaf.code  # an alias of an older catalogue version names its leaf
    kind = data.get("kind", "complaint")
    routing = route(leaf, path.facts(), list(ctx.catalogue.place_rules), kind=kind)
    priority = data.get("priority") or leaf.priority
    reporter = data.get("reporter") or {}
    classification = data.get("classification") or {}
    facts = {
        "path": path.as_list(), "street": path.street.code, "district": path.district.code,
        "community": path.community.code, "grid_code": path.grid.code,
        "description": data.get("description", ""),
        "address": (data.get("location") or {}).get("address"),
        "tracking_no": data.get("tracking_no"), "received_at": data.get("received_at")
        or msg.envelope.time.isoformat(), "reporter_phone": reporter.get("phone"),
        "reporter_phone_masked": mask_phone(reporter.get("phone")),
        "category_name": leaf.name, "classified_as": category,
        "catalogue_version": ctx.catalogue.version, "source": data.get("source"),
        "suggestions": data.get("suggestions") or classification.get("suggestions") or [],
        "confidence": classification.get("confidence"),
        "model_version": data.get("model_version") or classification.get("model_version"),
    }
    if data.get("needs_triage") and kind != "service_order":
        case = Case.open_for_triage(case_id=str(uuid.uuid4()), incident_id=incident_id,
                                    category=category, kind=kind, priority=priority,
                                    resolution=leaf.resolution, facts=facts, now=now)
        await _commit(ctx, conn, case, now)
        TRIAGED.inc()
        return
    case = Case.open(case_id=str(uuid.uuid4()), incident_id=incident_id, category=category,
                     kind=kind, priority=priority, routing=routing,
                     deadlines=case_deadlines(ctx, category, priority, now), facts=facts, now=now)
    await _commit(ctx, conn, case, now)
    received = datetime.fromisoformat(facts["received_at"])
    DISPATCH_LATENCY.observe(max(0.0, (now - received).total_seconds()))


async def on_report(ctx: Context, conn: asyncpg.Connection, msg: Incoming) -> None:
    """dispatch.reported.v1 from Kafka: signed by the reporting department, else rejected."""
    headers = {k.lower(): v.decode(errors="replace") for k, v in msg.headers.items()}
    dept = headers.get(SENDER_HEADER, "")
    data = msg.envelope.data
    secret = ctx.secrets.get(dept)
    if not headers.get(SIGNATURE_HEADER) or not dept:
        problem = "unsigned"
    elif secret is None:
        problem = f"unknown department {dept[:40]!r}"
    else:
        problem = verify(secret, headers.get(TIMESTAMP_HEADER, ""), msg.value or b"",
                         headers[SIGNATURE_HEADER])
    if problem is None and data.get("dept") != dept:
        problem = "signed by a department other than the one reporting"
    if problem is not None:
        REJECTED.labels("signature").inc()
        REPORTS.labels(str(data.get("kind", "?"))[:24], "kafka", "rejected").inc()
        raise Rejected(f"report refused: {problem}", "unauthenticated")
    try:
        await apply_report(ctx, conn, msg.envelope.subject, dept, data, channel="kafka")
    except (IllegalTransition, NotFound) as exc:
        raise Rejected(str(exc), "illegal-transition") from exc


async def apply_report(ctx: Context, conn: asyncpg.Connection, case_id: str, dept: str,
                       data: dict[str, Any], *, channel: str) -> Case:
    """Apply one department report under a row lock; IllegalTransition leaves the case as is."""
    kind = str(data.get("kind", ""))
    case = await repo.load(conn, case_id, for_update=True)
    if case is None:
        REJECTED.labels("unknown-case").inc()
        raise NotFound(f"no case {case_id}")
    now = datetime.now(UTC)
    try:
        candidates = tuple(ctx.catalogue.return_candidates.get(case.category, ()))
        case.report(dept, kind, now, result=data.get("result"), reason=data.get("reason"),
                    extension_hours=data.get("extension_hours"), candidates=candidates,
                    max_returns=ctx.max_returns,
                    deadlines=case_deadlines(ctx, case.category, case.priority, now))
    except IllegalTransition:
        REJECTED.labels("not-assigned" if case.assignment(dept) is None else "transition").inc()
        REPORTS.labels(kind[:24], channel, "rejected").inc()
        raise
    events = await _commit(ctx, conn, case, now)
    REPORTS.labels(kind, channel, "applied").inc()
    for event in events:
        if event.type == "case.acknowledged.v1":
            ACK_SECONDS.labels(event.data["dept"]).observe(event.data["ack_seconds"])
        if event.type == "case.returned.v1":
            RETURNS.labels(event.data["role"]).inc()
    return case


async def whistle(ctx: Context, conn: asyncpg.Connection, case_id: str, depts: list[str],
                  reason: str) -> tuple[Case, list[str]]:
    """Summon more departments onto a case (吹哨)."""
    case = await _locked(conn, case_id)
    unknown = [d for d in depts if d not in ctx.catalogue.departments]
    if unknown:
        raise IllegalTransition(f"unknown departments {unknown}")
    now = datetime.now(UTC)
    added = case.summon(depts, case_deadlines(ctx, case.category, case.priority, now), now,
                        reason=reason)
    await _commit(ctx, conn, case, now)
    return case, added


async def assign(ctx: Context, conn: asyncpg.Connection, case_id: str, *, dept: str | None,
                 category: str | None, by: str, learn: bool = True) -> Case:
    """A person routes a case: by category (its departments) or by lead department.

    On a case in triage, after returns (退单) or when the category changes, the choice is a
    labelled example (`classification.corrected.v1`) the classifier learns from.
    """
    case = await _locked(conn, case_id)
    now = datetime.now(UTC)
    if dept is not None and dept not in ctx.catalogue.departments:
        raise IllegalTransition(f"unknown department {dept!r}")
    if category is not None and ctx.catalogue.category(category) is None:
        raise IllegalTransition(f"unknown category {category!r}")
    if category is None and (case.status == "triage" or case.returns):
        category = category_led_by(ctx.catalogue, dept, case.facts.get("suggestions", []))
    if category is not None:
        leaf = ctx.catalogue.category(category)
        path = ctx.territory.path(case.facts["grid_code"])
        routing = route(leaf, path.facts(), list(ctx.catalogue.place_rules), kind=case.kind)
        if dept is not None and dept != routing.lead:
            routing = Routing(dept, tuple(c for c in routing.co if c != dept), leaf.resolution)
        reason = "return" if case.returns else "change"
        case.reclassify(leaf.code, routing,
                        case_deadlines(ctx, leaf.code, case.priority, now), now, by=by,
                        resolution=leaf.resolution, reason=reason, learn=learn)
    else:
        case.assign(dept, case_deadlines(ctx, case.category, case.priority, now), now, by=by)
    events = await _commit(ctx, conn, case, now)
    for event in events:
        if event.type == "classification.corrected.v1":
            CORRECTIONS.labels(event.data["reason"]).inc()
    return case


def category_led_by(catalogue: Any, dept: str, suggestions: list[dict]) -> str:
    """The category a department stands for: the best suggestion it leads, else its first."""
    for suggestion in suggestions:
        leaf = catalogue.category(suggestion.get("category", ""))
        if leaf is not None and leaf.lead == dept:
            return leaf.code
    for leaf in catalogue.categories.values():
        if leaf.lead == dept:
            return leaf.code
    raise IllegalTransition(f"{dept} leads no category: choose a category")


async def rate(ctx: Context, conn: asyncpg.Connection, case_id: str, rating: str,
               comment: str | None) -> Case:
    """The call-back rating (回访); unsatisfied reopens to the same lead (重办)."""
    case = await _locked(conn, case_id)
    now = datetime.now(UTC)
    case.rate(rating, now, comment=comment,
              deadlines=case_deadlines(ctx, case.category, case.priority, now))
    events = await _commit(ctx, conn, case, now)
    if any(e.type == "case.reopened.v1" for e in events):
        REOPENS.inc()
    if any(e.type == "case.closed.v1" for e in events):
        CLOSED.labels("rated").inc()
    return case


async def decide_extension(ctx: Context, conn: asyncpg.Connection, case_id: str, *, dept: str,
                           approve: bool, hours: int | None, note: str | None, by: str) -> Case:
    """The street office's decision on an extension request (延期)."""
    case = await _locked(conn, case_id)
    now = datetime.now(UTC)
    case.decide_extension(dept, approve, now, by=by, hours=hours, note=note)
    await _commit(ctx, conn, case, now)
    if approve:
        seq = case.assignments.index(case.assignment(dept))
        await repo.reschedule(conn, case.id, seq, "resolve", case.assignments[seq].resolve_by)
    return case


async def sweep(ctx: Context, pool: asyncpg.Pool, *, limit: int = 200) -> int:
    """Fire every due supervision stage once; safe with any number of workers."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        due = await conn.fetch(
            "SELECT case_id::text AS case_id, seq, kind FROM supervision WHERE due_at <= $1 "
            "ORDER BY due_at LIMIT $2", now, limit)
    fired = 0
    for item in due:
        async with pool.acquire() as conn, conn.transaction():
            fired += await _fire(ctx, conn, item, now)
    return fired


async def _fire(ctx: Context, conn: asyncpg.Connection, item, now: datetime) -> int:
    row = await conn.fetchrow(
        """SELECT case_id::text AS case_id, seq, kind, stage, due_at FROM supervision
           WHERE case_id=$1::uuid AND seq=$2 AND kind=$3 AND due_at <= $4
           FOR UPDATE SKIP LOCKED""", item["case_id"], item["seq"], item["kind"], now)
    if row is None:
        return 0  # another worker fired it, or holds it right now
    # never wait for a case lock here: a report in flight holds it; try again next tick
    doc = await conn.fetchval("SELECT doc FROM cases WHERE id=$1::uuid FOR UPDATE SKIP LOCKED",
                              row["case_id"])
    if doc is None:
        return 0
    case = await repo.load(conn, row["case_id"])
    if row["kind"] == "autoclose":
        if case.status == "resolved":
            case.close(now, reason="not rated in time")
            await _commit(ctx, conn, case, now)
            CLOSED.labels("unrated").inc()
        await repo.advance(conn, row, None)
        return 1
    assignment = case.assignments[row["seq"]]
    if not still_pending(row["kind"], assignment.status):
        await repo.advance(conn, row, None)
        return 0
    stage = stage_name(row["stage"])
    case.supervise(row["seq"], row["kind"], stage, now)
    await _commit(ctx, conn, case, now)
    await repo.advance(conn, row, next_due(row["stage"], row["due_at"], ctx.policy))
    if stage == "overdue":
        OVERDUE.labels(row["kind"]).inc()
    else:
        ESCALATIONS.labels(stage).inc()
    return 1


async def _locked(conn: asyncpg.Connection, case_id: str) -> Case:
    case = await repo.load(conn, case_id, for_update=True)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


async def _commit(ctx: Context, conn: asyncpg.Connection, case: Case,
                  now: datetime) -> list[DomainEvent]:
    """Save the case and put its new events in the outbox, in the caller's transaction."""
    events = case.take_events()
    await repo.save(conn, case, events, now)
    autoclose_at = None
    if case.status == "resolved" and case.resolved_at is not None:
        autoclose_at = case.resolved_at + timedelta(seconds=ctx.autoclose_seconds)
    await repo.sync_supervision(conn, case, autoclose_at)
    RESOLVED.inc(sum(1 for e in events if e.type == "case.resolved.v1"))
    await enqueue_many(conn, [item for e in events if (item := _envelope(case, e, now))])
    return events


def _envelope(case: Case, event: DomainEvent, now: datetime):
    """Route a domain event: case.* to cases.events, orders to the department's topic."""
    if event.type in EVENT_TYPES[CASES_EVENTS]:
        data = _case_view(case) | event.data
        if event.type == "case.created.v1":
            data["reporter"] = {"phone": case.facts.get("reporter_phone")}
            data["description"] = case.facts.get("description")
        env = new_event(event.type, source=SOURCE, subject=case.id, data=data,
                        correlationid=case.incident_id, now=now)
        return CASES_EVENTS, env, None
    if event.type in ("dispatch.ordered.v1", "dispatch.withdrawn.v1") and event.dept:
        data = (_order_view(case) | event.data if event.type == "dispatch.ordered.v1"
                else {"case_id": case.id, "dept": event.dept, **event.data})
        env = new_event(event.type, source=SOURCE, subject=case.id, data=data,
                        correlationid=case.incident_id, now=now)
        return orders_topic(event.dept), env, None
    return None  # timeline only


def _case_view(case: Case) -> dict[str, Any]:
    f = case.facts
    return {"case_id": case.id, "incident_id": case.incident_id, "category": case.category,
            "kind": case.kind, "priority": case.priority, "status": case.status,
            "lead": case.lead.dept if case.lead else None, "street": f["street"],
            "district": f["district"], "community": f["community"], "grid_code": f["grid_code"],
            "tracking_no": f.get("tracking_no")}


def _order_view(case: Case) -> dict[str, Any]:
    """Everything a department system needs, and nothing it should not see."""
    f = case.facts
    return {"case_id": case.id, "incident_id": case.incident_id,
            "tracking_no": f.get("tracking_no"), "category": case.category,
            "category_name": f.get("category_name"), "kind": case.kind,
            "priority": case.priority, "description": f.get("description"),
            "location": {"path": f["path"], "grid_code": f["grid_code"],
                         "address": f.get("address")},
            "reporter_phone": f.get("reporter_phone_masked"),
            "lead": case.lead.dept if case.lead else None,
            "co": [a.dept for a in case.assignments if a.role == "co" and a.active],
            "catalogue_version": f.get("catalogue_version")}
