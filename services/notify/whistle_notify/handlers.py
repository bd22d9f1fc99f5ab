"""Use cases of notify: turn events into notifications once, deliver them with retries."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog
from prometheus_client import Counter, Gauge, Histogram
from whistle_common.consumer import Incoming
from whistle_common.dlq import enqueue_dlq

from .adapters.channels import Channel, DeliveryError, Message
from .domain.delivery import QuietHours, RetryPolicy, rate_limited
from .domain.rules import Target, targets
from .render import Renderer

log = structlog.get_logger(__name__)
SENT = Counter("whistle_notifications_total", "Notification attempts by outcome",
               ["channel", "outcome"])
LATENCY = Histogram("whistle_notification_delivery_seconds", "Event to delivery", ["channel"],
                    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 28800))
PENDING_RETRIES = Gauge("whistle_notifications_pending_retries",
                        "Notifications waiting for another attempt")
for _channel in ("sms", "webhook", "email", "inbox"):
    for _outcome in ("sent", "failed", "dead", "rate_limited"):
        SENT.labels(_channel, _outcome)
CLAIMABLE = "status IN ('pending','deferred') OR (status='sending' AND lease_until < $1)"


@dataclass
class Context:
    renderer: Renderer
    channels: dict[str, Channel]
    policy: RetryPolicy
    webhooks: dict[str, str]
    emails: dict[str, str]
    rate_limit: int = 5
    rate_window: timedelta = timedelta(minutes=10)


# -- events → notifications ----------------------------------------------------------------------

async def on_event(ctx: Context, conn: asyncpg.Connection, msg: Incoming) -> None:
    """Create the notifications an event calls for (unique per event, recipient, channel)."""
    env, data = msg.envelope, msg.envelope.data
    if env.type == "case.created.v1" and (data.get("reporter") or {}).get("phone"):
        await conn.execute(
            "INSERT INTO contacts(recipient, phone) VALUES ($1,$2) ON CONFLICT (recipient) "
            "DO UPDATE SET phone=EXCLUDED.phone, updated_at=now()",
            f"resident:{data['incident_id']}", data["reporter"]["phone"])
    for target in targets(env.type, data):
        await _create(ctx, conn, env.id, env.type, target, data, body=None)


async def on_request(ctx: Context, conn: asyncpg.Connection, msg: Incoming) -> None:
    """notification.requested.v1: a message someone asked us to send as is."""
    data = msg.envelope.data
    target = Target(str(data["recipient"]), str(data.get("channel", "inbox")),
                    data.get("template") or "", bool(data.get("urgent")), None)
    await _create(ctx, conn, msg.envelope.id, msg.envelope.type, target,
                  data.get("context") or {}, body=data.get("text"))


async def _create(ctx: Context, conn, event_id: str, event_type: str, target: Target,
                  data: dict, *, body: str | None) -> None:
    if target.channel not in ctx.channels:
        return
    if target.channel == "webhook" and target.recipient.split(":", 1)[1] not in ctx.webhooks:
        return  # the department has no endpoint: the inbox copy is its notification
    pref = await conn.fetchrow("SELECT * FROM preferences WHERE recipient=$1", target.recipient)
    if pref and pref["channels"] is not None and target.channel not in pref["channels"]:
        return
    now = datetime.now(UTC)
    due, status = now, "pending"
    if pref and pref["quiet_start"] and not target.urgent and \
            target.recipient.startswith("resident:"):
        release = QuietHours(pref["quiet_start"], pref["quiet_end"]).release_at(now)
        if release is not None:
            due, status = release, "deferred"
    await conn.execute(
        """INSERT INTO notifications(id, event_id, event_type, recipient, channel, template,
               context, body, urgent, digest_key, status, next_attempt_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
           ON CONFLICT (event_id, recipient, channel) DO NOTHING""",
        uuid.uuid4(), event_id, event_type, target.recipient, target.channel, target.template,
        json.dumps(data, ensure_ascii=False), body, target.urgent,
        f"{target.digest_key}:{target.channel}" if target.digest_key else None, status, due)


# -- delivery ------------------------------------------------------------------------------------

async def deliver_due(ctx: Context, pool: asyncpg.Pool, limit: int = 20) -> int:
    """Claim due notifications (leased, so two workers never take the same) and send them."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"""UPDATE notifications SET status='sending', lease_until=$1 + interval '60 s'
                WHERE id IN (SELECT id FROM notifications
                             WHERE ({CLAIMABLE}) AND next_attempt_at <= $1
                             ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                RETURNING *""", now, limit)
        PENDING_RETRIES.set(await conn.fetchval(
            "SELECT count(*) FROM notifications WHERE status='pending' AND attempts > 0"))
    for row in rows:
        await _deliver(ctx, pool, row)
    return len(rows)


async def _deliver(ctx: Context, pool: asyncpg.Pool, row: asyncpg.Record) -> None:
    async with pool.acquire() as conn:
        # the limit protects phones; department systems and inboxes take every message
        if row["channel"] == "sms" and not row["urgent"] and await _over_limit(ctx, conn, row):
            await conn.execute("UPDATE notifications SET status='pending', next_attempt_at=$2 "
                               "WHERE id=$1", row["id"], datetime.now(UTC) + ctx.rate_window / 4)
            SENT.labels(row["channel"], "rate_limited").inc()
            return
        items = await _digest_items(conn, row) if row["digest_key"] else None
        address = await _address(ctx, conn, row["recipient"], row["channel"])
    data = json.loads(row["context"])
    subject, body = (row["body"][:30], row["body"]) if row["body"] else \
        ctx.renderer.render(row["template"], data, items)
    start = datetime.now(UTC)
    try:
        await ctx.channels[row["channel"]].send(
            Message(str(row["id"]), row["recipient"], subject, body, address))
        error = None
    except DeliveryError as exc:
        error = exc
    seconds = (datetime.now(UTC) - start).total_seconds()
    async with pool.acquire() as conn, conn.transaction():
        await _record(ctx, conn, row, body, error, seconds, items)


async def _over_limit(ctx: Context, conn, row) -> bool:
    sent = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE recipient=$1 AND channel=$2 AND status='sent' "
        "AND sent_at > $3", row["recipient"], row["channel"], datetime.now(UTC) - ctx.rate_window)
    return rate_limited(sent, ctx.rate_limit)


async def _digest_items(conn, row) -> list[dict]:
    """Pending messages of the same digest join this one (one reminder listing them all)."""
    others = await conn.fetch(
        """UPDATE notifications SET status='digested', sent_at=now()
           WHERE digest_key=$1 AND id<>$2 AND status IN ('pending','deferred')
           RETURNING context""", row["digest_key"], row["id"])
    return [json.loads(row["context"])] + [json.loads(o["context"]) for o in others]


async def _address(ctx: Context, conn, recipient: str, channel: str) -> str | None:
    if channel == "webhook":
        return ctx.webhooks.get(recipient.split(":", 1)[1])
    contact = await conn.fetchrow("SELECT phone, email FROM contacts WHERE recipient=$1",
                                  recipient)
    if channel == "sms":
        return contact["phone"] if contact else None
    if channel == "email":
        return ctx.emails.get(recipient) or (contact["email"] if contact else None)
    return None


async def _record(ctx: Context, conn, row, body: str, error: DeliveryError | None,
                  seconds: float, items) -> None:
    attempts = row["attempts"] + 1
    outcome = "sent" if error is None else "failed"
    await conn.execute("INSERT INTO delivery_attempts(notification_id, outcome, error, seconds) "
                       "VALUES ($1,$2,$3,$4)", row["id"], outcome,
                       error.reason if error else None, seconds)
    if error is None:
        await conn.execute("UPDATE notifications SET status='sent', attempts=$2, body=$3, "
                           "sent_at=now(), lease_until=NULL WHERE id=$1", row["id"], attempts,
                           body)
        SENT.labels(row["channel"], "sent").inc()
        LATENCY.labels(row["channel"]).observe(
            (datetime.now(UTC) - row["created_at"]).total_seconds())
        return
    delay = None if error.permanent else ctx.policy.next_delay(attempts)
    if delay is None:
        await conn.execute("UPDATE notifications SET status='dead', attempts=$2, body=$3, "
                           "last_error=$4, lease_until=NULL WHERE id=$1", row["id"], attempts,
                           body, error.reason)
        SENT.labels(row["channel"], "dead").inc()
        value = json.dumps({"id": str(row["id"]), "recipient": row["recipient"],
                            "channel": row["channel"], "event_id": row["event_id"],
                            "event_type": row["event_type"]}).encode()
        await enqueue_dlq(conn, topic="notifications", key=row["recipient"].encode(),
                          value=value, reason=error.reason, category="delivery-failed",
                          dead_letter_id=f"dead:{row['id']}")
        return
    await conn.execute(
        "UPDATE notifications SET status='pending', attempts=$2, last_error=$3, "
        "next_attempt_at=now() + make_interval(secs => $4), lease_until=NULL WHERE id=$1",
        row["id"], attempts, error.reason, delay)
    SENT.labels(row["channel"], "failed").inc()
    log.info("delivery failed, will retry", notification=str(row["id"]),
             channel=row["channel"], attempts=attempts, retry_in=round(delay, 2))


# -- reads and preferences -----------------------------------------------------------------------

async def list_for(conn, recipient: str, limit: int) -> list[dict]:
    rows = await conn.fetch(
        "SELECT id, event_type, recipient, channel, status, body, attempts, created_at, sent_at "
        "FROM notifications WHERE recipient=$1 ORDER BY created_at DESC LIMIT $2",
        recipient, limit)
    return [{**dict(r), "id": str(r["id"])} for r in rows]


async def get_one(conn, notification_id: str) -> dict | None:
    try:
        key = uuid.UUID(notification_id)
    except ValueError:
        return None
    row = await conn.fetchrow("SELECT * FROM notifications WHERE id=$1", key)
    if row is None:
        return None
    attempts = await conn.fetch("SELECT at, outcome, error, seconds FROM delivery_attempts "
                                "WHERE notification_id=$1 ORDER BY id", key)
    view = {k: row[k] for k in ("event_id", "event_type", "recipient", "channel", "status",
                                "body", "attempts", "next_attempt_at", "last_error",
                                "created_at", "sent_at", "urgent")}
    return {"id": notification_id, **view, "delivery_attempts": [dict(a) for a in attempts]}


async def set_preferences(conn, recipient: str, body: dict[str, Any]) -> dict:
    quiet = body.get("quiet_hours") or {}
    start = quiet.get("start")
    end = quiet.get("end")
    await conn.execute(
        """INSERT INTO preferences(recipient, channels, quiet_start, quiet_end)
           VALUES ($1,$2,$3::time,$4::time) ON CONFLICT (recipient) DO UPDATE SET
           channels=EXCLUDED.channels, quiet_start=EXCLUDED.quiet_start,
           quiet_end=EXCLUDED.quiet_end, updated_at=now()""",
        recipient, body.get("channels"), _time(start), _time(end))
    if body.get("phone") or body.get("email"):
        await conn.execute(
            """INSERT INTO contacts(recipient, phone, email) VALUES ($1,$2,$3)
               ON CONFLICT (recipient) DO UPDATE SET phone=COALESCE(EXCLUDED.phone, contacts.phone),
               email=COALESCE(EXCLUDED.email, contacts.email), updated_at=now()""",
            recipient, body.get("phone"), body.get("email"))
    return {"recipient": recipient, "channels": body.get("channels"),
            "quiet_hours": {"start": start, "end": end} if start else None}


def _time(text: str | None):
    from datetime import time

    return time.fromisoformat(text) if text else None
