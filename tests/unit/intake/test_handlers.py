"""Intake's use cases on an in-memory unit of work: the business flow without Postgres or
Kafka, run the way the service runs them (run_use_case: one unit, one commit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from whistle_catalogue import load_catalogue
from whistle_common.consumer import Incoming
from whistle_common.envelope import new_event
from whistle_common.problems import ProblemError
from whistle_common.topics import CASES_EVENTS, INCIDENTS_RECEIVED
from whistle_common.usecase import run_use_case
from whistle_intake import handlers
from whistle_intake.main import load_classifier
from whistle_intake.schemas import IncidentCreate
from whistle_places.places import load_places

from .fakes import FakeIntakeUnitOfWork

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
GRID = "12011900100101"


@pytest.fixture(scope="module")
def ref() -> handlers.Reference:
    return handlers.Reference(load_catalogue(), load_places(), load_classifier())


@pytest.fixture
def uow() -> FakeIntakeUnitOfWork:
    return FakeIntakeUnitOfWork()


def draft(**overrides) -> IncidentCreate:
    body = {"source": "hotline", "external_id": "12345-0001", "kind": "complaint",
            "category": "noise", "description": "楼下KTV凌晨两点还在唱歌，噪音很大",
            "location": {"grid_code": GRID, "address": "府君山社区3号楼"},
            "reporter": {"name": "张先生", "phone": "+86 138-1234-1234"}, "priority": "normal"}
    return IncidentCreate.model_validate({**body, **overrides})


async def submit(ref, uow, body: IncidentCreate, now: datetime = NOW) -> handlers.Outcome:
    return await run_use_case(lambda: uow, partial(handlers.submit_incident, ref),
                              handlers.SubmitIncident(body, now))


def case_event(type_: str, incident_id: str, **data) -> Incoming:
    env = new_event(type_, source="/whistle/dispatch", subject=str(uuid.uuid4()),
                    data={"incident_id": incident_id, **data}, correlationid=incident_id,
                    now=NOW + timedelta(minutes=5))
    return Incoming(CASES_EVENTS, None, env.to_bytes(), {}, 0, 0, env)


async def test_an_incident_is_stored_and_announced_once_in_the_units_outbox(ref, uow):
    outcome = await submit(ref, uow, draft())
    assert outcome.created and uow.commits == 1
    [(topic, event, _)] = uow.outbox.events
    assert topic == INCIDENTS_RECEIVED and event.type == "incident.received.v1"
    assert event.subject == str(outcome.row["id"]) and event.data["category"] == "noise"
    assert event.data["reporter"]["phone"] == "13812341234"  # normalised once, at the door
    assert event.data["tracking_no"] == outcome.row["tracking_no"]
    assert event.data["location"]["grid_code"] == GRID


async def test_a_replay_answers_the_first_time_and_announces_nothing_more(ref, uow):
    first = await submit(ref, uow, draft())
    again = await submit(ref, uow, draft(), now=NOW + timedelta(hours=1))
    assert not again.created and again.row["id"] == first.row["id"]
    assert again.row["tracking_no"] == first.row["tracking_no"]
    assert len(uow.outbox.events) == 1 and len(uow.incidents.rows) == 1


async def test_the_same_key_for_another_request_is_a_409_and_changes_nothing(ref, uow):
    await submit(ref, uow, draft())
    with pytest.raises(ProblemError) as raised:
        await submit(ref, uow, draft(description="另一件事：路灯不亮了"))
    assert raised.value.status == 409 and raised.value.slug == "idempotency-conflict"
    assert len(uow.outbox.events) == 1 and uow.rollbacks == 1


async def test_an_invalid_incident_is_a_422_with_the_rules_slug_and_nothing_is_stored(ref, uow):
    with pytest.raises(ProblemError) as raised:
        await submit(ref, uow, draft(location={"grid_code": "99999999999999"}))
    assert raised.value.status == 422 and raised.value.slug
    assert uow.incidents.rows == {} and uow.outbox.events == []


async def test_a_replay_is_answered_even_when_the_rules_would_refuse_it_now(ref, uow):
    body = draft(occurred_at=NOW - timedelta(hours=1))
    first = await submit(ref, uow, body)
    # a year later the same occurred_at is far in the past; the replay still answers
    again = await submit(ref, uow, body, now=NOW + timedelta(days=400))
    assert again.row["id"] == first.row["id"] and not again.created


async def test_text_without_a_category_is_classified_and_says_how(ref, uow):
    outcome = await submit(ref, uow, draft(category=None,
                                           description="公司拖欠我三个月工资，老板一直不给"))
    found = outcome.row["classification"]
    assert outcome.row["category"] != "noise" and found["method"] in ("model", "rule")
    assert found["model_version"] and 0 < found["confidence"] <= 1
    [(_, event, _)] = uow.outbox.events
    assert event.data["model_version"] == found["model_version"]


async def test_a_service_order_without_a_category_is_a_service_order(ref, uow):
    outcome = await submit(ref, uow, draft(kind="service_order", category=None,
                                           description="家里老人需要有人帮忙买菜"))
    assert outcome.row["category"] == "service_order"


async def test_the_incident_view_has_its_timeline_and_a_missing_one_is_404(ref, uow):
    outcome = await submit(ref, uow, draft())
    incident_id = str(outcome.row["id"])
    view = await run_use_case(lambda: uow, handlers.incident_view, incident_id)
    assert [e["status"] for e in view.timeline] == ["received"]
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(ProblemError) as raised:
            await run_use_case(lambda: uow, handlers.incident_view, missing)
        assert raised.value.status == 404


async def test_case_events_move_the_status_forward_and_never_back(ref, uow):
    incident_id = str((await submit(ref, uow, draft())).row["id"])
    resolve_by = (NOW + timedelta(days=3)).isoformat()
    await handlers.on_case_event(uow, case_event("case.dispatched.v1", incident_id,
                                                 lead="huanbao",
                                                 deadlines={"resolve_by": resolve_by}))
    await handlers.on_case_event(uow, case_event("case.resolved.v1", incident_id,
                                                 result="已整改"))
    await handlers.on_case_event(uow, case_event("case.acknowledged.v1", incident_id))  # late
    row = uow.incidents.rows[uuid.UUID(incident_id)]
    assert row["status"] == "resolved" and row["agency"] == "huanbao"
    assert row["expected_at"] == datetime.fromisoformat(resolve_by)
    view = await handlers.incident_view(uow, incident_id)
    assert [e["event_type"] for e in view.timeline][1:] == [
        "case.dispatched.v1", "case.resolved.v1", "case.acknowledged.v1"]
    assert view.timeline[2]["note"] == "已整改"


async def test_a_merged_incident_follows_the_case_it_joined(ref, uow):
    first = str((await submit(ref, uow, draft())).row["id"])
    second = str((await submit(ref, uow, draft(external_id="12345-merged"))).row["id"])
    case_id = str(uuid.uuid4())

    def on_case(type_: str, **data) -> Incoming:
        env = new_event(type_, source="/whistle/dispatch", subject=case_id,
                        data={"incident_id": first, **data}, correlationid=first,
                        now=NOW + timedelta(minutes=5))
        return Incoming(CASES_EVENTS, None, env.to_bytes(), {}, 0, 0, env)

    await handlers.on_case_event(uow, on_case("case.acknowledged.v1", lead="shuiwu"))
    await handlers.on_case_event(uow, on_case(
        "case.merged.v1", status="acknowledged", lead="shuiwu", merged_incident_id=second,
        linked_incidents=[second]))
    rows = uow.incidents.rows
    assert rows[uuid.UUID(second)]["status"] == "in_progress"  # as the case is
    assert str(rows[uuid.UUID(second)]["case_id"]) == case_id
    timelines = {i: [e["event_type"] for e in uow.incidents.timelines.get(uuid.UUID(i), [])]
                 for i in (first, second)}
    assert timelines == {first: ["case.acknowledged.v1"], second: ["case.merged.v1"]}
    # a third caller: news for the third call only, not a row on each call before it
    third = str((await submit(ref, uow, draft(external_id="12345-third"))).row["id"])
    await handlers.on_case_event(uow, on_case(
        "case.merged.v1", status="acknowledged", lead="shuiwu", merged_incident_id=third,
        linked_incidents=[second, third]))
    assert [len(uow.incidents.timelines.get(uuid.UUID(i), [])) for i in
            (first, second, third)] == [1, 1, 1]
    await handlers.on_case_event(uow, on_case("case.resolved.v1", result="已抢修",
                                              linked_incidents=[second, third]))
    assert {rows[uuid.UUID(i)]["status"] for i in (first, second, third)} == {"resolved"}


async def test_a_case_of_an_unknown_incident_changes_nothing(uow):
    await handlers.on_case_event(uow, case_event("case.dispatched.v1", str(uuid.uuid4())))
    assert uow.incidents.timelines == {}


async def test_a_correction_is_stored_once_as_a_labelled_example(ref, uow):
    incident_id = str((await submit(ref, uow, draft(category=None))).row["id"])
    msg = case_event("classification.corrected.v1", incident_id, from_category="noise",
                     to_category="wage_arrears", confirmed=False, reason="triage", by="op",
                     model_version="m1")
    await handlers.on_correction(uow, msg)
    await handlers.on_correction(uow, msg)
    [stored] = await uow.incidents.corrections()
    assert stored["to_category"] == "wage_arrears" and stored["text"].startswith("楼下KTV")
    assert stored["event_id"] == msg.envelope.id


async def test_open311_search_by_ids_skips_unknown_ones(ref, uow):
    outcome = await submit(ref, uow, draft())
    query = handlers.SearchRequests(ids=(str(outcome.row["id"]), str(uuid.uuid4()), "x"))
    rows = await run_use_case(lambda: uow, handlers.search_incidents, query)
    assert [r["id"] for r in rows] == [outcome.row["id"]]
    by_code = await run_use_case(lambda: uow, handlers.search_incidents,
                                 handlers.SearchRequests(category="noise"))
    assert len(by_code) == 1


async def test_an_address_only_call_is_placed_and_announced_with_its_path(ref, uow):
    outcome = await submit(ref, uow, draft(location={"address": "鼓楼社区东门口"}))
    [(_, event, _)] = uow.outbox.events
    where = event.data["location"]
    assert outcome.created and where["level"] == "community"
    assert where["place_code"] == "120119001002" and where["grid_code"] is None
    assert [n["level"] for n in where["path"]][-1] == "community"
    assert event.data["needs_triage"] is False and event.data["triage_reasons"] == []


async def test_a_call_that_places_nothing_is_accepted_and_sent_to_triage(ref, uow):
    outcome = await submit(ref, uow, draft(location={"address": "就在我家楼下"},
                                           description="楼下有人半夜唱歌"))
    [(_, event, _)] = uow.outbox.events
    assert outcome.created and event.data["location"]["level"] == "unresolved"
    assert event.data["needs_triage"] is True and event.data["triage_reasons"] == ["location"]
