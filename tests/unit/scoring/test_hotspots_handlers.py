"""Hotspots in scoring on the in-memory unit of work: incidents counted per category and place,
the streams' counter judging a window against the history, a hotspot recorded and announced
once, and the read side with the recurring categories (主动治理)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from whistle_common.consumer import Incoming
from whistle_common.envelope import new_event
from whistle_common.topics import CASES_EVENTS, INSIGHTS_HOTSPOTS
from whistle_common.usecase import run_use_case
from whistle_scoring import handlers
from whistle_scoring.domain.hotspots import WEEK, window_start
from whistle_scoring.main import load_context
from whistle_scoring.streams import HotspotCounter, keyed_records

from .fakes import FakeScoringUnitOfWork

CTX = load_context()
HOUR = timedelta(hours=1)
COMMUNITY, STREET = "120119001001", "120119001"  # 府君山社区, 文昌街道
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)    # 10:00 in Tianjin


@pytest.fixture
def uow() -> FakeScoringUnitOfWork:
    return FakeScoringUnitOfWork()


def case_event(type_: str, at: datetime, n: int, category: str = "water",
               community: str | None = COMMUNITY, street: str | None = STREET) -> Incoming:
    data = {"case_id": f"c-{n}", "incident_id": f"i-{n}", "category": category,
            "community": community, "street": street, "status": "dispatched"}
    if type_ == "case.merged.v1":
        data["merged_incident_id"] = f"m-{n}"
    env = new_event(type_, source="/whistle/dispatch", subject=f"c-{n}", data=data, now=at)
    return Incoming(CASES_EVENTS, env.key, env.to_bytes(), {}, 0, 0, env)


async def count(uow, msg: Incoming) -> None:
    async with uow:
        await handlers.count_incident(CTX, uow, msg)
        await uow.commit()


async def test_each_new_incident_counts_for_its_community_and_street(uow):
    await count(uow, case_event("case.created.v1", T0 + timedelta(minutes=5), 1))
    await count(uow, case_event("case.merged.v1", T0 + timedelta(minutes=50), 1))
    await count(uow, case_event("case.created.v1", T0 + timedelta(minutes=70), 2,
                                community=None))  # placed at street level only
    counts = uow.tables.incident_counts
    assert counts[("community", COMMUNITY, "water", T0)] == 2
    assert counts[("street", STREET, "water", T0)] == 2
    assert counts[("street", STREET, "water", T0 + HOUR)] == 1
    assert ("community", COMMUNITY, "water", T0 + HOUR) not in counts
    assert uow.tables.counting_since == T0


def test_the_streams_rekey_only_new_incidents_one_record_by_street_and_category():
    created = case_event("case.created.v1", T0, 1).value
    [(key, value, at)] = keyed_records(created)
    assert key == f"street|{STREET}|water".encode()
    assert json.loads(value) == {"incident_id": "i-1", "case_id": "c-1", "at": T0.isoformat(),
                                 "places": [f"community|{COMMUNITY}|water"]}
    assert at == T0.timestamp()
    # placed at one level only: keyed by it, nothing else named
    [(key, value, _)] = keyed_records(case_event("case.created.v1", T0, 2, community=None).value)
    assert key == f"street|{STREET}|water".encode() and "places" not in json.loads(value)
    [(key, _, _)] = keyed_records(case_event("case.created.v1", T0, 3, street=None).value)
    assert key == f"community|{COMMUNITY}|water".encode()
    assert keyed_records(case_event("case.created.v1", T0, 4, community=None,
                                    street=None).value) == []
    merged = keyed_records(case_event("case.merged.v1", T0, 7).value)
    assert json.loads(merged[0][1])["incident_id"] == "m-7"  # the caller who joined
    assert keyed_records(case_event("case.resolved.v1", T0, 1).value) == []
    assert keyed_records(b"not json") == [] and keyed_records(None) == []
    # the outbox's whistle-type header lets other types pass without being decoded
    assert keyed_records(b"not json", {"whistle-type": b"case.resolved.v1"}) == []
    assert len(keyed_records(created, {"whistle-type": b"case.created.v1"})) == 1


class Windows:
    """A key's windows in memory, as the Faust table keeps them."""

    def __init__(self, store: dict, key: str, start: datetime) -> None:
        self.store, self.key, self.start = store, key, start

    def get(self, back: int) -> dict:
        return self.store.get((self.key, self.start - back * HOUR), {})

    def set(self, value: dict) -> None:
        self.store[self.key, self.start] = json.loads(json.dumps(value))  # as the changelog


class CountedWindows(Windows):
    """Counts its writes: each is a record on the table's changelog topic."""

    writes = 0

    def set(self, value: dict) -> None:
        self.writes += 1
        super().set(value)


def counter_on(uow) -> HotspotCounter:
    async def load(key, starts):
        return await run_use_case(lambda: uow, partial(handlers.baselines, CTX),
                                  handlers.BaselineQuery(key, starts))

    async def raise_(key, start, detection, cases):
        return await run_use_case(lambda: uow, partial(handlers.raise_hotspot, CTX),
                                  handlers.RaiseHotspot(key, start, detection, cases,
                                                        now=start + timedelta(minutes=20)))

    return HotspotCounter(CTX.hotspots, load, raise_)


async def history(uow, days: int) -> None:
    """A quiet community: one water call at 10:00 once a week."""
    for d in range(days, 0, -1):
        if d % 7 == 0:
            await count(uow, case_event("case.created.v1", T0 - d * timedelta(days=1), 100 + d))


async def feed(counter, store, n: int, at: datetime, first: int = 0) -> list[str | None]:
    key = f"community|{COMMUNITY}|water"
    raised = []
    for i in range(first, first + n):
        payload = {"incident_id": f"burst-{i}", "case_id": f"c-{i}", "at": at.isoformat()}
        raised.append(await counter.observe(key, payload, Windows(store, key,
                                                                    window_start(at, HOUR))))
    return raised


async def feed_records(counter, store, n: int, at: datetime) -> tuple[list[list[str]], int]:
    """The streams' path: each incident re-keyed into its one record, counted for every place
    it names; answers the kinds raised per record and the table writes made."""
    raised, writes = [], 0
    for i in range(n):
        [(key, value, _)] = keyed_records(case_event("case.created.v1", at, 500 + i).value)
        windows = CountedWindows(store, key.decode(), window_start(at, HOUR))
        raised.append(await counter.observe_record(key.decode(), json.loads(value), windows))
        writes += windows.writes
    return raised, writes


async def test_one_record_counts_its_street_and_its_community_in_one_write(uow):
    await history(uow, 28)
    counter, store = counter_on(uow), {}
    raised, writes = await feed_records(counter, store, 8, T0 + timedelta(minutes=15))
    assert writes == 8  # one changelog record an incident, raises included
    assert raised == [[]] * 5 + [["spike", "spike"]] + [[]] * 2  # street, then community
    [value] = store.values()
    community = value["places"][f"community|{COMMUNITY}|water"]
    assert value["n"] == community["n"] == 8
    assert value["raised"] == community["raised"] == ["spike"]
    assert community["cases"] == value["cases"] == [f"c-{500 + i}" for i in range(5)]
    announced = sorted((e.data["scope"], e.data["place"], e.data["count"])
                       for _, e, _ in uow.outbox.events)
    assert announced == [("community", COMMUNITY, 6), ("street", STREET, 6)]
    # the same records again (a redelivery) count once and write nothing
    assert await feed_records(counter, store, 8, T0 + timedelta(minutes=15)) == ([[]] * 8, 0)
    assert store[f"street|{STREET}|water", T0]["n"] == 8


async def test_a_burst_in_a_quiet_community_raises_one_hotspot_with_its_evidence(uow):
    await history(uow, 28)
    counter, store = counter_on(uow), {}
    raised = await feed(counter, store, 8, T0 + timedelta(minutes=15))
    assert raised == [None] * 5 + ["spike"] + [None] * 2  # at the 6th call, once
    [(topic, event, _)] = uow.outbox.events
    assert topic == INSIGHTS_HOTSPOTS and event.type == "hotspot.detected.v1"
    data = event.data
    assert (data["scope"], data["place"], data["category"], data["count"]) == (
        "community", COMMUNITY, "water", 6)
    assert data["place_name"] and data["category_name"] and data["street"] == STREET
    assert data["baseline"]["method"] == "days" and data["baseline"]["samples"] == 28
    assert data["baseline"]["mean"] == pytest.approx(4 / 28, abs=1e-4)
    assert data["p_value"] <= CTX.hotspots.alpha
    assert data["sample_cases"] == ["c-0", "c-1", "c-2", "c-3", "c-4"]
    assert data["window_start"] == T0.isoformat()
    # the same incidents delivered again count once and raise nothing
    assert await feed(counter, store, 8, T0 + timedelta(minutes=15)) == [None] * 8
    assert store[f"community|{COMMUNITY}|water", T0]["n"] == 8


async def test_a_new_worker_recovering_the_table_does_not_raise_twice(uow):
    await history(uow, 28)
    store = {}
    await feed(counter_on(uow), store, 6, T0 + timedelta(minutes=15))
    store_after_restart = json.loads(json.dumps({"|".join((k, v.isoformat())): w
                                                 for (k, v), w in store.items()}))
    recovered = {(k.rsplit("|", 1)[0], datetime.fromisoformat(k.rsplit("|", 1)[1])): w
                 for k, w in store_after_restart.items()}
    assert await feed(counter_on(uow), recovered, 1, T0 + timedelta(minutes=30), first=6) \
        == [None]
    assert len(uow.outbox.events) == 1 and len(uow.tables.hotspots) == 1


async def test_a_busy_window_counts_every_call_in_a_bounded_record(uow):
    from whistle_scoring.streams import RECENT

    store = {}
    await feed(counter_on(uow), store, RECENT + 300, T0 + timedelta(minutes=15))
    value = store[f"community|{COMMUNITY}|water", T0]
    assert value["n"] == RECENT + 300 and len(value["ids"]) == RECENT
    # the replayed tail of a crash is recognised; nothing is counted twice
    assert await feed(counter_on(uow), store, 200, T0 + timedelta(minutes=15),
                      first=RECENT + 100) == [None] * 200
    assert store[f"community|{COMMUNITY}|water", T0]["n"] == RECENT + 300


async def test_no_history_no_hotspot(uow):
    assert await feed(counter_on(uow), {}, 20, T0) == [None] * 20
    assert uow.outbox.events == []


async def test_a_raise_recorded_before_by_another_worker_is_not_announced_again(uow):
    await history(uow, 28)
    await feed(counter_on(uow), {}, 6, T0 + timedelta(minutes=15))
    assert await feed(counter_on(uow), {}, 6, T0 + timedelta(minutes=15), first=100) == \
        [None] * 6  # this worker's table says raise; the database says it was raised
    assert len(uow.outbox.events) == 1


async def test_the_read_side_lists_current_recent_and_recurring(uow):
    await history(uow, 28)
    counter = counter_on(uow)
    await feed(counter, {}, 6, T0 + timedelta(minutes=15))
    # illegal ads in 府君山社区 every week for three weeks
    this_week = window_start(T0, WEEK)
    for w in (1, 2, 3):
        for n in range(3):
            await count(uow, case_event("case.created.v1", this_week - w * WEEK + HOUR * 30,
                                        1000 + 10 * w + n, category="outdoor_ads"))
    during = await run_use_case(lambda: uow, partial(handlers.list_hotspots, CTX),
                                handlers.HotspotQuery(now=T0 + timedelta(minutes=30)))
    assert [h["place"] for h in during["current"]] == [COMMUNITY]
    assert during["recent"] == during["current"]
    [flag] = during["recurring"]
    assert (flag["community"], flag["category"], flag["weekly_counts"]) == (
        COMMUNITY, "outdoor_ads", [3, 3, 3])
    from whistle_intake.schemas import IncidentCreate

    postable = IncidentCreate.model_validate(flag["proactive_incident"])
    assert postable.location.place_code == COMMUNITY and "主动治理" in postable.description
    later = await run_use_case(lambda: uow, partial(handlers.list_hotspots, CTX),
                               handlers.HotspotQuery(now=T0 + 2 * HOUR))
    assert later["current"] == [] and len(later["recent"]) == 1
    other = await run_use_case(lambda: uow, partial(handlers.list_hotspots, CTX),
                               handlers.HotspotQuery(now=T0 + 2 * HOUR, street="120119003"))
    assert other == {"current": [], "recent": [], "recurring": []}


async def test_over_http_a_street_office_sees_its_own_streets_hotspots(uow):
    from whistle_scoring.main import create_app

    from ..asgi import client_of

    await history(uow, 28)
    await feed(counter_on(uow), {}, 6, T0 + timedelta(minutes=15))
    async with client_of(create_app(), lambda: uow) as client:
        mine = await client.get("/v1/hotspots", params={"days": 90},
                                headers={"Authorization": "Bearer dev-street-120119001-token"})
        assert mine.status_code == 200, mine.text
        assert [h["place"] for h in mine.json()["recent"]] == [COMMUNITY]
        theirs = await client.get("/v1/hotspots", params={"street": STREET},
                                  headers={"Authorization": "Bearer dev-street-120119003-token"})
        assert theirs.status_code == 403
        dept = await client.get("/v1/hotspots",
                                headers={"Authorization": "Bearer dev-dept-gongan-token"})
        assert dept.status_code == 403


def test_the_policy_follows_the_settings():
    from whistle_scoring.settings import Settings

    ctx = load_context(Settings(hotspot_window_seconds=60, hotspot_min_count=3))
    assert ctx.hotspots == replace(CTX.hotspots, window=timedelta(seconds=60), min_count=3)
