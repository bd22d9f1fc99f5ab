"""asyncpg persistence of notify: notifications and their attempts, preferences, contacts.

Rows come back as dicts with `context` decoded, so that they can outlive the transaction
that read them (the sender claims, sends, then records in another unit).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, time
from typing import Any

import asyncpg

from ..domain.delivery import Attempt, Sent

CLAIMABLE = "status IN ('pending','deferred') OR (status='sending' AND lease_until < $1)"


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    if "context" in row:
        row["context"] = json.loads(row["context"])
    return row


class NotificationRepository:
    """Notifications (one per event, recipient and channel) and their delivery attempts."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, row: dict[str, Any]) -> bool:
        """Insert unless (event_id, recipient, channel) exists; True when inserted."""
        return bool(await self._conn.fetchval(
            """INSERT INTO notifications(id, event_id, event_type, recipient, channel, template,
                   context, body, urgent, digest_key, status, next_attempt_at, created_at)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
               ON CONFLICT (event_id, recipient, channel) DO NOTHING RETURNING 1""",
            row["id"], row["event_id"], row["event_type"], row["recipient"], row["channel"],
            row["template"], json.dumps(row["context"], ensure_ascii=False), row["body"],
            row["urgent"], row["digest_key"], row["status"], row["next_attempt_at"],
            row["created_at"]))

    async def add_many(self, rows: list[dict[str, Any]]) -> int:
        """Insert several in one statement, skipping those that exist; how many were new."""
        if not rows:
            return 0
        columns = ("id", "event_id", "event_type", "recipient", "channel", "template",
                   "context", "body", "urgent", "digest_key", "status", "next_attempt_at",
                   "created_at")
        values = [[json.dumps(r[c], ensure_ascii=False) if c == "context" else r[c]
                   for r in rows] for c in columns]
        return len(await self._conn.fetch(
            """INSERT INTO notifications(id, event_id, event_type, recipient, channel, template,
                   context, body, urgent, digest_key, status, next_attempt_at, created_at)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                   $6::text[], $7::jsonb[], $8::text[], $9::boolean[], $10::text[], $11::text[],
                   $12::timestamptz[], $13::timestamptz[])
               ON CONFLICT (event_id, recipient, channel) DO NOTHING RETURNING 1""",
            *values))

    async def claim_due(self, now: datetime, lease_until: datetime,
                        limit: int) -> list[dict[str, Any]]:
        """Lease up to `limit` due notifications (status 'sending'); rows another worker
        holds are skipped, and a lease that ran out (a dead worker) is taken over."""
        rows = await self._conn.fetch(
            f"""UPDATE notifications SET status='sending', lease_until=$3
                WHERE id IN (SELECT id FROM notifications
                             WHERE ({CLAIMABLE}) AND next_attempt_at <= $1
                             ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                RETURNING *""", now, limit, lease_until)
        return [_row(r) for r in rows]

    async def next_due(self) -> datetime | None:
        """When the next notification can be claimed: the earliest due time of those waiting,
        or the end of a lease held by a sender (it may have died)."""
        return await self._conn.fetchval(
            "SELECT min(CASE WHEN status = 'sending' THEN lease_until ELSE next_attempt_at END) "
            "FROM notifications WHERE status IN ('pending', 'deferred', 'sending')")

    async def pending_retries(self) -> int:
        return await self._conn.fetchval(
            "SELECT count(*) FROM notifications WHERE status='pending' AND attempts > 0")

    async def sent_since(self, recipient: str, channel: str, since: datetime) -> int:
        return await self._conn.fetchval(
            "SELECT count(*) FROM notifications WHERE recipient=$1 AND channel=$2 "
            "AND status='sent' AND sent_at > $3", recipient, channel, since)

    async def postpone(self, notification_id: uuid.UUID, until: datetime) -> None:
        """Back to pending without an attempt (over the rate limit)."""
        await self._conn.execute(
            "UPDATE notifications SET status='pending', next_attempt_at=$2 WHERE id=$1",
            notification_id, until)

    async def absorb_digest(self, digest_key: str, into: uuid.UUID,
                            at: datetime) -> list[dict[str, Any]]:
        """Mark the other waiting notifications of a digest as digested; their contexts."""
        rows = await self._conn.fetch(
            """UPDATE notifications SET status='digested', sent_at=$3
               WHERE digest_key=$1 AND id<>$2 AND status IN ('pending','deferred')
               RETURNING context""", digest_key, into, at)
        return [json.loads(r["context"]) for r in rows]

    async def add_attempts(self, attempts: list[Attempt]) -> None:
        """Record delivery attempts, one statement however many."""
        if attempts:
            await self._conn.execute(
                "INSERT INTO delivery_attempts(notification_id, at, outcome, error, seconds) "
                "SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], "
                "$5::float8[])", *map(list, zip(*attempts, strict=True)))

    async def mark_sent(self, sent: list[Sent]) -> None:
        """Mark notifications delivered, one statement however many."""
        if sent:
            await self._conn.execute(
                "UPDATE notifications n SET status='sent', attempts=u.attempts, body=u.body, "
                "sent_at=u.at, lease_until=NULL FROM unnest($1::uuid[], $2::int[], $3::text[], "
                "$4::timestamptz[]) AS u(id, attempts, body, at) WHERE n.id = u.id",
                *map(list, zip(*sent, strict=True)))

    async def mark_dead(self, notification_id: uuid.UUID, *, attempts: int, body: str,
                        error: str) -> None:
        await self._conn.execute(
            "UPDATE notifications SET status='dead', attempts=$2, body=$3, last_error=$4, "
            "lease_until=NULL WHERE id=$1", notification_id, attempts, body, error)

    async def retry_at(self, notification_id: uuid.UUID, *, attempts: int, error: str,
                       at: datetime) -> None:
        await self._conn.execute(
            "UPDATE notifications SET status='pending', attempts=$2, last_error=$3, "
            "next_attempt_at=$4, lease_until=NULL WHERE id=$1",
            notification_id, attempts, error, at)

    async def list_for(self, recipient: str, limit: int) -> list[dict[str, Any]]:
        """A recipient's notifications, newest first."""
        rows = await self._conn.fetch(
            "SELECT id, event_type, recipient, channel, status, body, attempts, created_at, "
            "sent_at FROM notifications WHERE recipient=$1 ORDER BY created_at DESC LIMIT $2",
            recipient, limit)
        return [dict(r) for r in rows]

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        try:
            key = uuid.UUID(notification_id)
        except ValueError:
            return None
        row = await self._conn.fetchrow("SELECT * FROM notifications WHERE id=$1", key)
        return None if row is None else _row(row)

    async def attempts(self, notification_id: uuid.UUID) -> list[dict[str, Any]]:
        """Delivery attempts, first to last."""
        rows = await self._conn.fetch(
            "SELECT at, outcome, error, seconds FROM delivery_attempts "
            "WHERE notification_id=$1 ORDER BY id", notification_id)
        return [dict(r) for r in rows]


class PreferenceRepository:
    """Per recipient: the channels it takes and its quiet hours."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get(self, recipient: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            "SELECT channels, quiet_start, quiet_end FROM preferences WHERE recipient=$1",
            recipient)
        return None if row is None else dict(row)

    async def get_many(self, recipients: list[str]) -> dict[str, dict[str, Any]]:
        """Preferences of several recipients in one read; those without any are absent."""
        rows = await self._conn.fetch(
            "SELECT recipient, channels, quiet_start, quiet_end FROM preferences "
            "WHERE recipient = ANY($1::text[])", recipients)
        return {r["recipient"]: {k: r[k] for k in ("channels", "quiet_start", "quiet_end")}
                for r in rows}

    async def put(self, recipient: str, *, channels: list[str] | None,
                  quiet_start: time | None, quiet_end: time | None) -> None:
        await self._conn.execute(
            """INSERT INTO preferences(recipient, channels, quiet_start, quiet_end)
               VALUES ($1,$2,$3,$4) ON CONFLICT (recipient) DO UPDATE SET
               channels=EXCLUDED.channels, quiet_start=EXCLUDED.quiet_start,
               quiet_end=EXCLUDED.quiet_end, updated_at=now()""",
            recipient, channels, quiet_start, quiet_end)


class ContactRepository:
    """Phone numbers and e-mail addresses of recipients."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get(self, recipient: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow("SELECT phone, email FROM contacts WHERE recipient=$1",
                                        recipient)
        return None if row is None else dict(row)

    async def save(self, recipient: str, *, phone: str | None = None,
                   email: str | None = None) -> None:
        """Store what is given; a field left out keeps its stored value."""
        await self._conn.execute(
            """INSERT INTO contacts(recipient, phone, email) VALUES ($1,$2,$3)
               ON CONFLICT (recipient) DO UPDATE SET phone=COALESCE(EXCLUDED.phone, contacts.phone),
               email=COALESCE(EXCLUDED.email, contacts.email), updated_at=now()""",
            recipient, phone, email)
