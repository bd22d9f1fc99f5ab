"""Consumer lag exported by the service itself: log end offset minus the group's commit."""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from .metrics import CONSUMER_LAG

log = structlog.get_logger(__name__)


async def measure_lag(bootstrap: str, group: str, topics: list[str]) -> dict[str, int]:
    """Messages not yet committed by `group`, per topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics(topics)
        parts = [TopicPartition(t["topic"], p["partition"]) for t in described
                 for p in t.get("partitions", [])]
        committed = await admin.list_consumer_group_offsets(group, partitions=parts)
        ends = await consumer.end_offsets(parts)
        lag: dict[str, int] = dict.fromkeys(topics, 0)
        for tp in parts:
            done = committed.get(tp)
            offset = done.offset if done is not None and done.offset >= 0 else 0
            lag[tp.topic] += max(0, ends[tp] - offset)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def export_lag(bootstrap: str, group: str, topics: list[str], every: float) -> None:
    """Refresh whistle_consumer_lag{topic} forever."""
    for topic in topics:
        CONSUMER_LAG.labels(topic).set(0)
    while True:
        try:
            for topic, value in (await measure_lag(bootstrap, group, topics)).items():
                CONSUMER_LAG.labels(topic).set(value)
        except Exception as exc:  # noqa: BLE001 - a missing figure must not stop the service
            log.warning("consumer lag not measured", error=repr(exc))
        await asyncio.sleep(every)
