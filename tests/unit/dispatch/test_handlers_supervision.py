"""The supervision sweep on an in-memory unit of work: each stage of a missed deadline fires
once, the auto-close closes a resolved case nobody rated, a watch with nothing owed is parked,
and a case a report in flight holds is left for a later sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from whistle_common.topics import CASES_EVENTS
from whistle_dispatch import handlers

from .fakes import INFINITY, FakeDispatchUnitOfWork
from .scenario import AUTOCLOSE_SECONDS, CTX, open_case, reported, run, sent


@pytest.fixture
def uow() -> FakeDispatchUnitOfWork:
    return FakeDispatchUnitOfWork()


async def sweep(uow, now) -> int:
    return await handlers.sweep(CTX, lambda: uow, now)


def chain(uow, case_id: str, dept: str, deadline: str = "ack") -> list[str]:
    """The supervision stages published for one department's deadline, in order."""
    return [e.data.get("level", "overdue") for e in sent(uow, CASES_EVENTS, case_id)
            if e.type in ("case.overdue.v1", "case.escalated.v1")
            and (e.data["dept"], e.data["deadline"]) == (dept, deadline)]


async def test_a_missed_deadline_escalates_street_district_city_once_each(uow):
    case = await open_case(uow, priority="urgent")
    ack_by = case.assignments[0].ack_by
    waits = [0, 60, 60 + 120, 60 + 120 + 240]  # the policy: street=60, district=120, city=240
    for stage, wait in enumerate(waits):
        due = ack_by + timedelta(seconds=wait)
        assert await sweep(uow, due - timedelta(seconds=1)) == 0  # not yet
        assert await sweep(uow, due) == 2                         # lead and co, once each
        assert await sweep(uow, due) == 0                         # never twice
        assert uow.cases.supervision[case.id, 0, "ack"]["stage"] == stage + 1
    assert await sweep(uow, ack_by + timedelta(hours=1)) == 0
    assert chain(uow, case.id, "gongan") == ["overdue", "street", "district", "city"]
    assert chain(uow, case.id, "chengguan") == ["overdue", "street", "district", "city"]
    assert uow.cases.supervision[case.id, 0, "ack"] == {"stage": 4, "due_at": INFINITY}
    escalated = uow.outbox.of_type("case.escalated.v1")[-1]
    assert (escalated.data["level"], escalated.data["reason"]) == ("city", "ack deadline missed")
    stored = await uow.cases.load(case.id)
    assert stored.assignments[0].escalations == ["ack:overdue", "ack:street", "ack:district",
                                                 "ack:city"]


async def test_a_late_sweep_catches_up_and_still_fires_each_stage_once(uow):
    case = await open_case(uow, priority="urgent")
    ack_by = case.assignments[0].ack_by
    assert await sweep(uow, ack_by + timedelta(hours=1)) == 8  # 4 stages × lead and co
    assert await sweep(uow, ack_by + timedelta(hours=1)) == 0
    assert chain(uow, case.id, "gongan") == ["overdue", "street", "district", "city"]


async def test_acknowledging_stops_the_ack_chain(uow):
    case = await open_case(uow, priority="urgent")
    ack_by = case.assignments[0].ack_by
    await sweep(uow, ack_by)
    await reported(uow, case.id, "gongan", "acknowledged")
    await sweep(uow, ack_by + timedelta(minutes=30))
    assert chain(uow, case.id, "gongan") == ["overdue"]
    assert chain(uow, case.id, "chengguan") == ["overdue", "street", "district", "city"]


async def test_a_resolved_case_nobody_rated_closes_by_itself(uow):
    case = await open_case(uow)
    await reported(uow, case.id, "gongan", "acknowledged")
    resolved = await reported(uow, case.id, "gongan", "resolved", result="已处理")
    closes_at = resolved.resolved_at + timedelta(seconds=AUTOCLOSE_SECONDS)
    assert await sweep(uow, closes_at - timedelta(seconds=1)) == 0
    assert await sweep(uow, closes_at) == 1
    assert await sweep(uow, closes_at + timedelta(days=1)) == 0
    [closed] = uow.outbox.of_type("case.closed.v1")
    assert closed.data["reason"] == "not rated in time"
    assert (await uow.cases.load(case.id)).status == "closed"
    assert uow.cases.supervision == {}


async def test_a_watch_with_nothing_owed_any_more_is_parked_without_an_event(uow):
    case = await open_case(uow)
    for dept in ("gongan", "chengguan"):
        await reported(uow, case.id, dept, "acknowledged")
    due = case.assignments[0].ack_by
    uow.cases.supervision[case.id, 0, "ack"] = {"stage": 0, "due_at": due}  # left from before
    events = len(uow.outbox.events)
    assert await sweep(uow, due) == 0
    assert uow.cases.supervision[case.id, 0, "ack"] == {"stage": 1, "due_at": INFINITY}
    assert chain(uow, case.id, "gongan") == [] and len(uow.outbox.events) == events


async def test_an_autoclose_left_on_a_reopened_case_is_parked(uow):
    case = await open_case(uow)
    await reported(uow, case.id, "gongan", "acknowledged")
    await reported(uow, case.id, "gongan", "resolved", result="已处理")
    await run(uow, handlers.rate, handlers.Rate(case.id, "unsatisfied", "还是很吵"))
    due = datetime.now(UTC)
    uow.cases.supervision[case.id, -1, "autoclose"] = {"stage": 0, "due_at": due}
    assert await sweep(uow, due) == 0
    assert uow.cases.supervision[case.id, -1, "autoclose"] == {"stage": 1, "due_at": INFINITY}
    assert (await uow.cases.load(case.id)).status == "reopened"
    assert uow.outbox.of_type("case.closed.v1") == []


async def test_a_case_held_by_a_report_in_flight_is_skipped_until_a_later_sweep(uow):
    busy = await open_case(uow, priority="urgent")
    other = await open_case(uow, priority="urgent")
    ack_by = max(busy.assignments[0].ack_by, other.assignments[0].ack_by)
    uow.cases.held.add(busy.id)
    assert await sweep(uow, ack_by) == 2  # only the other case's two watches
    assert chain(uow, busy.id, "gongan") == [] and chain(uow, other.id, "gongan") == ["overdue"]
    assert uow.cases.supervision[busy.id, 0, "ack"]["stage"] == 0
    uow.cases.held.clear()
    assert await sweep(uow, ack_by) == 2
    assert chain(uow, busy.id, "gongan") == ["overdue"]


async def test_a_sweep_fires_at_most_its_limit(uow):
    case = await open_case(uow, priority="urgent")
    late = case.assignments[0].ack_by + timedelta(hours=1)
    assert await handlers.sweep(CTX, lambda: uow, late, limit=3) == 3
    assert uow.commits == 1 + 3  # the case's opening, then one transaction per watch
    assert await sweep(uow, late) == 5
