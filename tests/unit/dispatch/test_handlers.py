"""Dispatch's use cases on an in-memory unit of work: opening cases from incidents, department
reports over Kafka and HTTP, whistle, assignment, rating, extensions and the read side — the
business flow without Postgres or Kafka."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from whistle_common.problems import ProblemError
from whistle_common.topics import CASES_EVENTS
from whistle_dispatch import handlers

from .fakes import FakeDispatchUnitOfWork
from .scenario import (
    AUTOCLOSE_SECONDS,
    CTX,
    PHONE,
    TOWN_WITHOUT_TEAM,
    consume,
    dead_letter,
    incident,
    open_case,
    read,
    report,
    reported,
    run,
    sent,
)


@pytest.fixture
def uow() -> FakeDispatchUnitOfWork:
    return FakeDispatchUnitOfWork()


def problem(caught: pytest.ExceptionInfo[ProblemError]) -> tuple[int, str]:
    return caught.value.status, caught.value.slug


# -- on_incident -------------------------------------------------------------------------------

async def test_an_incident_opens_a_case_ordering_lead_and_co_on_their_topics(uow):
    case = await open_case(uow)
    assert uow.commits == 1 and case.status == "dispatched"
    assert uow.outbox.topics().count(CASES_EVENTS) == 3  # created, dispatched ×2
    [lead] = sent(uow, "dispatch.orders.gongan")
    [co] = sent(uow, "dispatch.orders.chengguan")
    assert (lead.type, lead.data["role"], co.data["role"]) == ("dispatch.ordered.v1", "lead", "co")
    assert lead.data["lead"] == "gongan" and lead.data["co"] == ["chengguan"]
    assert lead.data["reporter_phone"] == "138****1234"
    assert PHONE not in lead.to_bytes().decode()  # a department never sees the number
    assert lead.subject == case.id and lead.correlationid == case.incident_id
    assert sorted(k[1:] for k in uow.cases.supervision) == [
        (0, "ack"), (0, "resolve"), (1, "ack"), (1, "resolve")]


async def test_the_place_decides_who_leads(uow):
    await open_case(uow, category="street_vending",
                    location={"grid_code": TOWN_WITHOUT_TEAM})
    assert [e.data["role"] for e in sent(uow, "dispatch.orders.chengguan_district")] == ["lead"]
    assert sent(uow, "dispatch.orders.chengguan") == []


async def test_an_ambiguous_incident_waits_in_triage_with_no_order(uow):
    suggestions = [{"category": "street_vending", "probability": 0.3, "evidence": []}]
    case = await open_case(uow, needs_triage=True, suggestions=suggestions)
    assert case.status == "triage" and case.assignments == []
    assert set(uow.outbox.topics()) == {CASES_EVENTS}
    [queued] = uow.outbox.of_type("case.queued_for_triage.v1")
    assert queued.data["suggestions"] == suggestions
    assert uow.cases.supervision == {}


async def test_a_service_order_goes_to_the_community_even_when_unsure(uow):
    case = await open_case(uow, kind="service_order", category="elderly_care",
                           needs_triage=True)
    assert case.status == "dispatched" and case.lead.dept == "community"


async def test_the_same_incident_twice_is_still_one_case(uow):
    incident_id = str(uuid.uuid4())
    await consume(uow, handlers.on_incident, incident(incident_id))
    before = list(uow.outbox.events)
    await consume(uow, handlers.on_incident, incident(incident_id))  # another event id
    assert len(uow.cases.rows) == 1 and uow.outbox.events == before


@pytest.mark.parametrize("overrides", [{"category": "no_such_category"},
                                       {"location": {"grid_code": "999"}},
                                       {"location": {"place_code": "120119009"}}])
async def test_an_incident_with_unknown_category_or_place_is_rejected(uow, overrides):
    refused = await dead_letter(uow, handlers.on_incident, incident(**overrides))
    assert refused.slug == "invalid-incident"
    assert uow.cases.rows == {} and uow.outbox.events == [] and uow.rollbacks == 1


async def test_a_failure_after_the_save_leaves_nothing_behind(uow, monkeypatch):
    async def broken(items):
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr(uow.outbox, "add_many", broken)
    with pytest.raises(RuntimeError):
        await consume(uow, handlers.on_incident, incident())
    assert (uow.cases.rows, uow.cases.timelines, uow.cases.supervision) == ({}, {}, {})


# -- on_report (Kafka) -------------------------------------------------------------------------

async def test_a_signed_report_moves_the_case(uow):
    case = await open_case(uow)
    await consume(uow, handlers.on_report, report(case.id, "gongan", "acknowledged"))
    after = await uow.cases.load(case.id)
    assert after.status == "acknowledged" and after.assignment("gongan").status == "acknowledged"
    [ack] = sent(uow, CASES_EVENTS, case.id)[-1:]
    assert (ack.type, ack.data["dept"], ack.data["status"]) == (
        "case.acknowledged.v1", "gongan", "acknowledged")
    assert (case.id, 0, "ack") not in uow.cases.supervision  # acknowledged: no longer watched
    assert (case.id, 0, "resolve") in uow.cases.supervision


@pytest.mark.parametrize("tamper, why", [
    ({"signed": False}, "unsigned"),
    ({"secret": "not-the-secret"}, "signature mismatch"),
    ({"signer": "huanwei"}, "signed by a department other than the one reporting"),
    ({"signer": "jiaojing", "secret": "its-own"}, "unknown department 'jiaojing'"),
])
async def test_an_unauthenticated_report_is_rejected(uow, tamper, why):
    case = await open_case(uow)
    before = await uow.cases.load(case.id)
    msg = report(case.id, "gongan", "acknowledged", **tamper)
    refused = await dead_letter(uow, handlers.on_report, msg)
    assert (refused.slug, refused.detail) == ("unauthenticated", f"report refused: {why}")
    assert (await uow.cases.load(case.id)).to_dict() == before.to_dict()


@pytest.mark.parametrize("dept, kind, why", [
    ("huanwei", "acknowledged", "not assigned"),   # validly signed, never dispatched to it
    ("gongan", "arrived", "cannot report"),         # arrived before acknowledging
    ("gongan", "resolved", "cannot report"),
])
async def test_a_report_the_case_refuses_is_an_illegal_transition(uow, dept, kind, why):
    case = await open_case(uow)
    events = len(uow.outbox.events)
    refused = await dead_letter(uow, handlers.on_report, report(case.id, dept, kind))
    assert refused.slug == "illegal-transition" and why in refused.detail
    assert (await uow.cases.load(case.id)).status == "dispatched"
    assert len(uow.outbox.events) == events


async def test_a_report_on_an_unknown_case_is_an_illegal_transition(uow):
    case_id = str(uuid.uuid4())
    refused = await dead_letter(uow, handlers.on_report, report(case_id, "gongan", "arrived"))
    assert (refused.slug, refused.detail) == ("illegal-transition", f"no case {case_id}")


async def test_a_lead_return_reroutes_to_the_next_candidate(uow):
    case = await open_case(uow)
    await consume(uow, handlers.on_report, report(case.id, "gongan", "returned",
                                                  reason="非治安问题"))
    after = await uow.cases.load(case.id)
    assert after.lead.dept == "huanbao" and after.returns == 1  # chengguan is already on it
    assert [e.data["role"] for e in sent(uow, "dispatch.orders.huanbao")] == ["lead"]


# -- apply_report (HTTP) -----------------------------------------------------------------------

async def test_an_http_report_applies_once_then_is_an_illegal_transition(uow):
    case = await open_case(uow)
    assert (await reported(uow, case.id, "gongan", "acknowledged")).status == "acknowledged"
    with pytest.raises(ProblemError) as again:
        await reported(uow, case.id, "gongan", "acknowledged")
    assert problem(again) == (409, "illegal-transition")
    assert again.value.title == "Not allowed in this state"


async def test_an_http_report_on_a_case_not_dispatched_to_the_department_is_forbidden(uow):
    case = await open_case(uow)
    with pytest.raises(ProblemError) as denied:
        await reported(uow, case.id, "huanwei", "acknowledged")
    assert problem(denied) == (403, "forbidden")
    assert (await uow.cases.load(case.id)).assignment("huanwei") is None


@pytest.mark.parametrize("case_id", [str(uuid.UUID(int=7)), "not-a-uuid"])
async def test_an_http_report_on_an_unknown_case_is_not_found(uow, case_id):
    with pytest.raises(ProblemError) as missing:
        await reported(uow, case_id, "gongan", "acknowledged")
    assert problem(missing) == (404, "not-found")


async def test_the_lead_resolving_releases_the_co_department_and_starts_the_autoclose(uow):
    case = await open_case(uow)
    await reported(uow, case.id, "gongan", "acknowledged")
    resolved = await reported(uow, case.id, "gongan", "resolved", result="已劝离，恢复安静")
    assert resolved.status == "resolved"
    assert [e.type for e in sent(uow, "dispatch.orders.chengguan")] == [
        "dispatch.ordered.v1", "dispatch.withdrawn.v1"]
    assert uow.outbox.of_type("case.resolved.v1")[0].data["resolved_by"] == ["gongan"]
    watch = uow.cases.supervision[case.id, -1, "autoclose"]
    assert watch["due_at"] == resolved.resolved_at + timedelta(seconds=AUTOCLOSE_SECONDS)
    assert [k[1:] for k in uow.cases.supervision] == [(-1, "autoclose")]


# -- whistle -----------------------------------------------------------------------------------

async def test_whistle_orders_the_summoned_departments_as_co(uow):
    case = await open_case(uow)
    summoned, added = await run(uow, handlers.whistle, handlers.Whistle(
        case.id, ("chengguan", "huanbao", "zhujian"), "多部门联合执法"))
    assert added == ["huanbao", "zhujian"] and summoned.active_depts()[-2:] == added
    for dept in added:
        [order] = sent(uow, f"dispatch.orders.{dept}")
        assert (order.data["role"], order.data["reason"]) == ("co", "多部门联合执法")
    assert (case.id, 3, "ack") in uow.cases.supervision


@pytest.mark.parametrize("depts", [("nobody",), ("gongan", "chengguan")])
async def test_whistle_for_unknown_or_present_departments_is_refused(uow, depts):
    case = await open_case(uow)
    events = len(uow.outbox.events)
    with pytest.raises(ProblemError) as refused:
        await run(uow, handlers.whistle, handlers.Whistle(case.id, depts, "x"))
    assert problem(refused) == (409, "illegal-transition")
    assert len(uow.outbox.events) == events


async def test_whistle_on_an_unknown_case_is_not_found(uow):
    with pytest.raises(ProblemError) as missing:
        await run(uow, handlers.whistle, handlers.Whistle(str(uuid.uuid4()), ("huanbao",), "x"))
    assert problem(missing) == (404, "not-found")


# -- assign ------------------------------------------------------------------------------------

async def test_choosing_the_category_of_a_triage_case_dispatches_and_teaches(uow):
    case = await open_case(uow, needs_triage=True)
    assigned = await run(uow, handlers.assign, handlers.Assign(
        case.id, dept=None, category="street_vending", by="operator"))
    assert (assigned.status, assigned.category, assigned.lead.dept) == (
        "dispatched", "street_vending", "chengguan")
    assert [e.data["role"] for e in sent(uow, "dispatch.orders.shichang")] == ["co"]
    [correction] = [e for e in sent(uow, CASES_EVENTS, case.id)
                    if e.type == "classification.corrected.v1"]
    assert (correction.data["from_category"], correction.data["to_category"],
            correction.data["reason"], correction.data["by"]) == (
        "noise", "street_vending", "triage", "operator")


async def test_a_department_chosen_for_a_triage_case_stands_for_its_suggested_category(uow):
    suggestions = [{"category": "noise"}, {"category": "street_vending"}]
    case = await open_case(uow, needs_triage=True, suggestions=suggestions)
    assigned = await run(uow, handlers.assign, handlers.Assign(
        case.id, dept="chengguan", category=None, by="operator"))
    assert (assigned.category, assigned.lead.dept) == ("street_vending", "chengguan")


async def test_a_choice_that_is_no_judgement_teaches_nothing(uow):
    case = await open_case(uow, needs_triage=True)
    await run(uow, handlers.assign, handlers.Assign(
        case.id, dept=None, category="noise", by="simulator", learn=False))
    assert uow.outbox.of_type("classification.corrected.v1") == []
    assert sent(uow, "dispatch.orders.gongan")


async def test_after_two_returns_the_operator_assigns_a_new_lead(uow):
    case = await open_case(uow)
    await reported(uow, case.id, "gongan", "returned", reason="非治安问题")
    pending = await reported(uow, case.id, "huanbao", "returned", reason="不属于环保职责")
    assert pending.status == "pending_assignment" and pending.returns == 2
    assert [e.data["role"] for e in sent(uow, "dispatch.orders.street_office")] == ["triage"]
    assigned = await run(uow, handlers.assign, handlers.Assign(
        case.id, dept="zhujian", category=None, by="operator"))
    assert (assigned.status, assigned.lead.dept) == ("dispatched", "zhujian")
    assert sent(uow, "dispatch.orders.zhujian")[-1].data["role"] == "lead"
    assert uow.outbox.of_type("classification.corrected.v1")[-1].data["reason"] == "return"


async def test_a_new_lead_by_department_alone_keeps_the_category(uow):
    case = await open_case(uow)
    assigned = await run(uow, handlers.assign, handlers.Assign(
        case.id, dept="huanbao", category=None, by="operator"))
    assert (assigned.category, assigned.lead.dept) == ("noise", "huanbao")
    assert sent(uow, "dispatch.orders.gongan")[-1].type == "dispatch.withdrawn.v1"
    assert uow.outbox.of_type("classification.corrected.v1") == []


@pytest.mark.parametrize("dept, category", [("nobody", None), (None, "no_such_category"),
                                            ("chengguan_district", None)])  # leads nothing
async def test_assigning_to_unknown_departments_or_categories_is_refused(uow, dept, category):
    case = await open_case(uow, needs_triage=True)
    with pytest.raises(ProblemError) as refused:
        await run(uow, handlers.assign, handlers.Assign(case.id, dept=dept, category=category,
                                                        by="operator"))
    assert problem(refused) == (409, "illegal-transition")
    assert (await uow.cases.load(case.id)).status == "triage"


# -- rate --------------------------------------------------------------------------------------

async def resolved_case(uow) -> str:
    case = await open_case(uow)
    await reported(uow, case.id, "gongan", "acknowledged")
    await reported(uow, case.id, "gongan", "resolved", result="已劝导")
    return case.id


@pytest.mark.parametrize("rating", ["satisfied", "basically_satisfied"])
async def test_a_satisfied_rating_closes_the_case(uow, rating):
    case_id = await resolved_case(uow)
    closed = await run(uow, handlers.rate, handlers.Rate(case_id, rating))
    assert closed.status == "closed"
    assert [e.type for e in sent(uow, CASES_EVENTS, case_id)[-2:]] == [
        "case.rated.v1", "case.closed.v1"]
    assert uow.cases.supervision == {}  # nothing owed, no auto-close left


async def test_an_unsatisfied_rating_reopens_to_the_same_lead(uow):
    case_id = await resolved_case(uow)
    reopened = await run(uow, handlers.rate, handlers.Rate(case_id, "unsatisfied", "还是很吵"))
    assert (reopened.status, reopened.reopens) == ("reopened", 1)
    order = sent(uow, "dispatch.orders.gongan")[-1]
    assert order.data["role"] == "lead" and "重办" in order.data["reason"]
    assert (case_id, -1, "autoclose") not in uow.cases.supervision
    assert (case_id, 2, "ack") in uow.cases.supervision  # the new order is watched


async def test_only_a_resolved_case_is_rated(uow):
    case = await open_case(uow)
    with pytest.raises(ProblemError) as refused:
        await run(uow, handlers.rate, handlers.Rate(case.id, "satisfied"))
    assert problem(refused) == (409, "illegal-transition")


# -- decide_extension --------------------------------------------------------------------------

async def extension_requested(uow) -> tuple[str, datetime]:
    case = await open_case(uow)
    await reported(uow, case.id, "gongan", "acknowledged")
    await reported(uow, case.id, "gongan", "extension_requested", extension_hours=48,
                   reason="需协调产权单位")
    return case.id, case.assignments[0].resolve_by


async def test_an_approved_extension_moves_the_deadline_and_restarts_its_watch(uow):
    case_id, resolve_by = await extension_requested(uow)
    await handlers.sweep(CTX, lambda: uow, resolve_by + timedelta(seconds=1))
    assert uow.cases.supervision[case_id, 0, "resolve"]["stage"] == 1  # overdue has fired
    decided = await run(uow, handlers.decide_extension, handlers.DecideExtension(
        case_id, dept="gongan", approve=True, by="street-office"))
    assert decided.assignments[0].resolve_by == resolve_by + timedelta(hours=48)
    assert uow.cases.supervision[case_id, 0, "resolve"] == {
        "stage": 0, "due_at": resolve_by + timedelta(hours=48)}
    [event] = uow.outbox.of_type("case.extension_decided.v1")
    assert (event.data["approved"], event.data["hours"]) == (True, 48)


async def test_a_refused_extension_keeps_the_deadline_and_its_watch(uow):
    case_id, resolve_by = await extension_requested(uow)
    watch = dict(uow.cases.supervision[case_id, 0, "resolve"])
    decided = await run(uow, handlers.decide_extension, handlers.DecideExtension(
        case_id, dept="gongan", approve=False, by="street-office", note="理由不充分"))
    assert decided.assignments[0].resolve_by == resolve_by
    assert uow.cases.supervision[case_id, 0, "resolve"] == watch


async def test_an_extension_nobody_asked_for_is_refused(uow):
    case = await open_case(uow)
    with pytest.raises(ProblemError) as refused:
        await run(uow, handlers.decide_extension, handlers.DecideExtension(
            case.id, dept="gongan", approve=True, by="op"))
    assert problem(refused) == (409, "illegal-transition")


# -- reads -------------------------------------------------------------------------------------

async def test_a_case_is_read_with_its_timeline(uow):
    case = await open_case(uow)
    await reported(uow, case.id, "gongan", "acknowledged")
    found, timeline = await read(uow, handlers.get_case, handlers.CaseRef(case.id))
    assert found.status == "acknowledged"
    assert [t["type"] for t in timeline][:3] == ["case.created.v1", "case.dispatched.v1",
                                                 "dispatch.ordered.v1"]
    assert timeline[-1]["type"] == "case.acknowledged.v1" and timeline[-1]["dept"] == "gongan"


@pytest.mark.parametrize("case_id", [str(uuid.UUID(int=8)), "nope"])
async def test_an_unknown_case_is_not_found(uow, case_id):
    with pytest.raises(ProblemError) as missing:
        await read(uow, handlers.get_case, handlers.CaseRef(case_id))
    assert problem(missing) == (404, "not-found")


async def search(uow, **query) -> list[dict]:
    return await read(uow, handlers.list_cases, handlers.CaseQuery(**query))


async def test_cases_are_listed_by_status_department_and_street(uow):
    noise = await open_case(uow)
    triage = await open_case(uow, needs_triage=True,
                             suggestions=[{"category": "noise", "probability": 0.4}])
    assert [c["case_id"] for c in await search(uow, status="triage")] == [triage.id]
    assert [c["case_id"] for c in await search(uow, dept="chengguan")] == [noise.id]
    [row] = await search(uow, status="triage", street="120119001")
    assert row["suggestions"][0]["category"] == "noise" and row["description"]
    assert await search(uow, street="120119003") == []


async def test_overdue_lists_only_cases_with_a_deadline_missed(uow):
    await open_case(uow)
    assert await search(uow, overdue=True) == []
    fast_clock = dataclasses.replace(CTX, time_scale=1e-9)  # deadlines in microseconds
    late = await open_case(uow, fast_clock, category="street_vending")
    assert [c["case_id"] for c in await search(uow, overdue=True)] == [late.id]
    assert [c["case_id"] for c in await search(uow, overdue=True, dept="shichang")] == [late.id]
    assert await search(uow, overdue=True, dept="gongan") == []


async def test_pages_follow_one_another_newest_first(uow):
    ids = [(await open_case(uow)).id for _ in range(3)]
    first = await search(uow, limit=2)
    last = first[-1]
    second = await search(uow, limit=2, before=(last["created_at"], uuid.UUID(last["case_id"])))
    assert [c["case_id"] for c in first + second] == ids[::-1]


async def test_open_and_overdue_assignments_are_counted_per_department(uow):
    case = await open_case(uow)
    await open_case(uow, category="street_vending")
    await reported(uow, case.id, "gongan", "acknowledged")
    now = datetime.now(UTC)
    counts = await read(uow, handlers.count_open, handlers.At(now))
    assert counts == {"gongan": {"open": 1, "overdue": 0}, "chengguan": {"open": 2, "overdue": 0},
                      "shichang": {"open": 1, "overdue": 0}}
    later = await read(uow, handlers.count_open, handlers.At(now + timedelta(days=30)))
    assert later["chengguan"] == {"open": 2, "overdue": 2}


# -- places coarser than a grid, and none ------------------------------------------------------

async def test_a_case_known_at_community_level_is_routed_by_its_street(uow):
    case = await open_case(uow, category="street_vending",
                           location={"place_code": "120119003001", "level": "community",
                                     "grid_code": None, "address": "大李各庄村"})
    assert case.status == "dispatched" and case.facts["grid_code"] is None
    assert case.facts["community"] == "120119003001" and case.facts["street"] == "120119003"
    assert case.lead.dept == "chengguan_district"  # 下仓镇 has no enforcement team


@pytest.mark.parametrize("location", [{"level": "unresolved", "address": "就在我家楼下"}, None])
async def test_a_case_nobody_could_place_waits_in_triage_until_a_person_places_it(uow,
                                                                                  location):
    case = await open_case(uow, needs_triage=True, location=location)
    assert case.status == "triage" and case.facts["street"] is None and not case.assignments
    with pytest.raises(ProblemError) as refused:
        await run(uow, handlers.assign, handlers.Assign(case.id, dept=None, category="noise",
                                                        by="operator"))
    assert problem(refused) == (409, "illegal-transition") and "place" in refused.value.detail
    with pytest.raises(ProblemError) as unknown:
        await run(uow, handlers.assign, handlers.Assign(
            case.id, dept=None, category="noise", by="operator", place="999"))
    assert problem(unknown) == (409, "illegal-transition")
    placed = await run(uow, handlers.assign, handlers.Assign(
        case.id, dept=None, category="street_vending", by="operator", place="120119001002"))
    assert placed.status == "dispatched" and placed.facts["street"] == "120119001"
    assert placed.facts["community"] == "120119001002" and placed.lead.dept == "chengguan"
    assert [n["level"] for n in placed.facts["path"]][-1] == "community"


async def test_a_dispatched_case_is_not_placed_anew(uow):
    case = await open_case(uow)
    with pytest.raises(ProblemError) as refused:
        await run(uow, handlers.assign, handlers.Assign(
            case.id, dept=None, category="street_vending", by="operator",
            place="120119001002"))
    assert problem(refused) == (409, "illegal-transition")
