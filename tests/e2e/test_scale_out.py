"""Issue 19: scale-out. Two workers of one service form one consumer group: they share a
topic's partitions without overlap, each applies events of its own partitions only, and
together they keep up (every incident ordered once, the group's lag back to zero).

No timing is asserted: how fast two workers go is the benchmark's business."""

from __future__ import annotations

import asyncio
import struct

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from whistle_common.topics import INCIDENTS_RECEIVED

from tests.support.incidents import incident, post
from tests.support.stack import ExtraWorkers, eventually, lead_orders_by_incident

pytestmark = pytest.mark.e2e
GROUP = "whistle-dispatch"  # the Faust app id is the consumer group
FEED = 120


def assigned(blob: bytes) -> dict[str, set[int]]:
    """Topic → partitions from a member assignment (Kafka's consumer protocol: version,
    then per topic its name and partition numbers; Faust's own data follows, unread)."""
    (topics,) = struct.unpack_from(">i", blob, 2)
    pos, out = 6, {}
    for _ in range(topics):
        (size,) = struct.unpack_from(">h", blob, pos)
        topic = blob[pos + 2:pos + 2 + size].decode()
        (count,) = struct.unpack_from(">i", blob, pos + 2 + size)
        out[topic] = set(struct.unpack_from(f">{count}i", blob, pos + 6 + size))
        pos += 6 + size + 4 * count
    return out


async def members(bootstrap: str) -> list[dict[str, set[int]]] | None:
    """The assignment of each member of the group once it is stable, else None."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([GROUP])
    finally:
        await admin.close()
    [group] = response.to_object()["groups"]
    if group["state"] != "Stable":
        return None
    return [assigned(m["member_assignment"]) for m in group["members"]]


def applied(port: int) -> float:
    """incident.received.v1 events one worker applied so far (its own /metrics)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "whistle_events_consumed_total"
               and s.labels.get("topic") == INCIDENTS_RECEIVED
               and s.labels.get("outcome") == "applied")


async def test_two_dispatch_workers_share_the_partitions_and_together_keep_up(live):
    live.stack.services.stop(["dispatch"])
    workers = ExtraWorkers(live, "dispatch")
    orders = live.tail("dispatch.orders.huanwei")  # sanitation: lead huanwei
    try:
        ports = await asyncio.to_thread(workers.start, 2, 8032, {})

        async def two_members():
            found = await members(live.bootstrap)
            return found if found is not None and len(found) == 2 else None

        first, second = await eventually(two_members, timeout=60, what="a stable group of two")
        mine, theirs = first.get(INCIDENTS_RECEIVED, set()), second.get(INCIDENTS_RECEIVED, set())
        partitions = set(range(await asyncio.to_thread(_partitions, live)))
        assert mine and theirs, (first, second)  # both take part …
        assert not mine & theirs  # … without overlap …
        assert mine | theirs == partitions  # … and nothing is left out
        await live.consumed("dispatch", [INCIDENTS_RECEIVED], timeout=120)  # no backlog
        before = [applied(port) for port in ports]

        accepted: list[str] = []
        async with live.http("intake") as client:
            for _ in range(FEED):  # a steady 30/s for 4 s
                resp = await post(client, incident(category="sanitation"))
                assert resp.status_code == 201
                accepted.append(resp.json()["incident_id"])
                await asyncio.sleep(1 / 30)

        seen, copies = await lead_orders_by_incident(live, orders, set(accepted), timeout=90)
        assert set(seen) == set(accepted)  # every incident ordered …
        assert all(len(ids) == 1 for ids in seen.values())  # … once
        await live.consumed("dispatch", [INCIDENTS_RECEIVED], timeout=90)  # caught up
        shares = [applied(port) - b for port, b in zip(ports, before, strict=True)]
        print(f"\nscale-out: partitions {sorted(mine)} + {sorted(theirs)}, "
              f"incidents applied per worker {shares}, redelivered copies {copies}")
        assert all(share > 0 for share in shares)  # each worker did its part …
        assert sum(shares) == len(accepted)  # … and no event was applied by both
    finally:
        orders.close()
        await asyncio.to_thread(workers.stop)
        live.stack.services.start(["dispatch"])
        await asyncio.to_thread(live.stack.services.wait_ready, ["dispatch"])


def _partitions(live) -> int:
    """How many partitions incidents.received has."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=live.bootstrap)
    try:
        return len(consumer.partitions_for_topic(INCIDENTS_RECEIVED) or ())
    finally:
        consumer.close()
