"""Kafka readiness is a state kept current in the background, never a probe in the request."""

import asyncio

from whistle_common.kafka import Producer


async def test_reachable_follows_the_background_probe():
    producer = Producer("127.0.0.1:1", client_id="t")
    answers = iter([False, True])
    third_probe = asyncio.Event()

    async def ready(timeout: float = 2.0) -> bool:
        answer = next(answers, None)
        if answer is None:  # the answers before this one are stored by now
            third_probe.set()
            return True
        return answer

    producer.ready = ready
    assert producer.reachable is False
    producer.watch(interval=0.01)
    await asyncio.wait_for(third_probe.wait(), 10)
    assert producer.reachable is True
    await producer.stop()
    assert producer._watch is None
