"""asyncpg persistence of cases: a JSONB document plus the columns queries filter on, the
assignments and timeline beside it, and the supervision watches on its deadlines."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from whistle_common import jsontext

from ..domain.case import Case, DomainEvent, case_from_dict
from ..domain.merging import Box, OpenCase


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _degrees(value: Any) -> float | None:
    """A coordinate of the case's point as its column holds it (None when it has none)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


_dumps = jsontext.dumps


class CaseRepository:
    """Every statement dispatch runs, on the connection of one unit of work."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def exists_for_incident(self, incident_id: str) -> bool:
        """The incident has a case: its own, or one it was merged into."""
        return bool(await self._conn.fetchval(
            "SELECT 1 FROM cases WHERE incident_id=$1 UNION ALL "
            "SELECT 1 FROM case_incidents WHERE incident_id=$1 LIMIT 1", incident_id))

    async def lock_merging(self, scope: str) -> None:
        """Serialise merge decisions within a scope (a district) until the transaction ends,
        so that two workers seeing two calls about one problem at once cannot both open a
        case for it."""
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 18))",
                                 f"merge:{scope}")

    async def merge_candidates(self, *, district: str, categories: list[str],
                               since: datetime, grid: str | None,
                               box: Box | None) -> list[OpenCase]:
        """Open cases of a district in one of `categories`, first reported at or after
        `since` (the time of the call, as the merge windows count), in the grid `grid` or
        with their point in `box`: only the columns the merge rules read, the texts taken
        out of the document by the database (no case document crosses the wire)."""
        rows = await self._conn.fetch(
            """SELECT id::text AS id, category, status, grid_code, lat, lon, received_at,
                      doc->'facts'->>'description' AS description,
                      jsonb_path_query_array(doc, '$.linked[*].description') AS linked
               FROM cases
               WHERE district = $1 AND category = ANY($2::text[]) AND received_at >= $3
                 AND status IN ('triage', 'pending_assignment', 'dispatched', 'acknowledged',
                                'in_progress', 'reopened')
                 AND (grid_code = $4 OR (lat BETWEEN $5 AND $6
                                         AND ($7::float8 IS NULL OR lon BETWEEN $7 AND $8)))
               ORDER BY received_at DESC LIMIT 500""",
            district, categories, since, grid, *(
                (box.lat_min, box.lat_max, box.lon_min, box.lon_max) if box
                else (None, None, None, None)))
        return [OpenCase(r["id"], r["category"], r["status"], r["lat"], r["lon"],
                         r["grid_code"], [r["description"] or "", *(
                             t or "" for t in json.loads(r["linked"]))], r["received_at"])
                for r in rows]

    async def link_incident(self, case_id: str, incident_id: str, *, score: float,
                            reasons: list[str], now: datetime, event: dict[str, Any]) -> None:
        """The incident joined the case; `event` is its whole event, for a split."""
        await self._conn.execute(
            "INSERT INTO case_incidents(incident_id, case_id, merged_at, score, reasons, event) "
            "VALUES ($1,$2,$3,$4,$5,$6)", incident_id, uuid.UUID(case_id), now, score,
            _dumps(reasons), _dumps(event))

    async def unlink_incident(self, case_id: str, incident_id: str) -> dict[str, Any] | None:
        """The incident leaves the case: answers the event it was linked with (None when it
        was not linked, or was linked without one)."""
        event = await self._conn.fetchval(
            "DELETE FROM case_incidents WHERE case_id=$1 AND incident_id=$2 RETURNING event",
            uuid.UUID(case_id), incident_id)
        return json.loads(event) if event else None

    async def load(self, case_id: str, *, for_update: bool = False) -> Case | None:
        """The case, or None (also for an id that is no UUID); `for_update` waits for and
        takes its row lock until the end of the transaction."""
        key = _uuid(case_id)
        if key is None:
            return None
        lock = " FOR UPDATE" if for_update else ""
        doc = await self._conn.fetchval(f"SELECT doc FROM cases WHERE id=$1{lock}", key)
        return case_from_dict(json.loads(doc)) if doc else None

    async def save(self, case: Case, events: list[DomainEvent], now: datetime) -> None:
        """Upsert the case, its assignments and the new timeline entries, in one statement:
        an assignment row is written only when it changed (a merge changes none), and rows
        past the case's assignments are deleted."""
        f = case.facts
        rows = [(i, a.dept, a.role, a.status, a.ordered_at, a.ack_by, a.resolve_by)
                for i, a in enumerate(case.assignments)]
        await self._conn.execute(
            """WITH saved AS (
                 INSERT INTO cases(id, incident_id, status, category, kind, priority, lead,
                     street, district, community, grid_code, received_at, created_at,
                     updated_at, doc, lat, lon)
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
                 ON CONFLICT (id) DO UPDATE SET status=EXCLUDED.status, lead=EXCLUDED.lead,
                     category=EXCLUDED.category, street=EXCLUDED.street,
                     district=EXCLUDED.district, community=EXCLUDED.community,
                     grid_code=EXCLUDED.grid_code, lat=EXCLUDED.lat, lon=EXCLUDED.lon,
                     updated_at=EXCLUDED.updated_at, doc=EXCLUDED.doc,
                     version=cases.version+1),
               assigned AS (
                 INSERT INTO case_assignments AS a(case_id, seq, dept, role, status,
                     ordered_at, ack_by, resolve_by)
                 SELECT $1, * FROM unnest($18::int[], $19::text[], $20::text[], $21::text[],
                                          $22::timestamptz[], $23::timestamptz[],
                                          $24::timestamptz[])
                 ON CONFLICT (case_id, seq) DO UPDATE SET dept=EXCLUDED.dept,
                     role=EXCLUDED.role, status=EXCLUDED.status,
                     ordered_at=EXCLUDED.ordered_at, ack_by=EXCLUDED.ack_by,
                     resolve_by=EXCLUDED.resolve_by
                 WHERE (a.dept, a.role, a.status, a.ordered_at, a.ack_by, a.resolve_by)
                     IS DISTINCT FROM (EXCLUDED.dept, EXCLUDED.role, EXCLUDED.status,
                                       EXCLUDED.ordered_at, EXCLUDED.ack_by,
                                       EXCLUDED.resolve_by)),
               dropped AS (
                 DELETE FROM case_assignments
                 WHERE case_id = $1 AND seq >= cardinality($18::int[]))
               INSERT INTO case_timeline(case_id, at, type, dept, data)
               SELECT $1, $14, t.type, t.dept, t.data::jsonb
               FROM unnest($25::text[], $26::text[], $27::text[]) AS t(type, dept, data)""",
            uuid.UUID(case.id), case.incident_id, case.status, case.category, case.kind,
            case.priority, case.lead.dept if case.lead else None, f["street"], f["district"],
            f["community"], f["grid_code"], datetime.fromisoformat(f["received_at"]),
            case.created_at, now, _dumps(case.state()), _degrees(f.get("lat")),
            _degrees(f.get("lon")), *(list(column) for column in zip(*rows, strict=True))
            if rows else ([],) * 7,
            [e.type for e in events], [e.dept or e.data.get("dept") for e in events],
            [_dumps(e.data) for e in events])

    async def sync_supervision(self, case_id: str,
                               watches: list[tuple[int, str, datetime]]) -> None:
        """Watch exactly `watches` (seq, kind, due) of the case: drop the others, add the new
        ones, and leave those already watched at their stage and due time (one statement)."""
        await self._conn.execute(
            """WITH wanted AS (
                 SELECT * FROM unnest($2::int[], $3::text[], $4::timestamptz[])
                     AS w(seq, kind, due_at)),
               gone AS (
                 DELETE FROM supervision s WHERE s.case_id = $1 AND NOT EXISTS (
                     SELECT 1 FROM wanted w WHERE w.seq = s.seq AND w.kind = s.kind))
               INSERT INTO supervision(case_id, seq, kind, due_at)
               SELECT $1, seq, kind, due_at FROM wanted
               ON CONFLICT (case_id, seq, kind) DO NOTHING""",
            uuid.UUID(case_id), [w[0] for w in watches], [w[1] for w in watches],
            [w[2] for w in watches])

    async def reschedule(self, case_id: str, seq: int, kind: str, due_at: datetime) -> None:
        """Restart a watch from stage 0 at a new deadline (an approved extension)."""
        await self._conn.execute(
            "UPDATE supervision SET stage=0, due_at=$4 WHERE case_id=$1 AND seq=$2 AND kind=$3",
            uuid.UUID(case_id), seq, kind, due_at)

    async def next_due(self) -> datetime | None:
        """The earliest due time of a watch still running (parked ones are due at infinity)."""
        return await self._conn.fetchval(
            "SELECT min(due_at) FROM supervision WHERE due_at < 'infinity'")

    async def claim_due(self, now: datetime) -> tuple[dict[str, Any], Case] | None:
        """The earliest due watch and its case, both locked until the end of the transaction.

        SKIP LOCKED on both rows, the case's first (rows lock in FROM order): a watch whose
        case a report in flight or another worker holds is passed over without a lock taken —
        it comes back on a later claim, and the sweep never waits behind a department. Firing
        and advancing the watch in the same transaction is what makes each stage fire once,
        however many workers sweep.
        """
        row = await self._conn.fetchrow(
            """SELECT s.case_id::text AS case_id, s.seq, s.kind, s.stage, s.due_at, c.doc
               FROM cases c JOIN supervision s ON s.case_id = c.id
               WHERE s.due_at <= $1 ORDER BY s.due_at LIMIT 1
               FOR UPDATE SKIP LOCKED""", now)
        if row is None:
            return None
        watch = {k: row[k] for k in ("case_id", "seq", "kind", "stage", "due_at")}
        return watch, case_from_dict(json.loads(row["doc"]))

    async def advance(self, watch: dict[str, Any], next_due: datetime | None) -> None:
        """Move a watch to its next stage, or park it as finished when there is none.

        A finished watch is kept (due at infinity) rather than deleted, so that saving the case
        again does not start its chain anew; it goes when the deadline no longer applies.
        """
        await self._conn.execute(
            "UPDATE supervision SET stage=stage+1, due_at=COALESCE($4::timestamptz, 'infinity') "
            "WHERE case_id=$1 AND seq=$2 AND kind=$3",
            uuid.UUID(watch["case_id"]), watch["seq"], watch["kind"], next_due)

    async def timeline(self, case_id: str) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            "SELECT at, type, dept, data FROM case_timeline WHERE case_id=$1 ORDER BY id",
            uuid.UUID(case_id))
        return [{"at": r["at"], "type": r["type"], "dept": r["dept"],
                 "data": json.loads(r["data"])} for r in rows]

    async def search(self, *, status: str | None, dept: str | None, street: str | None,
                     overdue_at: datetime | None, limit: int,
                     before: tuple[datetime, uuid.UUID] | None) -> list[dict[str, Any]]:
        """Case summaries newest first, keyset-paginated by (created_at, case_id)."""
        rows = await self._conn.fetch(
            """SELECT c.id, c.incident_id, c.status, c.category, c.priority, c.lead, c.street,
                      c.community, c.grid_code, c.created_at, c.updated_at,
                      c.doc->'facts'->'suggestions' AS suggestions,
                      c.doc->'facts'->>'description' AS description
               FROM cases c
               WHERE ($1::text IS NULL OR c.status = $1)
                 AND ($3::text IS NULL OR c.street = $3)
                 AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM case_assignments a
                         WHERE a.case_id = c.id AND a.dept = $2))
                 AND ($4::timestamptz IS NULL OR EXISTS (SELECT 1 FROM case_assignments a
                         WHERE a.case_id = c.id AND a.status IN ('ordered','acknowledged','arrived')
                           AND ($2::text IS NULL OR a.dept = $2)
                           AND ((a.status = 'ordered' AND a.ack_by < $4) OR a.resolve_by < $4)))
                 AND ($5::timestamptz IS NULL OR (c.created_at, c.id) < ($5, $6::uuid))
               ORDER BY c.created_at DESC, c.id DESC LIMIT $7""",
            status, dept, street, overdue_at, before[0] if before else None,
            before[1] if before else None, limit)
        return [{**{k: v for k, v in dict(r).items() if k != "id"}, "case_id": str(r["id"]),
                 "suggestions": json.loads(r["suggestions"]) if r["suggestions"] else []}
                for r in rows]

    async def open_by_dept(self, now: datetime) -> list[dict[str, Any]]:
        """Open and overdue assignment counts per department (for the gauges)."""
        rows = await self._conn.fetch(
            """SELECT dept, count(*) AS open,
                      count(*) FILTER (WHERE (status='ordered' AND ack_by < $1)
                                       OR resolve_by < $1) AS overdue
               FROM case_assignments WHERE status IN ('ordered','acknowledged','arrived')
               GROUP BY dept""", now)
        return [dict(r) for r in rows]
