"""Issue 3: intake against the real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from whistle_common.topics import CASES_EVENTS, INCIDENTS_RECEIVED

from tests.support.incidents import GRID, incident, post
from tests.support.stack import HOTLINE, OPERATOR, case_of, restore

pytestmark = pytest.mark.integration
PROBLEM = "https://whistle.city/problems/"


async def test_post_publishes_one_valid_envelope_and_replay_publishes_none(live):
    tail = live.tail(INCIDENTS_RECEIVED)
    body = incident()
    async with live.http("intake") as client:
        first = await post(client, body)
        assert first.status_code == 201, first.text
        created = first.json()
        assert created["tracking_no"].startswith("WS") and created["status"] == "received"
        replay = await post(client, body)
    assert replay.status_code == 200
    assert replay.json()["incident_id"] == created["incident_id"]
    events = tail.wait_for(lambda e: e.subject == created["incident_id"], timeout=30)
    # a second publication would have been committed to the outbox before the replay's 200:
    # once the outbox is drained it is on the topic, before the end offsets read now
    await live.outbox_drained("intake")
    tail.read_to_end()
    assert len(tail.matching(lambda e: e.subject == created["incident_id"])) == 1
    tail.close()
    event = events[0]
    assert event.type == "incident.received.v1" and event.source == "/whistle/intake"
    assert event.correlationid == created["incident_id"]
    assert event.data["location"]["grid_code"] == GRID
    assert event.data["tracking_no"] == created["tracking_no"]


async def test_same_key_different_body_is_409(live):
    body = incident()
    async with live.http("intake") as client:
        assert (await post(client, body)).status_code == 201
        again = await post(client, {**body, "description": "换了内容的另一条诉求"})
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEM + "idempotency-conflict"


async def test_classification_when_category_is_absent(live):
    async with live.http("intake") as client:
        resp = await post(client, incident(category=None, description="路口流动摊贩占道经营"))
        general = await post(client, incident(category=None, description="请问周末天气怎么样"))
    assert resp.status_code == 201
    assert resp.json()["category"] == "street_vending" and not resp.json()["needs_triage"]
    assert resp.json()["classification"]["method"] == "model"
    assert general.status_code == 201 and general.json()["needs_triage"] is True
    assert general.json()["classification"]["outcome"] == "triage"
    assert len(general.json()["suggestions"]) == 3


FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()


@pytest.mark.parametrize("changes, status, slug", [
    ({"category": "ufo"}, 422, "unknown-category"),
    ({"location": {"grid_code": "99999"}}, 422, "unknown-grid"),
    ({"location": {"place_code": "99999"}}, 422, "unknown-place"),
    ({"location": {"lat": 31.23, "lon": 121.47}}, 422, "location-outside-territory"),
    ({"location": {"lat": 40.05}}, 422, "incomplete-coordinates"),
    ({"location": {"lat": 40.05, "lon": 117.4, "crs": "mars"}}, 422, "validation-error"),
    ({"description": "字" * 4001}, 422, "description-too-long"),
    ({"description": "   "}, 422, "description-required"),
    ({"reporter": {"phone": "12345"}}, 422, "invalid-phone"),
    ({"occurred_at": FUTURE}, 422, "occurred-in-future"),
    ({"source": "fax"}, 422, "validation-error"),
    ({"unexpected": 1}, 422, "validation-error"),
])
async def test_validation_problems(live, changes, status, slug):
    async with live.http("intake") as client:
        resp = await post(client, incident(**changes))
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["type"] == PROBLEM + slug
    assert resp.json()["status"] == status


async def test_transport_level_problems(live):
    async with live.http("intake") as client:
        huge = await client.post("/v1/incidents", content=b"{" + b" " * 70_000 + b"}",
                                 headers={**HOTLINE, "content-type": "application/json"})
        wrong_type = await client.post("/v1/incidents", content=b"source=hotline",
                                       headers={**HOTLINE, "content-type": "text/plain"})
        malformed = await client.post("/v1/incidents", content=b'{"source": ',
                                      headers={**HOTLINE, "content-type": "application/json"})
        no_token = await client.post("/v1/incidents", json=incident())
        bad_token = await post(client, incident(), {"Authorization": "Bearer nope"})
        wrong_scope = await post(client, incident(),
                                 {"Authorization": "Bearer dev-dept-chengguan-token"})
    for resp, status, slug in [(huge, 413, "payload-too-large"),
                               (wrong_type, 415, "unsupported-media-type"),
                               (malformed, 400, "malformed-json"),
                               (no_token, 401, "unauthorized"), (bad_token, 401, "unauthorized"),
                               (wrong_scope, 403, "forbidden")]:
        assert resp.status_code == status, (slug, resp.text)
        assert resp.json()["type"] == PROBLEM + slug
    assert no_token.headers["www-authenticate"].startswith("Bearer")


async def test_get_incident_and_catalogue(live):
    async with live.http("intake") as client:
        created = (await post(client, incident())).json()
        got = await client.get(f"/v1/incidents/{created['incident_id']}", headers=HOTLINE)
        missing = await client.get("/v1/incidents/00000000-0000-0000-0000-000000000000",
                                   headers=OPERATOR)
        catalogue = await client.get("/v1/categories")
    assert got.status_code == 200
    assert got.json()["timeline"][0]["status"] == "received"
    assert missing.status_code == 404
    codes = {c["code"] for c in catalogue.json()["categories"]}
    assert {"noise", "general", "service_order"} <= codes and catalogue.json()["version"]


async def test_reporter_phone_never_logged(live):
    phone = "13999887766"
    async with live.http("intake") as client:
        resp = await post(client, incident(reporter={"name": "李女士", "phone": phone},
                                           description=f"我的电话{phone}，楼下噪音"))
    assert resp.status_code == 201
    # intake is done with the incident once dispatch's case events for it came back to it
    await case_of(live, resp.json()["incident_id"])
    await live.outbox_drained("dispatch")
    await live.consumed("intake", [CASES_EVENTS])
    log = live.stack.layout.logfile("intake")
    assert log.stat().st_size > 0, f"intake's log {log} is empty"
    assert phone not in log.read_text(errors="replace")


async def test_open311_client_flow(live):
    async with live.http("intake") as client:
        discovery = await client.get("/open311/v2/discovery.json")
        services = await client.get("/open311/v2/services.xml")
        definition = await client.get("/open311/v2/services/noise.json")
        created = await client.post("/open311/v2/requests.json", data={
            "api_key": "dev-hotline-token", "service_code": "sanitation",
            "lat": "40.045", "long": "117.4", "description": "垃圾桶满了没人清运",
            "first_name": "三", "last_name": "张", "phone": "13812341234"})
        unauth = await client.post("/open311/v2/requests.json", data={
            "service_code": "sanitation", "lat": "40.045", "long": "117.4",
            "description": "x"})
        bad = await client.post("/open311/v2/requests.xml", data={
            "api_key": "dev-hotline-token", "service_code": "ufo", "lat": "40.045",
            "long": "117.4", "description": "x"})
        assert created.status_code == 201, created.text
        request_id = created.json()[0]["service_request_id"]
        one_json = await client.get(f"/open311/v2/requests/{request_id}.json")
        one_xml = await client.get(f"/open311/v2/requests/{request_id}.xml")
        listed = await client.get("/open311/v2/requests.json",
                                  params={"service_request_id": request_id})
    assert discovery.json()["endpoints"][0]["formats"] == ["application/json", "text/xml"]
    codes = [s.findtext("service_code") for s in ET.fromstring(services.content)]
    assert "noise" in codes and "general" in codes
    assert definition.json() == {"service_code": "noise", "attributes": []}
    assert unauth.status_code == 401 and unauth.json()[0]["code"] == 401
    assert bad.status_code == 400  # an unknown service_code, answered per Open311
    assert ET.fromstring(bad.content).find("error/code").text == "400"
    assert bad.headers["content-type"] == "text/xml; charset=utf-8"
    assert {s.findtext("metadata") for s in ET.fromstring(services.content)} == {"false"}
    request = one_json.json()[0]
    assert request["status"] == "open" and request["service_code"] == "sanitation"
    assert request["service_name"] != "sanitation"  # the catalogue's display name
    assert request["media_url"] is None  # null, never "" (dispatch may already have set
    # expected_datetime and agency_responsible: the stack runs the whole flow)
    assert request["address_id"] == GRID
    assert "13812341234" not in one_json.text
    xml_request = ET.fromstring(one_xml.content).find("request")
    assert xml_request.findtext("service_request_id") == request_id
    assert listed.json()[0]["service_request_id"] == request_id


async def test_broker_outage_delays_but_loses_nothing(live):
    stack = live.stack
    if stack.external_kafka:
        pytest.skip("Kafka is external: the suite cannot stop it")
    bodies = [incident(external_id=f"outage-{i}-{datetime.now(UTC).timestamp()}")
              for i in range(50)]
    tail = live.tail(INCIDENTS_RECEIVED)
    await asyncio.to_thread(stack.kafka.stop)
    try:
        async with live.http("intake") as client:
            responses = [await post(client, body) for body in bodies]
        assert [r.status_code for r in responses] == [201] * 50
        assert await live.outbox_pending("intake") >= 50  # stored, waiting for the broker
    finally:
        await restore(live)  # Kafka back, every service ready, whatever the outcome
    ids = {r.json()["incident_id"] for r in responses}
    try:
        tail.wait_for(lambda e: e.subject in ids, count=50, timeout=120)
        await live.outbox_drained("intake")  # all the outbox held is on the topic now
        tail.read_to_end()
        arrived = [e.subject for e in tail.matching(lambda e: e.subject in ids)]
    finally:
        tail.close()
    assert len(arrived) == 50 and set(arrived) == ids
