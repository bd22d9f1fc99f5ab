"""Dispatch's unit of work in memory: the CaseRepository methods over dicts.

Cases are kept as JSON text, as the database keeps the `doc` column, so a handler gets a fresh
object at each load and nothing it holds changes the store behind its back. `held` stands for
case rows another transaction (a report in flight) has locked: a claim skips them, as
FOR UPDATE SKIP LOCKED does.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from whistle_common import jsontext
from whistle_common.uow import FakeUnitOfWork
from whistle_dispatch.domain.case import ACTIVE, MERGEABLE, Case, DomainEvent, case_from_dict
from whistle_dispatch.domain.merging import Box, OpenCase

INFINITY = datetime.max.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    """A JSON round trip, as a JSONB column gives values back."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=lambda v: v.isoformat()))


def _placed(facts: dict[str, Any], grid: str | None, box: Box | None) -> bool:
    """The candidate query's place condition: the grid, or the point within the box."""
    if grid is not None and facts.get("grid_code") == grid:
        return True
    lat, lon = facts.get("lat"), facts.get("lon")
    if box is None or lat is None or lon is None:
        return False
    return box.lat_min <= lat <= box.lat_max and (
        box.lon_min is None or box.lon_min <= lon <= box.lon_max)


class FakeCases:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}         # case id → columns and doc
        self.timelines: dict[str, list[dict[str, Any]]] = {}
        self.supervision: dict[tuple[str, int, str], dict[str, Any]] = {}  # stage, due_at
        self.held: set[str] = set()
        self.linked: dict[str, dict[str, Any]] = {}       # incident id → case id, score …
        self.merge_locks: list[str] = []
        self.candidates_answered = 0                      # open cases merge_candidates gave

    async def exists_for_incident(self, incident_id: str) -> bool:
        return incident_id in self.linked or any(
            r["incident_id"] == incident_id for r in self.rows.values())

    async def lock_merging(self, scope: str) -> None:
        self.merge_locks.append(scope)

    async def merge_candidates(self, *, district: str, categories: list[str],
                               since: datetime, grid: str | None,
                               box: Box | None) -> list[OpenCase]:
        found = [case_from_dict(json.loads(r["doc"])) for r in self.rows.values()]
        found = [c for c in found if c.facts.get("district") == district
                 and c.category in categories
                 and datetime.fromisoformat(c.facts["received_at"]) >= since
                 and c.status in MERGEABLE and _placed(c.facts, grid, box)]
        found.sort(key=lambda c: c.facts["received_at"], reverse=True)
        self.candidates_answered += len(found)
        return [OpenCase(c.id, c.category, c.status, c.facts.get("lat"), c.facts.get("lon"),
                         c.facts.get("grid_code"), [c.facts.get("description") or "", *(
                             i.get("description") or "" for i in c.linked)],
                         datetime.fromisoformat(c.facts["received_at"])) for c in found]

    async def link_incident(self, case_id: str, incident_id: str, *, score: float,
                            reasons: list[str], now: datetime, event: dict[str, Any]) -> None:
        assert incident_id not in self.linked, "primary key: merged twice"
        self.linked[incident_id] = {"case_id": case_id, "score": score, "reasons": reasons,
                                    "merged_at": now, "event": _json(event)}

    async def unlink_incident(self, case_id: str, incident_id: str) -> dict[str, Any] | None:
        if self.linked.get(incident_id, {}).get("case_id") == case_id:
            return self.linked.pop(incident_id)["event"]
        return None

    async def load(self, case_id: str, *, for_update: bool = False) -> Case | None:
        row = self.rows.get(case_id)
        return case_from_dict(json.loads(row["doc"])) if row else None

    async def save(self, case: Case, events: list[DomainEvent], now: datetime) -> None:
        self.rows[case.id] = {"incident_id": case.incident_id, "updated_at": now,
                              "received_at": datetime.fromisoformat(case.facts["received_at"]),
                              "doc": jsontext.dumps(case.state())}  # as the repository writes it
        self.timelines.setdefault(case.id, []).extend(
            {"at": now, "type": e.type, "dept": e.dept or e.data.get("dept"),
             "data": _json(e.data)} for e in events)

    async def sync_supervision(self, case_id: str,
                               watches: list[tuple[int, str, datetime]]) -> None:
        wanted = {(case_id, seq, kind): due for seq, kind, due in watches}
        for key in [k for k in self.supervision if k[0] == case_id and k not in wanted]:
            del self.supervision[key]
        for key, due in wanted.items():
            self.supervision.setdefault(key, {"stage": 0, "due_at": due})

    async def reschedule(self, case_id: str, seq: int, kind: str, due_at: datetime) -> None:
        if (case_id, seq, kind) in self.supervision:
            self.supervision[case_id, seq, kind] = {"stage": 0, "due_at": due_at}

    async def next_due(self) -> datetime | None:
        return min((w["due_at"] for w in self.supervision.values()
                    if w["due_at"] != INFINITY), default=None)

    async def claim_due(self, now: datetime) -> tuple[dict[str, Any], Case] | None:
        due = sorted((w["due_at"], key) for key, w in self.supervision.items()
                     if w["due_at"] <= now and key[0] not in self.held)
        if not due:
            return None
        (case_id, seq, kind), watch = due[0][1], self.supervision[due[0][1]]
        return ({"case_id": case_id, "seq": seq, "kind": kind, **watch},
                await self.load(case_id))

    async def advance(self, watch: dict[str, Any], next_due: datetime | None) -> None:
        key = (watch["case_id"], watch["seq"], watch["kind"])
        if key in self.supervision:
            stage = self.supervision[key]["stage"] + 1
            self.supervision[key] = {"stage": stage, "due_at": next_due or INFINITY}

    async def timeline(self, case_id: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.timelines.get(case_id, []))

    async def search(self, *, status: str | None, dept: str | None, street: str | None,
                     overdue_at: datetime | None, limit: int,
                     before: tuple[datetime, Any] | None) -> list[dict[str, Any]]:
        found = []
        for case_id, row in self.rows.items():
            case = case_from_dict(json.loads(row["doc"]))
            owed = [a for a in case.assignments if a.status in ACTIVE
                    and (dept is None or a.dept == dept)]
            if ((status is None or case.status == status)
                    and (street is None or case.facts["street"] == street)
                    and (dept is None or any(a.dept == dept for a in case.assignments))
                    and (overdue_at is None or any(
                        (a.status == "ordered" and a.ack_by < overdue_at)
                        or a.resolve_by < overdue_at for a in owed))
                    and (before is None or (case.created_at, case_id) < (before[0],
                                                                         str(before[1])))):
                found.append(self._summary(case, row))
        found.sort(key=lambda r: (r["created_at"], r["case_id"]), reverse=True)
        return found[:limit]

    @staticmethod
    def _summary(case: Case, row: dict[str, Any]) -> dict[str, Any]:
        f = case.facts
        return {"incident_id": case.incident_id, "status": case.status,
                "category": case.category, "priority": case.priority,
                "lead": case.lead.dept if case.lead else None, "street": f["street"],
                "community": f["community"], "grid_code": f["grid_code"],
                "created_at": case.created_at, "updated_at": row["updated_at"],
                "suggestions": f.get("suggestions") or [], "description": f["description"],
                "case_id": case.id}

    async def open_by_dept(self, now: datetime) -> list[dict[str, Any]]:
        counts: dict[str, dict[str, Any]] = {}
        for row in self.rows.values():
            for a in case_from_dict(json.loads(row["doc"])).assignments:
                if a.status in ACTIVE:
                    count = counts.setdefault(a.dept, {"dept": a.dept, "open": 0, "overdue": 0})
                    count["open"] += 1
                    late = (a.status == "ordered" and a.ack_by < now) or a.resolve_by < now
                    count["overdue"] += int(late)
        return list(counts.values())


class FakeDispatchUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.cases = FakeCases()
        self._saved = self.cases

    def checkpoint(self) -> None:
        self._saved = copy.deepcopy(self.cases)

    def restore(self) -> None:
        self.cases = self._saved
