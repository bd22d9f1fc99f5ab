"""Scoring's volunteer, task and points use cases on an in-memory unit of work: the business
flow without Postgres or Kafka, run the way the service runs them (one unit, one commit)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from whistle_common.problems import ProblemError
from whistle_common.topics import POINTS_EVENTS
from whistle_scoring import handlers
from whistle_scoring.domain.periods import parse_period
from whistle_scoring.domain.points import ISSUED, REDEEMED, volunteer_account
from whistle_scoring.main import load_context
from whistle_scoring.schemas import TaskCreate, VolunteerCreate

from .fakes import FakeScoringUnitOfWork, run

CTX = load_context()
register = partial(handlers.register_volunteer, CTX)
view = partial(handlers.volunteer_view, CTX)
post = partial(handlers.post_task, CTX)
complete = partial(handlers.complete, CTX)
leaderboard = partial(handlers.leaderboard, CTX)

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # November 2026 in Shanghai
HOME = "120119001003"        # 东风里社区
NEIGHBOUR = "120119001001"   # same street
ELSEWHERE = "120119002001"   # another street


@pytest.fixture
def uow() -> FakeScoringUnitOfWork:
    return FakeScoringUnitOfWork()


async def volunteer(uow, name: str = "王阿姨", community: str = HOME) -> str:
    body = VolunteerCreate(name=name, community=community, team_colour="red",
                           party_member=True)
    return (await run(uow, register, handlers.RegisterVolunteer(body, NOW)))["volunteer_id"]


async def task(uow, *, community: str = HOME, difficulty: str = "easy",
               max_volunteers: int = 1, category: str = "service_order") -> str:
    body = TaskCreate(community=community, title="陪独居老人就医", difficulty=difficulty,
                      max_volunteers=max_volunteers, category=category)
    return (await run(uow, post, handlers.PostTask(body, "community-app")))["id"]


async def earn(uow, vid: str, hours: float, *, difficulty: str = "easy",
               now: datetime = NOW) -> dict:
    task_id = await task(uow, difficulty=difficulty)
    await run(uow, handlers.claim, handlers.ClaimTask(task_id, vid))
    return await run(uow, complete, handlers.CompleteTask(task_id, vid, hours, "worker-1", now))


async def refused(awaitable) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        await awaitable
    return caught.value


def redeem(vid: str, points: int, request_id: str | None = None, item: str = "粮油兑换"):
    return handlers.Redeem(vid, points, item, request_id, NOW)


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


# -- volunteers -----------------------------------------------------------------------------------

async def test_a_registered_volunteer_starts_with_nothing_in_their_street(uow):
    vid = await volunteer(uow)
    me = await run(uow, view, handlers.VolunteerQuery(vid, NOW))
    assert (me["name"], me["community"], me["street"]) == ("王阿姨", HOME, HOME[:9])
    assert (me["balance"], me["hours"], me["time_bank"]) == (0, 0.0, {"hours_stored": 0.0})
    assert me["rank"] == {"period": "2026-11", "scope": f"community:{HOME}", "rank": None,
                          "of": 0}
    assert (me["team_colour"], me["party_member"]) == ("red", True)
    assert uuid.UUID(vid) in uow.tables.balances


async def test_an_unknown_community_is_a_conflict_and_stores_nothing(uow):
    body = VolunteerCreate(name="x", community="999999999999", team_colour="blue")
    problem = await refused(run(uow, register, handlers.RegisterVolunteer(body, NOW)))
    assert (problem.status, problem.slug) == (409, "conflict")
    assert uow.tables.volunteers == {} and uow.commits == 0 and uow.rollbacks == 1


@pytest.mark.parametrize("volunteer_id", [str(uuid.UUID(int=7)), "not-a-uuid"])
async def test_an_unknown_volunteer_is_not_found(uow, volunteer_id):
    for handler in (view, handlers.volunteer_ledger):
        problem = await refused(run(uow, handler, handlers.VolunteerQuery(volunteer_id, NOW)))
        assert (problem.status, problem.slug) == (404, "not-found")


async def test_the_view_shows_balance_hours_and_this_months_rank(uow):
    first, second = await volunteer(uow), await volunteer(uow, "李师傅")
    await earn(uow, first, 2)
    await earn(uow, second, 5)
    me = await run(uow, view, handlers.VolunteerQuery(first, NOW))
    assert (me["balance"], me["hours"], me["time_bank"]["hours_stored"]) == (20, 2.0, 2.0)
    assert (me["rank"]["rank"], me["rank"]["of"]) == (2, 2)
    next_month = await run(uow, view, handlers.VolunteerQuery(first, datetime(2026, 12, 15,
                                                                               tzinfo=UTC)))
    assert next_month["rank"] == {"period": "2026-12", "scope": f"community:{HOME}",
                                  "rank": None, "of": 0}


async def test_the_ledger_lists_awards_and_redemptions_newest_first(uow):
    vid = await volunteer(uow)
    await earn(uow, vid, 10, now=datetime(2026, 11, 19, tzinfo=UTC))
    await run(uow, handlers.redeem, redeem(vid, 30))
    ledger = await run(uow, handlers.volunteer_ledger, handlers.VolunteerQuery(vid))
    assert ledger["volunteer_id"] == vid and ledger["balance"] == 70
    assert [(e["kind"], e["points"], e["hours"]) for e in ledger["entries"]] == [
        ("redemption", 30, 0.0), ("award", 100, 10.0)]
    assert all(isinstance(e["id"], str) for e in ledger["entries"])
    assert ledger["entries"][1]["note"] == "陪独居老人就医"


# -- tasks ----------------------------------------------------------------------------------------

async def test_a_posted_task_is_open_and_listed(uow):
    posted = REGISTRY.get_sample_value("whistle_tasks_created_total", {"source": "posted"})
    body = TaskCreate(community=HOME, title="清理楼道", difficulty="hard", max_volunteers=3)
    answer = await run(uow, post, handlers.PostTask(body, "community-app"))
    assert answer == {"id": answer["id"], **body.model_dump(), "status": "open"}
    stored = uow.tables.tasks[uuid.UUID(answer["id"])]
    assert (stored["created_by"], stored["case_id"], stored["claimed"]) == (
        "community-app", None, 0)
    assert REGISTRY.get_sample_value("whistle_tasks_created_total",
                                     {"source": "posted"}) == posted + 1


async def test_a_task_in_an_unknown_community_is_a_conflict(uow):
    body = TaskCreate(community="nowhere", title="t")
    problem = await refused(run(uow, post, handlers.PostTask(body, "community-app")))
    assert (problem.status, problem.slug) == (409, "conflict") and uow.tables.tasks == {}


async def test_tasks_are_listed_newest_first_by_community_and_status(uow):
    first = await task(uow)
    second = await task(uow)
    elsewhere = await task(uow, community=ELSEWHERE)
    vid = await volunteer(uow)
    await run(uow, handlers.claim, handlers.ClaimTask(first, vid))

    async def listed(community, status, limit=100):
        rows = await run(uow, handlers.list_tasks,
                         handlers.TasksQuery(community, status, limit))
        return [r["id"] for r in rows]

    assert await listed(HOME, "open") == [second]
    assert await listed(HOME, None) == [second, first]
    assert await listed(None, None) == [elsewhere, second, first]
    assert await listed(None, None, limit=1) == [elsewhere]
    assert await listed(None, "claimed") == [first]


# -- claims ---------------------------------------------------------------------------------------

async def test_claims_never_exceed_the_places_and_one_per_volunteer(uow):
    task_id = await task(uow, max_volunteers=2)
    a, b, c = [await volunteer(uow, n) for n in "甲乙丙"]
    answer = await run(uow, handlers.claim, handlers.ClaimTask(task_id, a))
    assert answer == {"task_id": task_id, "volunteer_id": a, "status": "claimed"}
    again = await refused(run(uow, handlers.claim, handlers.ClaimTask(task_id, a)))
    assert (again.status, again.slug) == (409, "conflict") and "already" in again.detail
    assert uow.tables.tasks[uuid.UUID(task_id)]["status"] == "open"
    await run(uow, handlers.claim, handlers.ClaimTask(task_id, b))
    full = await refused(run(uow, handlers.claim, handlers.ClaimTask(task_id, c)))
    assert (full.status, full.extensions) == (409, {"task_status": "claimed"})
    stored = uow.tables.tasks[uuid.UUID(task_id)]
    assert (stored["claimed"], stored["status"]) == (2, "claimed")
    assert len(uow.tables.claims) == 2


async def test_claiming_an_unknown_task_or_as_an_unknown_volunteer_is_not_found(uow):
    task_id, vid = await task(uow), await volunteer(uow)
    for command in (handlers.ClaimTask(str(uuid.uuid4()), vid),
                    handlers.ClaimTask("nope", vid),
                    handlers.ClaimTask(task_id, str(uuid.uuid4())),
                    handlers.ClaimTask(task_id, "nope")):
        problem = await refused(run(uow, handlers.claim, command))
        assert problem.status == 404, command
    assert uow.tables.claims == {}


# -- completions ----------------------------------------------------------------------------------

async def test_completion_awards_points_once_and_announces_them(uow):
    vid = await volunteer(uow)
    awarded = metric("whistle_points_awarded_total")
    done = await earn(uow, vid, 2, difficulty="normal")
    assert done["points"] == 30  # 2 h × 10 × normal 1.5 × service_order 1.0
    [(topic, event, _)] = uow.outbox.events
    assert (topic, event.type, event.subject) == (POINTS_EVENTS, "points.awarded.v1", vid)
    assert event.data | {"txn_id": None} == {
        "volunteer_id": vid, "points": 30, "hours": 2, "task_id": done["task_id"],
        "case_id": None, "community": HOME, "txn_id": None}
    assert event.correlationid == done["task_id"]  # no case: the task starts the chain
    assert uuid.UUID(event.data["txn_id"]) == uow.tables.txns[
        f"task:{done['task_id']}:{vid}"]["id"]
    assert uow.tables.tasks[uuid.UUID(done["task_id"])]["status"] == "completed"

    again = await refused(run(uow, complete, handlers.CompleteTask(
        done["task_id"], vid, 2, "worker-1", NOW)))
    assert (again.status, again.slug, again.extensions) == (409, "conflict", {"points": 30})
    assert await uow.ledger.balance(uuid.UUID(vid)) == 30
    assert len(uow.outbox.of_type("points.awarded.v1")) == 1
    assert metric("whistle_points_awarded_total") == awarded + 30


async def test_a_shared_task_is_completed_when_every_claim_is(uow):
    task_id = await task(uow, max_volunteers=2)
    a, b = await volunteer(uow, "甲"), await volunteer(uow, "乙")
    for vid in (a, b):
        await run(uow, handlers.claim, handlers.ClaimTask(task_id, vid))
    await run(uow, complete, handlers.CompleteTask(task_id, a, 1, "worker-1", NOW))
    assert uow.tables.tasks[uuid.UUID(task_id)]["status"] == "claimed"
    await run(uow, complete, handlers.CompleteTask(task_id, b, 1, "worker-1", NOW))
    assert uow.tables.tasks[uuid.UUID(task_id)]["status"] == "completed"
    assert len(uow.outbox.of_type("points.awarded.v1")) == 2


async def test_completion_without_a_claim_is_a_conflict_and_unknown_task_not_found(uow):
    task_id, vid = await task(uow), await volunteer(uow)
    problem = await refused(run(uow, complete, handlers.CompleteTask(
        task_id, vid, 1, "worker-1", NOW)))
    assert (problem.status, problem.slug) == (409, "conflict") and "not claimed" in problem.detail
    missing = await refused(run(uow, complete, handlers.CompleteTask(
        str(uuid.uuid4()), vid, 1, "worker-1", NOW)))
    assert missing.status == 404
    assert uow.tables.txns == {} and uow.outbox.events == []


async def test_hours_the_rules_refuse_are_a_conflict_and_change_nothing(uow):
    task_id, vid = await task(uow), await volunteer(uow)
    await run(uow, handlers.claim, handlers.ClaimTask(task_id, vid))
    problem = await refused(run(uow, complete, handlers.CompleteTask(
        task_id, vid, 13, "worker-1", NOW)))
    assert (problem.status, problem.slug) == (409, "conflict") and "hours" in problem.detail
    claimed = uow.tables.claims[(uuid.UUID(task_id), uuid.UUID(vid))]
    assert claimed["completed_at"] is None and uow.tables.txns == {}


# -- redemptions ----------------------------------------------------------------------------------

async def test_a_redemption_takes_points_and_announces_it(uow):
    vid = await volunteer(uow)
    await earn(uow, vid, 10)
    outcome = await run(uow, handlers.redeem, redeem(vid, 30, "r-1"))
    assert outcome.created
    assert outcome.body | {"txn_id": None} == {"volunteer_id": vid, "points": 30,
                                               "item": "粮油兑换", "balance": 70, "txn_id": None}
    [event] = uow.outbox.of_type("points.redeemed.v1")
    assert event.data == outcome.body and event.subject == vid
    assert uow.outbox.events[-1][0] == POINTS_EVENTS
    assert await uow.ledger.balance(uuid.UUID(vid)) == 70


async def test_insufficient_balance_answers_the_balance_and_takes_nothing(uow):
    vid = await volunteer(uow)
    await earn(uow, vid, 1)  # 10 points
    rollbacks = uow.rollbacks
    problem = await refused(run(uow, handlers.redeem, redeem(vid, 11)))
    assert (problem.status, problem.slug, problem.extensions) == (
        409, "insufficient-balance", {"balance": 10})
    assert problem.title == "Insufficient balance"
    assert uow.rollbacks == rollbacks + 1
    assert await uow.ledger.balance(uuid.UUID(vid)) == 10
    assert [t["kind"] for t in uow.tables.txns.values()] == ["award"]
    assert uow.outbox.of_type("points.redeemed.v1") == []


async def test_an_unknown_volunteer_has_nothing_to_redeem_and_a_bad_id_is_not_found(uow):
    problem = await refused(run(uow, handlers.redeem, redeem(str(uuid.uuid4()), 1)))
    assert (problem.slug, problem.extensions) == ("insufficient-balance", {"balance": 0})
    bad = await refused(run(uow, handlers.redeem, redeem("nope", 1)))
    assert bad.status == 404


async def test_the_same_request_id_answers_the_first_redemption_and_takes_nothing_more(uow):
    vid = await volunteer(uow)
    await earn(uow, vid, 10)
    first = await run(uow, handlers.redeem, redeem(vid, 30, f"r-{vid}"))
    again = await run(uow, handlers.redeem, redeem(vid, 30, f"r-{vid}"))
    assert first.created and not again.created
    assert again.body == first.body  # same txn, balance 70
    assert await uow.ledger.balance(uuid.UUID(vid)) == 70
    assert [t["kind"] for t in uow.tables.txns.values()].count("redemption") == 1
    assert len(uow.outbox.of_type("points.redeemed.v1")) == 1


async def test_a_request_id_reused_for_another_redemption_is_a_conflict(uow):
    vid = await volunteer(uow)
    await earn(uow, vid, 10)
    await run(uow, handlers.redeem, redeem(vid, 30, "r-1"))
    for other in (redeem(vid, 40, "r-1"), redeem(vid, 30, "r-1", item="other"),
                  redeem(await volunteer(uow, "李"), 30, "r-1")):
        problem = await refused(run(uow, handlers.redeem, other))
        assert (problem.status, problem.slug) == (409, "conflict")
    assert await uow.ledger.balance(uuid.UUID(vid)) == 70


async def test_a_concurrent_duplicate_is_a_conflict_to_retry_never_a_500(uow, monkeypatch):
    vid = await volunteer(uow)
    await earn(uow, vid, 10)
    await run(uow, handlers.redeem, redeem(vid, 30, "r-1"))

    async def not_yet_visible(ref):  # the first redemption committed after we looked
        return None

    monkeypatch.setattr(uow.ledger, "find_txn", not_yet_visible)
    problem = await refused(run(uow, handlers.redeem, redeem(vid, 30, "r-1")))
    assert (problem.status, problem.slug, problem.extensions) == (409, "conflict",
                                                                  {"retry": True})
    assert await uow.ledger.balance(uuid.UUID(vid)) == 70  # the second take was rolled back
    assert len(uow.outbox.of_type("points.redeemed.v1")) == 1


# -- leaderboards ---------------------------------------------------------------------------------

async def test_the_leaderboard_ranks_by_points_then_hours_and_stars_the_top(uow):
    names = ["甲", "乙", "丙", "丁"]
    ids = {n: await volunteer(uow, n) for n in names}
    await earn(uow, ids["甲"], 3)                        # 30 points, 3 h
    await earn(uow, ids["乙"], 2, difficulty="normal")   # 30 points, 2 h
    await earn(uow, ids["丙"], 5)                        # 50 points
    await earn(uow, ids["丁"], 1)                        # 10 points
    await earn(uow, await volunteer(uow, "邻", NEIGHBOUR), 12)
    await earn(uow, ids["丁"], 12, now=datetime(2025, 6, 1, tzinfo=UTC))  # another year

    year = await run(uow, leaderboard, handlers.LeaderboardQuery(
        "community", HOME, parse_period("2026"), limit=None))
    assert [(e["rank"], e["name"], e["points"], e["star"]) for e in year["entries"]] == [
        (1, "丙", 50, True), (2, "甲", 30, True), (3, "乙", 30, True), (4, "丁", 10, False)]
    assert (year["scope"], year["period"], year["top"]) == (f"community:{HOME}", "2026", 3)

    month = await run(uow, leaderboard, handlers.LeaderboardQuery(
        "street", HOME[:9], parse_period("2026-11"), limit=2))
    assert [e["name"] for e in month["entries"]] == ["邻", "丙"]
    assert month["top"] == 10 and all(e["star"] for e in month["entries"])


# -- the double-entry ledger of the fake ----------------------------------------------------------

async def check_double_entry(uow: FakeScoringUnitOfWork, volunteers: list[str]) -> None:
    assert uow.ledger.unbalanced() == []
    for vid in volunteers:
        assert await uow.ledger.balance(uuid.UUID(vid)) == uow.ledger.account_sum(
            volunteer_account(vid)) >= 0
    awarded = sum(t["points"] for t in uow.tables.txns.values() if t["kind"] == "award")
    redeemed = sum(t["points"] for t in uow.tables.txns.values() if t["kind"] == "redemption")
    assert (uow.ledger.account_sum(ISSUED), uow.ledger.account_sum(REDEEMED)) == (
        -awarded, redeemed)


async def test_the_fake_ledger_refuses_an_unbalanced_transaction(uow):
    from whistle_scoring.domain.points import Entry

    vid = await volunteer(uow)
    with pytest.raises(Exception, match="does not balance"):
        uow.ledger._write(kind="award", ref="x", volunteer_id=uuid.UUID(vid), points=1, hours=0,
                          note=None, entries=[Entry(volunteer_account(vid), 1)], at=NOW)


operations = st.lists(st.tuples(st.sampled_from(["award", "redeem", "replay"]),
                                st.integers(0, 2), st.integers(1, 12)), max_size=25)


@settings(max_examples=40, deadline=None)
@given(operations)
def test_entries_balance_and_balances_equal_their_accounts_whatever_happens(ops):
    async def scenario():
        uow = FakeScoringUnitOfWork()
        vids = [await volunteer(uow, str(i)) for i in range(3)]
        for n, (op, who, amount) in enumerate(ops):
            vid = vids[who]
            if op == "award":
                await earn(uow, vid, amount)
            else:
                request_id = "same" if op == "replay" else f"r{n}"
                try:
                    await run(uow, handlers.redeem, redeem(vid, amount * 5, request_id))
                except ProblemError as exc:
                    assert exc.status == 409
            await check_double_entry(uow, vids)

    asyncio.run(scenario())
