"""An idle sender sleeps until the next notification falls due instead of polling."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from whistle_common.usecase import run_use_case
from whistle_notify import handlers

from .support import CASE, consume, deliver, event, rows


async def wait(ctx, uow, shortest: float = 0.5) -> float:
    return await run_use_case(lambda: uow, partial(handlers.seconds_to_next_due, ctx), shortest)


async def test_nothing_waiting_sleeps_the_longest(ctx, uow):
    assert await wait(ctx, uow) == handlers.IDLE_WAIT


async def test_a_due_notification_wakes_at_once_and_a_later_one_at_its_time(ctx, uow, clock):
    await consume(ctx, uow, event("case.created.v1", {**CASE, "reporter": {"phone": "1"}}))
    assert await wait(ctx, uow) == 0.5  # due now: the shortest sleep
    [row] = rows(uow)
    uow.notifications.rows[row["id"]]["next_attempt_at"] = clock() + timedelta(seconds=7)
    assert await wait(ctx, uow) == 7.0
    uow.notifications.rows[row["id"]]["next_attempt_at"] = clock() + timedelta(hours=2)
    assert await wait(ctx, uow) == handlers.IDLE_WAIT


async def test_a_lease_counts_from_its_end(ctx, uow, clock, channels):
    await consume(ctx, uow, event("case.created.v1", {**CASE, "reporter": {"phone": "1"}}))
    [row] = rows(uow)
    uow.notifications.rows[row["id"]].update(status="sending",
                                             lease_until=clock() + timedelta(seconds=12))
    assert await wait(ctx, uow) == 12.0
    assert await deliver(ctx, uow) == 0 and channels["sms"].sent == []
