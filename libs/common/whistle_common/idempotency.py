"""Processed-event bookkeeping: a redelivered event id changes nothing."""

from __future__ import annotations

import asyncpg


async def claim_event(conn: asyncpg.Connection, consumer: str, event_id: str) -> bool:
    """Record event_id as processed by consumer; False if it was processed before.

    Call inside the transaction that applies the event, so the record and the state
    change commit or roll back together.
    """
    row = await conn.fetchval(
        "INSERT INTO processed_events(consumer, event_id) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING RETURNING 1", consumer, event_id)
    return row is not None
