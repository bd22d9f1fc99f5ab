"""Every allowed transition of the case state machine, and the illegal ones."""

from datetime import UTC, datetime, timedelta

import pytest
from whistle_dispatch.domain.case import (
    TRANSITIONS,
    Case,
    IllegalTransition,
    case_from_dict,
)
from whistle_dispatch.domain.deadlines import Deadlines
from whistle_dispatch.domain.routing import Routing

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
DL = Deadlines(NOW + timedelta(hours=8), NOW + timedelta(days=3))
FACTS = {"path": [], "street": "s", "district": "d", "community": "c", "grid_code": "g",
         "description": "x", "received_at": NOW.isoformat()}
KINDS = ("acknowledged", "arrived", "resolved", "returned", "extension_requested")


def new_case(lead="gongan", co=(), resolution="lead") -> Case:
    return Case.open(case_id="c1", incident_id="i1", category="noise", kind="complaint",
                     priority="normal", routing=Routing(lead, tuple(co), resolution),
                     deadlines=DL, facts=dict(FACTS), now=NOW)


def types(case: Case) -> list[str]:
    return [e.type for e in case.take_events()]


def report(case, dept, kind, **kw):
    defaults = {"result": "已处理", "reason": "非本部门职责", "extension_hours": 24,
                "deadlines": DL}
    case.report(dept, kind, NOW + timedelta(hours=1), **{**defaults, **kw})


def drive(case: Case, dept: str, status: str) -> None:
    """Bring dept's assignment to `status` through legal reports."""
    path = {"ordered": [], "acknowledged": ["acknowledged"],
            "arrived": ["acknowledged", "arrived"]}[status]
    for kind in path:
        report(case, dept, kind)


def test_open_dispatches_lead_and_co_at_once():
    case = new_case(co=("chengguan",))
    events = case.take_events()
    assert [e.type for e in events] == ["case.created.v1", "case.dispatched.v1",
                                        "dispatch.ordered.v1", "case.dispatched.v1",
                                        "dispatch.ordered.v1"]
    assert [(e.dept, e.data["role"]) for e in events if e.dept] == [("gongan", "lead"),
                                                                   ("chengguan", "co")]
    assert case.status == "dispatched"


@pytest.mark.parametrize("start, kind", [(s, k) for s in TRANSITIONS for k in KINDS])
def test_every_transition_from_every_active_state(start, kind):
    case = new_case(lead="gongan", co=("chengguan",))
    drive(case, "chengguan", start)
    case.take_events()
    if kind in TRANSITIONS[start]:
        report(case, "chengguan", kind)
        assert case.assignment("chengguan").status == TRANSITIONS[start][kind]
    else:
        before = case.to_dict()
        with pytest.raises(IllegalTransition):
            report(case, "chengguan", kind)
        assert case.to_dict() == before  # nothing applied


@pytest.mark.parametrize("final", ["resolved", "returned", "withdrawn"])
def test_finished_assignments_take_no_more_reports(final):
    case = new_case(lead="gongan", co=("chengguan",))
    if final == "resolved":
        drive(case, "chengguan", "acknowledged")
        report(case, "chengguan", "resolved")
    elif final == "returned":
        report(case, "chengguan", "returned")
    else:
        drive(case, "gongan", "acknowledged")
        report(case, "gongan", "resolved")  # lead rule withdraws the co-department
    assert case.assignment("chengguan").status == final
    for kind in KINDS:
        with pytest.raises(IllegalTransition):
            report(case, "chengguan", kind)


def test_lead_progress_moves_the_case():
    case = new_case()
    report(case, "gongan", "acknowledged")
    assert case.status == "acknowledged"
    report(case, "gongan", "arrived")
    assert case.status == "in_progress"
    case.take_events()
    report(case, "gongan", "resolved", result="已劝离，恢复安静")
    assert case.status == "resolved"
    assert types(case) == ["department.resolved", "case.resolved.v1"]


def test_unassigned_department_and_unknown_kind_are_refused():
    case = new_case()
    with pytest.raises(IllegalTransition, match="not assigned"):
        report(case, "huanbao", "acknowledged")
    with pytest.raises(IllegalTransition, match="unknown report kind"):
        report(case, "gongan", "teleported")


def test_resolution_and_return_need_their_text():
    case = new_case()
    report(case, "gongan", "acknowledged")
    with pytest.raises(IllegalTransition, match="result"):
        report(case, "gongan", "resolved", result=None)
    with pytest.raises(IllegalTransition, match="reason"):
        report(case, "gongan", "returned", reason="")
    with pytest.raises(IllegalTransition, match="extension_hours"):
        report(case, "gongan", "extension_requested", extension_hours=0)


def test_lead_and_co_rule_waits_for_every_co_department():
    case = new_case(lead="zhujian", co=("huanbao", "chengguan"), resolution="lead_and_co")
    for dept in ("zhujian", "huanbao", "chengguan"):
        report(case, dept, "acknowledged")
    report(case, "zhujian", "resolved")
    assert case.status == "acknowledged"
    report(case, "huanbao", "resolved")
    assert case.status == "acknowledged"
    case.take_events()
    report(case, "chengguan", "resolved")
    assert case.status == "resolved"
    resolved = [e for e in case.take_events() if e.type == "case.resolved.v1"][0]
    assert set(resolved.data["resolved_by"]) == {"zhujian", "huanbao", "chengguan"}


def test_lead_rule_releases_co_departments_when_the_lead_resolves():
    case = new_case(co=("chengguan",))
    report(case, "gongan", "acknowledged")
    case.take_events()
    report(case, "gongan", "resolved")
    events = case.take_events()
    assert ("dispatch.withdrawn.v1", "chengguan") in [(e.type, e.dept) for e in events]


def test_lead_return_reroutes_to_the_next_candidate():
    case = new_case(lead="gongan")
    case.take_events()
    report(case, "gongan", "returned", candidates=("gongan", "chengguan"))
    events = case.take_events()
    assert case.lead.dept == "chengguan" and case.status == "dispatched"
    assert [(e.type, e.dept) for e in events if e.dept] == [("dispatch.ordered.v1", "chengguan")]
    assert events[0].data["next"] == "chengguan"


def test_two_returns_end_with_the_street_office_then_manual_assignment():
    case = new_case(lead="gongan")
    report(case, "gongan", "returned", candidates=("chengguan", "huanbao"))
    report(case, "chengguan", "returned", candidates=("chengguan", "huanbao"))
    assert case.status == "pending_assignment" and case.returns == 2
    assert case.assignment("street_office").role == "triage"
    case.take_events()
    case.assign("huanbao", DL, NOW, by="operator")
    events = case.take_events()
    assert case.status == "dispatched" and case.lead.dept == "huanbao"
    assert ("dispatch.withdrawn.v1", "street_office") in [(e.type, e.dept) for e in events]
    assert ("dispatch.ordered.v1", "huanbao") in [(e.type, e.dept) for e in events]


def test_return_with_no_candidate_goes_to_the_street_office_at_once():
    case = new_case(lead="gongan")
    report(case, "gongan", "returned", candidates=())
    assert case.status == "pending_assignment"


def test_co_department_return_does_not_reroute():
    case = new_case(co=("chengguan",))
    case.take_events()
    report(case, "chengguan", "returned")
    assert case.lead.dept == "gongan" and types(case) == ["case.returned.v1"]


def test_whistle_summons_new_departments_only():
    case = new_case(co=("chengguan",))
    case.take_events()
    added = case.summon(["chengguan", "huanbao", "zhujian"], DL, NOW, reason="多部门联合执法")
    assert added == ["huanbao", "zhujian"]
    assert [e.dept for e in case.take_events() if e.dept] == ["huanbao", "zhujian"]
    with pytest.raises(IllegalTransition):
        case.summon(["huanbao"], DL, NOW, reason="again")


def test_no_whistle_or_assignment_on_a_resolved_case():
    case = new_case()
    report(case, "gongan", "acknowledged")
    report(case, "gongan", "resolved")
    with pytest.raises(IllegalTransition):
        case.summon(["huanbao"], DL, NOW, reason="late")
    with pytest.raises(IllegalTransition):
        case.assign("huanbao", DL, NOW, by="op")


def test_acknowledgement_records_timeliness():
    case = new_case()
    case.take_events()
    case.report("gongan", "acknowledged", DL.ack_by + timedelta(minutes=1))
    event = case.take_events()[0]
    assert event.data["on_time"] is False and event.data["ack_seconds"] > 0


def test_state_survives_a_json_round_trip():
    import json

    case = new_case(co=("chengguan",))
    report(case, "gongan", "acknowledged")
    state = json.loads(json.dumps(case.to_dict(), default=lambda v: v.isoformat()))
    back = case_from_dict(state)
    assert back.to_dict() == case.to_dict()


def test_the_stored_document_is_the_deep_copy_written_by_orjson():
    """`state()` (shared fields, written by orjson) stores exactly what `to_dict()` (a deep
    copy, written by the standard library) stored, and reads back to an equal case."""
    import json
    from zoneinfo import ZoneInfo

    from whistle_common import jsontext

    case = new_case(co=("chengguan",))
    drive(case, "gongan", "arrived")
    local = datetime(2026, 11, 23, 10, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    for n in range(3):
        case.merge({"incident_id": f"i{n + 2}", "description": f"第{n}个电话：噪音😡",
                    "received_at": local, "lat": 40.0 + n / 1e6, "lon": None,
                    "event": {"nested": [{"at": local, "n": 2**40}], "ok": True}},
                   score=0.875, reasons=["same grid"], now=NOW + timedelta(minutes=n))
    old = json.dumps(case.to_dict(), ensure_ascii=False, default=lambda v: v.isoformat())
    new = jsontext.dumps(case.state())
    assert json.loads(new) == json.loads(old)
    assert case_from_dict(json.loads(new)) == case_from_dict(json.loads(old))
    assert case.state()["linked"] is case.linked  # not copied
