"""Kafka readiness is a state kept current in the background, never a probe in the request."""

import asyncio

from whistle_common.kafka import Producer


async def test_reachable_follows_the_background_probe():
    producer = Producer("127.0.0.1:1", client_id="t")
    answers = iter([False, True, True, True])

    async def ready(timeout: float = 2.0) -> bool:
        return next(answers, True)

    producer.ready = ready
    assert producer.reachable is False
    producer.watch(interval=0.01)
    for _ in range(200):
        if producer.reachable:
            break
        await asyncio.sleep(0.01)
    assert producer.reachable is True
    await producer.stop()
    assert producer._watch is None
