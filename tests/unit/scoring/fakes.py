"""Scoring's unit of work in memory: the repositories' methods over a few dicts, with the
constraints the schema enforces (unique refs and case ids, balances ≥ 0, balanced ledger
transactions) so that handlers cannot tell."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from whistle_common.uow import FakeUnitOfWork
from whistle_common.usecase import run_use_case
from whistle_scoring.domain.assessment import Facts
from whistle_scoring.domain.points import (
    DuplicateRedemption,
    Entry,
    InsufficientBalance,
    award_entries,
    redemption_entries,
)

SATISFIED = ("satisfied", "basically_satisfied")


def _numeric(hours: float) -> Decimal:
    """What a numeric(…, 2) column stores and asyncpg returns."""
    return Decimal(str(hours)).quantize(Decimal("0.01"))


@dataclass
class Tables:
    """The schema's tables; a checkpoint is a deep copy of them."""

    volunteers: dict[uuid.UUID, dict] = field(default_factory=dict)
    balances: dict[uuid.UUID, dict] = field(default_factory=dict)
    tasks: dict[uuid.UUID, dict] = field(default_factory=dict)
    claims: dict[tuple[uuid.UUID, uuid.UUID], dict] = field(default_factory=dict)
    txns: dict[str, dict] = field(default_factory=dict)  # by ref
    entries: list[dict] = field(default_factory=list)
    assessment: dict[tuple[str, str], dict] = field(default_factory=dict)
    incident_counts: dict[tuple[str, str, str, datetime], int] = field(default_factory=dict)
    counting_since: datetime | None = None
    hotspots: dict[tuple, dict] = field(default_factory=dict)  # by (key…, window, kind)


class FakeVolunteers:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, row: dict[str, Any]) -> None:
        if row["id"] in self._t.volunteers:
            raise asyncpg.UniqueViolationError("volunteers_pkey")
        self._t.volunteers[row["id"]] = {
            key: row[key] for key in ("id", "name", "community", "street", "team_colour",
                                      "party_member", "phone")} | {"created_at": datetime.now(UTC)}
        self._t.balances[row["id"]] = {"points": 0, "hours_earned": _numeric(0),
                                       "first_earned_at": None}

    async def get(self, volunteer_id: uuid.UUID) -> dict | None:
        row = self._t.volunteers.get(volunteer_id)
        if row is None:
            return None
        balance = self._t.balances[volunteer_id]
        return {**row, "points": balance["points"], "hours_earned": balance["hours_earned"]}


class FakeTasks:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def add(self, row: dict[str, Any]) -> uuid.UUID | None:
        if row["case_id"] is not None and any(
                t["case_id"] == row["case_id"] for t in self._t.tasks.values()):
            return None
        self._t.tasks[row["id"]] = {**row, "claimed": 0, "status": "open",
                                    "created_at": datetime.now(UTC)}
        return row["id"]

    async def lock(self, task_id: uuid.UUID) -> dict | None:
        row = self._t.tasks.get(task_id)
        return dict(row) if row else None

    async def search(self, *, community: str | None, status: str | None,
                     limit: int) -> list[dict]:
        found = [dict(t) for t in reversed(self._t.tasks.values())
                 if (community is None or t["community"] == community)
                 and (status is None or t["status"] == status)]
        return sorted(found, key=lambda t: t["created_at"], reverse=True)[:limit]

    async def claim_of(self, task_id: uuid.UUID, volunteer_id: uuid.UUID) -> dict | None:
        row = self._t.claims.get((task_id, volunteer_id))
        return dict(row) if row else None

    async def add_claim(self, task_id: uuid.UUID, volunteer_id: uuid.UUID) -> None:
        task = self._t.tasks[task_id]
        if (task_id, volunteer_id) in self._t.claims:
            raise asyncpg.UniqueViolationError("task_claims_pkey")
        if task["claimed"] + 1 > task["max_volunteers"]:
            raise asyncpg.CheckViolationError("tasks_check")
        self._t.claims[(task_id, volunteer_id)] = {
            "task_id": task_id, "volunteer_id": volunteer_id, "claimed_at": datetime.now(UTC),
            "completed_at": None, "hours": None, "points": None, "verified_by": None}
        task["claimed"] += 1
        if task["claimed"] >= task["max_volunteers"]:
            task["status"] = "claimed"

    async def complete_claim(self, task_id: uuid.UUID, volunteer_id: uuid.UUID, *,
                             at: datetime, hours: float, points: int, verified_by: str) -> None:
        self._t.claims[(task_id, volunteer_id)].update(
            completed_at=at, hours=_numeric(hours), points=points, verified_by=verified_by)
        if all(c["completed_at"] is not None for (t, _), c in self._t.claims.items()
               if t == task_id):
            self._t.tasks[task_id]["status"] = "completed"


class FakeLedger:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    def _write(self, *, kind: str, ref: str, volunteer_id: uuid.UUID, points: int,
               hours: float, note: str | None, entries: list[Entry],
               at: datetime) -> uuid.UUID | None:
        if ref in self._t.txns:
            return None
        if volunteer_id not in self._t.volunteers:
            raise asyncpg.ForeignKeyViolationError("ledger_txns_volunteer_id_fkey")
        if sum(e.amount for e in entries) != 0:  # the deferred trigger
            raise asyncpg.RaiseError("ledger transaction does not balance")
        txn = uuid.uuid4()
        self._t.txns[ref] = {"id": txn, "ref": ref, "kind": kind, "volunteer_id": volunteer_id,
                             "points": points, "hours": _numeric(hours), "note": note, "at": at}
        self._t.entries += [{"txn_id": txn, "account": e.account, "amount": e.amount}
                            for e in entries]
        return txn

    async def award(self, *, ref: str, volunteer_id: uuid.UUID, points: int, hours: float,
                    note: str | None, at: datetime) -> uuid.UUID | None:
        txn = self._write(kind="award", ref=ref, volunteer_id=volunteer_id, points=points,
                          hours=hours, note=note,
                          entries=award_entries(str(volunteer_id), points), at=at)
        if txn is not None:
            balance = self._t.balances[volunteer_id]
            balance["points"] += points
            balance["hours_earned"] += _numeric(hours)
            balance["first_earned_at"] = balance["first_earned_at"] or at
        return txn

    async def redeem(self, *, ref: str, volunteer_id: uuid.UUID, points: int, note: str | None,
                     at: datetime) -> tuple[uuid.UUID, int]:
        balance = self._t.balances.get(volunteer_id)
        if balance is None or balance["points"] < points:
            raise InsufficientBalance(await self.balance(volunteer_id))
        balance["points"] -= points  # taken before the ref is checked, as in Postgres
        txn = self._write(kind="redemption", ref=ref, volunteer_id=volunteer_id, points=points,
                          hours=0, note=note,
                          entries=redemption_entries(str(volunteer_id), points), at=at)
        if txn is None:
            raise DuplicateRedemption(ref)
        return txn, balance["points"]

    async def find_txn(self, ref: str) -> dict | None:
        t = self._t.txns.get(ref)
        if t is None:
            return None
        return {"id": t["id"], "kind": t["kind"], "volunteer_id": str(t["volunteer_id"]),
                "points": t["points"], "note": t["note"]}

    async def balance(self, volunteer_id: uuid.UUID) -> int:
        balance = self._t.balances.get(volunteer_id)
        return balance["points"] if balance else 0

    async def entries(self, volunteer_id: uuid.UUID, limit: int = 200) -> list[dict]:
        mine = sorted((t for t in self._t.txns.values() if t["volunteer_id"] == volunteer_id),
                      key=lambda t: t["id"])
        mine.sort(key=lambda t: t["at"], reverse=True)
        return [{k: t[k] for k in ("id", "kind", "ref", "points", "hours", "note", "at")}
                for t in mine[:limit]]

    async def standings(self, *, level: str, code: str, start: datetime,
                        end: datetime) -> list[dict]:
        rows: dict[uuid.UUID, dict] = {}
        for t in self._t.txns.values():
            volunteer = self._t.volunteers[t["volunteer_id"]]
            if t["kind"] != "award" or not start <= t["at"] < end or volunteer[level] != code:
                continue
            row = rows.setdefault(t["volunteer_id"], {
                "volunteer_id": str(t["volunteer_id"]), "name": volunteer["name"], "points": 0,
                "hours": 0.0, "first_earned": t["at"]})
            row["points"] += t["points"]
            row["hours"] += float(t["hours"])
            row["first_earned"] = min(row["first_earned"], t["at"])
        return list(rows.values())

    async def awarded_by_community(self, since: datetime) -> dict[str, int]:
        points: dict[str, int] = {}
        for t in self._t.txns.values():
            if t["kind"] == "award" and t["at"] >= since:
                community = self._t.volunteers[t["volunteer_id"]]["community"]
                points[community] = points.get(community, 0) + t["points"]
        return points

    # for the tests' checks of the double-entry invariant
    def account_sum(self, account: str) -> int:
        return sum(e["amount"] for e in self._t.entries if e["account"] == account)

    def unbalanced(self) -> list[uuid.UUID]:
        sums: dict[uuid.UUID, int] = {}
        for e in self._t.entries:
            sums[e["txn_id"]] = sums.get(e["txn_id"], 0) + e["amount"]
        return [txn for txn, total in sums.items() if total != 0]


class FakeHotspots:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def count(self, keys: list[tuple[str, str, str]], window_start: datetime) -> None:
        for key in keys:
            self._t.incident_counts[(*key, window_start)] = \
                self._t.incident_counts.get((*key, window_start), 0) + 1
        since = self._t.counting_since
        self._t.counting_since = window_start if since is None else min(since, window_start)

    async def counting_since(self) -> datetime | None:
        return self._t.counting_since

    async def counts_at(self, key: tuple[str, str, str],
                        starts: list[datetime]) -> dict[datetime, int]:
        return {s: self._t.incident_counts[(*key, s)] for s in starts
                if (*key, s) in self._t.incident_counts}

    async def weekly(self, since: datetime, week_seconds: int) -> list[dict[str, Any]]:
        sums: dict[tuple[str, str, datetime], int] = {}
        for (scope, place, category, start), n in self._t.incident_counts.items():
            if scope != "community" or start < since:
                continue
            stamp = start.timestamp()
            week = datetime.fromtimestamp(stamp - stamp % week_seconds, tz=UTC)
            sums[place, category, week] = sums.get((place, category, week), 0) + n
        return [{"place": p, "category": c, "week": w, "n": n} for (p, c, w), n in sums.items()]

    async def add(self, row: dict[str, Any]) -> bool:
        key = (row["scope"], row["place"], row["category"], row["window_start"], row["kind"])
        if key in self._t.hotspots:
            return False
        self._t.hotspots[key] = copy.deepcopy(row)
        return True

    async def recent(self, since: datetime, *, street: str | None,
                     limit: int) -> list[dict[str, Any]]:
        rows = [{**r, "id": str(r["id"])} for r in self._t.hotspots.values()
                if r["detected_at"] >= since and (street is None or r["street"] == street)]
        return sorted(rows, key=lambda r: r["detected_at"], reverse=True)[:limit]


class FakeAssessment:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def record(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._t.assessment.setdefault((row["event_id"], row["dept"]), dict(row))

    async def facts(self, dept: str, start: datetime, end: datetime) -> Facts:
        rows = [r for r in self._t.assessment.values() if r["dept"] == dept]
        mine = {r["case_id"] for r in rows
                if r["type"] == "case.dispatched.v1" and start <= r["at"] < end}
        ev = [r for r in rows if r["case_id"] in mine]

        def cases(type_: str, *, on_time: bool = False) -> int:
            return len({r["case_id"] for r in ev
                        if r["type"] == type_ and (r["on_time"] or not on_time)})

        def count(type_: str) -> int:
            return sum(r["type"] == type_ for r in ev)

        return Facts(len(mine), cases("case.acknowledged.v1", on_time=True),
                     cases("case.resolved.v1"), cases("case.resolved.v1", on_time=True),
                     count("case.rated.v1"),
                     sum(r["type"] == "case.rated.v1" and r["rating"] in SATISFIED for r in ev),
                     count("case.returned.v1"), count("case.reopened.v1"))

    async def departments(self, start: datetime, end: datetime) -> list[str]:
        return list(dict.fromkeys(r["dept"] for r in self._t.assessment.values()
                                  if r["type"] == "case.dispatched.v1"
                                  and start <= r["at"] < end))

    async def clear(self) -> None:
        self._t.assessment.clear()

    async def count(self) -> int:
        return len(self._t.assessment)


class FakeScoringUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.tables = Tables()
        self.volunteers = FakeVolunteers(self.tables)
        self.tasks = FakeTasks(self.tables)
        self.ledger = FakeLedger(self.tables)
        self.assessment = FakeAssessment(self.tables)
        self.hotspots = FakeHotspots(self.tables)
        self._saved = Tables()

    def checkpoint(self) -> None:
        self._saved = copy.deepcopy(self.tables)

    def restore(self) -> None:
        saved = copy.deepcopy(self._saved)
        for f in fields(Tables):
            setattr(self.tables, f.name, getattr(saved, f.name))


def run(uow: FakeScoringUnitOfWork, handler, command):
    """Run a handler as the service does (run_use_case: one unit, one commit), on the fake."""
    return run_use_case(lambda: uow, handler, command)
