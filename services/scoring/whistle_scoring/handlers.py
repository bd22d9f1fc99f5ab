"""Use cases of scoring: volunteers, tasks, points, redemptions, department assessment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prometheus_client import Counter
from whistle_common.consumer import Incoming
from whistle_common.envelope import new_event
from whistle_common.outbox import enqueue
from whistle_common.topics import POINTS_EVENTS

from .adapters import ledger
from .domain.assessment import Facts, assess
from .domain.periods import Period, Standing, rank
from .domain.points import PointsRules

SOURCE = "/whistle/scoring"
POINTS_AWARDED = Counter("whistle_points_awarded_total", "Points awarded to volunteers")
POINTS_REDEEMED = Counter("whistle_points_redeemed_total", "Points redeemed by volunteers")
TASKS_CREATED = Counter("whistle_tasks_created_total", "Volunteer tasks created", ["source"])
for _source in ("case", "posted"):
    TASKS_CREATED.labels(_source)


class Conflict(Exception):
    """The request cannot be applied in the current state (409)."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail, self.extra = detail, extra


class NotFound(LookupError):
    """No such volunteer or task (404)."""


@dataclass(frozen=True)
class Context:
    rules: PointsRules
    weights: dict[str, float]
    top: dict[str, int]
    territory: Any


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound(f"no such id {value!r}") from exc


async def register_volunteer(ctx: Context, conn: asyncpg.Connection, body: dict) -> dict:
    community = ctx.territory.communities.get(body["community"])
    if community is None:
        raise Conflict(f"unknown community {body['community']!r}")
    street = body["community"][:9]  # community codes extend their street's code
    vid = uuid.uuid4()
    await conn.execute(
        "INSERT INTO volunteers(id, name, community, street, team_colour, party_member, phone) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7)", vid, body["name"], body["community"], street,
        body["team_colour"], body["party_member"], body.get("phone"))
    await conn.execute("INSERT INTO balances(volunteer_id) VALUES ($1)", vid)
    return await volunteer_view(ctx, conn, str(vid))


async def volunteer_view(ctx: Context, conn: asyncpg.Connection, volunteer_id: str,
                         now: datetime | None = None) -> dict:
    row = await conn.fetchrow(
        "SELECT v.*, b.points, b.hours_earned FROM volunteers v JOIN balances b "
        "ON b.volunteer_id = v.id WHERE v.id=$1", _uuid(volunteer_id))
    if row is None:
        raise NotFound(f"no volunteer {volunteer_id}")
    from .domain.periods import month_of, parse_period

    period = parse_period(month_of(now or datetime.now(UTC)))
    board = await leaderboard(ctx, conn, level="community", code=row["community"], period=period,
                              limit=None)
    my_rank = next((e["rank"] for e in board["entries"] if e["volunteer_id"] == volunteer_id),
                   None)
    return {"volunteer_id": volunteer_id, "name": row["name"], "community": row["community"],
            "street": row["street"], "team_colour": row["team_colour"],
            "party_member": row["party_member"], "balance": row["points"],
            "hours": float(row["hours_earned"]),
            "time_bank": {"hours_stored": float(row["hours_earned"])},
            "rank": {"period": period.label, "scope": f"community:{row['community']}",
                     "rank": my_rank, "of": len(board["entries"])}}


async def create_task(conn: asyncpg.Connection, *, community: str, title: str, description: str,
                      category: str, difficulty: str, max_volunteers: int, created_by: str,
                      case_id: str | None = None) -> uuid.UUID | None:
    task_id = uuid.uuid4()
    created = await conn.fetchval(
        """INSERT INTO tasks(id, case_id, community, title, description, category, difficulty,
               max_volunteers, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
           ON CONFLICT (case_id) DO NOTHING RETURNING id""",
        task_id, case_id, community, title, description, category, difficulty, max_volunteers,
        created_by)
    if created:
        TASKS_CREATED.labels("case" if case_id else "posted").inc()
    return created


async def claim(conn: asyncpg.Connection, task_id: str, volunteer_id: str) -> dict:
    """One claim per volunteer; never more claims than the task allows, under concurrency."""
    task = await conn.fetchrow("SELECT * FROM tasks WHERE id=$1 FOR UPDATE", _uuid(task_id))
    if task is None:
        raise NotFound(f"no task {task_id}")
    if not await conn.fetchval("SELECT 1 FROM volunteers WHERE id=$1", _uuid(volunteer_id)):
        raise NotFound(f"no volunteer {volunteer_id}")
    if await conn.fetchval("SELECT 1 FROM task_claims WHERE task_id=$1 AND volunteer_id=$2",
                           task["id"], _uuid(volunteer_id)):
        raise Conflict("this volunteer has already claimed the task")
    if task["status"] != "open" or task["claimed"] >= task["max_volunteers"]:
        raise Conflict("the task is not open for claims", task_status=task["status"])
    await conn.execute("INSERT INTO task_claims(task_id, volunteer_id) VALUES ($1,$2)",
                       task["id"], _uuid(volunteer_id))
    await conn.execute(
        "UPDATE tasks SET claimed = claimed + 1, status = CASE WHEN claimed + 1 >= "
        "max_volunteers THEN 'claimed' ELSE status END WHERE id=$1", task["id"])
    return {"task_id": task_id, "volunteer_id": volunteer_id, "status": "claimed"}


async def complete(ctx: Context, conn: asyncpg.Connection, task_id: str, volunteer_id: str,
                   hours: float, verified_by: str) -> dict:
    """A community worker verifies the hours; points are awarded exactly once."""
    task = await conn.fetchrow("SELECT * FROM tasks WHERE id=$1 FOR UPDATE", _uuid(task_id))
    if task is None:
        raise NotFound(f"no task {task_id}")
    claim_row = await conn.fetchrow(
        "SELECT * FROM task_claims WHERE task_id=$1 AND volunteer_id=$2 FOR UPDATE",
        task["id"], _uuid(volunteer_id))
    if claim_row is None:
        raise Conflict("this volunteer has not claimed the task")
    if claim_row["completed_at"] is not None:
        raise Conflict("already completed; points were awarded once",
                       points=claim_row["points"])
    try:
        points = ctx.rules.award(hours=hours, difficulty=task["difficulty"],
                                 category=task["category"])
    except ValueError as exc:
        raise Conflict(str(exc)) from exc
    now = datetime.now(UTC)
    await conn.execute(
        "UPDATE task_claims SET completed_at=$3, hours=$4, points=$5, verified_by=$6 "
        "WHERE task_id=$1 AND volunteer_id=$2", task["id"], _uuid(volunteer_id), now, hours,
        points, verified_by)
    await conn.execute(
        """UPDATE tasks SET status='completed' WHERE id=$1 AND NOT EXISTS (
               SELECT 1 FROM task_claims WHERE task_id=$1 AND completed_at IS NULL)""",
        task["id"])
    txn = await ledger.award(conn, ref=f"task:{task_id}:{volunteer_id}", volunteer_id=volunteer_id,
                             points=points, hours=hours, note=task["title"], at=now)
    if txn is not None:
        POINTS_AWARDED.inc(points)
        await enqueue(conn, POINTS_EVENTS, new_event(
            "points.awarded.v1", source=SOURCE, subject=volunteer_id, now=now,
            correlationid=task["case_id"] or task_id,
            data={"volunteer_id": volunteer_id, "points": points, "hours": hours,
                  "task_id": task_id, "case_id": task["case_id"], "community": task["community"],
                  "txn_id": str(txn)}))
    return {"task_id": task_id, "volunteer_id": volunteer_id, "hours": hours, "points": points}


async def redeem(conn: asyncpg.Connection, volunteer_id: str, points: int, item: str,
                 request_id: str | None) -> dict:
    now = datetime.now(UTC)
    ref = f"redeem:{request_id or uuid.uuid4()}"
    if request_id is not None:
        first = await ledger.find_txn(conn, ref)
        if first is not None:
            return await _redemption_replay(conn, first, volunteer_id, points, item)
    try:
        txn, left = await ledger.redeem(conn, ref=ref, volunteer_id=str(_uuid(volunteer_id)),
                                        points=points, note=item, at=now)
    except ledger.DuplicateRedemption as exc:  # the same request id, committed meanwhile
        raise Conflict(f"redemption {request_id} is being applied; retry to read its answer",
                       retry=True) from exc
    POINTS_REDEEMED.inc(points)
    await enqueue(conn, POINTS_EVENTS, new_event(
        "points.redeemed.v1", source=SOURCE, subject=volunteer_id, now=now,
        data={"volunteer_id": volunteer_id, "points": points, "item": item,
              "balance": left, "txn_id": str(txn)}))
    return {"volunteer_id": volunteer_id, "points": points, "item": item, "balance": left,
            "txn_id": str(txn)}


async def _redemption_replay(conn: asyncpg.Connection, first, volunteer_id: str, points: int,
                             item: str) -> dict:
    """The same request id again: the first answer if it asked the same, else 409."""
    if (first["kind"], first["volunteer_id"], first["points"], first["note"]) != (
            "redemption", str(_uuid(volunteer_id)), points, item):
        raise Conflict("request_id was used for a different redemption")
    return {"volunteer_id": volunteer_id, "points": points, "item": item,
            "balance": await ledger.balance(conn, volunteer_id), "txn_id": str(first["id"]),
            "replayed": True}


async def leaderboard(ctx: Context, conn: asyncpg.Connection, *, level: str, code: str,
                      period: Period, limit: int | None) -> dict:
    rows = await ledger.standings(conn, level=level, code=code, start=period.start,
                                  end=period.end)
    ranked = rank([Standing(r["volunteer_id"], r["name"], r["points"], r["hours"],
                            r["first_earned"]) for r in rows])
    top = ctx.top[period.kind] if limit is None else limit
    entries = [{"rank": n, "volunteer_id": s.volunteer_id, "name": s.name, "points": s.points,
                "hours": s.hours, "star": n <= ctx.top[period.kind]} for n, s in ranked]
    return {"scope": f"{level}:{code}", "period": period.label, "top": ctx.top[period.kind],
            "entries": entries if limit is None else entries[:top]}


# -- cases.events → tasks and assessment ----------------------------------------------------------

ASSESSED = {"case.dispatched.v1", "case.acknowledged.v1", "case.resolved.v1",
            "case.returned.v1", "case.rated.v1", "case.reopened.v1"}


async def on_case_event(conn: asyncpg.Connection, msg: Incoming) -> None:
    """Service orders become tasks; every case event feeds the assessment."""
    env, data = msg.envelope, msg.envelope.data
    if (env.type == "case.dispatched.v1" and data.get("dept") == "community"
            and data.get("kind") == "service_order"):
        await create_task(conn, community=data["community"],
                          title=f"群众点单 {data.get('tracking_no') or env.subject}",
                          description=data.get("description") or "", category=data["category"],
                          difficulty="normal", max_volunteers=1, created_by="dispatch",
                          case_id=env.subject)
    await record_assessment(conn, msg)


async def record_assessment(conn: asyncpg.Connection, msg: Incoming) -> None:
    env, data = msg.envelope, msg.envelope.data
    if env.type not in ASSESSED:
        return
    if env.type == "case.resolved.v1":
        depts = data.get("resolved_by") or [data.get("lead")]
    elif env.type in ("case.rated.v1", "case.reopened.v1"):
        depts = [data.get("lead")]
    else:
        depts = [data.get("dept")]
    rows = [(env.id, d, env.subject, env.type, data.get("on_time"), data.get("rating"), env.time)
            for d in depts if d]
    await conn.executemany(
        "INSERT INTO assessment_events(event_id, dept, case_id, type, on_time, rating, at) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING", rows)


async def department_facts(conn: asyncpg.Connection, dept: str, period: Period) -> Facts:
    """Counts over the cases dispatched to `dept` within the period."""
    row = await conn.fetchrow(
        """WITH mine AS (
               SELECT DISTINCT case_id FROM assessment_events
               WHERE dept=$1 AND type='case.dispatched.v1' AND at >= $2 AND at < $3),
           ev AS (SELECT e.* FROM assessment_events e JOIN mine USING (case_id) WHERE e.dept=$1)
           SELECT (SELECT count(*) FROM mine) AS dispatched,
                  count(DISTINCT case_id) FILTER (WHERE type='case.acknowledged.v1' AND on_time)
                    AS ack_on_time,
                  count(DISTINCT case_id) FILTER (WHERE type='case.resolved.v1') AS resolved,
                  count(DISTINCT case_id) FILTER (WHERE type='case.resolved.v1' AND on_time)
                    AS resolved_on_time,
                  count(*) FILTER (WHERE type='case.rated.v1') AS rated,
                  count(*) FILTER (WHERE type='case.rated.v1'
                                   AND rating IN ('satisfied','basically_satisfied')) AS satisfied,
                  count(*) FILTER (WHERE type='case.returned.v1') AS returns,
                  count(*) FILTER (WHERE type='case.reopened.v1') AS reopens
           FROM ev""", dept, period.start, period.end)
    return Facts(row["dispatched"], row["ack_on_time"], row["resolved"], row["resolved_on_time"],
                 row["rated"], row["satisfied"], row["returns"], row["reopens"])


async def department_assessment(ctx: Context, conn: asyncpg.Connection, dept: str,
                                period: Period) -> dict:
    facts = await department_facts(conn, dept, period)
    result = assess(facts, ctx.weights)
    return {"dept": dept, "period": period.label, "facts": facts.__dict__,
            "rates": {"response": result.response_rate, "resolution": result.resolution_rate,
                      "on_time_resolution": result.on_time_resolution_rate,
                      "satisfaction": result.satisfaction_rate},
            "weights": ctx.weights, "score": result.score}


async def ranking(ctx: Context, conn: asyncpg.Connection, period: Period) -> list[dict]:
    depts = [r["dept"] for r in await conn.fetch(
        "SELECT DISTINCT dept FROM assessment_events WHERE type='case.dispatched.v1' "
        "AND at >= $1 AND at < $2", period.start, period.end)]
    rows = [await department_assessment(ctx, conn, d, period) for d in depts]
    rows.sort(key=lambda r: (-(r["score"] or 0), r["dept"]))
    return [{"rank": i + 1, **r} for i, r in enumerate(rows)]
