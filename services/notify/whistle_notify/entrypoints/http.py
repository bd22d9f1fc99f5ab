"""HTTP API of notify: authorise, call a handler, answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from whistle_common.auth import Principal, authenticated
from whistle_common.problems import ProblemError
from whistle_common.usecase import run_use_case

from .. import handlers
from ..schemas import PreferencesIn

router = APIRouter(prefix="/v1", tags=["notify"])
Caller = Annotated[Principal, Depends(authenticated)]


def _may_see(caller: Principal, recipient: str) -> bool:
    """Operators see all; a department or volunteer its own; the hotline its residents."""
    kind, _, ident = recipient.partition(":")
    if caller.is_operator:
        return True
    if kind == "dept":
        return ident in caller.departments()
    if kind == "volunteer":
        return caller.has(f"volunteer:{ident}")
    if kind == "resident":
        return caller.has("incidents:read")
    return False


@router.get("/notifications")
async def notifications(request: Request, caller: Caller, recipient: str,
                        limit: int = Query(50, ge=1, le=500)) -> list:
    """A recipient's notifications, newest first (the inbox)."""
    if not _may_see(caller, recipient):
        raise ProblemError(403, "forbidden", "Forbidden", "not your notifications")
    return await run_use_case(request.app.state.runtime.uow, handlers.list_for,
                              handlers.ListNotifications(recipient, limit))


@router.get("/notifications/{notification_id}")
async def notification(notification_id: str, request: Request, caller: Caller) -> dict:
    """One notification with every delivery attempt."""
    found = await run_use_case(request.app.state.runtime.uow, handlers.get_one,
                               notification_id)
    if not _may_see(caller, found["recipient"]):
        raise ProblemError(403, "forbidden", "Forbidden", "not your notification")
    return found


@router.put("/recipients/{recipient}/preferences")
async def preferences(recipient: str, body: PreferencesIn, request: Request,
                      caller: Caller) -> dict:
    """Channels and quiet hours (non-urgent resident messages wait; urgent ones go)."""
    if not _may_see(caller, recipient):
        raise ProblemError(403, "forbidden", "Forbidden", "not your preferences")
    return await run_use_case(request.app.state.runtime.uow, handlers.set_preferences,
                              handlers.SetPreferences(recipient, body))
