"""asyncpg persistence of incidents, their timeline and classification corrections."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg


class IncidentRepository:
    """Incidents, their timeline and the labelled examples people's category choices give."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def next_sequence(self) -> int:
        return await self._conn.fetchval("SELECT nextval('incident_tracking_seq')")

    async def insert_incident(self, row: dict[str, Any]) -> bool:
        """Insert unless (source, external_id) exists; True when inserted."""
        inserted = await self._conn.fetchval(
            """INSERT INTO incidents(id, tracking_no, source, external_id, request_hash, kind,
                   category, classification, priority, description, grid_code, location, reporter,
                   media_urls, occurred_at, received_at)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
               ON CONFLICT (source, external_id) DO NOTHING RETURNING 1""",
            row["id"], row["tracking_no"], row["source"], row["external_id"], row["request_hash"],
            row["kind"], row["category"], json.dumps(row["classification"], ensure_ascii=False),
            row["priority"], row["description"], row["grid_code"],
            json.dumps(row["location"], ensure_ascii=False),
            json.dumps(row["reporter"], ensure_ascii=False), json.dumps(row["media_urls"]),
            row["occurred_at"], row["received_at"])
        return inserted is not None  # "received" opens the timeline from incidents.received_at

    async def find_by_key(self, source: str, external_id: str):
        return await self._conn.fetchrow(
            "SELECT * FROM incidents WHERE source=$1 AND external_id=$2", source, external_id)

    async def get(self, incident_id: str):
        try:
            key = uuid.UUID(incident_id)
        except ValueError:
            return None
        return await self._conn.fetchrow("SELECT * FROM incidents WHERE id=$1", key)

    async def timeline(self, incident_id: uuid.UUID) -> list[dict]:
        """The incident's timeline, opening with its reception."""
        received = await self._conn.fetchval(
            "SELECT received_at FROM incidents WHERE id=$1", incident_id)
        rows = await self._conn.fetch(
            "SELECT at, status, event_type, note FROM incident_timeline WHERE incident_id=$1 "
            "ORDER BY at, id", incident_id)
        first = {"at": received, "status": "received", "event_type": "incident.received.v1",
                 "note": None}
        return [first, *(dict(r) for r in rows)]

    async def status_of(self, incident_id: str) -> str | None:
        """The incident's status; None when intake never stored it (or the id is not one)."""
        try:
            key = uuid.UUID(incident_id)
        except ValueError:
            return None
        return await self._conn.fetchval("SELECT status FROM incidents WHERE id=$1", key)

    async def follow(self, incident_id: str, *, status: str, case_id: str | None,
                     agency: str | None, expected_at: datetime | None, at: datetime,
                     event_type: str, note: str | None) -> None:
        """The incident's new status (and its case, agency and due time where given) and its
        timeline entry, in one statement."""
        await self._conn.execute(
            """WITH followed AS (
                   UPDATE incidents SET status=$2, case_id=COALESCE($3, case_id),
                       agency=COALESCE($4, agency), expected_at=COALESCE($5, expected_at),
                       updated_at=now() WHERE id=$1 RETURNING id)
               INSERT INTO incident_timeline(incident_id, at, status, event_type, note)
               SELECT id, $6, $2, $7, $8 FROM followed""",
            uuid.UUID(incident_id), status, case_id, agency, expected_at, at, event_type, note)

    async def search(self, *, source: str | None, category: str | None, status: str | None,
                     start: datetime | None, end: datetime | None, limit: int,
                     offset: int = 0, statuses: Sequence[str] = ()) -> list[asyncpg.Record]:
        """Newest first (id breaks ties, so pages do not overlap); `statuses`: any of them."""
        return await self._conn.fetch(
            """SELECT * FROM incidents WHERE ($1::text IS NULL OR source=$1)
                   AND ($2::text IS NULL OR category=$2) AND ($3::text IS NULL OR status=$3)
                   AND ($4::timestamptz IS NULL OR received_at >= $4)
                   AND ($5::timestamptz IS NULL OR received_at < $5)
                   AND (cardinality($8::text[]) = 0 OR status = ANY($8::text[]))
               ORDER BY received_at DESC, id DESC LIMIT $6 OFFSET $7""",
            source, category, status, start, end, limit, offset, list(statuses))

    async def insert_correction(self, row: dict[str, Any]) -> bool:
        """Store a labelled example from a person's category choice; False when already stored."""
        return bool(await self._conn.fetchval(
            """INSERT INTO classification_corrections(event_id, incident_id, case_id, text,
                   from_category, to_category, confirmed, reason, corrected_by, model_version,
                   corrected_at)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
               ON CONFLICT (event_id) DO NOTHING RETURNING 1""",
            row["event_id"], row["incident_id"], row["case_id"], row["text"],
            row["from_category"], row["to_category"], row["confirmed"], row["reason"],
            row["corrected_by"], row["model_version"], row["corrected_at"]))

    async def corrections(self) -> list[asyncpg.Record]:
        """Every stored correction, oldest first."""
        return await self._conn.fetch(
            """SELECT event_id, text, to_category, from_category, reason, corrected_at
               FROM classification_corrections ORDER BY corrected_at, event_id""")
