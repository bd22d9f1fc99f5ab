"""Issue 4: whistle-and-report dispatch end to end on the real stack."""

from __future__ import annotations

import pytest
from whistle_common.outbox import enqueue
from whistle_common.topics import CASES_EVENTS, INCIDENTS_RECEIVED

from tests.support import depts
from tests.support.incidents import incident, post
from tests.support.stack import (
    HOTLINE,
    OPERATOR,
    case_of,
    dept_headers,
    dispatch_settled,
    eventually,
)

pytestmark = pytest.mark.e2e


async def _get_case(live, case_id: str, headers=OPERATOR) -> dict:
    async with live.http("dispatch") as client:
        resp = await client.get(f"/v1/cases/{case_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_noise_complaint_round_trip(live):
    orders = depts.order_tail(live, "gongan")
    async with live.http("intake") as client:
        created = (await post(client, incident(category="noise"))).json()
    incident_id = created["incident_id"]
    order = orders.wait_for(lambda e: e.data["incident_id"] == incident_id, timeout=30)[0]
    orders.close()
    assert order.type == "dispatch.ordered.v1"
    assert order.data["role"] == "lead" and order.data["reporter_phone"] == "138****1234"
    assert "13812341234" not in order.to_bytes().decode()
    assert [n["level"] for n in order.data["location"]["path"]] == [
        "city", "district", "street", "community", "grid"]
    assert set(order.data["deadlines"]) == {"ack_by", "resolve_by"}
    case_id = order.subject

    await depts.report(live, "gongan", case_id, "acknowledged")
    await depts.report(live, "gongan", case_id, "arrived")
    await depts.report(live, "gongan", case_id, "resolved", result="已上门劝导，KTV 停业整改")

    async def resolved():
        return (await _get_case(live, case_id))["status"] == "resolved"

    await eventually(resolved, timeout=30, what="case resolved")
    case = await _get_case(live, case_id)
    kinds = [t["type"] for t in case["timeline"]]
    assert kinds[:3] == ["case.created.v1", "case.dispatched.v1", "dispatch.ordered.v1"]
    assert {"case.acknowledged.v1", "case.arrived.v1", "case.resolved.v1"} <= set(kinds)

    async def intake_resolved():
        async with live.http("intake") as client:
            body = (await client.get(f"/v1/incidents/{incident_id}", headers=HOTLINE)).json()
        return body if body["status"] == "resolved" else None

    seen = await eventually(intake_resolved, timeout=30, what="intake shows resolved")
    assert seen["case_id"] == case_id and seen["agency"] == "gongan"
    assert [t["status"] for t in seen["timeline"]][-1] == "resolved"


async def test_whistle_case_reaches_three_departments_and_resolves_by_rule(live):
    tails = {d: depts.order_tail(live, d) for d in ("zhujian", "huanbao", "chengguan")}
    async with live.http("intake") as client:
        created = (await post(client, incident(category="construction_noise",
                                               description="工地夜间施工打桩"))).json()
    orders = {d: t.wait_for(lambda e: e.data["incident_id"] == created["incident_id"])[0]
              for d, t in tails.items()}
    for t in tails.values():
        t.close()
    assert {d: o.data["role"] for d, o in orders.items()} == {
        "zhujian": "lead", "huanbao": "co", "chengguan": "co"}
    case_id = orders["zhujian"].subject
    for dept in ("zhujian", "huanbao", "chengguan"):
        await depts.report(live, dept, case_id, "acknowledged")
    await depts.report(live, "zhujian", case_id, "resolved", result="责令停止夜间施工")
    await depts.report(live, "huanbao", case_id, "resolved", result="噪声监测达标")

    async def settled(expect: dict):
        case = await _get_case(live, case_id)
        got = {a["dept"]: a["status"] for a in case["assignments"]}
        return case if got == expect else None

    case = await eventually(lambda: settled({"zhujian": "resolved", "huanbao": "resolved",
                                             "chengguan": "acknowledged"}), timeout=30,
                            what="two of three resolved")
    assert case["status"] == "acknowledged"  # lead_and_co: not yet resolved
    await depts.report(live, "chengguan", case_id, "resolved", result="清理渣土")
    case = await eventually(lambda: settled({"zhujian": "resolved", "huanbao": "resolved",
                                             "chengguan": "resolved"}), timeout=30,
                            what="all three resolved")
    assert case["status"] == "resolved"


async def test_operator_whistle_summons_more_departments(live):
    async with live.http("intake") as client:
        created = (await post(client, incident(category="sanitation",
                                               description="垃圾堆放很多天"))).json()
    case_id = await case_of(live, created["incident_id"])
    tail = depts.order_tail(live, "huanbao")
    async with live.http("dispatch") as client:
        resp = await client.post(f"/v1/cases/{case_id}/whistle", headers=OPERATOR,
                                 json={"departments": ["huanbao", "chengguan"],
                                       "reason": "垃圾渗滤液污染，需联合处置"})
        denied = await client.post(f"/v1/cases/{case_id}/whistle",
                                   headers=dept_headers("huanwei"),
                                   json={"departments": ["gongan"], "reason": "x"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["summoned"] == ["huanbao", "chengguan"]
    assert denied.status_code == 403
    order = tail.wait_for(lambda e: e.subject == case_id)[0]
    tail.close()
    assert order.data["role"] == "co" and order.data["reason"].startswith("垃圾渗滤液")


async def test_forged_and_unassigned_reports_go_to_the_dlq_and_change_nothing(live):
    async with live.http("intake") as client:
        created = (await post(client, incident(category="noise"))).json()
    case_id = await case_of(live, created["incident_id"])
    before = await _get_case(live, case_id)
    dlq = live.tail("dispatch.reports.dlq")
    value, headers = depts.forged(case_id, "gongan")
    await depts.send_raw(live, value, case_id.encode(), headers)
    await depts.report(live, "huanwei", case_id, "acknowledged")  # validly signed, not assigned
    unsigned = depts.forged(case_id, "gongan")[0]
    await depts.send_raw(live, unsigned, case_id.encode(), [])
    dlq.wait_for(lambda e: e.subject == case_id, count=3, timeout=30)
    reasons = sorted(h["x-dlq-reason"].decode() for e, h, _ in dlq.seen
                     if e is not None and e.subject == case_id)
    dlq.close()
    assert any("signature mismatch" in r for r in reasons)
    assert any("unsigned" in r for r in reasons)
    assert any("not assigned" in r for r in reasons)
    await live.consumed("dispatch", ["dispatch.reports"])  # every report has been applied
    after = await _get_case(live, case_id)
    assert after["status"] == before["status"] == "dispatched"
    assert after["assignments"] == before["assignments"]
    assert live.metric("dispatch", "whistle_reports_rejected_total") >= 3


async def test_http_reports_are_scoped_to_assigned_departments(live):
    async with live.http("intake") as client:
        created = (await post(client, incident(category="noise"))).json()
    case_id = await case_of(live, created["incident_id"])
    async with live.http("dispatch") as client:
        other = await client.post(f"/v1/cases/{case_id}/reports", json={"kind": "acknowledged"},
                                  headers=dept_headers("huanwei"))
        read_other = await client.get(f"/v1/cases/{case_id}", headers=dept_headers("huanwei"))
        ok = await client.post(f"/v1/cases/{case_id}/reports", json={"kind": "acknowledged"},
                               headers=dept_headers("gongan"))
        again = await client.post(f"/v1/cases/{case_id}/reports",
                                  json={"kind": "acknowledged"}, headers=dept_headers("gongan"))
        mine = await client.get("/v1/cases", headers=dept_headers("gongan"))
        theirs = await client.get("/v1/cases", params={"dept": "huanwei"},
                                  headers=dept_headers("gongan"))
    assert other.status_code == 403 and read_other.status_code == 403
    assert ok.status_code == 200 and ok.json()["status"] == "acknowledged"
    assert again.status_code == 409
    assert again.json()["type"].endswith("/illegal-transition")
    assert case_id in [c["case_id"] for c in mine.json()["items"]]
    assert theirs.status_code == 403


async def test_redelivered_incident_event_makes_no_second_case_or_order(live):
    from whistle_common.envelope import decode

    orders = depts.order_tail(live, "gongan")
    cases = live.tail(CASES_EVENTS)
    async with live.http("intake") as client:
        created = (await post(client, incident(category="noise"))).json()
    incident_id = created["incident_id"]
    mine = lambda e: e.data.get("incident_id") == incident_id  # noqa: E731
    orders.wait_for(mine, timeout=30)  # the original order is out
    cases.wait_for(lambda e: mine(e) and e.type == "case.dispatched.v1", count=2, timeout=30)
    await dispatch_settled(live)  # all the first delivery produced is on the topics …
    orders.read_to_end()
    cases.read_to_end()
    before = (len(orders.matching(mine)), len(cases.matching(mine)))  # … and counted
    duplicates = live.metric("dispatch", "whistle_events_consumed_total",
                             topic=INCIDENTS_RECEIVED, outcome="duplicate")
    conn = await live.db("intake")
    row = await conn.fetchrow("SELECT value FROM outbox WHERE key=$1", incident_id.encode())
    async with conn.transaction():
        await enqueue(conn, INCIDENTS_RECEIVED, decode(row["value"]))  # the same event id again
    await conn.close()

    async def duplicate_seen():
        return live.metric("dispatch", "whistle_events_consumed_total",
                           topic=INCIDENTS_RECEIVED, outcome="duplicate") >= duplicates + 1

    await eventually(duplicate_seen, timeout=30, what="redelivery recognised")
    # whatever applying the copy produced went to dispatch's outbox in the same transaction:
    # once that is drained it is on the topics, before the end offsets read now
    await dispatch_settled(live)
    orders.read_to_end()
    cases.read_to_end()
    assert (len(orders.matching(mine)), len(cases.matching(mine))) == before
    orders.close()
    cases.close()
    dconn = await live.db("dispatch")
    count = await dconn.fetchval("SELECT count(*) FROM cases WHERE incident_id=$1", incident_id)
    await dconn.close()
    assert count == 1


async def test_reference_data_endpoints(live):
    async with live.http("dispatch") as client:
        departments = (await client.get("/v1/departments")).json()
        grid = await client.get("/v1/grids/12011900300101")
        missing = await client.get("/v1/grids/nope")
    assert {"code": "chengguan", "topic": "dispatch.orders.chengguan"}.items() <= \
        next(d for d in departments if d["code"] == "chengguan").items()
    assert grid.json()["path"][2]["name"] == "下仓镇"
    assert missing.status_code == 404


async def test_a_department_order_is_read_by_the_official_cloudevents_sdk(live):
    """Structured mode of the Kafka protocol binding: the record says so in `content-type`,
    and the Python SDK's auto-detection (what a department system runs) finds the event."""
    from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event

    orders = depts.order_tail(live, "gongan")
    async with live.http("intake") as client:
        incident_id = (await post(client, incident(category="noise"))).json()["incident_id"]
    orders.wait_for(lambda e: e.data["incident_id"] == incident_id, timeout=30)
    orders.close()
    env, headers, value = next(s for s in orders.seen
                               if s[0] is not None and s[0].data["incident_id"] == incident_id)
    assert headers["content-type"] == b"application/cloudevents+json; charset=utf-8"
    event = from_kafka_event(KafkaMessage(headers=headers, key=env.key, value=value))
    attributes = event.get_attributes()
    assert (attributes["id"], attributes["type"], attributes["subject"]) == (
        env.id, "dispatch.ordered.v1", env.subject)
    assert event.get_data()["incident_id"] == incident_id
