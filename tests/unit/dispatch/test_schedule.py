"""When a dispatch worker sweeps: at the earliest deadline (at least `min_interval`, at most
`max_idle` after the last sweep), earlier when a use case writes an earlier deadline."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from whistle_common.usecase import run_use_case
from whistle_dispatch import handlers
from whistle_dispatch.schedule import SweepSchedule

from .fakes import FakeDispatchUnitOfWork
from .scenario import CTX, open_case, reported


def in_(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def asleep(schedule: SweepSchedule) -> None:
    """Until the schedule's wait has started sleeping (rounds of the loop, not wall time)."""
    for _ in range(1000):
        if schedule.asleep:
            return
        await asyncio.sleep(0)
    raise AssertionError("the schedule never went to sleep")


async def timed(awaitable) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.wait_for(awaitable, 10)
    return loop.time() - start


async def test_with_nothing_watched_a_worker_sleeps_the_longest_idle():
    schedule = SweepSchedule(min_interval=0.01, max_idle=0.3)
    assert await timed(schedule.wait(None)) >= 0.29


async def test_a_worker_sweeps_when_the_earliest_deadline_comes():
    schedule = SweepSchedule(min_interval=0.01, max_idle=5)
    assert 0.1 <= await timed(schedule.wait(in_(0.15))) < 1


async def test_a_deadline_already_past_waits_only_the_least_interval():
    schedule = SweepSchedule(min_interval=0.1, max_idle=5)
    assert 0.09 <= await timed(schedule.wait(in_(-60))) < 1


async def test_an_earlier_deadline_written_while_asleep_wakes_the_worker_for_it():
    schedule = SweepSchedule(min_interval=0.01, max_idle=30)
    waiting = asyncio.ensure_future(timed(schedule.wait(None)))
    await asleep(schedule)
    schedule.deadline_written(in_(0.1))
    assert 0.09 <= await waiting < 2


async def test_a_later_deadline_written_does_not_move_the_sweep():
    schedule = SweepSchedule(min_interval=0.01, max_idle=30)
    waiting = asyncio.ensure_future(timed(schedule.wait(in_(0.2))))
    await asleep(schedule)
    schedule.deadline_written(in_(3600))
    assert 0.19 <= await waiting < 1


async def test_however_many_deadlines_are_written_sweeps_keep_the_least_interval():
    schedule = SweepSchedule(min_interval=0.3, max_idle=30)
    waiting = asyncio.ensure_future(timed(schedule.wait(None)))
    for _ in range(5):
        await asleep(schedule)               # woken by each, it goes back to sleep
        schedule.deadline_written(in_(-1))
        await asyncio.sleep(0)
    assert 0.29 <= await waiting < 2


def test_a_written_deadline_counts_until_a_sweep_has_passed_it():
    schedule = SweepSchedule(min_interval=1, max_idle=60)
    schedule.deadline_written(in_(100))
    assert 90 < schedule.until(None) <= 100
    schedule.swept(in_(50))
    assert 90 < schedule.until(None) <= 100          # not yet due: kept
    schedule.swept(in_(101))
    assert schedule.until(None) == float("inf")        # passed by a sweep: spent
    assert 9 < schedule.until(in_(10)) <= 10


@pytest.mark.parametrize(("least", "most"), [(0, 10), (5, 1), (-1, 1)])
def test_intervals_out_of_order_are_refused(least, most):
    with pytest.raises(ValueError):
        SweepSchedule(min_interval=least, max_idle=most)


async def test_opening_a_case_tells_the_schedule_its_first_deadline():
    uow, written = FakeDispatchUnitOfWork(), []
    ctx = dataclasses.replace(CTX, on_deadline=written.append)
    case = await open_case(uow, ctx)
    assert written == [min(a.ack_by for a in case.assignments)]
    assert await next_deadline(uow) == written[0]


async def test_an_approved_extension_tells_the_schedule_its_new_deadline():
    uow, written = FakeDispatchUnitOfWork(), []
    ctx = dataclasses.replace(CTX, on_deadline=written.append)
    case = await open_case(uow, ctx)
    await reported(uow, case.id, "gongan", "acknowledged")
    await reported(uow, case.id, "gongan", "extension_requested", extension_hours=48,
                   reason="需协调产权单位")
    written.clear()
    decided = await run_use_case(lambda: uow, partial(handlers.decide_extension, ctx),
                                 handlers.DecideExtension(case.id, dept="gongan", approve=True,
                                                          by="street-office"))
    assert decided.assignments[0].resolve_by in written


async def test_with_every_watch_parked_nothing_is_next():
    uow = FakeDispatchUnitOfWork()
    case = await open_case(uow)
    for key in list(uow.cases.supervision):
        await uow.cases.advance({"case_id": key[0], "seq": key[1], "kind": key[2]}, None)
    assert case.id
    assert await next_deadline(uow) is None



async def next_deadline(uow: FakeDispatchUnitOfWork) -> datetime | None:
    return await run_use_case(lambda: uow, handlers.next_deadline,
                              handlers.At(datetime.now(UTC)))
