"""HTTP API of scoring: decode, call a handler, encode."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from whistle_common.auth import Principal, authenticate, require
from whistle_common.db import UNAVAILABLE
from whistle_common.problems import ProblemError

from .. import handlers
from ..domain.periods import month_of, parse_period
from ..domain.points import InsufficientBalance
from ..schemas import ClaimCreate, CompletionCreate, RedemptionCreate, TaskCreate, VolunteerCreate

router = APIRouter(prefix="/v1", tags=["scoring"])
Caller = Annotated[Principal, Depends(authenticate)]
Community = Annotated[Principal, Depends(require("community"))]
DB_DOWN = UNAVAILABLE


def _for_volunteer(caller: Principal, volunteer_id: str) -> None:
    """A volunteer acts for themself; community workers and operators for anyone."""
    if caller.is_operator or caller.has("community") or caller.has(f"volunteer:{volunteer_id}"):
        return
    raise ProblemError(403, "forbidden", "Forbidden", "you may act only for yourself")


async def _run(request: Request, action, *, transaction: bool = True):
    ctx = request.app.state.ctx
    try:
        async with request.app.state.runtime.db().acquire() as conn:
            if not transaction:
                return await action(ctx, conn)
            async with conn.transaction():
                return await action(ctx, conn)
    except handlers.NotFound as exc:
        raise ProblemError(404, "not-found", "Not found", str(exc)) from exc
    except InsufficientBalance as exc:
        raise ProblemError(409, "insufficient-balance", "Insufficient balance",
                           f"the balance is {exc.balance} points", balance=exc.balance) from exc
    except handlers.Conflict as exc:
        raise ProblemError(409, "conflict", "Conflict", exc.detail, **exc.extra) from exc
    except DB_DOWN as exc:
        raise ProblemError(503, "unavailable", "Service unavailable", "storage unavailable",
                           headers={"Retry-After": "5"}) from exc


def _period(text: str | None, *, required: bool = True):
    """The period of a query; 422 when it is malformed, or empty but required."""
    if not text and not required:
        return None
    try:
        return parse_period(text or "")
    except ValueError as exc:
        raise ProblemError(422, "bad-period", "Bad period", str(exc)) from exc


@router.post("/volunteers", status_code=201)
async def register(body: VolunteerCreate, request: Request, _: Community) -> dict:
    """Register a volunteer (community workers)."""
    return await _run(request, lambda ctx, c: handlers.register_volunteer(ctx, c,
                                                                           body.model_dump()))


@router.get("/volunteers/{volunteer_id}")
async def volunteer(volunteer_id: str, request: Request, caller: Caller) -> dict:
    """Balance, hours (time bank) and this month's rank in the community."""
    _for_volunteer(caller, volunteer_id)
    return await _run(request, lambda ctx, c: handlers.volunteer_view(ctx, c, volunteer_id),
                      transaction=False)


@router.get("/volunteers/{volunteer_id}/ledger")
async def volunteer_ledger(volunteer_id: str, request: Request, caller: Caller) -> dict:
    """Awards and redemptions, newest first."""
    _for_volunteer(caller, volunteer_id)
    from ..adapters import ledger

    async def read(ctx, conn):
        await handlers.volunteer_view(ctx, conn, volunteer_id)  # 404 for unknown ids
        rows = await ledger.entries(conn, volunteer_id)
        return {"volunteer_id": volunteer_id,
                "balance": await ledger.balance(conn, volunteer_id),
                "entries": [{**dict(r), "id": str(r["id"]), "hours": float(r["hours"])}
                            for r in rows]}

    return await _run(request, read, transaction=False)


@router.get("/tasks")
async def tasks(request: Request, _: Caller, community: str | None = None,
                status: str | None = "open", limit: int = Query(100, ge=1, le=500)) -> list:
    """Volunteer tasks, open ones by default."""
    async def read(ctx, conn):
        rows = await conn.fetch(
            "SELECT * FROM tasks WHERE ($1::text IS NULL OR community=$1) AND "
            "($2::text IS NULL OR status=$2) ORDER BY created_at DESC LIMIT $3",
            community, status, limit)
        return [{**dict(r), "id": str(r["id"])} for r in rows]

    return await _run(request, read, transaction=False)


@router.post("/tasks", status_code=201)
async def post_task(body: TaskCreate, request: Request, caller: Community) -> dict:
    """A community worker posts a task."""
    async def act(ctx, conn):
        if body.community not in ctx.territory.communities:
            raise handlers.Conflict(f"unknown community {body.community!r}")
        task_id = await handlers.create_task(conn, created_by=caller.client, **body.model_dump())
        return {"id": str(task_id), **body.model_dump(), "status": "open"}

    return await _run(request, act)


@router.post("/tasks/{task_id}/claim")
async def claim_task(task_id: str, body: ClaimCreate, request: Request, caller: Caller) -> dict:
    """A volunteer takes the order (接单); one claim each, never more than allowed."""
    _for_volunteer(caller, body.volunteer_id)
    return await _run(request, lambda ctx, c: handlers.claim(c, task_id, body.volunteer_id))


@router.post("/tasks/{task_id}/complete")
async def complete_task(task_id: str, body: CompletionCreate, request: Request,
                        caller: Community) -> dict:
    """A community worker verifies the hours; points are awarded once."""
    return await _run(request, lambda ctx, c: handlers.complete(
        ctx, c, task_id, body.volunteer_id, body.hours, caller.client))


@router.post("/redemptions", status_code=201)
async def redeem(body: RedemptionCreate, request: Request, response: Response,
                 caller: Caller) -> dict:
    """Redeem points (积分兑换); 409 with the balance when it does not cover them. The same
    `request_id` again answers the first redemption (200) and takes nothing more."""
    _for_volunteer(caller, body.volunteer_id)
    answer = await _run(request, lambda ctx, c: handlers.redeem(
        c, body.volunteer_id, body.points, body.item, body.request_id))
    if answer.pop("replayed", False):
        response.status_code = 200
    return answer


@router.get("/leaderboards")
async def leaderboards(request: Request, scope: str, period: str | None = None) -> dict:
    """Top volunteers: monthly top 10, quarterly top 5, yearly top 3 (星级户)."""
    level, _, code = scope.partition(":")
    if level not in ("community", "street") or not code:
        raise ProblemError(422, "bad-scope", "Bad scope", "use community:<code> or street:<code>")
    from datetime import UTC, datetime

    chosen = _period(period, required=False) or parse_period(month_of(datetime.now(UTC)))
    return await _run(request, lambda ctx, c: handlers.leaderboard(
        ctx, c, level=level, code=code, period=chosen, limit=ctx.top[chosen.kind]),
        transaction=False)


@router.get("/departments/ranking")
async def department_ranking(request: Request, period: str,
                             _: Annotated[Principal, Depends(require("operator"))]) -> list:
    """All departments of a period ranked by score."""
    chosen = _period(period)
    return await _run(request, lambda ctx, c: handlers.ranking(ctx, c, chosen),
                      transaction=False)


@router.get("/departments/{code}/assessment")
async def assessment(code: str, request: Request, period: str, caller: Caller) -> dict:
    """The three rates (响应率, 解决率, 满意率), on-time resolution, returns, reopens, score."""
    if not (caller.is_operator or code in caller.departments()):
        raise ProblemError(403, "forbidden", "Forbidden", "operators or the department itself")
    chosen = _period(period)
    return await _run(request, lambda ctx, c: handlers.department_assessment(ctx, c, code, chosen),
                      transaction=False)
