"""Stopping and starting the stack keeps topics and rows. Each test restores what it stops
(every service ready again) in `finally`, so any test may run after it."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.stack import case_of, eventually, restore, unique

pytestmark = pytest.mark.integration


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_postgres_down_means_503_with_retry_after_never_201(live):
    stack = live.stack
    if stack.postgres.external_url:
        pytest.skip("Postgres is external: the suite cannot stop it")
    from tests.support.incidents import incident, post

    await asyncio.to_thread(stack.postgres.stop)
    try:
        async with live.http("intake") as client:
            answers = [await post(client, incident()) for _ in range(5)]
    finally:
        await restore(live)
    assert {r.status_code for r in answers} == {503}
    assert all(r.headers.get("retry-after") for r in answers)
    assert answers[0].json()["type"].endswith("/unavailable")
    conn = await live.db("intake")
    try:
        ids = [r.json().get("incident_id") for r in answers]
        assert ids == [None] * 5
        import json

        keys = [json.loads(r.request.content)["external_id"] for r in answers]
        stored = await conn.fetchval("SELECT count(*) FROM incidents WHERE external_id = ANY($1)",
                                     keys)
        assert stored == 0
    finally:
        await conn.close()


async def test_restart_keeps_topics_and_rows(live):
    stack = live.stack
    if stack.external_kafka or stack.postgres.external_url:
        pytest.skip("the stack points at external servers")
    marker = unique("persist")
    conn = await live.db("notify")
    await conn.execute("CREATE TABLE IF NOT EXISTS restart_probe (v text)")
    await conn.execute("INSERT INTO restart_probe VALUES ($1)", marker)
    await conn.close()
    topics_before = await _topics(live.bootstrap)
    assert "dispatch.orders.chengguan" in topics_before

    try:
        await asyncio.to_thread(stack.kafka.stop)
        await asyncio.to_thread(stack.postgres.stop)
        await asyncio.to_thread(stack.postgres.start)
        await asyncio.to_thread(stack.kafka.start)
        assert await _topics(live.bootstrap) >= topics_before
        conn = await live.db("notify")
        try:
            assert await conn.fetchval("SELECT count(*) FROM restart_probe WHERE v=$1",
                                       marker) == 1
        finally:
            await conn.close()
    finally:
        await restore(live)
        conn = await live.db("notify")
        try:
            await conn.execute("DROP TABLE IF EXISTS restart_probe")
        finally:
            await conn.close()

    from tests.support.incidents import incident, post

    async with live.http("intake") as client:
        created = (await post(client, incident())).json()

    await case_of(live, created["incident_id"], timeout=60)  # relays publish after the restart


async def test_services_start_and_take_calls_while_kafka_is_down(live):
    """A restart during a broker outage must not refuse calls: /healthz answers, /readyz says
    kafka false, intake answers 201 from its outbox, and the events flow once Kafka is back."""
    stack = live.stack
    if stack.external_kafka:
        pytest.skip("Kafka is external: the suite cannot stop it")
    from tests.support.incidents import incident, post

    names = ["intake", "dispatch"]
    await asyncio.to_thread(stack.kafka.stop)
    try:
        await asyncio.to_thread(stack.services.stop, names, kill=True)
        await asyncio.to_thread(stack.services.start, names)

        async def serving():
            async with live.http("intake") as client:
                try:
                    health = await client.get("/healthz")
                    ready = await client.get("/readyz")
                except Exception:  # noqa: BLE001 - still starting
                    return None
            return ready if health.status_code == 200 else None

        ready = await eventually(serving, timeout=60, interval=0.5,
                                 what="intake serving with Kafka down")
        assert ready.status_code == 503 and ready.json()["checks"]["kafka"] is False
        async with live.http("intake") as client:
            created = [await post(client, incident()) for _ in range(5)]
        assert [r.status_code for r in created] == [201] * 5
    finally:
        await restore(live)  # Kafka, intake and dispatch running, every service ready
    for response in created:
        await case_of(live, response.json()["incident_id"], timeout=90)
