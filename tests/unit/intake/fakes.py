"""Intake's unit of work in memory: the same repository methods over dicts."""

from __future__ import annotations

import copy
import itertools
import uuid
from datetime import datetime
from typing import Any

from whistle_common.uow import FakeUnitOfWork


class FakeIncidents:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, dict[str, Any]] = {}
        self.timelines: dict[uuid.UUID, list[dict]] = {}
        self.corrections_by_event: dict[str, dict[str, Any]] = {}
        self._sequence = itertools.count(1)

    async def next_sequence(self) -> int:
        return next(self._sequence)  # a sequence is never rolled back, as in Postgres

    async def insert_incident(self, row: dict[str, Any]) -> bool:
        if await self.find_by_key(row["source"], row["external_id"]) is not None:
            return False
        self.rows[row["id"]] = {**row, "status": "received", "case_id": None, "agency": None,
                                "expected_at": None, "updated_at": row["received_at"]}
        return True

    async def find_by_key(self, source: str, external_id: str):
        return next((r for r in self.rows.values()
                     if (r["source"], r["external_id"]) == (source, external_id)), None)

    async def get(self, incident_id: str):
        try:
            return self.rows.get(uuid.UUID(incident_id))
        except ValueError:
            return None

    async def timeline(self, incident_id: uuid.UUID) -> list[dict]:
        first = {"at": self.rows[incident_id]["received_at"], "status": "received",
                 "event_type": "incident.received.v1", "note": None}
        return [first, *self.timelines.get(incident_id, [])]

    async def status_of(self, incident_id: str) -> str | None:
        row = await self.get(incident_id)
        return None if row is None else row["status"]

    async def follow(self, incident_id: str, *, status: str, case_id: str | None,
                     agency: str | None, expected_at: datetime | None, at: datetime,
                     event_type: str, note: str | None) -> None:
        row = self.rows[uuid.UUID(incident_id)]
        row["status"] = status
        row["case_id"] = case_id or row["case_id"]
        row["agency"] = agency or row["agency"]
        row["expected_at"] = expected_at or row["expected_at"]
        self.timelines.setdefault(row["id"], []).append(
            {"at": at, "status": status, "event_type": event_type, "note": note})

    async def search(self, *, source, category, status, start, end, limit: int,
                     offset: int = 0, statuses=()) -> list:
        found = [r for r in self.rows.values()
                 if (source is None or r["source"] == source)
                 and (category is None or r["category"] == category)
                 and (status is None or r["status"] == status)
                 and (not statuses or r["status"] in statuses)
                 and (start is None or r["received_at"] >= start)
                 and (end is None or r["received_at"] < end)]
        found.sort(key=lambda r: (r["received_at"], r["id"]), reverse=True)
        return found[offset:offset + limit]

    async def insert_correction(self, row: dict[str, Any]) -> bool:
        if row["event_id"] in self.corrections_by_event:
            return False
        self.corrections_by_event[row["event_id"]] = dict(row)
        return True

    async def corrections(self) -> list[dict]:
        return sorted(self.corrections_by_event.values(),
                      key=lambda r: (r["corrected_at"], r["event_id"]))


class FakeIntakeUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.incidents = FakeIncidents()
        self._saved: tuple = ()

    def checkpoint(self) -> None:
        i = self.incidents
        self._saved = copy.deepcopy((i.rows, i.timelines, i.corrections_by_event))

    def restore(self) -> None:
        i = self.incidents
        i.rows, i.timelines, i.corrections_by_event = copy.deepcopy(self._saved)
