"""A consumer's batch is retried until applied: never acked unapplied, never dropped."""

from __future__ import annotations

import asyncio

import pytest
from whistle_common.service import apply_until_done


class FlakyConsumer:
    """handle_batch fails `failures` times, then applies."""

    class spec:  # noqa: N801 - stands in for ConsumerSpec
        topic = "cases.events"

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0
        self.retried = asyncio.Event()  # set on the second call

    async def handle_batch(self, batch):
        self.calls += 1
        if self.calls >= 2:
            self.retried.set()
        if self.calls <= self.failures:
            raise ConnectionError("Kafka is away: the dead letter cannot be sent")
        return ["applied"] * len(batch)


async def test_a_failing_batch_is_retried_until_applied_never_dropped():
    consumer = FlakyConsumer(failures=3)
    await asyncio.wait_for(apply_until_done(consumer, [object()], first_delay=0.001), 10)
    assert consumer.calls == 4


async def test_a_retried_batch_can_still_be_stopped():
    consumer = FlakyConsumer(failures=10**6)
    task = asyncio.ensure_future(apply_until_done(consumer, [object()], first_delay=0.001))
    await asyncio.wait_for(consumer.retried.wait(), 10)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert consumer.calls >= 2
