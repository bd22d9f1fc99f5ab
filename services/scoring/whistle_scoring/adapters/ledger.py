"""asyncpg persistence of the points ledger and balances, on the unit of work's connection."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from ..domain.points import (
    DuplicateRedemption,
    Entry,
    InsufficientBalance,
    award_entries,
    redemption_entries,
)


class Ledger:
    """The double-entry ledger (append-only, each transaction's entries sum to zero) and the
    balances kept with it; `balances.points >= 0` makes an overdraft impossible."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def _write(self, *, kind: str, ref: str, volunteer_id: uuid.UUID, points: int,
                     hours: float, note: str | None, entries: list[Entry],
                     at: datetime) -> uuid.UUID | None:
        txn = uuid.uuid4()
        inserted = await self._conn.fetchval(
            "INSERT INTO ledger_txns(id, ref, kind, volunteer_id, points, hours, note, at) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (ref) DO NOTHING RETURNING id",
            txn, ref, kind, volunteer_id, points, hours, note, at)
        if inserted is None:
            return None
        await self._conn.executemany(
            "INSERT INTO ledger_entries(txn_id, account, amount) VALUES ($1,$2,$3)",
            [(txn, e.account, e.amount) for e in entries])
        return txn

    async def award(self, *, ref: str, volunteer_id: uuid.UUID, points: int, hours: float,
                    note: str | None, at: datetime) -> uuid.UUID | None:
        """Award once per ref; None when this ref was awarded before."""
        txn = await self._write(kind="award", ref=ref, volunteer_id=volunteer_id, points=points,
                                hours=hours, note=note,
                                entries=award_entries(str(volunteer_id), points), at=at)
        if txn is not None:
            await self._conn.execute(
                """UPDATE balances SET points = points + $2, hours_earned = hours_earned + $3,
                       first_earned_at = COALESCE(first_earned_at, $4)
                   WHERE volunteer_id = $1""", volunteer_id, points, hours, at)
        return txn

    async def redeem(self, *, ref: str, volunteer_id: uuid.UUID, points: int, note: str | None,
                     at: datetime) -> tuple[uuid.UUID, int]:
        """Take points with one conditional UPDATE (so concurrent redemptions never overdraw);
        InsufficientBalance when the balance does not cover them, DuplicateRedemption when
        the ref is already in the ledger (the unit must then roll back)."""
        left = await self._conn.fetchval(
            "UPDATE balances SET points = points - $2 WHERE volunteer_id = $1 AND points >= $2 "
            "RETURNING points", volunteer_id, points)
        if left is None:
            raise InsufficientBalance(await self.balance(volunteer_id))
        txn = await self._write(kind="redemption", ref=ref, volunteer_id=volunteer_id,
                                points=points, hours=0, note=note,
                                entries=redemption_entries(str(volunteer_id), points), at=at)
        if txn is None:
            raise DuplicateRedemption(ref)
        return txn, left

    async def find_txn(self, ref: str) -> asyncpg.Record | None:
        """The transaction stored under a ref (a redemption's request id), if any."""
        return await self._conn.fetchrow(
            "SELECT id, kind, volunteer_id::text AS volunteer_id, points, note FROM ledger_txns "
            "WHERE ref=$1", ref)

    async def balance(self, volunteer_id: uuid.UUID) -> int:
        return await self._conn.fetchval(
            "SELECT points FROM balances WHERE volunteer_id=$1", volunteer_id) or 0

    async def entries(self, volunteer_id: uuid.UUID, limit: int = 200) -> list[asyncpg.Record]:
        """A volunteer's transactions, newest first."""
        return await self._conn.fetch(
            """SELECT t.id, t.kind, t.ref, t.points, t.hours, t.note, t.at
               FROM ledger_txns t WHERE t.volunteer_id=$1 ORDER BY t.at DESC, t.id LIMIT $2""",
            volunteer_id, limit)

    async def standings(self, *, level: str, code: str, start: datetime,
                        end: datetime) -> list[asyncpg.Record]:
        """Points and hours awarded in [start, end) per volunteer of a community or street."""
        column = {"community": "community", "street": "street"}[level]
        return await self._conn.fetch(
            f"""SELECT v.id::text AS volunteer_id, v.name, sum(t.points)::int AS points,
                       sum(t.hours)::float AS hours, min(t.at) AS first_earned
                FROM ledger_txns t JOIN volunteers v ON v.id = t.volunteer_id
                WHERE t.kind = 'award' AND t.at >= $2 AND t.at < $3 AND v.{column} = $1
                GROUP BY v.id, v.name""", code, start, end)

    async def awarded_by_community(self, since: datetime) -> dict[str, int]:
        """Points awarded since an instant, per community of the volunteers."""
        rows = await self._conn.fetch(
            "SELECT v.community, sum(t.points) AS points FROM ledger_txns t JOIN volunteers v "
            "ON v.id=t.volunteer_id WHERE t.kind='award' AND t.at >= $1 GROUP BY v.community",
            since)
        return {r["community"]: r["points"] for r in rows}
