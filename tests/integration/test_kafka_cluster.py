"""Issue 10: a 3-broker KRaft cluster (RF 3, min.insync.replicas 2): kill -9 the partition
leader during load; every acknowledged event must still be there."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from tests.support.stack import eventually

pytestmark = pytest.mark.integration
TOPIC = "cluster.probe"
N = 3000


@pytest.fixture(scope="module")
def cluster(live):
    from whistle_stack.kafka import KafkaCluster

    nodes = KafkaCluster(live.stack.layout, size=3, base_port=19092)
    try:
        nodes.start(timeout=180)
        yield nodes
    finally:
        nodes.stop()  # every node, the killed one included, even if start-up failed halfway


async def test_killing_the_leader_loses_no_acknowledged_event(cluster):
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient
    from whistle_common.kafka import Producer
    from whistle_common.topics import ensure_topics

    bootstrap = cluster.bootstrap
    await ensure_topics(bootstrap, [TOPIC], partitions=3, replication=3)
    producer = Producer(bootstrap, client_id="cluster-test")
    kafka = await producer.get()
    run = uuid.uuid4().hex  # the cluster keeps its data: earlier runs' events do not count
    acked: set[int] = set()
    failed = 0
    killed = None

    async def send(i: int) -> None:
        nonlocal failed
        try:
            future = await kafka.send(TOPIC, value=json.dumps({"run": run, "n": i}).encode(),
                                      key=str(i).encode(), partition=i % 3)
            await future
            acked.add(i)
        except Exception:  # noqa: BLE001 - not acknowledged: nothing was promised
            failed += 1

    pending = []
    for i in range(N):
        pending.append(asyncio.create_task(send(i)))
        if i == N // 3:
            await asyncio.gather(*pending)
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            described = await admin.describe_topics([TOPIC])
            await admin.close()
            killed = next(p["leader"] for p in described[0]["partitions"] if p["partition"] == 0)
            await asyncio.to_thread(cluster.stop, [killed], kill=True)  # kill -9 the leader
        if i % 200 == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*pending)
    await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: set[int] = set()
    try:  # read up to the end offsets: everything acknowledged is before them
        parts = [TopicPartition(TOPIC, p) for p in range(3)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)

        async def read_to_end():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                values = [json.loads(r.value) for r in records]
                seen.update(v["n"] for v in values if v.get("run") == run)
            return all([await consumer.position(tp) >= ends[tp] for tp in parts])

        await eventually(read_to_end, timeout=120, interval=0,
                         what=f"{TOPIC} read to its end offsets {ends}")
    finally:
        await consumer.stop()
    lost = acked - seen
    print(f"\n3-broker cluster, leader {killed} killed: sent {N}, acknowledged {len(acked)}, "
          f"not acknowledged {failed}, found {len(seen)}, acknowledged but lost {len(lost)}")
    assert killed is not None and len(acked) > N // 3
    assert lost == set()
