"""The department simulator works orders, and only orders."""

from whistle_clients.departments import Simulator


def order(type_: str, **data) -> dict:
    return {"type": type_, "subject": "case-1", "data": {"dept": "shuiwu", **data}}


def test_an_order_schedules_the_reports_and_an_update_schedules_nothing():
    sim = Simulator("127.0.0.1:1", "http://127.0.0.1:1", "t", seed=1)
    sim.on_order(order("dispatch.updated.v1", callers=2))  # another caller: not new work
    assert sim.queue == []
    sim.on_order(order("dispatch.ordered.v1", role="lead"))
    assert [item[4] for item in sorted(sim.queue)] == ["acknowledged", "arrived", "resolved"]
    sim.on_order(order("dispatch.withdrawn.v1"))
    assert ("shuiwu", "case-1") in sim.withdrawn
