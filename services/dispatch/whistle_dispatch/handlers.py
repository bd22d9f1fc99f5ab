"""Use cases of dispatch: open cases, apply department reports, whistle, assign, rate,
decide extensions and supervise deadlines.

Each use case takes the service's Context (bound with functools.partial in main.py), a unit of
work and a command, and is one transaction: consumers call `on_incident`/`on_report` in theirs,
HTTP and the supervision timer through `run_use_case`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram
from whistle_common.consumer import Incoming
from whistle_common.envelope import new_event
from whistle_common.signing import SENDER_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from whistle_common.topics import CASES_EVENTS, EVENT_TYPES, ORDER_EVENT_TYPES, orders_topic
from whistle_common.usecase import NotFound, Rejected, UseCaseError, register, run_use_case

from .domain import deadlines as dl
from .domain.case import MERGEABLE, Case, DomainEvent, IllegalTransition
from .domain.merging import Candidate, MergePolicy, OpenCase, best_match, search_box
from .domain.merging import Incoming as Call
from .domain.privacy import mask_phone
from .domain.routing import Routing, route
from .domain.supervision import Policy, next_due, stage_name, still_pending, watches

if TYPE_CHECKING:  # handlers see a unit's interface; which adapter it is, main.py decides
    from .adapters.uow import PgDispatchUnitOfWork as UnitOfWork

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
MERGED = Counter("whistle_incidents_merged_total",
                 "Incidents merged into an open case (并单) instead of opening one", ["category"])
SPLITS = Counter("whistle_incidents_split_total", "Merged incidents split off by a person")
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
    merge_policy: MergePolicy | None = MergePolicy()  # None: never merge
    merge_categories: frozenset[str] | None = None     # None: every category merges
    # told of every deadline a use case writes (the sweep schedule wakes for an earlier one)
    on_deadline: Callable[[datetime], None] = lambda due: None

    def merges(self, category: str) -> bool:
        return self.merge_policy is not None and (
            self.merge_categories is None or category in self.merge_categories)


# the domain's refusal, answered 409 over HTTP and dead-lettered as `illegal-transition`
register(IllegalTransition, 409, "illegal-transition", "Not allowed in this state")


class NotDispatched(UseCaseError):
    """A department reports over HTTP on a case that was never dispatched to it."""

    status, slug, title = 403, "forbidden", "Forbidden"


class OtherStreet(UseCaseError):
    """A street office acts only on its own street's cases."""

    status, slug, title = 403, "forbidden", "Forbidden"


def within(case: Case, streets: frozenset[str] | None) -> None:
    """Refuse a street office a case of another street (None: any street may be acted on)."""
    if streets is not None and case.facts.get("street") not in streets:
        raise OtherStreet("this case is in another street")


@dataclass(frozen=True)
class CaseRef:
    case_id: str


@dataclass(frozen=True)
class CaseQuery:
    """A page of cases, newest first; `before` is the (created_at, id) the last page ended at."""

    status: str | None = None
    dept: str | None = None
    street: str | None = None
    overdue: bool = False
    limit: int = 50
    before: tuple[datetime, uuid.UUID] | None = None


@dataclass(frozen=True)
class Report:
    """A department's report on a case: the fields of dispatch.reported.v1."""

    case_id: str
    dept: str
    data: dict[str, Any]
    channel: str = "http"


@dataclass(frozen=True)
class Whistle:
    case_id: str
    depts: tuple[str, ...]
    reason: str
    streets: frozenset[str] | None = None  # a street office's own streets; None: any


@dataclass(frozen=True)
class Assign:
    case_id: str
    dept: str | None
    category: str | None
    by: str
    learn: bool = True
    place: str | None = None  # a grid, community or street code, for a case not yet placed
    streets: frozenset[str] | None = None  # a street office's own streets; None: any


@dataclass(frozen=True)
class Rate:
    case_id: str
    rating: str
    comment: str | None = None


@dataclass(frozen=True)
class DecideExtension:
    case_id: str
    dept: str
    approve: bool
    by: str
    hours: int | None = None
    note: str | None = None
    streets: frozenset[str] | None = None  # a street office's own streets; None: any


@dataclass(frozen=True)
class Split:
    """Take a wrongly merged incident out of a case and dispatch it on its own."""

    case_id: str
    incident_id: str
    by: str
    streets: frozenset[str] | None = None  # a street office's own streets; None: any


@dataclass(frozen=True)
class At:
    """A moment the clock-driven use cases (supervision, gauges) run at."""

    now: datetime


def case_deadlines(ctx: Context, category: str, priority: str, now: datetime) -> dl.Deadlines:
    computed = dl.compute(ctx.catalogue.category(category).deadlines, priority, now,
                          ctx.is_workday)
    return dl.scaled(computed, now, ctx.time_scale)


async def on_incident(ctx: Context, uow: UnitOfWork, msg: Incoming) -> None:
    """incident.received.v1 → one case, dispatched to its departments, or the incident joins
    an open case about the same problem (并单); idempotent either way."""
    incident_id = msg.envelope.subject
    if await uow.cases.exists_for_incident(incident_id):
        return  # the same incident under another event id: still one case
    await _take(ctx, uow, msg.envelope.data, incident_id, msg.envelope.time, merge=True)


async def _take(ctx: Context, uow: UnitOfWork, data: dict[str, Any], incident_id: str,
                sent_at: datetime, *, merge: bool, split_from: str | None = None) -> Case | None:
    """Open the incident's case, or merge it into an open one (answers None then)."""
    leaf = ctx.catalogue.category(data.get("category"))
    if leaf is None:
        raise Rejected(f"unknown category {data.get('category')!r}", "invalid-incident")
    location = data.get("location") or {}
    code = location.get("place_code") or location.get("grid_code")
    path = ctx.territory.place(code) if code else None
    if code and path is None:
        raise Rejected(f"incident's place {code!r} is not in the territory", "invalid-incident")
    now = datetime.now(UTC)
    category = leaf.code  # an alias of an older catalogue version names its leaf
    kind = data.get("kind", "complaint")
    priority = data.get("priority") or leaf.priority
    facts = _facts(ctx, leaf, path, data, sent_at)
    if split_from is not None:
        facts["split_from"] = split_from
    if merge and path is not None and kind != "service_order" and ctx.merges(category) \
            and await _merge(ctx, uow, leaf, incident_id, data, facts, now):
        return None
    if path is None or (data.get("needs_triage") and kind != "service_order"):
        case = Case.open_for_triage(case_id=str(uuid.uuid4()), incident_id=incident_id,
                                    category=category, kind=kind, priority=priority,
                                    resolution=leaf.resolution, facts=facts, now=now)
        await _save(ctx, uow, case, now)
        TRIAGED.inc()
        return case
    routing = route(leaf, path.facts(), list(ctx.catalogue.place_rules), kind=kind)
    case = Case.open(case_id=str(uuid.uuid4()), incident_id=incident_id, category=category,
                     kind=kind, priority=priority, routing=routing,
                     deadlines=case_deadlines(ctx, category, priority, now), facts=facts, now=now)
    await _save(ctx, uow, case, now)
    received = datetime.fromisoformat(facts["received_at"])
    DISPATCH_LATENCY.observe(max(0.0, (now - received).total_seconds()))
    return case


def _candidate(ctx: Context, case: OpenCase) -> Candidate:
    """An open case as the merge rules see it: its first report's place and time, and the
    texts of every call it stands for."""
    leaf = ctx.catalogue.category(case.category)
    return Candidate(case.case_id, case.category, leaf.area if leaf else "",
                     leaf.klass if leaf else "", case.lat, case.lon, case.grid,
                     "\n".join(case.texts), case.opened_at, case.status)


async def _merge(ctx: Context, uow: UnitOfWork, leaf: Any, incident_id: str,
                 data: dict[str, Any], facts: dict[str, Any], now: datetime) -> bool:
    """Merge the incident into the open case it matches best, if any (answers whether it did).

    Candidates are the district's open cases of the same category or a sibling (same class
    under the same area) within the longest of their windows, in the call's grid or within
    the longest of their distances (the database rules the others out, so the cost does not
    grow with the district's open cases); the advisory lock on the district makes the
    look-and-decide atomic across workers.
    """
    policy = ctx.merge_policy
    assert policy is not None
    district = facts.get("district")
    if district is None:
        return False
    siblings = [c.code for c in ctx.catalogue.categories.values()
                if (c.area, c.klass) == (leaf.area, leaf.klass) and ctx.merges(c.code)]
    received = datetime.fromisoformat(facts["received_at"])
    since = received - max(policy.window(code) for code in siblings)
    lat, lon, grid = facts.get("lat"), facts.get("lon"), facts.get("grid_code")
    box = None if lat is None or lon is None else \
        search_box(lat, lon, max(policy.distance(code) for code in siblings))
    if box is None and grid is None:
        return False  # nowhere to compare with: the place rule rules every case out
    await uow.cases.lock_merging(district)
    cases = await uow.cases.merge_candidates(district=district, categories=siblings,
                                             since=since, grid=grid, box=box)
    if not cases:
        return False
    call = Call(incident_id, leaf.code, leaf.area, leaf.klass, lat, lon, grid,
                facts.get("description") or "",
                received, text_required=bool(data.get("needs_triage")))
    match = best_match(call, [_candidate(ctx, c) for c in cases], policy)
    if match is None:
        return False
    case = await _locked(uow, match.case_id)  # wait for a report in flight, then merge
    if case.status not in MERGEABLE:
        return False  # resolved meanwhile: the call is a new case
    case.merge({"incident_id": incident_id, "category": leaf.code,
                **{k: facts.get(k) for k in LINKED_FACTS}},
               score=match.score, reasons=match.reasons, now=now)
    await uow.cases.link_incident(case.id, incident_id, score=match.score,
                                  reasons=match.reasons, now=now, event=data)
    await _save(ctx, uow, case, now)
    MERGED.labels(leaf.code).inc()
    return True


# what a case keeps of each incident merged into it (its whole event, for a split, is kept
# beside the link: uow.cases.link_incident)
LINKED_FACTS = ("description", "tracking_no", "received_at", "reporter_phone",
                "reporter_phone_masked", "address", "grid_code", "community", "lat", "lon",
                "source")


async def split(ctx: Context, uow: UnitOfWork, cmd: Split) -> tuple[Case, Case]:
    """A person splits a wrong merge: the incident leaves the case and is dispatched as a case
    of its own (never merged again automatically). Answers both cases."""
    case = await _locked(uow, cmd.case_id)
    within(case, cmd.streets)
    now = datetime.now(UTC)
    kept = case.split(cmd.incident_id, now, by=cmd.by)
    event = await uow.cases.unlink_incident(case.id, cmd.incident_id) or {}
    await _save(ctx, uow, case, now)
    sent_at = datetime.fromisoformat(kept.get("received_at") or now.isoformat())
    new = await _take(ctx, uow, event, cmd.incident_id, sent_at, merge=False,
                      split_from=case.id)
    assert new is not None
    SPLITS.inc()
    return case, new


def place_facts(path: Any) -> dict[str, Any]:
    """Where a case is, as finely as known (None where a level is not known; no path at all
    for a case in triage that a person has yet to place)."""
    if path is None:
        return {"path": [], "street": None, "district": None, "community": None,
                "grid_code": None}
    return {"path": path.as_list(), "street": path.street.code, "district": path.district.code,
            "community": path.community.code if path.community else None,
            "grid_code": path.grid.code if path.grid else None}


def _place_code(facts: dict[str, Any]) -> str | None:
    return facts.get("grid_code") or facts.get("community") or facts.get("street")


def _facts(ctx: Context, leaf: Any, path: Any, data: dict[str, Any],
           sent_at: datetime) -> dict[str, Any]:
    """What a case keeps of its incident: place, text, reporter, and how it was classified."""
    reporter = data.get("reporter") or {}
    classification = data.get("classification") or {}
    location = data.get("location") or {}
    return {
        **place_facts(path), "description": data.get("description", ""),
        "address": location.get("address"), "lat": location.get("lat"),
        "lon": location.get("lon"),
        "tracking_no": data.get("tracking_no"), "received_at": data.get("received_at")
        or sent_at.isoformat(), "reporter_phone": reporter.get("phone"),
        "reporter_phone_masked": mask_phone(reporter.get("phone")),
        "category_name": leaf.name, "classified_as": leaf.code,
        "catalogue_version": ctx.catalogue.version, "source": data.get("source"),
        "suggestions": data.get("suggestions") or classification.get("suggestions") or [],
        "confidence": classification.get("confidence"),
        "model_version": data.get("model_version") or classification.get("model_version"),
    }


async def on_report(ctx: Context, uow: UnitOfWork, msg: Incoming) -> None:
    """dispatch.reported.v1 from Kafka: signed by the reporting department, else rejected.

    A report a case's state refuses goes to the DLQ as `illegal-transition` (the slug the
    domain's IllegalTransition is registered with), and so does one on an unknown case.
    """
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
    report = Report(msg.envelope.subject, dept, data, channel="kafka")
    try:
        case = await _reported_on(uow, report.case_id)
    except NotFound as exc:
        raise Rejected(str(exc), "illegal-transition") from exc
    await _apply_report(ctx, uow, case, report)


async def apply_report(ctx: Context, uow: UnitOfWork, report: Report) -> Case:
    """A department's report over HTTP, on a case dispatched to it (else 403)."""
    case = await _reported_on(uow, report.case_id)
    if case.assignment(report.dept) is None:
        raise NotDispatched("this case was not dispatched to you")
    return await _apply_report(ctx, uow, case, report)


async def _reported_on(uow: UnitOfWork, case_id: str) -> Case:
    """The locked case a report is about; a report on no case is counted as refused."""
    try:
        return await _locked(uow, case_id)
    except NotFound:
        REJECTED.labels("unknown-case").inc()
        raise


async def _apply_report(ctx: Context, uow: UnitOfWork, case: Case, report: Report) -> Case:
    """Apply one report to a locked case; IllegalTransition leaves the case as it was."""
    data, dept = report.data, report.dept
    kind = str(data.get("kind", ""))
    now = datetime.now(UTC)
    try:
        candidates = tuple(ctx.catalogue.return_candidates.get(case.category, ()))
        case.report(dept, kind, now, result=data.get("result"), reason=data.get("reason"),
                    extension_hours=data.get("extension_hours"), candidates=candidates,
                    max_returns=ctx.max_returns,
                    deadlines=case_deadlines(ctx, case.category, case.priority, now))
    except IllegalTransition:
        REJECTED.labels("not-assigned" if case.assignment(dept) is None else "transition").inc()
        REPORTS.labels(kind[:24], report.channel, "rejected").inc()
        raise
    events = await _save(ctx, uow, case, now)
    REPORTS.labels(kind, report.channel, "applied").inc()
    for event in events:
        if event.type == "case.acknowledged.v1":
            ACK_SECONDS.labels(event.data["dept"]).observe(event.data["ack_seconds"])
        if event.type == "case.returned.v1":
            RETURNS.labels(event.data["role"]).inc()
    return case


async def whistle(ctx: Context, uow: UnitOfWork, cmd: Whistle) -> tuple[Case, list[str]]:
    """Summon more departments onto a case (吹哨); answers the case and who was added."""
    case = await _locked(uow, cmd.case_id)
    within(case, cmd.streets)
    unknown = [d for d in cmd.depts if d not in ctx.catalogue.departments]
    if unknown:
        raise IllegalTransition(f"unknown departments {unknown}")
    now = datetime.now(UTC)
    added = case.summon(list(cmd.depts), case_deadlines(ctx, case.category, case.priority, now),
                        now, reason=cmd.reason)
    await _save(ctx, uow, case, now)
    return case, added


async def assign(ctx: Context, uow: UnitOfWork, cmd: Assign) -> Case:
    """A person routes a case: by category (its departments) or by lead department.

    On a case in triage, after returns (退单) or when the category changes, the choice is a
    labelled example (`classification.corrected.v1`) the classifier learns from.
    """
    case = await _locked(uow, cmd.case_id)
    now = datetime.now(UTC)
    dept, category = cmd.dept, cmd.category
    if dept is not None and dept not in ctx.catalogue.departments:
        raise IllegalTransition(f"unknown department {dept!r}")
    if category is not None and ctx.catalogue.category(category) is None:
        raise IllegalTransition(f"unknown category {category!r}")
    if cmd.place is not None:
        found = ctx.territory.place(cmd.place)
        if found is None:
            raise IllegalTransition(f"unknown place {cmd.place!r}: give a grid, community or "
                                    "street code")
        if cmd.streets is not None and found.street.code not in cmd.streets:
            raise OtherStreet(f"{cmd.place} is in another street")
        case.place(place_facts(found))
    else:
        within(case, cmd.streets)
    path = ctx.territory.place(_place_code(case.facts) or "")
    if path is None:
        raise IllegalTransition("the case has no place yet: give `place` (a grid, community "
                                "or street code)")
    if category is None and (case.status == "triage" or case.returns):
        category = category_led_by(ctx.catalogue, dept, case.facts.get("suggestions", []))
    if category is not None:
        leaf = ctx.catalogue.category(category)
        routing = route(leaf, path.facts(), list(ctx.catalogue.place_rules), kind=case.kind)
        if dept is not None and dept != routing.lead:
            routing = Routing(dept, tuple(c for c in routing.co if c != dept), leaf.resolution)
        reason = "return" if case.returns else "change"
        case.reclassify(leaf.code, routing,
                        case_deadlines(ctx, leaf.code, case.priority, now), now, by=cmd.by,
                        resolution=leaf.resolution, reason=reason, learn=cmd.learn)
    else:
        case.assign(dept, case_deadlines(ctx, case.category, case.priority, now), now,
                    by=cmd.by)
    events = await _save(ctx, uow, case, now)
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


async def rate(ctx: Context, uow: UnitOfWork, cmd: Rate) -> Case:
    """The call-back rating (回访); unsatisfied reopens to the same lead (重办)."""
    case = await _locked(uow, cmd.case_id)
    now = datetime.now(UTC)
    case.rate(cmd.rating, now, comment=cmd.comment,
              deadlines=case_deadlines(ctx, case.category, case.priority, now))
    events = await _save(ctx, uow, case, now)
    if any(e.type == "case.reopened.v1" for e in events):
        REOPENS.inc()
    if any(e.type == "case.closed.v1" for e in events):
        CLOSED.labels("rated").inc()
    return case


async def decide_extension(ctx: Context, uow: UnitOfWork, cmd: DecideExtension) -> Case:
    """The street office's decision on an extension request (延期); an approval restarts the
    supervision of the resolve deadline from its new date."""
    case = await _locked(uow, cmd.case_id)
    within(case, cmd.streets)
    now = datetime.now(UTC)
    case.decide_extension(cmd.dept, cmd.approve, now, by=cmd.by, hours=cmd.hours,
                          note=cmd.note)
    await _save(ctx, uow, case, now)
    if cmd.approve:
        seq = case.assignments.index(case.assignment(cmd.dept))
        await uow.cases.reschedule(case.id, seq, "resolve", case.assignments[seq].resolve_by)
        ctx.on_deadline(case.assignments[seq].resolve_by)
    return case


async def get_case(uow: UnitOfWork, ref: CaseRef) -> tuple[Case, list[dict[str, Any]]]:
    """A case and its full timeline."""
    case = await uow.cases.load(ref.case_id)
    if case is None:
        raise NotFound(f"no case {ref.case_id}")
    return case, await uow.cases.timeline(ref.case_id)


async def list_cases(uow: UnitOfWork, query: CaseQuery) -> list[dict[str, Any]]:
    """One page of case summaries; `overdue` keeps those with a deadline missed by now."""
    return await uow.cases.search(status=query.status, dept=query.dept, street=query.street,
                                  overdue_at=datetime.now(UTC) if query.overdue else None,
                                  limit=query.limit, before=query.before)


async def count_open(uow: UnitOfWork, at: At) -> dict[str, dict[str, int]]:
    """Open and overdue assignments per department ({dept: {"open", "overdue"}})."""
    return {row["dept"]: {"open": row["open"], "overdue": row["overdue"]}
            for row in await uow.cases.open_by_dept(at.now)}


async def sweep(ctx: Context, unit_of_work: Callable[[], UnitOfWork], now: datetime, *,
                limit: int = 200) -> int:
    """Fire the stages due at `now`, one transaction each; answers how many fired.

    Safe with any number of workers: each claim locks its watch, and the watch has moved on
    by the time the lock is released. A watch whose case is busy waits for a later claim.
    """
    at = At(now)
    fired = 0
    for _ in range(limit):
        outcome = await run_use_case(unit_of_work, partial(fire_due, ctx), at)
        if outcome is None:
            break
        fired += outcome
    return fired


async def next_deadline(uow: UnitOfWork, at: At) -> datetime | None:
    """When the earliest watched deadline falls (None: nothing is watched)."""
    return await uow.cases.next_due()


async def fire_due(ctx: Context, uow: UnitOfWork, at: At) -> bool | None:
    """Claim the earliest due watch and fire its stage: overdue, then escalation level by
    level, or the auto-close of a resolved case nobody rated.

    Answers True when something fired, False when the watch was parked because nothing is
    owed any more, None when no watch is due (or every due one is held elsewhere).
    """
    claimed = await uow.cases.claim_due(at.now)
    if claimed is None:
        return None
    watch, case = claimed
    now, kind = at.now, watch["kind"]
    if kind == "autoclose":
        closes = case.status == "resolved"
        if closes:
            case.close(now, reason="not rated in time")
            await _save(ctx, uow, case, now)
            CLOSED.labels("unrated").inc()
        await uow.cases.advance(watch, None)
        return closes
    if not still_pending(kind, case.assignments[watch["seq"]].status):
        await uow.cases.advance(watch, None)
        return False
    stage = stage_name(watch["stage"])
    case.supervise(watch["seq"], kind, stage, now)
    await _save(ctx, uow, case, now)
    await uow.cases.advance(watch, next_due(watch["stage"], watch["due_at"], ctx.policy))
    if stage == "overdue":
        OVERDUE.labels(kind).inc()
    else:
        ESCALATIONS.labels(stage).inc()
    return True


async def _locked(uow: UnitOfWork, case_id: str) -> Case:
    case = await uow.cases.load(case_id, for_update=True)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


async def _save(ctx: Context, uow: UnitOfWork, case: Case, now: datetime) -> list[DomainEvent]:
    """Save the case, watch the deadlines it still owes and put its new events in the outbox."""
    events = case.take_events()
    await uow.cases.save(case, events, now)
    autoclose_at = None
    if case.status == "resolved" and case.resolved_at is not None:
        autoclose_at = case.resolved_at + timedelta(seconds=ctx.autoclose_seconds)
    owed = watches(case.assignments, autoclose_at)
    await uow.cases.sync_supervision(case.id, owed)
    if owed:
        ctx.on_deadline(min(due for _, _, due in owed))
    RESOLVED.inc(sum(1 for e in events if e.type == "case.resolved.v1"))
    await uow.outbox.add_many([item for e in events if (item := _envelope(case, e, now))])
    return events


def _envelope(case: Case, event: DomainEvent, now: datetime):
    """Route a domain event: case.* to cases.events, orders to the department's topic."""
    if event.type in EVENT_TYPES[CASES_EVENTS]:
        data = _case_view(case) | event.data
        if event.type == "case.created.v1":
            data["reporter"] = {"phone": case.facts.get("reporter_phone")}
            data["description"] = case.facts.get("description")
        if event.type == "case.merged.v1":  # the phone goes to notify, not into the timeline
            merged = case.linked_incident(event.data["merged_incident_id"]) or {}
            data["reporter"] = {"phone": merged.get("reporter_phone")}
        env = new_event(event.type, source=SOURCE, subject=case.id, data=data,
                        correlationid=case.incident_id, now=now)
        return CASES_EVENTS, env, None
    if event.type in ORDER_EVENT_TYPES and event.dept:
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
            "tracking_no": f.get("tracking_no"), "callers": case.callers,
            "linked_incidents": [i["incident_id"] for i in case.linked]}


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
            "catalogue_version": f.get("catalogue_version"), "callers": case.callers}
