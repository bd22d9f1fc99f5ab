"""asyncpg repositories of scoring: volunteers, tasks and their claims, the assessment,
incident counts and hotspots."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.assessment import Facts


class VolunteerRepository:
    """Volunteers and, joined to them, their balance (which the ledger keeps)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, row: Mapping[str, Any]) -> None:
        """A new volunteer, with the balance every volunteer has."""
        await self._conn.execute(
            "INSERT INTO volunteers(id, name, community, street, team_colour, party_member, "
            "phone) VALUES ($1,$2,$3,$4,$5,$6,$7)", row["id"], row["name"], row["community"],
            row["street"], row["team_colour"], row["party_member"], row["phone"])
        await self._conn.execute("INSERT INTO balances(volunteer_id) VALUES ($1)", row["id"])

    async def get(self, volunteer_id: uuid.UUID) -> asyncpg.Record | None:
        """The volunteer with their balance (`points`, `hours_earned`)."""
        return await self._conn.fetchrow(
            "SELECT v.*, b.points, b.hours_earned FROM volunteers v JOIN balances b "
            "ON b.volunteer_id = v.id WHERE v.id=$1", volunteer_id)


class TaskRepository:
    """Tasks and their claims; a task's row lock serialises what happens to it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, row: Mapping[str, Any]) -> uuid.UUID | None:
        """Store a task; None when its case already has one."""
        return await self._conn.fetchval(
            """INSERT INTO tasks(id, case_id, community, title, description, category,
                   difficulty, max_volunteers, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
               ON CONFLICT (case_id) DO NOTHING RETURNING id""",
            row["id"], row["case_id"], row["community"], row["title"], row["description"],
            row["category"], row["difficulty"], row["max_volunteers"], row["created_by"])

    async def lock(self, task_id: uuid.UUID) -> asyncpg.Record | None:
        """The task, locked until the unit ends: claims and completions of one task queue."""
        return await self._conn.fetchrow("SELECT * FROM tasks WHERE id=$1 FOR UPDATE", task_id)

    async def search(self, *, community: str | None, status: str | None,
                     limit: int) -> list[asyncpg.Record]:
        """Tasks, newest first."""
        return await self._conn.fetch(
            "SELECT * FROM tasks WHERE ($1::text IS NULL OR community=$1) AND "
            "($2::text IS NULL OR status=$2) ORDER BY created_at DESC LIMIT $3",
            community, status, limit)

    async def claim_of(self, task_id: uuid.UUID,
                       volunteer_id: uuid.UUID) -> asyncpg.Record | None:
        """A volunteer's claim on a task, locked until the unit ends."""
        return await self._conn.fetchrow(
            "SELECT * FROM task_claims WHERE task_id=$1 AND volunteer_id=$2 FOR UPDATE",
            task_id, volunteer_id)

    async def add_claim(self, task_id: uuid.UUID, volunteer_id: uuid.UUID) -> None:
        """Record a claim and count it; a task whose places are all taken is `claimed`."""
        await self._conn.execute("INSERT INTO task_claims(task_id, volunteer_id) VALUES ($1,$2)",
                                 task_id, volunteer_id)
        await self._conn.execute(
            "UPDATE tasks SET claimed = claimed + 1, status = CASE WHEN claimed + 1 >= "
            "max_volunteers THEN 'claimed' ELSE status END WHERE id=$1", task_id)

    async def complete_claim(self, task_id: uuid.UUID, volunteer_id: uuid.UUID, *,
                             at: datetime, hours: float, points: int, verified_by: str) -> None:
        """Record the verified hours; a task whose claims are all done is `completed`."""
        await self._conn.execute(
            "UPDATE task_claims SET completed_at=$3, hours=$4, points=$5, verified_by=$6 "
            "WHERE task_id=$1 AND volunteer_id=$2", task_id, volunteer_id, at, hours, points,
            verified_by)
        await self._conn.execute(
            """UPDATE tasks SET status='completed' WHERE id=$1 AND NOT EXISTS (
                   SELECT 1 FROM task_claims WHERE task_id=$1 AND completed_at IS NULL)""",
            task_id)


class AssessmentRepository:
    """One row per (case event, department), so redeliveries and replays count once."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def record(self, rows: list[Mapping[str, Any]]) -> None:
        await self._conn.executemany(
            "INSERT INTO assessment_events(event_id, dept, case_id, type, on_time, rating, at) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
            [(r["event_id"], r["dept"], r["case_id"], r["type"], r["on_time"], r["rating"],
              r["at"]) for r in rows])

    async def facts(self, dept: str, start: datetime, end: datetime) -> Facts:
        """Counts over the cases dispatched to `dept` within [start, end)."""
        row = await self._conn.fetchrow(
            """WITH mine AS (
                   SELECT DISTINCT case_id FROM assessment_events
                   WHERE dept=$1 AND type='case.dispatched.v1' AND at >= $2 AND at < $3),
               ev AS (SELECT e.* FROM assessment_events e JOIN mine USING (case_id)
                      WHERE e.dept=$1)
               SELECT (SELECT count(*) FROM mine) AS dispatched,
                      count(DISTINCT case_id) FILTER (WHERE type='case.acknowledged.v1'
                                                      AND on_time) AS ack_on_time,
                      count(DISTINCT case_id) FILTER (WHERE type='case.resolved.v1') AS resolved,
                      count(DISTINCT case_id) FILTER (WHERE type='case.resolved.v1' AND on_time)
                        AS resolved_on_time,
                      count(*) FILTER (WHERE type='case.rated.v1') AS rated,
                      count(*) FILTER (WHERE type='case.rated.v1'
                                       AND rating IN ('satisfied','basically_satisfied'))
                        AS satisfied,
                      count(*) FILTER (WHERE type='case.returned.v1') AS returns,
                      count(*) FILTER (WHERE type='case.reopened.v1') AS reopens
               FROM ev""", dept, start, end)
        return Facts(row["dispatched"], row["ack_on_time"], row["resolved"],
                     row["resolved_on_time"], row["rated"], row["satisfied"], row["returns"],
                     row["reopens"])

    async def departments(self, start: datetime, end: datetime) -> list[str]:
        """The departments that had cases dispatched within [start, end)."""
        rows = await self._conn.fetch(
            "SELECT DISTINCT dept FROM assessment_events WHERE type='case.dispatched.v1' "
            "AND at >= $1 AND at < $2", start, end)
        return [r["dept"] for r in rows]

    async def clear(self) -> None:
        """Empty the assessment (before a replay rebuilds it)."""
        await self._conn.execute("TRUNCATE assessment_events")

    async def count(self) -> int:
        return await self._conn.fetchval("SELECT count(*) FROM assessment_events")


class HotspotRepository:
    """Incident counts per category, place and window; the hotspots raised."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def count(self, keys: list[tuple[str, str, str]], window_start: datetime) -> None:
        """One more incident in each (scope, place, category) for the window."""
        await self._conn.executemany(
            "INSERT INTO incident_counts(scope, place, category, window_start, n) "
            "VALUES ($1,$2,$3,$4,1) ON CONFLICT (scope, place, category, window_start) "
            "DO UPDATE SET n = incident_counts.n + 1",
            [(*key, window_start) for key in keys])
        # written only when earlier: an update of the one row on every event would churn it
        await self._conn.execute(
            "INSERT INTO counting_since(since) VALUES ($1) ON CONFLICT (one) DO UPDATE "
            "SET since = EXCLUDED.since WHERE counting_since.since > EXCLUDED.since",
            window_start)

    async def counting_since(self) -> datetime | None:
        return await self._conn.fetchval("SELECT since FROM counting_since")

    async def counts_at(self, key: tuple[str, str, str],
                        starts: list[datetime]) -> dict[datetime, int]:
        rows = await self._conn.fetch(
            "SELECT window_start, n FROM incident_counts WHERE scope=$1 AND place=$2 "
            "AND category=$3 AND window_start = ANY($4::timestamptz[])", *key, starts)
        return {r["window_start"]: r["n"] for r in rows}

    async def weekly(self, since: datetime, week_seconds: int) -> list[dict[str, Any]]:
        """Community counts per category and week (weeks from the Unix epoch) since `since`."""
        rows = await self._conn.fetch(
            """SELECT place, category,
                      to_timestamp(floor(extract(epoch FROM window_start) / $2) * $2) AS week,
                      sum(n)::int AS n
               FROM incident_counts WHERE scope = 'community' AND window_start >= $1
               GROUP BY 1, 2, 3""", since, week_seconds)
        return [dict(r) for r in rows]

    async def add(self, row: dict[str, Any]) -> bool:
        """Record a hotspot; False when this one (key, window, kind) was raised before."""
        found = await self._conn.fetchval(
            """INSERT INTO hotspots(id, kind, scope, place, street, district, category,
                   window_start, window_end, count, expected, p_value, baseline, sample_cases,
                   detected_at)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
               ON CONFLICT (scope, place, category, window_start, kind) DO NOTHING
               RETURNING 1""",
            row["id"], row["kind"], row["scope"], row["place"], row["street"],
            row["district"], row["category"], row["window_start"], row["window_end"],
            row["count"], row["expected"], row["p_value"], json.dumps(row["baseline"]),
            json.dumps(row["sample_cases"]), row["detected_at"])
        return found is not None

    async def recent(self, since: datetime, *, street: str | None,
                     limit: int) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT * FROM hotspots WHERE detected_at >= $1
                 AND ($2::text IS NULL OR street = $2)
               ORDER BY detected_at DESC LIMIT $3""", since, street, limit)
        return [{**dict(r), "id": str(r["id"]), "baseline": json.loads(r["baseline"]),
                 "sample_cases": json.loads(r["sample_cases"])} for r in rows]
