"""Consumer lag exported by the service itself: log end offset minus the group's commit."""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from .metrics import CONSUMER_LAG

log = structlog.get_logger(__name__)
# While the group keeps up, the figure is refreshed ever more rarely, up to this; any lag
# brings the cadence back to `every`. (Opening clients and asking metadata every few seconds
# for a figure that stays 0 was most of an idle service's CPU.)
MAX_IDLE_EVERY = 60.0


class LagProbe:
    """An admin client and a group-less consumer kept open between measurements."""

    def __init__(self, bootstrap: str, group: str, topics: list[str]) -> None:
        self._bootstrap = bootstrap
        self._group = group
        self._topics = topics
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._parts: list[TopicPartition] = []

    async def _open(self) -> None:
        if self._admin is not None:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=5000)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None,
                                    enable_auto_commit=False)
        try:
            await admin.start()
            await consumer.start()
            described = await admin.describe_topics(self._topics)
        except BaseException:
            await _quietly(consumer.stop(), admin.close())
            raise
        self._admin, self._consumer = admin, consumer
        self._parts = [TopicPartition(t["topic"], p["partition"]) for t in described
                       for p in t.get("partitions", [])]

    async def measure(self) -> dict[str, int]:
        """Messages not yet committed by the group, per topic."""
        await self._open()
        assert self._admin is not None and self._consumer is not None
        try:
            committed = await self._admin.list_consumer_group_offsets(
                self._group, partitions=self._parts)
            ends = await self._consumer.end_offsets(self._parts)
        except BaseException:
            await self.close()  # reopened (and partitions described again) next time
            raise
        return lag_per_topic(self._topics, self._parts, committed, ends)

    async def close(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        await _quietly(consumer.stop() if consumer else None, admin.close() if admin else None)


def lag_per_topic(topics: list[str], parts: list[TopicPartition], committed: dict,
                  ends: dict) -> dict[str, int]:
    """Sum of (end offset − committed offset) per topic; no commit counts as offset 0."""
    lag: dict[str, int] = dict.fromkeys(topics, 0)
    for tp in parts:
        done = committed.get(tp)
        offset = done.offset if done is not None and done.offset >= 0 else 0
        lag[tp.topic] += max(0, ends[tp] - offset)
    return lag


def next_delay(every: float, previous: float | None, lag: dict[str, int] | None) -> float:
    """Seconds until the next measurement: `every` while there is lag (or none was measured),
    doubling up to MAX_IDLE_EVERY while the group is caught up."""
    if not lag or any(lag.values()) or previous is None:
        return every
    return min(max(every, MAX_IDLE_EVERY), previous * 2)


async def measure_lag(bootstrap: str, group: str, topics: list[str]) -> dict[str, int]:
    """Messages not yet committed by `group`, per topic (one-off, clients closed after)."""
    probe = LagProbe(bootstrap, group, topics)
    try:
        return await probe.measure()
    finally:
        await probe.close()


async def export_lag(bootstrap: str, group: str, topics: list[str], every: float) -> None:
    """Refresh whistle_consumer_lag{topic} forever."""
    for topic in topics:
        CONSUMER_LAG.labels(topic).set(0)
    probe = LagProbe(bootstrap, group, topics)
    delay: float | None = None
    try:
        while True:
            lag = None
            try:
                lag = await probe.measure()
                for topic, value in lag.items():
                    CONSUMER_LAG.labels(topic).set(value)
            except Exception as exc:  # noqa: BLE001 - a missing figure must not stop the service
                log.warning("consumer lag not measured", error=repr(exc))
            delay = next_delay(every, delay, lag)
            await asyncio.sleep(delay)
    finally:
        await probe.close()


async def _quietly(*closing) -> None:
    for aw in closing:
        if aw is None:
            continue
        try:
            await asyncio.wait_for(aw, 5)
        except Exception:  # noqa: BLE001 - closing a broken client may fail; ignore
            pass
