"""Batches: a consumer tells its service when applied events were committed (notify wakes its
sender with it instead of polling); an event alone in its batch goes without a savepoint and,
rejected, leaves nothing behind."""

from __future__ import annotations

from whistle_common.consumer import ConsumerSpec, EventConsumer
from whistle_common.topics import INCIDENTS_RECEIVED
from whistle_common.usecase import IllegalTransition

from tests.unit.common.test_usecase import Pool, Producer, consumer_of, raw


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


async def test_a_rejected_event_alone_in_its_batch_is_rolled_back_and_dead_lettered():
    async def handler(uow, msg):
        raise IllegalTransition("the case is closed")

    consumer, producer = consumer_of(handler)
    assert await consumer.handle_batch([raw("bad")]) == ["dlq"]
    [(_, headers)] = producer.sent
    assert headers["x-dlq-category"] == "illegal-transition"
    assert consumer._pool().conn.claimed == set()  # its claim rolled back with it
