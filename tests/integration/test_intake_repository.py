"""Intake's repository on the real database: a case event moves an incident's status and
writes its timeline entry in one statement, and an incident intake never stored is left alone.

Rows are written and read in a transaction that is rolled back: nothing stays behind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from whistle_intake.adapters.repository import IncidentRepository

from tests.support.stack import unique

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


async def _incident(repo: IncidentRepository) -> uuid.UUID:
    incident_id = uuid.uuid4()
    assert await repo.insert_incident({
        "id": incident_id, "tracking_no": unique("T"), "source": "hotline",
        "external_id": unique("x"), "request_hash": "h", "kind": "complaint",
        "category": "water", "classification": {"outcome": "given"}, "priority": "normal",
        "description": "水管爆了", "grid_code": None, "location": {}, "reporter": {},
        "media_urls": [], "occurred_at": None, "received_at": NOW})
    return incident_id


async def test_following_a_case_moves_the_status_and_writes_the_timeline(live) -> None:
    async with live.rolled_back("intake") as conn:
        repo = IncidentRepository(conn)
        incident_id = await _incident(repo)
        assert await repo.status_of(str(incident_id)) == "received"
        due = NOW + timedelta(hours=4)
        await repo.follow(str(incident_id), status="dispatched", case_id="case-1",
                          agency="water_bureau", expected_at=due, at=NOW,
                          event_type="case.dispatched.v1", note=None)
        # a later event without case, agency or due time keeps the ones given before
        await repo.follow(str(incident_id), status="in_progress", case_id=None, agency=None,
                          expected_at=None, at=NOW + timedelta(minutes=1),
                          event_type="case.accepted.v1", note="已到场")
        row = await conn.fetchrow(
            "SELECT status, case_id, agency, expected_at FROM incidents WHERE id=$1",
            incident_id)
        assert dict(row) == {"status": "in_progress", "case_id": "case-1",
                             "agency": "water_bureau", "expected_at": due}
        assert await repo.status_of(str(incident_id)) == "in_progress"
        timeline = await repo.timeline(incident_id)
        assert [(t["status"], t["event_type"], t["note"]) for t in timeline] == [
            ("received", "incident.received.v1", None),
            ("dispatched", "case.dispatched.v1", None),
            ("in_progress", "case.accepted.v1", "已到场")]


async def test_an_incident_never_stored_has_no_status_and_gets_no_timeline(live) -> None:
    async with live.rolled_back("intake") as conn:
        repo = IncidentRepository(conn)
        stranger = uuid.uuid4()
        assert await repo.status_of(str(stranger)) is None
        assert await repo.status_of("not-a-uuid") is None
        await repo.follow(str(stranger), status="dispatched", case_id="c", agency=None,
                          expected_at=None, at=NOW, event_type="case.dispatched.v1", note=None)
        assert await conn.fetchval(
            "SELECT count(*) FROM incident_timeline WHERE incident_id=$1", stranger) == 0
