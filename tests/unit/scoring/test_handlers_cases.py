"""Scoring's consumer of cases.events and the department assessment on an in-memory unit of
work: service orders become tasks once, events count once, rates as worked out by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from prometheus_client import REGISTRY
from whistle_common.consumer import Incoming
from whistle_common.envelope import Envelope, new_event
from whistle_common.topics import CASES_EVENTS
from whistle_scoring import handlers
from whistle_scoring.domain.periods import parse_period
from whistle_scoring.main import load_context
from whistle_scoring.schemas import VolunteerCreate

from .fakes import FakeScoringUnitOfWork, run

CTX = load_context()
assessment = partial(handlers.department_assessment, CTX)
ranking = partial(handlers.ranking, CTX)
figures = partial(handlers.month_figures, CTX)

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
NOVEMBER = parse_period("2026-11")
HOME = "120119001003"


@pytest.fixture
def uow() -> FakeScoringUnitOfWork:
    return FakeScoringUnitOfWork()


def incoming(env: Envelope) -> Incoming:
    return Incoming(CASES_EVENTS, env.key, env.to_bytes(), {}, 0, 0, env)


def event(type_: str, case: str, now: datetime = NOW, **data) -> Envelope:
    return new_event(type_, source="/whistle/dispatch", subject=case, now=now,
                     data={"case_id": case, **data})


def service_order(case: str, dept: str = "community") -> Envelope:
    return event("case.dispatched.v1", case, dept=dept, role="lead", kind="service_order",
                 community=HOME, category="service_order", tracking_no="WS20261120-0007",
                 description="想请志愿者帮忙代买药品")


async def consume(uow, *envelopes: Envelope) -> None:
    for env in envelopes:
        await run(uow, handlers.on_case_event, incoming(env))


def month_for(dept: str, now: datetime = NOW) -> list[Envelope]:
    """The e2e test's scripted month: 4 cases, worked out by hand in EXPECTED."""
    a, b, c, d = (str(uuid.uuid4()) for _ in range(4))
    lead = {"dept": dept, "role": "lead"}
    ev = partial(event, now=now)
    return [
        ev("case.dispatched.v1", a, **lead), ev("case.acknowledged.v1", a, **lead, on_time=True),
        ev("case.resolved.v1", a, lead=dept, resolved_by=[dept], on_time=True),
        ev("case.rated.v1", a, lead=dept, rating="satisfied"),
        ev("case.dispatched.v1", b, **lead), ev("case.acknowledged.v1", b, **lead, on_time=False),
        ev("case.resolved.v1", b, lead=dept, resolved_by=[dept], on_time=False),
        ev("case.rated.v1", b, lead=dept, rating="unsatisfied"),
        ev("case.reopened.v1", b, lead=dept),
        ev("case.dispatched.v1", c, **lead), ev("case.acknowledged.v1", c, **lead, on_time=True),
        ev("case.returned.v1", c, **lead, reason="非本部门职责"),
        ev("case.dispatched.v1", d, **lead),
    ]


EXPECTED = {"response": 0.5, "resolution": 0.5, "on_time_resolution": 0.25,
            "satisfaction": 0.5}  # 2/4, 2/4, 1/4, 1/2 → score 50


# -- cases.events → tasks -------------------------------------------------------------------------

async def test_a_service_order_for_the_community_becomes_one_task(uow):
    case = str(uuid.uuid4())
    created = REGISTRY.get_sample_value("whistle_tasks_created_total", {"source": "case"})
    order = service_order(case)
    await consume(uow, order, order)  # redelivered
    [stored] = uow.tables.tasks.values()
    assert (stored["case_id"], stored["community"], stored["category"]) == (
        case, HOME, "service_order")
    assert stored["title"] == "群众点单 WS20261120-0007"
    assert (stored["max_volunteers"], stored["difficulty"], stored["created_by"]) == (
        1, "normal", "dispatch")
    assert stored["description"] == "想请志愿者帮忙代买药品"
    assert REGISTRY.get_sample_value("whistle_tasks_created_total",
                                     {"source": "case"}) == created + 1
    assert len(uow.tables.assessment) == 1  # the event counted once too
    assert uow.commits == 2 and uow.outbox.events == []


async def test_the_points_of_a_case_task_carry_the_case(uow):
    case = str(uuid.uuid4())
    await consume(uow, service_order(case))
    [task_id] = [str(t) for t in uow.tables.tasks]
    body = VolunteerCreate(name="张党员", community=HOME, team_colour="red")
    vid = (await run(uow, partial(handlers.register_volunteer, CTX),
                     handlers.RegisterVolunteer(body, NOW)))["volunteer_id"]
    await run(uow, handlers.claim, handlers.ClaimTask(task_id, vid))
    done = await run(uow, partial(handlers.complete, CTX),
                     handlers.CompleteTask(task_id, vid, 3, "worker-1", NOW))
    assert done["points"] == 45  # 3 h × 10 × normal 1.5 × service_order 1.0
    [awarded] = uow.outbox.of_type("points.awarded.v1")
    assert awarded.data["case_id"] == case and awarded.correlationid == case


@pytest.mark.parametrize("envelope", [
    service_order("c-1", dept="gongan"),
    event("case.dispatched.v1", "c-2", dept="community", kind="complaint", community=HOME,
          category="noise"),
    event("case.acknowledged.v1", "c-3", dept="community", kind="service_order",
          community=HOME, category="service_order"),
])
async def test_other_case_events_make_no_task(uow, envelope):
    await consume(uow, envelope)
    assert uow.tables.tasks == {} and len(uow.tables.assessment) == 1


# -- department assessment ------------------------------------------------------------------------

async def test_assessment_rates_match_the_hand_computed_values_despite_redelivery(uow):
    events = month_for("qa")
    await consume(uow, *events, events[1], events[6])  # two redeliveries
    result = await run(uow, assessment, handlers.AssessmentQuery("qa", NOVEMBER))
    assert result["rates"] == EXPECTED and result["score"] == 50.0
    assert result["facts"] == {"dispatched": 4, "acknowledged_on_time": 2, "resolved": 2,
                               "resolved_on_time": 1, "rated": 2, "satisfied": 1,
                               "returns": 1, "reopens": 1}
    assert (result["dept"], result["period"], result["weights"]) == (
        "qa", "2026-11", CTX.weights)


async def test_a_department_without_cases_has_no_rates_and_no_score(uow):
    await consume(uow, *month_for("qa", now=NOW - timedelta(days=60)))  # September
    result = await run(uow, assessment, handlers.AssessmentQuery("qa", NOVEMBER))
    assert result["facts"]["dispatched"] == 0 and result["score"] is None
    assert set(result["rates"].values()) == {None}


async def test_a_joint_resolution_counts_for_every_department_that_resolved(uow):
    case = str(uuid.uuid4())
    await consume(uow, *(event("case.dispatched.v1", case, dept=d) for d in ("a", "b")),
                  event("case.resolved.v1", case, lead="a", resolved_by=["a", "b"],
                        on_time=True))
    for dept in ("a", "b"):
        result = await run(uow, assessment, handlers.AssessmentQuery(dept, NOVEMBER))
        assert (result["facts"]["resolved"], result["rates"]["resolution"]) == (1, 1.0)


async def test_the_ranking_puts_the_best_score_first(uow):
    perfect = str(uuid.uuid4())
    await consume(uow, *month_for("mid"),
                  event("case.dispatched.v1", perfect, dept="best"),
                  event("case.acknowledged.v1", perfect, dept="best", on_time=True),
                  event("case.resolved.v1", perfect, lead="best", resolved_by=["best"]),
                  event("case.dispatched.v1", str(uuid.uuid4()), dept="old",
                        now=NOW - timedelta(days=60)))
    rows = await run(uow, ranking, NOVEMBER)
    assert [(r["rank"], r["dept"], r["score"]) for r in rows] == [(1, "best", 100.0),
                                                                  (2, "mid", 50.0)]


async def test_the_gauges_read_the_ranking_and_this_months_points(uow):
    await consume(uow, *month_for("qa"))
    body = VolunteerCreate(name="王阿姨", community=HOME, team_colour="red")
    vid = (await run(uow, partial(handlers.register_volunteer, CTX),
                     handlers.RegisterVolunteer(body, NOW)))["volunteer_id"]
    await uow.ledger.award(ref="t", volunteer_id=uuid.UUID(vid), points=25, hours=2.5,
                           note=None, at=NOW)
    await uow.ledger.award(ref="old", volunteer_id=uuid.UUID(vid), points=99, hours=1,
                           note=None, at=NOW - timedelta(days=60))
    month = await run(uow, figures, NOVEMBER)
    assert [r["dept"] for r in month.ranking] == ["qa"]
    assert month.community_points == {HOME: 25}


async def test_a_rebuild_clears_the_assessment_and_replays_it_to_the_same_numbers(uow):
    events = month_for("qa")
    await consume(uow, *events)
    live = await run(uow, assessment, handlers.AssessmentQuery("qa", NOVEMBER))
    await run(uow, handlers.clear_assessment, None)
    assert uow.tables.assessment == {}
    half = len(events) // 2
    assert await run(uow, handlers.replay_assessment, [incoming(e) for e in events[:half]]) \
        == half
    assert await run(uow, handlers.replay_assessment,
                     [incoming(e) for e in events]) == len(events)  # overlap counted once
    assert await run(uow, assessment, handlers.AssessmentQuery("qa", NOVEMBER)) == live
