"""Merging duplicate calls (并单) in dispatch's handlers: a call that matches an open case
joins it, the departments get an update instead of an order, and a person can split it off."""

from __future__ import annotations

import dataclasses
from functools import partial

import pytest
from whistle_common.problems import ProblemError
from whistle_common.usecase import run_use_case
from whistle_dispatch import handlers

from .fakes import FakeDispatchUnitOfWork
from .scenario import CTX, MERGING, TOWN_WITHOUT_TEAM, consume, incident, open_case, reported, sent

WATER = {"category": "water", "description": "府君山社区3号楼附近水管爆了，路面全是水",
         "location": {"grid_code": "12011900100101", "address": "府君山社区3号楼",
                      "lat": 40.044372, "lon": 117.398929}}
COMMUNITY = WATER["location"]["grid_code"][:12]  # the grid's community
ANOTHER_CALL = {**WATER, "description": "3号楼旁边自来水管破裂，水一直往外冒",
                "reporter": {"phone": "13900001111"}}


@pytest.fixture
def uow() -> FakeDispatchUnitOfWork:
    return FakeDispatchUnitOfWork()


async def merge_call(uow, ctx=MERGING, **overrides):
    msg = incident(**{**ANOTHER_CALL, **overrides})
    await consume(uow, handlers.on_incident, msg, ctx)
    return msg.envelope.subject


async def use(uow, handler, command, ctx=MERGING):
    return await run_use_case(lambda: uow, partial(handler, ctx), command)


async def test_a_second_call_about_the_same_burst_main_joins_the_open_case(uow):
    case = await open_case(uow, MERGING, **WATER)
    orders_before = len(sent(uow, "dispatch.orders.shuiwu"))
    second = await merge_call(uow)
    assert len(uow.outbox.of_type("case.created.v1")) == 1  # no second case
    [merged] = uow.outbox.of_type("case.merged.v1")
    assert merged.subject == case.id and merged.data["merged_incident_id"] == second
    assert merged.data["callers"] == 2 and merged.data["linked_incidents"] == [second]
    assert merged.data["reporter"]["phone"] == "13900001111"  # notify tells this caller
    assert "same category" in merged.data["reasons"] and "same grid" in merged.data["reasons"]
    assert 0.5 < merged.data["score"] <= 1
    orders = sent(uow, "dispatch.orders.shuiwu")
    assert len(orders) == orders_before + 1  # an update, not a new order
    update = orders[-1]
    assert update.type == "dispatch.updated.v1" and update.data["callers"] == 2
    assert update.data["reporter_phone"] == "139****1111"  # masked for the department
    assert "13900001111" not in update.to_bytes().decode()
    stored = await uow.cases.load(case.id)
    assert stored.callers == 2 and uow.cases.linked[second]["case_id"] == case.id
    # the call's whole event is kept beside the link (for a split), not in the case document
    assert "event" not in stored.linked[0] and "event" not in uow.cases.rows[case.id]["doc"]
    assert uow.cases.linked[second]["event"]["description"] == ANOTHER_CALL["description"]
    assert uow.cases.merge_locks == ["120119"] * 2  # the district, for both calls


async def test_the_same_merged_incident_delivered_again_changes_nothing(uow):
    await open_case(uow, MERGING, **WATER)
    msg = incident(**ANOTHER_CALL)
    await consume(uow, handlers.on_incident, msg, MERGING)
    before = len(uow.outbox.events)
    await consume(uow, handlers.on_incident, msg, MERGING)
    assert len(uow.outbox.events) == before


async def test_sixty_callers_make_one_case_and_one_order(uow):
    case = await open_case(uow, MERGING, **WATER)
    for n in range(59):
        await merge_call(uow, reporter={"phone": f"139{n:08d}"})
    assert len(uow.outbox.of_type("case.created.v1")) == 1
    assert [e.type for e in sent(uow, "dispatch.orders.shuiwu")].count("dispatch.ordered.v1") == 1
    assert (await uow.cases.load(case.id)).callers == 60


async def test_a_different_problem_next_door_is_not_merged(uow):
    await open_case(uow, MERGING, **WATER)
    gas = {"category": "gas_leak", "description": "楼道里有很浓的煤气味",
           "location": WATER["location"]}
    await consume(uow, handlers.on_incident, incident(**gas), MERGING)
    noise = {"category": "noise", "location": WATER["location"]}
    await consume(uow, handlers.on_incident, incident(**noise), MERGING)
    assert len(uow.outbox.of_type("case.created.v1")) == 3
    assert uow.outbox.of_type("case.merged.v1") == []


async def test_a_resolved_case_takes_no_more_calls(uow):
    case = await open_case(uow, MERGING, **WATER)
    await reported(uow, case.id, "shuiwu", "acknowledged")
    await reported(uow, case.id, "shuiwu", "resolved", result="已抢修")
    await merge_call(uow)
    assert len(uow.outbox.of_type("case.created.v1")) == 2


async def test_a_call_the_classifier_is_unsure_of_needs_the_words_to_match(uow):
    await open_case(uow, MERGING, **WATER)
    await merge_call(uow, needs_triage=True, description="有点事情想反映一下")
    assert uow.outbox.of_type("case.merged.v1") == []
    await merge_call(uow, needs_triage=True, description="3号楼附近水管爆了，路面全是水")
    assert len(uow.outbox.of_type("case.merged.v1")) == 1


@pytest.mark.parametrize("ctx", [
    dataclasses.replace(MERGING, merge_policy=None),
    dataclasses.replace(MERGING, merge_categories=frozenset({"power"})),
], ids=["merging off", "water not merged"])
async def test_merging_follows_the_configuration(uow, ctx):
    await open_case(uow, ctx, **WATER)
    await merge_call(uow, ctx)
    assert len(uow.outbox.of_type("case.created.v1")) == 2


async def test_later_events_of_the_case_name_every_caller(uow):
    case = await open_case(uow, MERGING, **WATER)
    second = await merge_call(uow)
    await reported(uow, case.id, "shuiwu", "acknowledged")
    await reported(uow, case.id, "shuiwu", "resolved", result="已抢修")
    [resolved] = uow.outbox.of_type("case.resolved.v1")
    assert resolved.data["callers"] == 2 and resolved.data["linked_incidents"] == [second]


async def test_a_split_dispatches_the_incident_as_a_case_of_its_own(uow):
    case = await open_case(uow, MERGING, **WATER)
    second = await merge_call(uow)
    old, new = await use(uow, handlers.split,
                         handlers.Split(case.id, second, by="street:120119001"))
    assert old.callers == 1 and new.incident_id == second and new.id != case.id
    assert new.status == "dispatched" and new.facts["split_from"] == case.id
    assert new.facts["reporter_phone"] == "13900001111"
    [split] = uow.outbox.of_type("case.split.v1")
    assert split.subject == case.id and split.data["split_incident_id"] == second
    assert split.data["linked_incidents"] == []
    assert second not in uow.cases.linked
    orders = [e for e in sent(uow, "dispatch.orders.shuiwu") if e.subject == new.id]
    assert [e.type for e in orders] == ["dispatch.ordered.v1"]
    # the incident delivered again is still the one (new) case
    before = len(uow.outbox.events)
    await consume(uow, handlers.on_incident, incident(second, **ANOTHER_CALL), MERGING)
    assert len(uow.outbox.events) == before
    assert [e.subject for e in uow.outbox.of_type("case.created.v1")
            if e.data["incident_id"] == second] == [new.id]


async def test_a_split_of_an_incident_not_merged_or_in_another_street_is_refused(uow):
    case = await open_case(uow, MERGING, **WATER)
    second = await merge_call(uow)
    with pytest.raises(ProblemError) as not_merged:
        await use(uow, handlers.split, handlers.Split(case.id, "nope", by="op"))
    assert not_merged.value.status == 409
    with pytest.raises(ProblemError) as other:
        await use(uow, handlers.split, handlers.Split(case.id, second, by="street:120119003",
                                                      streets=frozenset({"120119003"})))
    assert other.value.status == 403
    assert (await uow.cases.load(case.id)).callers == 2
    assert uow.outbox.of_type("case.split.v1") == [] and second in uow.cases.linked


async def test_over_http_a_street_office_sees_the_callers_and_splits_a_wrong_merge(uow):
    from whistle_dispatch.main import create_app

    from ..asgi import client_of

    case = await open_case(uow, MERGING, **WATER)
    second = await merge_call(uow)
    wenchang = {"Authorization": "Bearer dev-street-120119001-token"}
    async with client_of(create_app(), lambda: uow) as client:
        seen = (await client.get(f"/v1/cases/{case.id}", headers=wenchang)).json()
        assert seen["callers"] == 2
        [linked] = seen["linked_incidents"]
        assert linked["incident_id"] == second and linked["reporter_phone"] == "139****1111"
        assert "same grid" in linked["reasons"] and "13900001111" not in str(seen)
        missing = await client.post(f"/v1/cases/{case.id}/split",
                                    json={"incident_id": "nope"}, headers=wenchang)
        assert missing.status_code == 409
        assert missing.headers["content-type"].startswith("application/problem+json")
        done = await client.post(f"/v1/cases/{case.id}/split", json={"incident_id": second},
                                 headers=wenchang)
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["callers"] == 1 and body["split"]["incident_id"] == second
        assert body["split"]["split_from"] == case.id and body["split"]["status"] == "dispatched"


async def test_labelled_days_replayed_through_the_handler(capsys):
    """The labelled days of merge_scenario fed to on_incident as intake would publish them:
    candidates, siblings, the cases' growing texts and the lock as the service runs them."""
    from .merge_scenario import generate
    from .test_merging import pairwise

    lines, pooled = [], [0.0, 0.0]
    seeds = (1, 3, 6)  # an ordinary day and the two hard ones of test_merging
    for seed in seeds:
        uow = FakeDispatchUnitOfWork()
        day = generate(seed=seed)
        for item in day:
            msg = incident(item.incident_id, category=item.category, description=item.text,
                           received_at=item.opened_at.isoformat(),
                           location={"grid_code": item.grid, "lat": item.lat,
                                     "lon": item.lon})
            await consume(uow, handlers.on_incident, msg, MERGING)
        case_of = {e.data["incident_id"]: e.subject
                   for e in uow.outbox.of_type("case.created.v1")}
        case_of |= {e.data["merged_incident_id"]: e.subject
                    for e in uow.outbox.of_type("case.merged.v1")}
        assert set(case_of) == {i.incident_id for i in day}  # every call has its one case
        members: dict[str, list] = {}
        for item in day:
            members.setdefault(case_of[item.incident_id], []).append(item)
        precision, recall = pairwise(members)
        pooled[0] += precision / len(seeds)
        pooled[1] += recall / len(seeds)
        lines.append(f"seed {seed}: {len(day)} incidents, {len(members)} cases, "
                     f"precision {precision:.3f}, recall {recall:.3f}")
        for items in members.values():
            keys = {i.event_key for i in items}
            assert not ({"gas-smell", "party-noise"} & keys and "burst-water-main" in keys)
        orders = uow.outbox.of_type("dispatch.ordered.v1")
        burst_cases = {case_of[i.incident_id] for i in day if i.event_key == "burst-water-main"}
        # water and drainage have no co-department: one order per case, whatever the callers
        assert sum(e.subject in burst_cases for e in orders) == len(burst_cases)
    with capsys.disabled():
        print("\nmerge through dispatch: " + "; ".join(lines)
              + f"\nmean precision {pooled[0]:.3f}, mean recall {pooled[1]:.3f}")
    assert pooled[0] >= 0.95
    assert pooled[1] >= 0.85


async def test_only_open_cases_near_the_call_are_fetched_as_candidates(uow):
    """The candidate query asks for the call's grid or its search box: forty open water cases
    of the same district 20 km away, in another grid, are not read at all; the one next door
    is, and the call joins it."""
    for n in range(40):
        far = {**WATER, "description": f"远处第{n}号楼水管漏水",
               "location": {**WATER["location"], "grid_code": TOWN_WITHOUT_TEAM,
                            "lat": 40.224372, "lon": 117.398929 + n * 0.0001}}
        await open_case(uow, CTX, **far)  # merging off: forty cases of their own
    case = await open_case(uow, MERGING, **WATER)
    uow.cases.candidates_answered = 0
    await merge_call(uow)
    assert uow.cases.candidates_answered == 1
    [merged] = uow.outbox.of_type("case.merged.v1")
    assert merged.subject == case.id


async def test_a_call_placed_only_by_its_community_opens_its_own_case_without_a_lookup(uow):
    """No grid and no point: the place rule rules every open case out, so dispatch neither
    locks the district nor queries it."""
    await open_case(uow, MERGING, **WATER)
    locks = list(uow.cases.merge_locks)
    call = {**ANOTHER_CALL, "location": {"place_code": COMMUNITY, "address": "府君山社区"}}
    await consume(uow, handlers.on_incident, incident(**call), MERGING)
    assert len(uow.outbox.of_type("case.created.v1")) == 2
    assert uow.outbox.of_type("case.merged.v1") == []
    assert uow.cases.merge_locks == locks
