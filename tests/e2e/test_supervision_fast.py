"""Issue 5: overdue and escalation with a fast clock and two dispatch workers."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from whistle_common.topics import CASES_EVENTS

from tests.support.incidents import incident, post
from tests.support.stack import ExtraWorkers, dept_headers, eventually

pytestmark = pytest.mark.e2e
FAST = {
    "DISPATCH_TIME_SCALE": str(1 / 3600),          # an hour of deadline lasts a second
    "DISPATCH_ESCALATION_POLICY": "street=2,district=4,city=4",
    "DISPATCH_SWEEP_SECONDS": "0.3",
    "DISPATCH_AUTOCLOSE_SECONDS": "7200",          # two hours of waiting → two seconds
}


@pytest.fixture(scope="module")
def two_fast_dispatchers(live):
    """Replace the stack's dispatch with two fast-clock workers in the same group."""
    live.stack.services.stop(["dispatch"])
    workers = ExtraWorkers(live, "dispatch")
    try:
        yield workers.start(2, 8012, FAST)
    finally:
        workers.stop()
        live.stack.services.start(["dispatch"])
        live.stack.services.wait_ready(["dispatch"], timeout=90)


async def _urgent_case(live, tail) -> str:
    async with live.http("intake") as client:
        created = (await post(client, incident(category="noise", priority="urgent"))).json()
    event = tail.wait_for(lambda e: e.type == "case.created.v1"
                          and e.data["incident_id"] == created["incident_id"], timeout=30)[0]
    return event.subject


def _chain(tail, case_id: str, deadline: str = "ack", dept: str = "gongan") -> list[str]:
    """The lead's supervision stages for one deadline, in the order they were published."""
    return [e.data.get("level", "overdue") for e in tail.matching(
        lambda e: e.subject == case_id and e.type in ("case.overdue.v1", "case.escalated.v1")
        and e.data["deadline"] == deadline and e.data["dept"] == dept)]


async def _watches_over(live, case_id: str, kind: str, seqs: set[int] | None = None) -> None:
    """Wait until no `kind` watch of the case (of the assignments `seqs`, default all) can
    fire again: each has fired its last stage (due at infinity) or is gone."""
    async def over():
        rows = await live.fetch(
            "dispatch", "SELECT seq, stage, due_at = 'infinity' AS done FROM supervision "
            "WHERE case_id=$1::uuid AND kind=$2", case_id, kind)
        return all(r["done"] for r in rows if seqs is None or r["seq"] in seqs)

    await eventually(over, timeout=60, what=f"{kind} watches of case {case_id} finished")


async def _everything_published(live, tail) -> None:
    """Every stage fired so far is on the topic and read: the firing and its events commit in
    one transaction, so with dispatch's outbox drained they are before the end offsets."""
    await live.outbox_drained("dispatch")
    tail.read_to_end()


async def test_overdue_escalates_street_district_city_once_each(live, two_fast_dispatchers):
    tail = live.tail(CASES_EVENTS)
    case_id = await _urgent_case(live, tail)
    tail.wait_for(lambda e: e.subject == case_id and e.type == "case.escalated.v1"
                  and e.data["deadline"] == "ack" and e.data["level"] == "city"
                  and e.data["dept"] == "gongan", timeout=60)
    await _watches_over(live, case_id, "ack")  # lead's and co's ack chains cannot fire again
    await _everything_published(live, tail)
    chain = _chain(tail, case_id)
    co_chain = _chain(tail, case_id, dept="chengguan")
    resolve_chain = _chain(tail, case_id, deadline="resolve")
    tail.close()
    print(f"\nwith two workers: lead ack chain {chain}, co ack chain {co_chain}, "
          f"lead resolve chain so far {resolve_chain}")
    assert chain == ["overdue", "street", "district", "city"]
    assert co_chain == ["overdue", "street", "district", "city"]
    assert Counter(resolve_chain)["overdue"] <= 1


async def test_acknowledging_stops_the_chain(live, two_fast_dispatchers):
    tail = live.tail(CASES_EVENTS)
    case_id = await _urgent_case(live, tail)
    tail.wait_for(lambda e: e.subject == case_id and e.type == "case.escalated.v1"
                  and e.data["level"] == "street" and e.data["dept"] == "gongan", timeout=30)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{two_fast_dispatchers[1]}") as c:
        ack = await c.post(f"/v1/cases/{case_id}/reports", json={"kind": "acknowledged"},
                           headers=dept_headers("gongan"))
    assert ack.status_code == 200, ack.text
    lead = next(i for i, a in enumerate(ack.json()["assignments"]) if a["dept"] == "gongan")
    await _watches_over(live, case_id, "ack", {lead})  # the acknowledgement ended the watch
    await _everything_published(live, tail)
    chain = _chain(tail, case_id)
    # a stage and the acknowledgement lock the case, so their events are in commit order on
    # the case's partition: nothing of the lead's ack chain may come after the acknowledgement
    mine = [e for e in tail.matching(lambda e: e.subject == case_id)]
    acked = next(i for i, e in enumerate(mine) if e.type == "case.acknowledged.v1"
                 and e.data["dept"] == "gongan")
    after = [e.type for e in mine[acked + 1:] if e.type in ("case.overdue.v1",
             "case.escalated.v1") and e.data["deadline"] == "ack" and e.data["dept"] == "gongan"]
    tail.close()
    assert chain[:2] == ["overdue", "street"] and after == [], (chain, after)


async def test_resolved_case_not_rated_closes_by_itself(live, two_fast_dispatchers):
    tail = live.tail(CASES_EVENTS)
    case_id = await _urgent_case(live, tail)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{two_fast_dispatchers[0]}") as c:
        for body in ({"kind": "acknowledged"}, {"kind": "resolved", "result": "已处理"}):
            resp = await c.post(f"/v1/cases/{case_id}/reports", json=body,
                                headers=dept_headers("gongan"))
            assert resp.status_code == 200, resp.text
    closed = tail.wait_for(lambda e: e.subject == case_id and e.type == "case.closed.v1",
                           timeout=30)
    tail.close()
    assert closed[0].data["reason"] == "not rated in time"
    assert len(closed) == 1


