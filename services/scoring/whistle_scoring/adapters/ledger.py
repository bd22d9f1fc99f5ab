"""asyncpg persistence of the points ledger and balances."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from ..domain.points import Entry, InsufficientBalance, award_entries, redemption_entries


async def _write(conn, *, kind: str, ref: str, volunteer_id: str, points: int, hours: float,
                 note: str | None, entries: list[Entry], at: datetime) -> uuid.UUID | None:
    txn = uuid.uuid4()
    inserted = await conn.fetchval(
        "INSERT INTO ledger_txns(id, ref, kind, volunteer_id, points, hours, note, at) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (ref) DO NOTHING RETURNING id",
        txn, ref, kind, uuid.UUID(volunteer_id), points, hours, note, at)
    if inserted is None:
        return None
    await conn.executemany("INSERT INTO ledger_entries(txn_id, account, amount) VALUES ($1,$2,$3)",
                           [(txn, e.account, e.amount) for e in entries])
    return txn


async def award(conn: asyncpg.Connection, *, ref: str, volunteer_id: str, points: int,
                hours: float, note: str | None, at: datetime) -> uuid.UUID | None:
    """Award once per ref; None when this ref was awarded before."""
    txn = await _write(conn, kind="award", ref=ref, volunteer_id=volunteer_id, points=points,
                       hours=hours, note=note, entries=award_entries(volunteer_id, points), at=at)
    if txn is not None:
        await conn.execute(
            """UPDATE balances SET points = points + $2, hours_earned = hours_earned + $3,
                   first_earned_at = COALESCE(first_earned_at, $4) WHERE volunteer_id = $1""",
            uuid.UUID(volunteer_id), points, hours, at)
    return txn


async def redeem(conn: asyncpg.Connection, *, ref: str, volunteer_id: str, points: int,
                 note: str | None, at: datetime) -> tuple[uuid.UUID | None, int]:
    """Take points atomically; InsufficientBalance when the balance does not cover them."""
    left = await conn.fetchval(
        "UPDATE balances SET points = points - $2 WHERE volunteer_id = $1 AND points >= $2 "
        "RETURNING points", uuid.UUID(volunteer_id), points)
    if left is None:
        raise InsufficientBalance(await balance(conn, volunteer_id))
    txn = await _write(conn, kind="redemption", ref=ref, volunteer_id=volunteer_id,
                       points=points, hours=0, note=note,
                       entries=redemption_entries(volunteer_id, points), at=at)
    if txn is None:
        raise DuplicateRedemption(ref)
    return txn, left


class DuplicateRedemption(Exception):
    """The same redemption request id again."""


async def find_txn(conn: asyncpg.Connection, ref: str) -> asyncpg.Record | None:
    """The transaction stored under a ref (a redemption's request id), if any."""
    return await conn.fetchrow(
        "SELECT id, kind, volunteer_id::text AS volunteer_id, points, note FROM ledger_txns "
        "WHERE ref=$1", ref)


async def balance(conn: asyncpg.Connection, volunteer_id: str) -> int:
    return await conn.fetchval("SELECT points FROM balances WHERE volunteer_id=$1",
                               uuid.UUID(volunteer_id)) or 0


async def entries(conn: asyncpg.Connection, volunteer_id: str, limit: int = 200):
    return await conn.fetch(
        """SELECT t.id, t.kind, t.ref, t.points, t.hours, t.note, t.at
           FROM ledger_txns t WHERE t.volunteer_id=$1 ORDER BY t.at DESC, t.id LIMIT $2""",
        uuid.UUID(volunteer_id), limit)


async def account_sum(conn: asyncpg.Connection, volunteer_id: str) -> int:
    """The balance recomputed from entries (for checks: it must equal `balances`)."""
    return await conn.fetchval("SELECT COALESCE(sum(amount), 0) FROM ledger_entries "
                               "WHERE account=$1", f"volunteer:{volunteer_id}")


async def standings(conn: asyncpg.Connection, *, level: str, code: str, start: datetime,
                    end: datetime):
    column = {"community": "community", "street": "street"}[level]
    return await conn.fetch(
        f"""SELECT v.id::text AS volunteer_id, v.name, sum(t.points)::int AS points,
                   sum(t.hours)::float AS hours, min(t.at) AS first_earned
            FROM ledger_txns t JOIN volunteers v ON v.id = t.volunteer_id
            WHERE t.kind = 'award' AND t.at >= $2 AND t.at < $3 AND v.{column} = $1
            GROUP BY v.id, v.name""", code, start, end)
