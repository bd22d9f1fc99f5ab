from datetime import timedelta

import pytest
from whistle_dispatch.domain.case import IllegalTransition
from whistle_dispatch.domain.supervision import Policy, next_due, stage_name, still_pending

from .test_case import DL, NOW, new_case, report, types

POLICY = Policy.parse("street=60,district=120,city=240")


def test_policy_parsing_and_stage_chain():
    assert POLICY.waits == {"street": 60, "district": 120, "city": 240}
    assert [stage_name(s) for s in range(4)] == ["overdue", "street", "district", "city"]
    assert next_due(0, NOW, POLICY) == NOW + timedelta(seconds=60)
    assert next_due(1, NOW, POLICY) == NOW + timedelta(seconds=120)
    assert next_due(2, NOW, POLICY) == NOW + timedelta(seconds=240)
    assert next_due(3, NOW, POLICY) is None


@pytest.mark.parametrize("text", ["street=1", "town=1,street=1,district=1,city=1", "street"])
def test_bad_policies_are_refused(text):
    with pytest.raises(ValueError):
        Policy.parse(text)


@pytest.mark.parametrize("kind, status, pending", [
    ("ack", "ordered", True), ("ack", "acknowledged", False),
    ("resolve", "arrived", True), ("resolve", "resolved", False),
    ("resolve", "returned", False), ("ack", "withdrawn", False),
])
def test_what_stops_a_chain(kind, status, pending):
    assert still_pending(kind, status) is pending


def test_overdue_then_escalations_are_recorded_with_level():
    case = new_case()
    case.take_events()
    for stage in ("overdue", "street", "district", "city"):
        case.supervise(0, "ack", stage, NOW)
    events = case.take_events()
    assert [e.type for e in events] == ["case.overdue.v1"] + ["case.escalated.v1"] * 3
    assert [e.data.get("level") for e in events[1:]] == ["street", "district", "city"]
    assert case.assignments[0].escalations == ["ack:overdue", "ack:street", "ack:district",
                                               "ack:city"]


def test_extension_approved_moves_the_deadline():
    case = new_case()
    report(case, "gongan", "acknowledged")
    report(case, "gongan", "extension_requested", extension_hours=48, reason="需协调产权单位")
    case.take_events()
    case.decide_extension("gongan", True, NOW, by="street-office")
    assert case.assignments[0].resolve_by == DL.resolve_by + timedelta(hours=48)
    event = case.take_events()[0]
    assert (event.type, event.data["approved"], event.data["hours"]) == (
        "case.extension_decided.v1", True, 48)


def test_extension_refused_keeps_the_deadline_and_needs_a_request():
    case = new_case()
    with pytest.raises(IllegalTransition, match="not asked"):
        case.decide_extension("gongan", True, NOW, by="op")
    report(case, "gongan", "extension_requested", extension_hours=24)
    case.decide_extension("gongan", False, NOW, by="op", note="理由不充分")
    assert case.assignments[0].resolve_by == DL.resolve_by
    assert case.assignments[0].extension_requested_hours is None


def resolved_case():
    case = new_case()
    report(case, "gongan", "acknowledged")
    report(case, "gongan", "resolved")
    case.take_events()
    return case


@pytest.mark.parametrize("rating", ["satisfied", "basically_satisfied"])
def test_satisfied_rating_closes(rating):
    case = resolved_case()
    case.rate(rating, NOW, comment=None, deadlines=DL)
    assert case.status == "closed" and types(case) == ["case.rated.v1", "case.closed.v1"]


def test_unsatisfied_rating_reopens_to_the_same_lead_with_fresh_deadlines():
    case = resolved_case()
    fresh = DL.__class__(NOW + timedelta(days=1), NOW + timedelta(days=5))
    case.rate("unsatisfied", NOW, comment="还是很吵", deadlines=fresh)
    events = case.take_events()
    assert case.status == "reopened" and case.reopens == 1
    assert [e.type for e in events] == ["case.rated.v1", "case.reopened.v1",
                                        "case.dispatched.v1", "dispatch.ordered.v1"]
    assert events[-1].dept == "gongan" and case.lead.resolve_by == fresh.resolve_by
    report(case, "gongan", "acknowledged")
    assert case.status == "acknowledged"


def test_only_resolved_cases_are_rated_or_closed():
    case = new_case()
    with pytest.raises(IllegalTransition):
        case.rate("satisfied", NOW, comment=None, deadlines=DL)
    with pytest.raises(IllegalTransition):
        case.close(NOW, reason="x")
    with pytest.raises(IllegalTransition):
        resolved_case().rate("meh", NOW, comment=None, deadlines=DL)
