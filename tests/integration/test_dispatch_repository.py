"""Dispatch's repository on the real database: the merge-candidate query answers every open
case the place rule could accept (the call's grid, or within the distance) and rules the far
ones out in PostgreSQL; a case's point is kept in columns; a merged call's event is kept
beside its link; migrations 0005 and 0006 bring cases written before them along.

Rows are written and read in a transaction that is rolled back: nothing stays behind."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
from whistle_dispatch.adapters.repository import CaseRepository
from whistle_dispatch.domain.case import Case
from whistle_dispatch.domain.deadlines import Deadlines
from whistle_dispatch.domain.merging import haversine_m, search_box
from whistle_dispatch.domain.routing import Routing

from tests.support.stack import unique

pytestmark = pytest.mark.integration
DISTRICT = "990001"  # no territory has it: no other test's case is a candidate
LAT, LON = 40.044372, 117.398929
NOW = datetime.now(UTC)


async def _case(conn, *, grid, lat, lon, texts=("水管爆了",), status="dispatched",
                category="water", minutes_ago=10, points=True) -> str:
    case_id = uuid.uuid4()
    received = NOW - timedelta(minutes=minutes_ago)
    facts = {"lat": lat, "lon": lon, "grid_code": grid, "description": texts[0],
             "received_at": received.isoformat()}
    doc = {"id": str(case_id), "facts": facts,
           "linked": [{"incident_id": unique("i"), "description": t} for t in texts[1:]]}
    await conn.execute(
        """INSERT INTO cases(id, incident_id, status, category, kind, priority, street,
               district, community, grid_code, received_at, created_at, updated_at, doc,
               lat, lon)
           VALUES ($1,$2,$3,$4,'complaint','normal','99000100','990001','990001001001',$5,
                   $6,$6,$6,$7,$8,$9)""",
        case_id, unique("inc"), status, category, grid, received, json.dumps(doc),
        lat if points else None, lon if points else None)
    return str(case_id)


async def test_the_candidates_are_the_open_cases_in_the_grid_or_within_reach(live):
    rng = random.Random(19)
    async with live.rolled_back("dispatch") as conn:
        repo = CaseRepository(conn)
        placed = {}  # case id → metres from the call (None: no point)
        for _ in range(120):  # scattered up to ~6 km around the call, in other grids
            lat = LAT + rng.uniform(-0.05, 0.05)
            lon = LON + rng.uniform(-0.06, 0.06)
            placed[await _case(conn, grid=f"9900010010{rng.randrange(10, 99)}", lat=lat,
                               lon=lon)] = haversine_m(LAT, LON, lat, lon)
        same_grid_far = await _case(conn, grid="990001001001", lat=LAT + 0.2, lon=LON)
        no_point = await _case(conn, grid="990001001001", lat=None, lon=None)
        absorbed = await _case(conn, grid="990001001001", lat=LAT, lon=LON,
                               texts=("小区停水了", "3号楼也停水", "自来水没了"))
        await _case(conn, grid="990001001001", lat=LAT, lon=LON, status="resolved")
        await _case(conn, grid="990001001001", lat=LAT, lon=LON, category="noise")
        await _case(conn, grid="990001001001", lat=LAT, lon=LON, minutes_ago=600)

        found = await repo.merge_candidates(
            district=DISTRICT, categories=["water", "power"], since=NOW - timedelta(hours=6),
            grid="990001001001", box=search_box(LAT, LON, 1500))
        ids = {c.case_id for c in found}
        near = {i for i, metres in placed.items() if metres <= 1500}
        far = {i for i, metres in placed.items() if metres > 1500 * 1.5}
        assert near and far  # the scatter has both
        assert near <= ids  # nothing the place rule would accept is left out
        assert not far & ids  # and the far ones never leave the database
        assert {same_grid_far, no_point, absorbed} <= ids  # the grid holds whatever its point
        assert len(ids) < len(placed) / 2
        [case] = [c for c in found if c.case_id == absorbed]
        assert case.texts == ["小区停水了", "3号楼也停水", "自来水没了"]
        assert case.category == "water" and case.status == "dispatched"
        assert (case.lat, case.lon, case.grid) == (LAT, LON, "990001001001")
        assert [c.opened_at for c in found] == sorted((c.opened_at for c in found),
                                                       reverse=True)

        # without a grid, only the box; without either, nothing but what the SQL says
        boxed = await repo.merge_candidates(
            district=DISTRICT, categories=["water"], since=NOW - timedelta(hours=6),
            grid=None, box=search_box(LAT, LON, 1500))
        assert no_point not in {c.case_id for c in boxed} and absorbed in {
            c.case_id for c in boxed}


async def test_the_migration_fills_the_points_of_cases_written_before_it(live):
    """Cases saved before 0005 have their point only in the document: the migration's UPDATE
    copies it to the columns (numbers only; a case without a point keeps NULLs)."""
    sql = resources.files("whistle_dispatch").joinpath(
        "migrations/0005_case_points.sql").read_text()
    update = sql[sql.index("UPDATE cases"):]
    async with live.rolled_back("dispatch") as conn:
        old = await _case(conn, grid="990001001001", lat=LAT, lon=LON, points=False)
        none = await _case(conn, grid="990001001001", lat=None, lon=None, points=False)
        await conn.execute(update)
        rows = {str(r["id"]): (r["lat"], r["lon"]) for r in await conn.fetch(
            "SELECT id, lat, lon FROM cases WHERE id = ANY($1::uuid[])", [old, none])}
        assert rows == {old: (LAT, LON), none: (None, None)}


async def test_a_saved_case_keeps_its_point_in_columns(live):
    facts = {"path": [], "street": "99000100", "district": DISTRICT, "community": "990001001",
             "grid_code": "990001001001", "description": "水管爆了", "lat": LAT, "lon": 117,
             "received_at": NOW.isoformat()}
    deadlines = Deadlines(NOW + timedelta(hours=8), NOW + timedelta(days=3))
    async with live.rolled_back("dispatch") as conn:
        repo = CaseRepository(conn)
        placed = Case.open(case_id=str(uuid.uuid4()), incident_id=unique("i"), category="water",
                           kind="complaint", priority="normal", routing=Routing("shuiwu", (),
                           "lead"), deadlines=deadlines, facts=facts, now=NOW)
        unplaced = Case.open(case_id=str(uuid.uuid4()), incident_id=unique("i"),
                             category="water", kind="complaint", priority="normal",
                             routing=Routing("shuiwu", (), "lead"), deadlines=deadlines,
                             facts={**facts, "lat": None, "lon": "117"}, now=NOW)
        for case in (placed, unplaced):
            await repo.save(case, case.take_events(), NOW)
        rows = {str(r["id"]): (r["lat"], r["lon"]) for r in await conn.fetch(
            "SELECT id, lat, lon FROM cases WHERE id = ANY($1::uuid[])",
            [placed.id, unplaced.id])}
        assert rows == {placed.id: (LAT, 117.0), unplaced.id: (None, None)}
        assert await repo.load(placed.id) == placed  # the document reads back the same


async def test_a_link_keeps_the_calls_event_and_gives_it_back_at_a_split(live):
    async with live.rolled_back("dispatch") as conn:
        repo = CaseRepository(conn)
        case_id = await _case(conn, grid="990001001001", lat=LAT, lon=LON)
        event = {"description": "3号楼也停水", "location": {"lat": LAT, "lon": LON},
                 "reporter": {"phone": "13900001111"}, "n": 2**40}
        incident_id = unique("i")
        await repo.link_incident(case_id, incident_id, score=0.9, reasons=["same grid"],
                                 now=NOW, event=event)
        assert await repo.exists_for_incident(incident_id)
        assert await repo.unlink_incident(case_id, incident_id) == event
        assert not await repo.exists_for_incident(incident_id)
        assert await repo.unlink_incident(case_id, incident_id) is None


async def test_the_migration_moves_merged_events_out_of_case_documents(live):
    """Cases merged before 0006 kept each call's event in the document: the migration gives
    each to its link and leaves the rest of the document as it was."""
    sql = resources.files("whistle_dispatch").joinpath(
        "migrations/0006_linked_events.sql").read_text()
    updates = sql[sql.index("UPDATE case_incidents"):]
    async with live.rolled_back("dispatch") as conn:
        case_id = await _case(conn, grid="990001001001", lat=LAT, lon=LON)
        first, second = unique("i"), unique("i")
        linked = [{"incident_id": i, "description": f"call {n}", "score": 0.8,
                   "event": {"description": f"call {n}", "n": n}}
                  for n, i in enumerate((first, second))]
        await conn.execute("UPDATE cases SET doc = jsonb_set(doc, '{linked}', $2::jsonb) "
                           "WHERE id=$1::uuid", case_id, json.dumps(linked))
        for i in (first, second):
            await conn.execute(
                "INSERT INTO case_incidents(incident_id, case_id, merged_at, score, reasons) "
                "VALUES ($1,$2::uuid,now(),0.8,'[]')", i, case_id)
        await conn.execute(updates)
        doc = json.loads(await conn.fetchval("SELECT doc FROM cases WHERE id=$1::uuid",
                                             case_id))
        assert doc["linked"] == [{k: v for k, v in entry.items() if k != "event"}
                                 for entry in linked]
        events = {r["incident_id"]: json.loads(r["event"]) for r in await conn.fetch(
            "SELECT incident_id, event FROM case_incidents WHERE case_id=$1::uuid", case_id)}
        assert events == {first: {"description": "call 0", "n": 0},
                          second: {"description": "call 1", "n": 1}}


def _open_case(**facts) -> Case:
    deadlines = Deadlines(NOW + timedelta(hours=8), NOW + timedelta(days=3))
    return Case.open(case_id=str(uuid.uuid4()), incident_id=unique("i"), category="water",
                     kind="complaint", priority="normal",
                     routing=Routing("shuiwu", ("chengguan",), "lead"), deadlines=deadlines,
                     facts={"path": [], "street": "99000100", "district": DISTRICT,
                            "community": "990001001", "grid_code": "990001001001",
                            "description": "水管爆了", "received_at": NOW.isoformat(), **facts},
                     now=NOW)


async def test_a_save_writes_only_the_assignments_that_changed(live):
    async with live.rolled_back("dispatch") as conn:
        repo = CaseRepository(conn)
        case = _open_case()
        await repo.save(case, case.take_events(), NOW)

        async def assignments():
            return [(r["seq"], r["dept"], r["status"], r["xmin"]) for r in await conn.fetch(
                "SELECT seq, dept, status, xmin::text::bigint AS xmin FROM case_assignments "
                "WHERE case_id=$1::uuid ORDER BY seq", case.id)]

        async def timeline():
            return [r["type"] for r in await conn.fetch(
                "SELECT type FROM case_timeline WHERE case_id=$1::uuid ORDER BY id", case.id)]

        first = await assignments()
        assert [(seq, dept, status) for seq, dept, status, _ in first] == [
            (0, "shuiwu", "ordered"), (1, "chengguan", "ordered")]
        created = await timeline()
        assert created and created[0] == "case.created.v1"
        # a merge changes no assignment: no assignment row is written again
        await conn.execute("SAVEPOINT merged")  # a later command id, as a later transaction
        case.merge({"incident_id": unique("i"), "description": "又一个电话"}, score=0.9,
                   reasons=["same grid"], now=NOW)
        await repo.save(case, case.take_events(), NOW)
        assert await assignments() == first
        assert (await timeline())[len(created):] == [
            "case.merged.v1", "dispatch.updated.v1", "dispatch.updated.v1"]
        # one report changes one row; a shorter list deletes the rows past it
        case.report("shuiwu", "acknowledged", NOW + timedelta(minutes=5))
        await repo.save(case, case.take_events(), NOW)
        after = await assignments()
        assert [(seq, status) for seq, _, status, _ in after] == [
            (0, "acknowledged"), (1, "ordered")]
        assert after[1] == first[1]
        case.assignments = case.assignments[:1]
        await repo.save(case, [], NOW)
        assert [seq for seq, *_ in await assignments()] == [0]
        assert await repo.load(case.id) == case


async def test_supervision_watches_exactly_what_it_is_given_and_keeps_their_stage(live):
    async with live.rolled_back("dispatch") as conn:
        repo = CaseRepository(conn)
        case = _open_case()
        await repo.save(case, case.take_events(), NOW)
        due = NOW + timedelta(hours=1)

        async def watched():
            return {(r["seq"], r["kind"]): (r["stage"], r["due_at"]) for r in await conn.fetch(
                "SELECT seq, kind, stage, due_at FROM supervision WHERE case_id=$1::uuid",
                case.id)}

        await repo.sync_supervision(case.id, [(0, "ack", due), (1, "ack", due)])
        await conn.execute("UPDATE supervision SET stage=2 WHERE case_id=$1::uuid AND seq=0",
                           case.id)
        later = due + timedelta(hours=5)
        await repo.sync_supervision(case.id, [(0, "ack", later), (0, "resolve", later)])
        assert await watched() == {(0, "ack"): (2, due), (0, "resolve"): (0, later)}
        await repo.sync_supervision(case.id, [])
        assert await watched() == {}
