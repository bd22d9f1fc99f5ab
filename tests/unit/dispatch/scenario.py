"""What dispatch's handler tests share: the real catalogue and territory, messages as the
consumers receive them, and use cases run the way the service runs them."""

from __future__ import annotations

import dataclasses
import uuid
from functools import partial
from typing import Any

import pytest
from whistle_catalogue import load_catalogue, load_territory
from whistle_common.consumer import Incoming
from whistle_common.envelope import Envelope, new_event
from whistle_common.signing import signed_headers
from whistle_common.topics import DISPATCH_REPORTS, INCIDENTS_RECEIVED
from whistle_common.usecase import Problem, problem_for, run_use_case
from whistle_dispatch import handlers
from whistle_dispatch.domain.case import Case
from whistle_dispatch.domain.deadlines import weekdays_only
from whistle_dispatch.domain.merging import MergePolicy
from whistle_dispatch.domain.supervision import Policy

from .fakes import FakeDispatchUnitOfWork

SECRETS = {"gongan": "gongan-secret", "chengguan": "chengguan-secret",
           "huanwei": "huanwei-secret"}
AUTOCLOSE_SECONDS = 3600
# every scenario repeats one noise call at one grid: merging (并单) is off here, on in MERGING
CTX = handlers.Context(load_catalogue(), load_territory(), weekdays_only, SECRETS,
                       policy=Policy.parse("street=60,district=120,city=240"),
                       autoclose_seconds=AUTOCLOSE_SECONDS, merge_policy=None)
MERGING = dataclasses.replace(CTX, merge_policy=MergePolicy())
STREET_WITH_TEAM = "12011900100101"    # 文昌街道
TOWN_WITHOUT_TEAM = "12011900300101"   # 下仓镇
PHONE = "13812341234"


def incident(incident_id: str | None = None, **overrides: Any) -> Incoming:
    """incident.received.v1 as intake publishes it."""
    data = {"category": "noise", "kind": "complaint", "priority": "normal",
            "description": "楼下KTV凌晨两点还在唱歌，噪音很大",
            "tracking_no": "12345-20261125-0001",
            "location": {"grid_code": STREET_WITH_TEAM, "address": "府君山社区3号楼"},
            "reporter": {"phone": PHONE}, "source": "hotline", **overrides}
    env = new_event("incident.received.v1", source="/whistle/intake",
                    subject=incident_id or str(uuid.uuid4()), data=data)
    return Incoming(INCIDENTS_RECEIVED, env.key, env.to_bytes(), {}, 0, 0, env)


def report(case_id: str, dept: str, kind: str, *, signer: str | None = None,
           secret: str | None = None, signed: bool = True, **fields: Any) -> Incoming:
    """dispatch.reported.v1 as a department's system sends it, signed by `signer`."""
    env = new_event("dispatch.reported.v1", source=f"/dept/{dept}", subject=case_id,
                    data={"dept": dept, "kind": kind, **fields})
    value = env.to_bytes()
    signer = signer or dept
    headers = signed_headers(signer, secret or SECRETS[signer], value) if signed else {}
    return Incoming(DISPATCH_REPORTS, env.key, value,
                    {k: v.encode() for k, v in headers.items()}, 0, 0, env)


async def consume(uow: FakeDispatchUnitOfWork, handler, msg: Incoming,
                  ctx: handlers.Context = CTX) -> None:
    """Apply a message as the consumer does: the handler in the unit, then the commit."""
    async with uow:
        await handler(ctx, uow, msg)
        await uow.commit()


async def dead_letter(uow: FakeDispatchUnitOfWork, handler, msg: Incoming) -> Problem:
    """Apply a message the handler must refuse: what the consumer makes of the failure (its
    slug is the DLQ category, its detail the reason)."""
    with pytest.raises(Exception) as refused:
        await consume(uow, handler, msg)
    problem = problem_for(refused.value)
    assert problem is not None and not problem.retry, refused.value
    return problem


async def run(uow: FakeDispatchUnitOfWork, handler, command) -> Any:
    """Run a use case with the context bound, as the HTTP routes do."""
    return await run_use_case(lambda: uow, partial(handler, CTX), command)


async def read(uow: FakeDispatchUnitOfWork, handler, query) -> Any:
    """Run a use case that needs no context (the read side, the gauges)."""
    return await run_use_case(lambda: uow, handler, query)


async def open_case(uow: FakeDispatchUnitOfWork, ctx: handlers.Context = CTX,
                    **overrides: Any) -> Case:
    """A case opened from a fresh incident."""
    msg = incident(**overrides)
    await consume(uow, handlers.on_incident, msg, ctx)
    created = [e for e in uow.outbox.of_type("case.created.v1")
               if e.data["incident_id"] == msg.envelope.subject]
    return await uow.cases.load(created[0].subject)


async def reported(uow: FakeDispatchUnitOfWork, case_id: str, dept: str, kind: str,
                   **fields: Any) -> Case:
    """A department's report over HTTP, applied."""
    return await run(uow, handlers.apply_report,
                     handlers.Report(case_id, dept, {"kind": kind, **fields}))


def sent(uow: FakeDispatchUnitOfWork, topic: str, case_id: str | None = None) -> list[Envelope]:
    """The committed events of one topic (about one case)."""
    return [e for t, e, _ in uow.outbox.events
            if t == topic and (case_id is None or e.subject == case_id)]
