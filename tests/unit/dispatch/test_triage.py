"""Triage and corrections in the case state machine: no order until a person chooses, and the
choice is recorded as a labelled example."""

from datetime import UTC, datetime, timedelta

import pytest
from whistle_dispatch.domain.case import Case, IllegalTransition
from whistle_dispatch.domain.deadlines import Deadlines
from whistle_dispatch.domain.routing import Routing

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEADLINES = Deadlines(NOW + timedelta(hours=2), NOW + timedelta(days=3))
FACTS = {"street": "s", "district": "d", "community": "c", "grid_code": "g", "path": [],
         "description": "说不清的诉求", "received_at": NOW.isoformat(), "model_version": "m1",
         "suggestions": [{"category": "street_vending", "probability": 0.3, "evidence": []}],
         "confidence": 0.3}


def triaged() -> Case:
    return Case.open_for_triage(case_id="c1", incident_id="i1", category="noise",
                                kind="complaint", priority="normal", resolution="lead",
                                facts=dict(FACTS), now=NOW)


def test_a_triage_case_orders_no_department():
    case = triaged()
    events = case.take_events()
    assert case.status == "triage" and case.assignments == [] and case.lead is None
    assert [e.type for e in events] == ["case.created.v1", "case.queued_for_triage.v1"]
    assert events[1].data["suggestions"] == FACTS["suggestions"]
    assert not any(e.dept for e in events)


def test_choosing_the_category_dispatches_and_records_a_correction():
    case = triaged()
    case.take_events()
    case.reclassify("street_vending", Routing("chengguan", ("shichang",), "lead"), DEADLINES,
                    NOW, by="operator", resolution="lead", reason="change")
    events = case.take_events()
    orders = [e.dept for e in events if e.type == "dispatch.ordered.v1"]
    assert case.status == "dispatched" and case.category == "street_vending"
    assert orders == ["chengguan", "shichang"] and case.lead.dept == "chengguan"
    correction = next(e for e in events if e.type == "classification.corrected.v1")
    assert correction.data == {"incident_id": "i1", "from_category": "noise",
                               "to_category": "street_vending", "confirmed": False,
                               "by": "operator", "reason": "triage", "model_version": "m1"}


def test_changing_the_category_of_a_dispatched_case_withdraws_the_old_departments():
    case = triaged()
    case.reclassify("noise", Routing("gongan", (), "lead"), DEADLINES, NOW, by="op",
                    resolution="lead", reason="change")
    case.take_events()
    case.reclassify("wage_arrears", Routing("laodong_jiancha", ("renshe",), "lead"), DEADLINES,
                    NOW, by="op", resolution="lead", reason="change")
    events = case.take_events()
    assert [e.dept for e in events if e.type == "dispatch.withdrawn.v1"] == ["gongan"]
    assert case.active_depts() == ["laodong_jiancha", "renshe"]
    correction = next(e for e in events if e.type == "classification.corrected.v1")
    assert (correction.data["from_category"], correction.data["reason"]) == ("noise", "change")


def test_a_closed_case_cannot_be_reclassified():
    case = triaged()
    case.status = "closed"
    with pytest.raises(IllegalTransition):
        case.reclassify("noise", Routing("gongan", (), "lead"), DEADLINES, NOW, by="op",
                        resolution="lead", reason="change")


def test_a_choice_that_is_not_a_persons_judgement_teaches_nothing():
    case = triaged()
    case.reclassify("noise", Routing("gongan", (), "lead"), DEADLINES, NOW, by="simulator",
                    resolution="lead", reason="change", learn=False)
    events = case.take_events()
    assert case.status == "dispatched"
    assert not any(e.type == "classification.corrected.v1" for e in events)
