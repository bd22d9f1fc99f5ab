"""Hotspots on the real stack (未诉先办): a spike of one category in one community is raised
within one window of its start, told to the street office and listed by GET /v1/hotspots; and
scoring killed mid-window loses none of the window's counts (the table's changelog).

The test stack counts in windows of WINDOW seconds (tests/conftest.py). Each test says the
platform has been counting for 28 days (`counting_since`), so a key nobody called about has a
baseline of zero and a handful of calls is a hotspot.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from whistle_common.topics import HOTSPOT_KEYS, INSIGHTS_HOTSPOTS

from tests.conftest import HOTSPOT_WINDOW_SECONDS as WINDOW
from tests.support.stack import HOTLINE, OPERATOR, eventually, unique

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


async def counted_for_a_month(live) -> None:
    since = datetime.now(UTC) - timedelta(days=28)
    await live.fetch("scoring", "INSERT INTO counting_since(since) VALUES ($1) ON CONFLICT "
                     "(one) DO UPDATE SET since = LEAST(counting_since.since, $1)", since)


async def report(live, category: str, grid: str, text: str) -> str:
    async with live.http("intake") as client:
        resp = await client.post("/v1/incidents", headers=HOTLINE, json={
            "source": "grid", "external_id": unique("hot"), "kind": "complaint",
            "category": category, "description": text, "location": {"grid_code": grid},
            "reporter": {"phone": "13800001111"}})
    assert resp.status_code == 201, resp.text
    return resp.json()["incident_id"]


async def start_of_a_fresh_window(margin: float) -> None:
    """Wait until a window has just begun and `margin` seconds of it are left at least."""
    into = time.time() % WINDOW
    if WINDOW - into < margin:
        await asyncio.sleep(WINDOW - into + 0.5)


async def test_a_spike_is_raised_within_one_window_and_told_to_the_street(live):
    await counted_for_a_month(live)
    hotspots = live.tail(INSIGHTS_HOTSPOTS)
    try:
        first = time.time()
        for n in range(8):
            await report(live, "outdoor_ads", "12011900300201", f"村口又贴满了小广告{n}")
        [event] = hotspots.wait_for(
            lambda e: e.data["place"] == "120119003002" and e.data["category"] == "outdoor_ads",
            timeout=WINDOW + 30)
        data = event.data
        assert data["kind"] == "spike" and data["scope"] == "community" and data["count"] >= 5
        assert data["street"] == "120119003" and data["place_name"] == "下仓村"
        assert data["baseline"]["method"] == "days" and data["sample_cases"]
        detected = datetime.fromisoformat(event.time.isoformat()).timestamp()
        assert detected - first <= WINDOW, "raised later than one window after the start"
    finally:
        hotspots.close()
    async with live.http("scoring") as client:
        listed = await client.get("/v1/hotspots", headers=OPERATOR)
        assert listed.status_code == 200
        assert data["hotspot_id"] in {h["id"] for h in listed.json()["recent"]}
        street = await client.get("/v1/hotspots", headers={
            "Authorization": "Bearer dev-street-120119003-token"})
        assert data["hotspot_id"] in {h["id"] for h in street.json()["recent"]}

    async def told():
        rows = await live.fetch("notify", "SELECT channel FROM notifications WHERE "
                                "event_type='hotspot.detected.v1' AND recipient=$1 AND "
                                "context->>'hotspot_id' = $2", "street:120119003",
                                data["hotspot_id"])
        return sorted(r["channel"] for r in rows) or None

    assert await eventually(told, timeout=60, what="the street office told") == [
        "email", "inbox"]


async def test_scoring_killed_mid_window_loses_no_counts(live):
    await counted_for_a_month(live)
    grid, place, category = "12011900300301", "120119003003", "open_burning"
    await start_of_a_fresh_window(margin=WINDOW * 0.75)
    window_began = int(time.time() // WINDOW) * WINDOW
    before = [await report(live, category, grid, f"地里有人焚烧秸秆{n}") for n in range(4)]
    await live.outbox_drained("intake")
    await live.outbox_drained("dispatch")
    await live.consumed("scoring", ["cases.events"])  # re-keyed by scoring …
    await live.consumed("scoring", [HOTSPOT_KEYS])    # … and counted, committed: in the table
    stack = live.stack
    await asyncio.to_thread(stack.services.stop, ["scoring"], kill=True)
    await asyncio.to_thread(stack.services.start, ["scoring"])
    await asyncio.to_thread(stack.services.wait_ready, ["scoring"], timeout=90)
    hotspots = live.tail(INSIGHTS_HOTSPOTS)
    try:
        after = await report(live, category, grid, "又在烧垃圾了")  # the 5th: the minimum
        [event] = hotspots.wait_for(
            lambda e: e.data["place"] == place and e.data["category"] == category,
            timeout=WINDOW)
    finally:
        hotspots.close()
    assert time.time() - window_began < WINDOW, "the test overran its window: inconclusive"
    # five in the window: the four counted before the kill came back from the changelog
    assert event.data["count"] == 5, event.data
    assert datetime.fromisoformat(event.data["window_start"]).timestamp() == window_began
    cases = await live.fetch("dispatch", "SELECT id::text FROM cases WHERE incident_id = "
                             "ANY($1::text[])", before)
    assert {r["id"] for r in cases} <= set(event.data["sample_cases"])
    assert after not in before
