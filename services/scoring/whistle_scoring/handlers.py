"""Use cases of scoring: volunteers, tasks, points, redemptions, department assessment.

Each runs on one unit of work: `(uow, command)`, or `(ctx, uow, command)` when it needs the
rules (main.py binds the context). Failures are the shared use-case errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from whistle_common.consumer import Incoming
from whistle_common.envelope import new_event
from whistle_common.topics import INSIGHTS_HOTSPOTS, POINTS_EVENTS
from whistle_common.usecase import Conflict, NotFound

from .domain.assessment import assess
from .domain.hotspots import (
    WEEK,
    Baseline,
    Detection,
    HotspotPolicy,
    baseline_from,
    recurring,
    sample_times,
    window_start,
)
from .domain.periods import Period, Standing, month_of, parse_period, rank
from .domain.points import DuplicateRedemption, InsufficientBalance, PointsRules
from .schemas import TaskCreate, VolunteerCreate

if TYPE_CHECKING:  # handlers see a unit's interface; which adapter it is, main.py decides
    from .adapters.uow import PgScoringUnitOfWork as UnitOfWork

SOURCE = "/whistle/scoring"
POINTS_AWARDED = Counter("whistle_points_awarded_total", "Points awarded to volunteers")
POINTS_REDEEMED = Counter("whistle_points_redeemed_total", "Points redeemed by volunteers")
TASKS_CREATED = Counter("whistle_tasks_created_total", "Volunteer tasks created", ["source"])
for _source in ("case", "posted"):
    TASKS_CREATED.labels(_source)


@dataclass(frozen=True)
class Context:
    """Data shipped with scoring: points rules, assessment weights, leaderboard sizes, and
    the territory (which communities exist)."""

    rules: PointsRules
    weights: dict[str, float]
    top: dict[str, int]
    territory: Any
    catalogue: Any = None  # category names, for hotspots
    hotspots: HotspotPolicy = HotspotPolicy()


class BalanceTooLow(Conflict):
    """A redemption the balance does not cover; the answer carries the `balance`."""

    slug, title = "insufficient-balance", "Insufficient balance"


def _now() -> datetime:
    return datetime.now(UTC)


def _uuid(value: str) -> uuid.UUID:
    """An id from a path or body; one that cannot exist is simply not found."""
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound(f"no such id {value!r}") from exc


# -- commands and answers -------------------------------------------------------------------------

@dataclass(frozen=True)
class RegisterVolunteer:
    volunteer: VolunteerCreate
    now: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class VolunteerQuery:
    """One volunteer, seen at `now` (which month their rank is for)."""

    volunteer_id: str
    now: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class TasksQuery:
    community: str | None
    status: str | None
    limit: int


@dataclass(frozen=True)
class PostTask:
    task: TaskCreate
    created_by: str


@dataclass(frozen=True)
class ClaimTask:
    task_id: str
    volunteer_id: str


@dataclass(frozen=True)
class CompleteTask:
    task_id: str
    volunteer_id: str
    hours: float
    verified_by: str
    now: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class Redeem:
    volunteer_id: str
    points: int
    item: str
    request_id: str | None = None  # idempotency key
    now: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class Redemption:
    """The answer, and whether this call took the points (False: a replay of the first)."""

    created: bool
    body: dict[str, Any]


@dataclass(frozen=True)
class LeaderboardQuery:
    level: str  # community | street
    code: str
    period: Period
    limit: int | None  # None: every volunteer ranked


@dataclass(frozen=True)
class AssessmentQuery:
    dept: str
    period: Period


@dataclass(frozen=True)
class MonthFigures:
    """What the Prometheus gauges show: the departments ranked, points per community."""

    ranking: list[dict]
    community_points: dict[str, int]


# -- volunteers -----------------------------------------------------------------------------------

async def register_volunteer(ctx: Context, uow: UnitOfWork, command: RegisterVolunteer) -> dict:
    """A volunteer of a known community, with an empty balance."""
    body = command.volunteer
    if body.community not in ctx.territory.communities:
        raise Conflict(f"unknown community {body.community!r}")
    vid = uuid.uuid4()
    await uow.volunteers.add({**body.model_dump(), "id": vid,
                              "street": body.community[:9]})  # community codes extend streets'
    return await volunteer_view(ctx, uow, VolunteerQuery(str(vid), command.now))


async def _volunteer(uow: UnitOfWork, volunteer_id: str) -> Mapping[str, Any]:
    row = await uow.volunteers.get(_uuid(volunteer_id))
    if row is None:
        raise NotFound(f"no volunteer {volunteer_id}")
    return row


async def volunteer_view(ctx: Context, uow: UnitOfWork, query: VolunteerQuery) -> dict:
    """Balance, hours (time bank) and this month's rank in the community."""
    row = await _volunteer(uow, query.volunteer_id)
    period = parse_period(month_of(query.now))
    board = await leaderboard(ctx, uow, LeaderboardQuery("community", row["community"], period,
                                                         limit=None))
    my_rank = next((e["rank"] for e in board["entries"]
                    if e["volunteer_id"] == query.volunteer_id), None)
    return {"volunteer_id": query.volunteer_id, "name": row["name"],
            "community": row["community"], "street": row["street"],
            "team_colour": row["team_colour"], "party_member": row["party_member"],
            "balance": row["points"], "hours": float(row["hours_earned"]),
            "time_bank": {"hours_stored": float(row["hours_earned"])},
            "rank": {"period": period.label, "scope": f"community:{row['community']}",
                     "rank": my_rank, "of": len(board["entries"])}}


async def volunteer_ledger(uow: UnitOfWork, query: VolunteerQuery) -> dict:
    """Awards and redemptions, newest first, with the balance."""
    vid = (await _volunteer(uow, query.volunteer_id))["id"]
    rows = await uow.ledger.entries(vid)
    return {"volunteer_id": query.volunteer_id, "balance": await uow.ledger.balance(vid),
            "entries": [{**dict(r), "id": str(r["id"]), "hours": float(r["hours"])}
                        for r in rows]}


# -- tasks ----------------------------------------------------------------------------------------

async def list_tasks(uow: UnitOfWork, query: TasksQuery) -> list[dict]:
    rows = await uow.tasks.search(community=query.community, status=query.status,
                                  limit=query.limit)
    return [{**dict(r), "id": str(r["id"])} for r in rows]


async def _create_task(uow: UnitOfWork, *, community: str, title: str, description: str,
                       category: str, difficulty: str, max_volunteers: int, created_by: str,
                       case_id: str | None = None) -> uuid.UUID | None:
    """Store a task; None when its case already has one (a redelivered service order)."""
    created = await uow.tasks.add({
        "id": uuid.uuid4(), "case_id": case_id, "community": community, "title": title,
        "description": description, "category": category, "difficulty": difficulty,
        "max_volunteers": max_volunteers, "created_by": created_by})
    if created:
        TASKS_CREATED.labels("case" if case_id else "posted").inc()
    return created


async def post_task(ctx: Context, uow: UnitOfWork, command: PostTask) -> dict:
    """A community worker posts a task in a known community."""
    body = command.task.model_dump()
    if body["community"] not in ctx.territory.communities:
        raise Conflict(f"unknown community {body['community']!r}")
    task_id = await _create_task(uow, created_by=command.created_by, **body)
    return {"id": str(task_id), **body, "status": "open"}


async def claim(uow: UnitOfWork, command: ClaimTask) -> dict:
    """One claim per volunteer; never more claims than the task allows, under concurrency
    (the task stays locked until the unit ends)."""
    task = await uow.tasks.lock(_uuid(command.task_id))
    if task is None:
        raise NotFound(f"no task {command.task_id}")
    vid = (await _volunteer(uow, command.volunteer_id))["id"]
    if await uow.tasks.claim_of(task["id"], vid) is not None:
        raise Conflict("this volunteer has already claimed the task")
    if task["status"] != "open" or task["claimed"] >= task["max_volunteers"]:
        raise Conflict("the task is not open for claims", task_status=task["status"])
    await uow.tasks.add_claim(task["id"], vid)
    return {"task_id": command.task_id, "volunteer_id": command.volunteer_id,
            "status": "claimed"}


async def complete(ctx: Context, uow: UnitOfWork, command: CompleteTask) -> dict:
    """A community worker verifies the hours; points are awarded exactly once."""
    task = await uow.tasks.lock(_uuid(command.task_id))
    if task is None:
        raise NotFound(f"no task {command.task_id}")
    vid = _uuid(command.volunteer_id)
    claimed = await uow.tasks.claim_of(task["id"], vid)
    if claimed is None:
        raise Conflict("this volunteer has not claimed the task")
    if claimed["completed_at"] is not None:
        raise Conflict("already completed; points were awarded once", points=claimed["points"])
    try:
        points = ctx.rules.award(hours=command.hours, difficulty=task["difficulty"],
                                 category=task["category"])
    except ValueError as exc:
        raise Conflict(str(exc)) from exc
    await uow.tasks.complete_claim(task["id"], vid, at=command.now, hours=command.hours,
                                   points=points, verified_by=command.verified_by)
    txn = await uow.ledger.award(ref=f"task:{command.task_id}:{command.volunteer_id}",
                                 volunteer_id=vid, points=points, hours=command.hours,
                                 note=task["title"], at=command.now)
    if txn is not None:
        POINTS_AWARDED.inc(points)
        await uow.outbox.add(POINTS_EVENTS, new_event(
            "points.awarded.v1", source=SOURCE, subject=command.volunteer_id, now=command.now,
            correlationid=task["case_id"] or command.task_id,
            data={"volunteer_id": command.volunteer_id, "points": points,
                  "hours": command.hours, "task_id": command.task_id,
                  "case_id": task["case_id"], "community": task["community"],
                  "txn_id": str(txn)}))
    return {"task_id": command.task_id, "volunteer_id": command.volunteer_id,
            "hours": command.hours, "points": points}


# -- redemptions ----------------------------------------------------------------------------------

async def redeem(uow: UnitOfWork, command: Redeem) -> Redemption:
    """Take points if the balance covers them. The same `request_id` again answers the first
    redemption and takes nothing more; one still being applied is a conflict to retry."""
    vid = _uuid(command.volunteer_id)
    ref = f"redeem:{command.request_id or uuid.uuid4()}"
    if command.request_id is not None:
        first = await uow.ledger.find_txn(ref)
        if first is not None:
            return await _redemption_replay(uow, first, vid, command)
    try:
        txn, left = await uow.ledger.redeem(ref=ref, volunteer_id=vid, points=command.points,
                                            note=command.item, at=command.now)
    except InsufficientBalance as exc:
        raise BalanceTooLow(f"the balance is {exc.balance} points",
                            balance=exc.balance) from exc
    except DuplicateRedemption as exc:  # the same request id, committed meanwhile
        raise Conflict(f"redemption {command.request_id} is being applied; retry to read its "
                       "answer", retry=True) from exc
    POINTS_REDEEMED.inc(command.points)
    body = {"volunteer_id": command.volunteer_id, "points": command.points,
            "item": command.item, "balance": left, "txn_id": str(txn)}
    await uow.outbox.add(POINTS_EVENTS, new_event(
        "points.redeemed.v1", source=SOURCE, subject=command.volunteer_id, now=command.now,
        data=dict(body)))
    return Redemption(True, body)


async def _redemption_replay(uow: UnitOfWork, first: Mapping[str, Any], vid: uuid.UUID,
                             command: Redeem) -> Redemption:
    """The first answer if it asked the same, else 409."""
    if (first["kind"], first["volunteer_id"], first["points"], first["note"]) != (
            "redemption", str(vid), command.points, command.item):
        raise Conflict("request_id was used for a different redemption")
    return Redemption(False, {"volunteer_id": command.volunteer_id, "points": command.points,
                              "item": command.item, "balance": await uow.ledger.balance(vid),
                              "txn_id": str(first["id"])})


# -- leaderboards ---------------------------------------------------------------------------------

async def leaderboard(ctx: Context, uow: UnitOfWork, query: LeaderboardQuery) -> dict:
    """Volunteers ranked by points awarded in the period; the top ones are stars."""
    period = query.period
    rows = await uow.ledger.standings(level=query.level, code=query.code, start=period.start,
                                      end=period.end)
    ranked = rank([Standing(r["volunteer_id"], r["name"], r["points"], r["hours"],
                            r["first_earned"]) for r in rows])
    top = ctx.top[period.kind]
    entries = [{"rank": n, "volunteer_id": s.volunteer_id, "name": s.name, "points": s.points,
                "hours": s.hours, "star": n <= top} for n, s in ranked]
    return {"scope": f"{query.level}:{query.code}", "period": period.label, "top": top,
            "entries": entries if query.limit is None else entries[:query.limit]}


# -- cases.events → tasks and assessment ----------------------------------------------------------

ASSESSED = {"case.dispatched.v1", "case.acknowledged.v1", "case.resolved.v1",
            "case.returned.v1", "case.rated.v1", "case.reopened.v1"}


async def on_case_event(uow: UnitOfWork, msg: Incoming) -> None:
    """Service orders dispatched to the community become tasks (once per case); every case
    event feeds the assessment."""
    env, data = msg.envelope, msg.envelope.data
    if (env.type == "case.dispatched.v1" and data.get("dept") == "community"
            and data.get("kind") == "service_order"):
        await _create_task(uow, community=data["community"],
                           title=f"群众点单 {data.get('tracking_no') or env.subject}",
                           description=data.get("description") or "", category=data["category"],
                           difficulty="normal", max_volunteers=1, created_by="dispatch",
                           case_id=env.subject)
    await record_assessment(uow, msg)


async def record_assessment(uow: UnitOfWork, msg: Incoming) -> None:
    """One row per department the event concerns, keyed by event id (counted once)."""
    env, data = msg.envelope, msg.envelope.data
    if env.type not in ASSESSED:
        return
    if env.type == "case.resolved.v1":
        depts = data.get("resolved_by") or [data.get("lead")]
    elif env.type in ("case.rated.v1", "case.reopened.v1"):
        depts = [data.get("lead")]
    else:
        depts = [data.get("dept")]
    await uow.assessment.record([
        {"event_id": env.id, "dept": d, "case_id": env.subject, "type": env.type,
         "on_time": data.get("on_time"), "rating": data.get("rating"), "at": env.time}
        for d in depts if d])


async def clear_assessment(uow: UnitOfWork, _: None) -> None:
    """Empty the assessment before a replay of cases.events rebuilds it."""
    await uow.assessment.clear()


async def replay_assessment(uow: UnitOfWork, batch: list[Incoming]) -> int:
    """Record a batch of replayed case events; the number of assessment rows after it."""
    for msg in batch:
        await record_assessment(uow, msg)
    return await uow.assessment.count()


# -- department assessment ------------------------------------------------------------------------

async def department_assessment(ctx: Context, uow: UnitOfWork, query: AssessmentQuery) -> dict:
    """The rates and weighted score of the cases dispatched to a department in the period."""
    period = query.period
    facts = await uow.assessment.facts(query.dept, period.start, period.end)
    result = assess(facts, ctx.weights)
    return {"dept": query.dept, "period": period.label, "facts": facts.__dict__,
            "rates": {"response": result.response_rate, "resolution": result.resolution_rate,
                      "on_time_resolution": result.on_time_resolution_rate,
                      "satisfaction": result.satisfaction_rate},
            "weights": ctx.weights, "score": result.score}


async def ranking(ctx: Context, uow: UnitOfWork, period: Period) -> list[dict]:
    """Every department with cases dispatched in the period, best score first."""
    rows = [await department_assessment(ctx, uow, AssessmentQuery(dept, period))
            for dept in await uow.assessment.departments(period.start, period.end)]
    rows.sort(key=lambda r: (-(r["score"] or 0), r["dept"]))
    return [{"rank": i + 1, **r} for i, r in enumerate(rows)]


async def month_figures(ctx: Context, uow: UnitOfWork, period: Period) -> MonthFigures:
    """The ranking of the period and the points awarded per community since it began."""
    return MonthFigures(await ranking(ctx, uow, period),
                        await uow.ledger.awarded_by_community(period.start))


# -- hotspots (未诉先办) ---------------------------------------------------------------------------

HOTSPOTS = Counter("whistle_hotspots_detected_total", "Hotspots raised (未诉先办)",
                   ["scope", "kind"])
for _scope in ("community", "street"):
    for _kind in ("spike", "sustained"):
        HOTSPOTS.labels(_scope, _kind)
COUNTED = frozenset({"case.created.v1", "case.merged.v1"})  # each is one more incident


def hotspot_keys(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The (scope, place, category) an incident counts for: its community and its street."""
    category = data.get("category")
    if not category:
        return []
    return [(scope, data[scope], category) for scope in ("community", "street")
            if data.get(scope)]


def counted_incident(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The incident a counted case event stands for."""
    return data.get("merged_incident_id" if event_type == "case.merged.v1" else "incident_id")


async def count_incident(ctx: Context, uow: UnitOfWork, msg: Incoming) -> None:
    """case.created.v1 / case.merged.v1: one more incident in its places' window (the history
    baselines are computed from; once per event, in the consumer's transaction)."""
    keys = hotspot_keys(msg.envelope.data)
    if keys:
        await uow.hotspots.count(keys, window_start(msg.envelope.time, ctx.hotspots.window))


@dataclass(frozen=True)
class BaselineQuery:
    """The baselines of a key's windows starting at `starts`."""

    key: tuple[str, str, str]
    starts: tuple[datetime, ...]


async def baselines(ctx: Context, uow: UnitOfWork, query: BaselineQuery) -> list[Baseline]:
    since = await uow.hotspots.counting_since()
    wanted = sorted({t for start in query.starts
                     for times in sample_times(start, ctx.hotspots).values() for t in times})
    counts = await uow.hotspots.counts_at(query.key, wanted)
    return [baseline_from(counts, start, since, ctx.hotspots) for start in query.starts]


@dataclass(frozen=True)
class RaiseHotspot:
    key: tuple[str, str, str]
    window_start: datetime
    detection: Detection
    sample_cases: tuple[str, ...]
    now: datetime = field(default_factory=_now)


def _names(ctx: Context, scope: str, place: str, category: str) -> dict[str, Any]:
    path = ctx.territory.place(place)
    node = (path.community if scope == "community" else path.street) if path else None
    leaf = ctx.catalogue.category(category) if ctx.catalogue is not None else None
    return {"place_name": node.name if node else None,
            "street": path.street.code if path else None,
            "district": path.district.code if path else None,
            "category_name": leaf.name if leaf else None}


async def raise_hotspot(ctx: Context, uow: UnitOfWork, cmd: RaiseHotspot) -> dict | None:
    """Record a hotspot and announce it on insights.hotspots, once per key, window and kind
    (answers None when it was raised before: another worker, a replayed event)."""
    scope, place, category = cmd.key
    found = cmd.detection
    row = {"id": uuid.uuid4(), "kind": found.kind, "scope": scope, "place": place,
           "category": category, "window_start": cmd.window_start,
           "window_end": cmd.window_start + ctx.hotspots.window, "count": found.count,
           "expected": round(found.expected, 4), "p_value": found.p_value,
           "baseline": found.baseline.as_dict(), "sample_cases": list(cmd.sample_cases)[:5],
           "detected_at": cmd.now, **_names(ctx, scope, place, category)}
    if not await uow.hotspots.add({k: row[k] for k in row if k not in ("place_name",
                                                                       "category_name")}):
        return None
    data = {"hotspot_id": str(row["id"]), **{k: row[k] for k in (
        "kind", "scope", "place", "place_name", "street", "district", "category",
        "category_name", "count", "expected", "p_value", "baseline", "sample_cases")},
        "window_start": row["window_start"].isoformat(),
        "window_end": row["window_end"].isoformat()}
    await uow.outbox.add(INSIGHTS_HOTSPOTS, new_event(
        "hotspot.detected.v1", source=SOURCE, subject=f"{scope}:{place}:{category}", data=data,
        now=cmd.now))
    HOTSPOTS.labels(scope, found.kind).inc()
    return data


@dataclass(frozen=True)
class HotspotQuery:
    """Hotspots detected in the last `days` (a street office: its own street's)."""

    days: int = 7
    street: str | None = None
    limit: int = 100
    now: datetime = field(default_factory=_now)


async def list_hotspots(ctx: Context, uow: UnitOfWork, query: HotspotQuery) -> dict[str, Any]:
    """Current hotspots (their window not over), recent ones, and the categories recurring
    in a community week after week, each with the incident to post for a proactive case."""
    policy = ctx.hotspots
    recent = await uow.hotspots.recent(query.now - timedelta(days=query.days),
                                       street=query.street, limit=query.limit)
    this_week = window_start(query.now, WEEK)
    weekly: dict[tuple[str, str], dict[datetime, int]] = {}
    for row in await uow.hotspots.weekly(this_week - policy.recurring_weeks * WEEK,
                                         int(WEEK.total_seconds())):
        weekly.setdefault((row["place"], row["category"]), {})[row["week"]] = row["n"]
    flagged = []
    for (community, category), weeks in sorted(weekly.items()):
        names = _names(ctx, "community", community, category)
        if query.street is not None and names["street"] != query.street:
            continue
        if not recurring(weeks, this_week, policy):
            continue
        counts = [weeks.get(this_week - k * WEEK, 0) for k in range(policy.recurring_weeks, 0,
                                                                       -1)]
        flagged.append({
            "community": community, "category": category, **names, "weekly_counts": counts,
            "proactive_incident": {
                "source": "grid", "kind": "complaint", "category": category,
                "external_id": f"proactive-{community}-{category}-{this_week.date()}",
                "location": {"place_code": community},
                "description": f"主动治理：{names['place_name'] or community}近"
                               f"{policy.recurring_weeks}周每周都有"
                               f"{names['category_name'] or category}诉求（"
                               f"{'、'.join(map(str, counts))}件），街道主动立案办理"}})
    return {"current": [h for h in recent if h["window_end"] > query.now], "recent": recent,
            "recurring": flagged}
