"""A street office (street:<code>) works its own street's cases and nobody else's: through
the real dispatch app on an in-memory unit of work."""

from __future__ import annotations

import functools

import pytest
from whistle_dispatch import handlers
from whistle_dispatch.main import create_app

from ..asgi import client_of
from .fakes import FakeDispatchUnitOfWork
from .scenario import CTX, TOWN_WITHOUT_TEAM, open_case

WENCHANG = {"Authorization": "Bearer dev-street-120119001-token"}   # 文昌街道
XIACANG = {"Authorization": "Bearer dev-street-120119003-token"}    # 下仓镇
HUANBAO = {"Authorization": "Bearer dev-dept-huanbao-token"}


@functools.cache
def app():
    return create_app()


@pytest.fixture
def uow() -> FakeDispatchUnitOfWork:
    return FakeDispatchUnitOfWork()


@pytest.fixture
async def client(uow):
    async with client_of(app(), lambda: uow) as client:
        yield client


async def test_a_street_office_sees_its_cases_and_not_another_streets(uow, client):
    mine = await open_case(uow, needs_triage=True)  # grid of 文昌街道
    theirs = await open_case(uow, needs_triage=True,
                             location={"grid_code": TOWN_WITHOUT_TEAM})
    listed = await client.get("/v1/cases", params={"status": "triage"}, headers=WENCHANG)
    assert listed.status_code == 200
    assert [c["case_id"] for c in listed.json()["items"]] == [mine.id]
    other = await client.get("/v1/cases", params={"street": "120119003"}, headers=WENCHANG)
    assert other.status_code == 403
    assert (await client.get(f"/v1/cases/{mine.id}", headers=WENCHANG)).status_code == 200
    assert (await client.get(f"/v1/cases/{theirs.id}", headers=WENCHANG)).status_code == 403
    assert (await client.get(f"/v1/cases/{theirs.id}", headers=XIACANG)).status_code == 200


async def test_a_street_office_assigns_its_triage_case_but_not_another_streets(uow, client):
    mine = await open_case(uow, needs_triage=True)
    theirs = await open_case(uow, needs_triage=True,
                             location={"grid_code": TOWN_WITHOUT_TEAM})
    body = {"category": "street_vending", "learn": False}
    refused = await client.post(f"/v1/cases/{theirs.id}/assign", json=body, headers=WENCHANG)
    assert refused.status_code == 403 and refused.json()["type"].endswith("/forbidden")
    done = await client.post(f"/v1/cases/{mine.id}/assign", json=body, headers=WENCHANG)
    assert done.status_code == 200 and done.json()["status"] == "dispatched"


async def test_an_unplaced_case_is_placed_only_in_the_offices_own_street(uow, client):
    case = await open_case(uow, needs_triage=True, location=None)
    body = {"category": "noise", "place": "120119003002", "learn": False}
    elsewhere = await client.post(f"/v1/cases/{case.id}/assign", json=body, headers=WENCHANG)
    assert elsewhere.status_code == 403
    body["place"] = "120119001002"
    placed = await client.post(f"/v1/cases/{case.id}/assign", json=body, headers=WENCHANG)
    assert placed.status_code == 200 and placed.json()["status"] == "dispatched"


async def test_whistle_and_extensions_stop_at_the_street_border(uow):
    theirs = await open_case(uow, location={"grid_code": TOWN_WITHOUT_TEAM})
    with pytest.raises(handlers.OtherStreet):
        await handlers.whistle(CTX, uow, handlers.Whistle(
            theirs.id, ("gongan",), "联合执法", streets=frozenset({"120119001"})))
    with pytest.raises(handlers.OtherStreet):
        await handlers.decide_extension(CTX, uow, handlers.DecideExtension(
            theirs.id, dept="chengguan_district", approve=True, by="s",
            streets=frozenset({"120119001"})))


async def test_a_department_cannot_open_a_case_not_dispatched_to_it(uow, client):
    case = await open_case(uow, category="street_vending")
    assert (await client.get(f"/v1/cases/{case.id}", headers=HUANBAO)).status_code == 403


async def test_me_says_what_the_token_may_do(client):
    me = (await client.get("/v1/me", headers=WENCHANG)).json()
    assert me["streets"] == ["120119001"] and me["operator"] is False
    assert me["departments"] == []

