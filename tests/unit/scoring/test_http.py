"""The scoring routes on the real ASGI app with the in-memory unit of work (no lifespan runs):
the statuses and problem slugs the API has always answered, now from the shared mapping."""

from __future__ import annotations

import functools
import uuid

import pytest
from whistle_scoring.main import create_app

from ..asgi import client_of
from .fakes import FakeScoringUnitOfWork

COMMUNITY = {"Authorization": "Bearer dev-community-token"}
VOLUNTEER = {"Authorization": "Bearer dev-volunteer-token"}
OPERATOR = {"Authorization": "Bearer dev-operator-token"}
HOME = "120119001003"


@functools.cache
def app():
    return create_app()


@pytest.fixture
def uow() -> FakeScoringUnitOfWork:
    return FakeScoringUnitOfWork()


@pytest.fixture
async def client(uow):
    async with client_of(app(), lambda: uow) as client:
        yield client


async def earned(client, hours: float) -> str:
    """A volunteer of HOME who has done `hours` of easy work (10 points an hour)."""
    vid = (await client.post("/v1/volunteers", headers=COMMUNITY, json={
        "name": "王阿姨", "community": HOME, "team_colour": "red"})).json()["volunteer_id"]
    task = await client.post("/v1/tasks", headers=COMMUNITY, json={
        "community": HOME, "title": "陪独居老人就医", "difficulty": "easy"})
    assert task.status_code == 201 and task.json()["status"] == "open"
    claim = await client.post(f"/v1/tasks/{task.json()['id']}/claim", headers=VOLUNTEER,
                              json={"volunteer_id": vid})
    assert claim.status_code == 200
    done = await client.post(f"/v1/tasks/{task.json()['id']}/complete", headers=COMMUNITY,
                             json={"volunteer_id": vid, "hours": hours})
    assert done.status_code == 200 and done.json()["points"] == hours * 10
    return vid


async def test_redemptions_answer_201_then_200_for_a_replay_and_409_otherwise(client):
    vid = await earned(client, 10)
    body = {"volunteer_id": vid, "points": 30, "item": "粮油兑换", "request_id": "r-1"}
    first = await client.post("/v1/redemptions", headers=VOLUNTEER, json=body)
    again = await client.post("/v1/redemptions", headers=VOLUNTEER, json=body)
    other = await client.post("/v1/redemptions", headers=VOLUNTEER, json={**body, "points": 40})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and "replayed" not in again.json()
    assert again.json()["balance"] == 70
    assert other.status_code == 409 and other.json()["type"].endswith("/conflict")
    too_much = await client.post("/v1/redemptions", headers=VOLUNTEER,
                                 json={**body, "request_id": None, "points": 71})
    assert too_much.status_code == 409
    assert too_much.headers["content-type"].startswith("application/problem+json")
    problem = too_much.json()
    assert problem["type"].endswith("/insufficient-balance") and problem["balance"] == 70
    ledger = (await client.get(f"/v1/volunteers/{vid}/ledger", headers=VOLUNTEER)).json()
    assert ledger["balance"] == 70 and [e["kind"] for e in ledger["entries"]] == [
        "redemption", "award"]


async def test_completing_twice_is_409_with_the_points_and_unknown_ids_404(client):
    vid = await earned(client, 2)
    [task_id] = [t["id"] for t in (await client.get(
        "/v1/tasks", params={"status": "completed"}, headers=VOLUNTEER)).json()]
    again = await client.post(f"/v1/tasks/{task_id}/complete", headers=COMMUNITY,
                              json={"volunteer_id": vid, "hours": 2})
    assert again.status_code == 409 and again.json()["points"] == 20
    missing = await client.get(f"/v1/volunteers/{uuid.uuid4()}", headers=OPERATOR)
    assert missing.status_code == 404 and missing.json()["type"].endswith("/not-found")
    me = (await client.get(f"/v1/volunteers/{vid}", headers=VOLUNTEER)).json()
    assert (me["balance"], me["hours"], me["rank"]["rank"]) == (20, 2.0, 1)


async def test_leaderboards_and_assessments_check_their_queries_before_any_use_case(client,
                                                                                    uow):
    bad_scope = await client.get("/v1/leaderboards", params={"scope": "city:1"})
    bad_period = await client.get("/v1/departments/ranking", params={"period": "2026-13"},
                                  headers=OPERATOR)
    assert (bad_scope.status_code, bad_period.status_code) == (422, 422)
    assert bad_period.json()["type"].endswith("/bad-period") and uow.commits == 0
    board = await client.get("/v1/leaderboards", params={"scope": f"street:{HOME[:9]}",
                                                         "period": "2026"})
    assert board.status_code == 200 and board.json()["top"] == 3
    ranking = await client.get("/v1/departments/ranking", params={"period": "2026-11"},
                               headers=OPERATOR)
    assert ranking.status_code == 200 and ranking.json() == []
