"""A consumer tells its service when applied events were committed (notify wakes its sender
with it instead of polling)."""

from __future__ import annotations

from whistle_common.consumer import ConsumerSpec, EventConsumer
from whistle_common.topics import INCIDENTS_RECEIVED

from tests.unit.common.test_usecase import Pool, Producer, raw


async def test_on_commit_runs_once_per_batch_that_applied_something():
    calls = []

    async def handler(uow, msg):
        pass

    spec = ConsumerSpec(INCIDENTS_RECEIVED, {"incident.received.v1": handler}, name="t",
                        unit_of_work=lambda conn: None, on_commit=lambda: calls.append(1))
    pool = Pool()
    consumer = EventConsumer(spec, pool=lambda: pool, producer=Producer)
    assert await consumer.handle_batch([raw("a"), raw("b")]) == ["applied", "applied"]
    assert calls == [1]
    assert await consumer.handle_batch([raw("a")]) == ["duplicate"]  # nothing new: no call
    assert calls == [1]
    assert await consumer.handle(key=None, value=raw("c").value) == "applied"
    assert calls == [1, 1]
