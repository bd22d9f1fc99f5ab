"""Issue 2: the shared platform on the real broker and database."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from whistle_common.envelope import new_event
from whistle_common.outbox import enqueue
from whistle_common.topics import INCIDENTS_RECEIVED

from tests.support.stack import eventually, unique

pytestmark = pytest.mark.integration
SERVICES = ("intake", "dispatch", "scoring", "notify")


@pytest.mark.parametrize("service", SERVICES)
def test_ready_and_metrics_parse(live, service):
    ready = httpx.get(f"{live.url(service)}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"postgres": True, "kafka": True, "consumers": True,
                                      "outbox_relay": True}
    text = httpx.get(f"{live.url(service)}/metrics", timeout=5).text
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"whistle_outbox_pending", "whistle_http_requests"} <= names


def _incident_event(incident_id: str):
    return new_event("incident.received.v1", source="/whistle/intake", subject=incident_id,
                     data={"incident_id": incident_id, "category": "noise", "kind": "complaint",
                           "source": "hotline", "description": "平台测试：夜间噪音",
                           "location": {"grid_code": "12011900100101"}, "priority": "normal"})


async def _publish_through_intake_outbox(live, event) -> None:
    conn = await live.db("intake")
    try:
        async with conn.transaction():
            await enqueue(conn, INCIDENTS_RECEIVED, event)
    finally:
        await conn.close()


async def _cases_for(live, incident_id: str) -> int:
    conn = await live.db("dispatch")
    try:
        return await conn.fetchval("SELECT count(*) FROM cases WHERE incident_id=$1", incident_id)
    finally:
        await conn.close()


async def test_outbox_event_reaches_another_services_agent(live):
    incident_id = unique("inc")
    tail = live.tail(INCIDENTS_RECEIVED)
    await _publish_through_intake_outbox(live, _incident_event(incident_id))
    seen = tail.wait_for(lambda e: e.subject == incident_id, timeout=30)
    tail.close()
    assert seen[0].type == "incident.received.v1"
    await eventually(lambda: _cases_for(live, incident_id), timeout=30,
                     what="dispatch's agent created the case")


async def test_same_event_id_twice_changes_nothing(live):
    incident_id = unique("inc")
    event = _incident_event(incident_id)
    await _publish_through_intake_outbox(live, event)
    await eventually(lambda: _cases_for(live, incident_id), timeout=30, what="first delivery")
    before = live.metric("dispatch", "whistle_events_consumed_total",
                         topic=INCIDENTS_RECEIVED, outcome="duplicate")
    await _publish_through_intake_outbox(live, event)  # same event id, delivered again

    async def duplicate_seen():
        return live.metric("dispatch", "whistle_events_consumed_total",
                           topic=INCIDENTS_RECEIVED, outcome="duplicate") >= before + 1

    await eventually(duplicate_seen, timeout=30, what="second delivery recognised")
    assert await _cases_for(live, incident_id) == 1
