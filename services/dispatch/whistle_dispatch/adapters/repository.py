"""asyncpg persistence of cases: a JSONB document plus the columns queries filter on."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.case import Case, DomainEvent, case_from_dict


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=lambda v: v.isoformat())


async def exists_for_incident(conn: asyncpg.Connection, incident_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM cases WHERE incident_id=$1", incident_id))


async def load(conn: asyncpg.Connection, case_id: str, *, for_update: bool = False) -> Case | None:
    key = _uuid(case_id)
    if key is None:
        return None
    lock = " FOR UPDATE" if for_update else ""
    doc = await conn.fetchval(f"SELECT doc FROM cases WHERE id=$1{lock}", key)
    return case_from_dict(json.loads(doc)) if doc else None


async def save(conn: asyncpg.Connection, case: Case, events: list[DomainEvent],
               now: datetime) -> None:
    """Upsert the case, its assignments and the new timeline entries."""
    f = case.facts
    lead = case.lead.dept if case.lead else None
    await conn.execute(
        """INSERT INTO cases(id, incident_id, status, category, kind, priority, lead, street,
               district, community, grid_code, received_at, created_at, updated_at, doc)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
           ON CONFLICT (id) DO UPDATE SET status=EXCLUDED.status, lead=EXCLUDED.lead,
               category=EXCLUDED.category,
               updated_at=EXCLUDED.updated_at, doc=EXCLUDED.doc, version=cases.version+1""",
        uuid.UUID(case.id), case.incident_id, case.status, case.category, case.kind,
        case.priority, lead, f["street"], f["district"], f["community"], f["grid_code"],
        datetime.fromisoformat(f["received_at"]), case.created_at, now, _dumps(case.to_dict()))
    await conn.execute("DELETE FROM case_assignments WHERE case_id=$1", uuid.UUID(case.id))
    await conn.executemany(
        "INSERT INTO case_assignments VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        [(uuid.UUID(case.id), i, a.dept, a.role, a.status, a.ordered_at, a.ack_by, a.resolve_by)
         for i, a in enumerate(case.assignments)])
    await conn.executemany(
        "INSERT INTO case_timeline(case_id, at, type, dept, data) VALUES ($1,$2,$3,$4,$5)",
        [(uuid.UUID(case.id), now, e.type, e.dept or e.data.get("dept"), _dumps(e.data))
         for e in events])


async def sync_supervision(conn: asyncpg.Connection, case: Case,
                           autoclose_at: datetime | None) -> None:
    """Watch exactly the deadlines the case still owes; keep the stage of those watched."""
    from ..domain.supervision import still_pending

    key = uuid.UUID(case.id)
    wanted = []
    for seq, a in enumerate(case.assignments):
        if a.role not in ("lead", "co"):
            continue
        for kind, due in (("ack", a.ack_by), ("resolve", a.resolve_by)):
            if still_pending(kind, a.status):
                wanted.append((key, seq, kind, due))
    if autoclose_at is not None:
        wanted.append((key, -1, "autoclose", autoclose_at))
    await conn.execute(
        """DELETE FROM supervision WHERE case_id=$1 AND (seq, kind) NOT IN
               (SELECT * FROM unnest($2::int[], $3::text[]))""",
        key, [w[1] for w in wanted], [w[2] for w in wanted])
    await conn.executemany(
        "INSERT INTO supervision(case_id, seq, kind, due_at) VALUES ($1,$2,$3,$4) "
        "ON CONFLICT (case_id, seq, kind) DO NOTHING", wanted)


async def reschedule(conn: asyncpg.Connection, case_id: str, seq: int, kind: str,
                     due_at: datetime) -> None:
    """Restart a watch from stage 0 at a new deadline (an approved extension)."""
    await conn.execute(
        "UPDATE supervision SET stage=0, due_at=$4 WHERE case_id=$1 AND seq=$2 AND kind=$3",
        uuid.UUID(case_id), seq, kind, due_at)


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Due watches, locked for this transaction; rows other workers hold are skipped."""
    return await conn.fetch(
        """SELECT case_id::text AS case_id, seq, kind, stage, due_at FROM supervision
           WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED""", now, limit)


async def advance(conn: asyncpg.Connection, row: asyncpg.Record,
                  next_due: datetime | None) -> None:
    """Move a watch to its next stage, or park it as finished when the chain is over.

    A finished watch is kept (due at infinity) rather than deleted, so that saving the case
    again does not start its chain anew; it goes when the deadline no longer applies.
    """
    if next_due is None:
        await conn.execute(
            "UPDATE supervision SET stage=stage+1, due_at='infinity' "
            "WHERE case_id=$1 AND seq=$2 AND kind=$3",
            uuid.UUID(row["case_id"]), row["seq"], row["kind"])
    else:
        await conn.execute(
            "UPDATE supervision SET stage=stage+1, due_at=$4 "
            "WHERE case_id=$1 AND seq=$2 AND kind=$3",
            uuid.UUID(row["case_id"]), row["seq"], row["kind"], next_due)


async def timeline(conn: asyncpg.Connection, case_id: str) -> list[dict]:
    rows = await conn.fetch(
        "SELECT at, type, dept, data FROM case_timeline WHERE case_id=$1 ORDER BY id",
        uuid.UUID(case_id))
    return [{"at": r["at"], "type": r["type"], "dept": r["dept"], "data": json.loads(r["data"])}
            for r in rows]


async def search(conn: asyncpg.Connection, *, status: str | None, dept: str | None,
                 street: str | None, overdue_at: datetime | None, limit: int,
                 before: tuple[datetime, uuid.UUID] | None) -> list[asyncpg.Record]:
    """Cases newest first, keyset-paginated by (created_at, id)."""
    return await conn.fetch(
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


async def open_by_dept(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Open and overdue assignment counts per department (for the gauges)."""
    return await conn.fetch(
        """SELECT dept, count(*) AS open,
                  count(*) FILTER (WHERE (status='ordered' AND ack_by < $1) OR resolve_by < $1)
                    AS overdue
           FROM case_assignments WHERE status IN ('ordered','acknowledged','arrived')
           GROUP BY dept""", now)
