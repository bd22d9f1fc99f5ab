"""Issue 15 on the real stack: an address-only call is placed and dispatched to that
community's street, one that places nothing is accepted and waits in triage, an Open311 post
with only address_string is accepted and answers the resolved place, and a city's own
territory imported with `whistle-catalogue` is what the services load after a restart."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from whistle_places.onboarding import import_territory

from tests.support import depts
from tests.support.incidents import incident, post
from tests.support.stack import HOTLINE, OPERATOR, case_of, eventually, restore

pytestmark = pytest.mark.e2e
SHIPPED = Path(__file__).resolve().parents[2] / "libs/catalogue/whistle_catalogue/data"


async def case_row(live, incident_id: str):
    await case_of(live, incident_id)
    rows = await live.fetch("dispatch", "SELECT status, street, community, grid_code, lead "
                            "FROM cases WHERE incident_id=$1", incident_id)
    return rows[0]


async def test_an_address_only_call_is_dispatched_to_that_communitys_street(live):
    orders = depts.order_tail(live, "chengguan_district")  # 下仓镇 has no enforcement team
    body = incident(category="street_vending", location={"address": "京哈公路六百号路边"})
    async with live.http("intake") as client:
        resp = await post(client, body)
    assert resp.status_code == 201, resp.text
    accepted = resp.json()
    assert accepted["location"]["level"] == "community"
    assert accepted["location"]["place_code"] == "120119003002"  # 下仓村: 京哈公路 401–900
    assert accepted["needs_triage"] is False
    row = await case_row(live, accepted["incident_id"])
    assert (row["status"], row["street"], row["community"], row["grid_code"]) == (
        "dispatched", "120119003", "120119003002", None)
    order = await asyncio.to_thread(
        orders.wait_for, lambda e: e.data["incident_id"] == accepted["incident_id"], timeout=30)
    orders.close()
    path = order[0].data["location"]["path"]
    assert [n["code"] for n in path][-2:] == ["120119003", "120119003002"]


async def test_a_call_that_places_nothing_is_accepted_and_waits_in_triage(live):
    body = incident(category="noise", location={"address": "就在我家楼下那条街"},
                    description="楼下夜里总有人大声放音乐")
    async with live.http("intake") as client:
        resp = await post(client, body)
    assert resp.status_code == 201, resp.text
    assert resp.json()["location"]["level"] == "unresolved"
    row = await case_row(live, resp.json()["incident_id"])
    assert (row["status"], row["street"], row["lead"]) == ("triage", None, None)
    case_id = await case_of(live, resp.json()["incident_id"])
    async with live.http("dispatch") as client:
        placed = await client.post(f"/v1/cases/{case_id}/assign", headers=OPERATOR,
                                   json={"category": "noise", "place": "120119001002",
                                         "learn": False})
    assert placed.status_code == 200, placed.text
    assert placed.json()["status"] == "dispatched"
    row = await case_row(live, resp.json()["incident_id"])
    assert (row["street"], row["community"]) == ("120119001", "120119001002")


async def test_open311_takes_address_string_alone_and_answers_the_place(live):
    async with live.http("intake") as client:
        resp = await client.post("/open311/v2/requests.json", data={
            "api_key": "dev-hotline-token", "service_code": "sanitation",
            "address_string": "蓟县鼓楼小区3号楼", "description": "垃圾桶满了好几天没人清运"})
        assert resp.status_code == 201, resp.text
        request_id = resp.json()[0]["service_request_id"]
        got = await client.get(f"/open311/v2/requests/{request_id}.json")
        by_id = await client.post("/open311/v2/requests.json", data={
            "api_key": "dev-hotline-token", "service_code": "sanitation",
            "address_id": "120119004002", "description": "光社小区门口垃圾没人清运"})
    assert got.status_code == 200
    [request] = got.json()
    assert request["address"] == "蓟县鼓楼小区3号楼" and request["address_id"] == "120119001002"
    assert isinstance(request["lat"], float) and isinstance(request["long"], float)
    assert by_id.status_code == 201, by_id.text


async def test_operators_see_what_the_platform_reads(live):
    async with live.http("intake") as client:
        grid = await client.get("/v1/grids", params={"lat": 40.045, "lon": 117.4},
                                headers=HOTLINE)
        read = await client.get("/v1/places/resolve", params={"address": "渔阳北路12号"},
                                headers=HOTLINE)
        outside = await client.get("/v1/grids", params={"lat": 31.23, "lon": 121.47},
                                   headers=HOTLINE)
    assert grid.status_code == 200 and grid.json()["grid_code"] == "12011900100101"
    assert read.json()["community"] == "120119002002" and read.json()["method"] == "road-number"
    assert outside.status_code == 404


async def test_an_imported_territory_is_loaded_after_a_restart(live, tmp_path):
    city = json.loads((SHIPPED / "territory.geojson").read_text("utf-8"))
    city["whistle"]["version"] = "2099.1.0-test"
    source = tmp_path / "city.geojson"
    source.write_text(json.dumps(city, ensure_ascii=False), "utf-8")
    written = import_territory(source, tmp_path / "city")
    if "WHISTLE_TERRITORY" in os.environ:
        pytest.skip("the suite runs with a territory of its own")
    services = live.stack.services
    try:
        await asyncio.to_thread(services.stop, ["intake", "dispatch"])
        services.start(["intake", "dispatch"], {"WHISTLE_TERRITORY": str(written)})
        await asyncio.to_thread(services.wait_ready, ["intake", "dispatch"], timeout=120)
        async with live.http("intake") as client:
            resp = await client.get("/v1/grids", params={"lat": 40.045, "lon": 117.4},
                                    headers=HOTLINE)
            posted = await post(client, incident())
        assert resp.json()["territory_version"] == "2099.1.0-test"
        assert posted.json()["location"]["territory_version"] == "2099.1.0-test"
    finally:
        await asyncio.to_thread(services.stop, ["intake", "dispatch"])
        await restore(live)

    async def shipped_again():
        async with live.http("intake") as client:
            resp = await client.get("/v1/grids", params={"lat": 40.045, "lon": 117.4},
                                    headers=HOTLINE)
        return resp.json()["territory_version"] != "2099.1.0-test"

    assert await eventually(shipped_again, timeout=10, what="the shipped territory back")
