"""Issue 5: returns, manual assignment, ratings and extensions on the real stack."""

from __future__ import annotations

import pytest
from whistle_common.topics import CASES_EVENTS

from tests.support import depts
from tests.support.incidents import incident, post
from tests.support.stack import OPERATOR, dept_headers, eventually

pytestmark = pytest.mark.e2e


async def _case_for(live, category: str) -> str:
    tail = live.tail(CASES_EVENTS)
    async with live.http("intake") as client:
        created = (await post(client, incident(category=category))).json()
    event = tail.wait_for(lambda e: e.type == "case.created.v1"
                          and e.data["incident_id"] == created["incident_id"], timeout=30)[0]
    tail.close()
    return event.subject


async def _case(live, case_id: str) -> dict:
    async with live.http("dispatch") as client:
        return (await client.get(f"/v1/cases/{case_id}", headers=OPERATOR)).json()


async def test_returned_twice_ends_with_the_street_office_then_manual_assignment(live):
    case_id = await _case_for(live, "noise")
    # noise: lead gongan, co chengguan; return candidates chengguan (already on it), huanbao
    await depts.report(live, "gongan", case_id, "returned", reason="非治安问题")

    async def lead_is(dept):
        case = await _case(live, case_id)
        return case if case["lead"] == dept else None

    await eventually(lambda: lead_is("huanbao"), timeout=30, what="rerouted to huanbao")
    triage = depts.order_tail(live, "street_office")
    await depts.report(live, "huanbao", case_id, "returned", reason="不属于环保职责")

    async def pending():
        case = await _case(live, case_id)
        return case if case["status"] == "pending_assignment" else None

    case = await eventually(pending, timeout=30, what="with the street office")
    assert case["returns"] == 2
    assert triage.wait_for(lambda e: e.subject == case_id)[0].data["role"] == "triage"
    triage.close()
    orders = depts.order_tail(live, "zhujian")
    async with live.http("dispatch") as client:
        denied = await client.post(f"/v1/cases/{case_id}/assign", json={"dept": "zhujian"},
                                   headers=dept_headers("gongan"))
        resp = await client.post(f"/v1/cases/{case_id}/assign", json={"dept": "zhujian"},
                                 headers=OPERATOR)
    assert denied.status_code == 403
    assert resp.status_code == 200 and resp.json()["status"] == "dispatched"
    order = orders.wait_for(lambda e: e.subject == case_id)[0]
    orders.close()
    assert order.data["role"] == "lead"


async def test_unsatisfied_rating_reopens_and_orders_the_lead_again(live):
    case_id = await _case_for(live, "noise")
    await depts.report(live, "gongan", case_id, "acknowledged")
    await depts.report(live, "gongan", case_id, "resolved", result="已劝导")

    async def resolved():
        return (await _case(live, case_id))["status"] == "resolved"

    await eventually(resolved, timeout=30, what="resolved")
    orders = depts.order_tail(live, "gongan")
    async with live.http("dispatch") as client:
        early = await client.post(f"/v1/cases/{case_id}/rating", json={"rating": "bad"},
                                  headers=OPERATOR)
        rated = await client.post(f"/v1/cases/{case_id}/rating",
                                  json={"rating": "unsatisfied", "comment": "晚上还是很吵"},
                                  headers={"Authorization": "Bearer dev-hotline-token"})
    assert early.status_code == 422
    assert rated.status_code == 200 and rated.json()["status"] == "reopened"
    order = orders.wait_for(lambda e: e.subject == case_id)[0]
    orders.close()
    assert order.data["role"] == "lead" and "重办" in order.data["reason"]
    await depts.report(live, "gongan", case_id, "acknowledged")
    await depts.report(live, "gongan", case_id, "resolved", result="设备已没收")
    await eventually(resolved, timeout=30, what="resolved again")
    async with live.http("dispatch") as client:
        closed = await client.post(f"/v1/cases/{case_id}/rating",
                                   json={"rating": "satisfied"}, headers=OPERATOR)
    assert closed.json()["status"] == "closed" and closed.json()["reopens"] == 1


async def test_extension_request_and_approval_move_the_deadline(live):
    case_id = await _case_for(live, "illegal_construction")
    await depts.report(live, "zhujian", case_id, "acknowledged")
    await depts.report(live, "zhujian", case_id, "extension_requested", extension_hours=72,
                       reason="需调取规划审批档案")

    async def requested():
        case = await _case(live, case_id)
        lead = case["assignments"][0]
        return case if lead["extension_requested_hours"] == 72 else None

    before = await eventually(requested, timeout=30, what="extension requested")
    async with live.http("dispatch") as client:
        resp = await client.post(f"/v1/cases/{case_id}/extensions", headers=OPERATOR,
                                 json={"dept": "zhujian", "approve": True})
    assert resp.status_code == 200, resp.text
    from datetime import datetime, timedelta

    old = datetime.fromisoformat(before["assignments"][0]["resolve_by"])
    new = datetime.fromisoformat(resp.json()["assignments"][0]["resolve_by"])
    assert new - old == timedelta(hours=72)
    timeline = [t["type"] for t in (await _case(live, case_id))["timeline"]]
    assert "case.extension_decided.v1" in timeline
