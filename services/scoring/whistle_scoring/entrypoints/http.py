"""HTTP API of scoring: authorise, decode, run a use case, encode."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from whistle_common.auth import Principal, authenticated, require
from whistle_common.problems import ProblemError
from whistle_common.usecase import run_use_case

from .. import handlers
from ..domain.periods import Period, month_of, parse_period
from ..schemas import ClaimCreate, CompletionCreate, RedemptionCreate, TaskCreate, VolunteerCreate

router = APIRouter(prefix="/v1", tags=["scoring"])
Caller = Annotated[Principal, Depends(authenticated)]
Community = Annotated[Principal, Depends(require("community"))]


def _for_volunteer(caller: Principal, volunteer_id: str) -> None:
    """A volunteer acts for themself; community workers and operators for anyone."""
    if caller.is_operator or caller.has("community") or caller.has(f"volunteer:{volunteer_id}"):
        return
    raise ProblemError(403, "forbidden", "Forbidden", "you may act only for yourself")


def _period(text: str | None, *, required: bool = True) -> Period | None:
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
    return await run_use_case(request.app.state.runtime.uow,
                              partial(handlers.register_volunteer, request.app.state.ctx),
                              handlers.RegisterVolunteer(body))


@router.get("/volunteers/{volunteer_id}")
async def volunteer(volunteer_id: str, request: Request, caller: Caller) -> dict:
    """Balance, hours (time bank) and this month's rank in the community."""
    _for_volunteer(caller, volunteer_id)
    return await run_use_case(request.app.state.runtime.uow,
                              partial(handlers.volunteer_view, request.app.state.ctx),
                              handlers.VolunteerQuery(volunteer_id))


@router.get("/volunteers/{volunteer_id}/ledger")
async def volunteer_ledger(volunteer_id: str, request: Request, caller: Caller) -> dict:
    """Awards and redemptions, newest first."""
    _for_volunteer(caller, volunteer_id)
    return await run_use_case(request.app.state.runtime.uow, handlers.volunteer_ledger,
                              handlers.VolunteerQuery(volunteer_id))


@router.get("/tasks")
async def tasks(request: Request, _: Caller, community: str | None = None,
                status: str | None = "open", limit: int = Query(100, ge=1, le=500)) -> list:
    """Volunteer tasks, open ones by default."""
    return await run_use_case(request.app.state.runtime.uow, handlers.list_tasks,
                              handlers.TasksQuery(community, status, limit))


@router.post("/tasks", status_code=201)
async def post_task(body: TaskCreate, request: Request, caller: Community) -> dict:
    """A community worker posts a task."""
    return await run_use_case(request.app.state.runtime.uow,
                              partial(handlers.post_task, request.app.state.ctx),
                              handlers.PostTask(body, caller.client))


@router.post("/tasks/{task_id}/claim")
async def claim_task(task_id: str, body: ClaimCreate, request: Request, caller: Caller) -> dict:
    """A volunteer takes the order (接单); one claim each, never more than allowed."""
    _for_volunteer(caller, body.volunteer_id)
    return await run_use_case(request.app.state.runtime.uow, handlers.claim,
                              handlers.ClaimTask(task_id, body.volunteer_id))


@router.post("/tasks/{task_id}/complete")
async def complete_task(task_id: str, body: CompletionCreate, request: Request,
                        caller: Community) -> dict:
    """A community worker verifies the hours; points are awarded once."""
    return await run_use_case(request.app.state.runtime.uow,
                              partial(handlers.complete, request.app.state.ctx),
                              handlers.CompleteTask(task_id, body.volunteer_id, body.hours,
                                                    caller.client))


@router.post("/redemptions", status_code=201)
async def redeem(body: RedemptionCreate, request: Request, response: Response,
                 caller: Caller) -> dict:
    """Redeem points (积分兑换); 409 with the balance when it does not cover them. The same
    `request_id` again answers the first redemption (200) and takes nothing more."""
    _for_volunteer(caller, body.volunteer_id)
    outcome = await run_use_case(request.app.state.runtime.uow, handlers.redeem,
                                 handlers.Redeem(body.volunteer_id, body.points, body.item,
                                                 body.request_id))
    if not outcome.created:
        response.status_code = 200
    return outcome.body


@router.get("/leaderboards")
async def leaderboards(request: Request, scope: str, period: str | None = None) -> dict:
    """Top volunteers: monthly top 10, quarterly top 5, yearly top 3 (星级户)."""
    level, _, code = scope.partition(":")
    if level not in ("community", "street") or not code:
        raise ProblemError(422, "bad-scope", "Bad scope", "use community:<code> or street:<code>")
    chosen = _period(period, required=False) or parse_period(month_of(datetime.now(UTC)))
    ctx = request.app.state.ctx
    return await run_use_case(request.app.state.runtime.uow, partial(handlers.leaderboard, ctx),
                              handlers.LeaderboardQuery(level, code, chosen,
                                                        limit=ctx.top[chosen.kind]))


@router.get("/departments/ranking")
async def department_ranking(request: Request, period: str,
                             _: Annotated[Principal, Depends(require("operator"))]) -> list:
    """All departments of a period ranked by score."""
    return await run_use_case(request.app.state.runtime.uow,
                              partial(handlers.ranking, request.app.state.ctx), _period(period))


@router.get("/departments/{code}/assessment")
async def assessment(code: str, request: Request, period: str, caller: Caller) -> dict:
    """The three rates (响应率, 解决率, 满意率), on-time resolution, returns, reopens, score."""
    if not (caller.is_operator or code in caller.departments()):
        raise ProblemError(403, "forbidden", "Forbidden", "operators or the department itself")
    return await run_use_case(request.app.state.runtime.uow,
                              partial(handlers.department_assessment, request.app.state.ctx),
                              handlers.AssessmentQuery(code, _period(period)))


@router.get("/hotspots")
async def hotspots(request: Request, caller: Caller, street: str | None = None,
                   days: int = Query(7, ge=1, le=90), limit: int = Query(100, ge=1, le=500)
                   ) -> dict:
    """Hotspots (未诉先办): current ones (window not over) and those of the last `days`, with
    counts, baseline and sample cases; and the categories recurring in a community week after
    week, each with the incident to POST to intake for a proactive case (主动治理). A street
    office sees its own street's."""
    streets = caller.streets()
    if not (caller.is_operator or caller.has("incidents:read") or streets):
        raise ProblemError(403, "forbidden", "Forbidden",
                           "needs operator, incidents:read or a street:<code> scope")
    if streets and not (caller.is_operator or caller.has("incidents:read")):
        if street is not None and street not in streets:
            raise ProblemError(403, "forbidden", "Forbidden",
                               f"you may not see street {street}'s hotspots")
        street = street or sorted(streets)[0]
    return await run_use_case(request.app.state.runtime.uow,
                              partial(handlers.list_hotspots, request.app.state.ctx),
                              handlers.HotspotQuery(days=days, street=street, limit=limit))
