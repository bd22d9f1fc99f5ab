"""Use cases of notify: turn events into notifications once, deliver them with retries.

Delivering one notification takes three units of work — claim it (leased), prepare its message
(rate limit, digest, address), record the attempt — with the channel's network call in between,
outside any transaction; `deliver_due` composes them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter, Gauge, Histogram
from whistle_common.consumer import Incoming
from whistle_common.envelope import Envelope
from whistle_common.usecase import NotFound, run_use_case

from .adapters.channels import Channel, DeliveryError, Message
from .domain.delivery import Attempt, QuietHours, RetryPolicy, Sent, rate_limited
from .domain.rules import Target, targets
from .render import Renderer
from .schemas import PreferencesIn

if TYPE_CHECKING:  # handlers see a unit's interface; which adapter it is, main.py decides
    from .adapters.uow import PgNotifyUnitOfWork as UnitOfWork

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
LEASE = timedelta(seconds=60)  # a worker that dies holding a claim loses it after this
# the longest an idle sender sleeps: a safety net for notifications another worker's
# consumer committed (each worker is woken by its own consumers' commits)
IDLE_WAIT = 30.0
VIEW = ("event_id", "event_type", "recipient", "channel", "status", "body", "attempts",
        "next_attempt_at", "last_error", "created_at", "sent_at", "urgent")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    """What the use cases need besides a unit of work: templates, channels and policies."""

    renderer: Renderer
    channels: Mapping[str, Channel]
    policy: RetryPolicy
    webhooks: Mapping[str, str]  # department code → endpoint
    emails: Mapping[str, str]    # recipient → address, before the contacts table
    rate_limit: int = 5
    rate_window: timedelta = timedelta(minutes=10)
    clock: Callable[[], datetime] = _utcnow


# -- events → notifications ----------------------------------------------------------------------

async def on_event(ctx: Context, uow: UnitOfWork, msg: Incoming) -> None:
    """Create the notifications an event calls for (once per event, recipient and channel);
    a new case leaves the resident's phone for the SMS to come."""
    env, data = msg.envelope, msg.envelope.data
    if env.type in ("case.created.v1", "case.merged.v1") and \
            (phone := (data.get("reporter") or {}).get("phone")):
        caller = data.get("merged_incident_id") or data["incident_id"]
        await uow.contacts.save(f"resident:{caller}", phone=phone)
    await _create(ctx, uow, env, targets(env.type, data), data, body=None)


async def on_request(ctx: Context, uow: UnitOfWork, msg: Incoming) -> None:
    """notification.requested.v1: a message someone asked us to send as is."""
    data = msg.envelope.data
    target = Target(str(data["recipient"]), str(data.get("channel", "inbox")),
                    data.get("template") or "", bool(data.get("urgent")), None)
    await _create(ctx, uow, msg.envelope, [target], data.get("context") or {},
                  body=data.get("text"))


async def _create(ctx: Context, uow: UnitOfWork, event: Envelope, wanted: list[Target],
                  data: dict, *, body: str | None) -> None:
    """One fan-out per event: the recipients' preferences in one read, every notification
    in one write."""
    reachable = [t for t in wanted if _reachable(ctx, t)]
    if not reachable:
        return
    prefs = await uow.preferences.get_many(sorted({t.recipient for t in reachable}))
    now = ctx.clock()
    rows = [row for t in reachable
            if (row := _notification(event, t, data, body, prefs.get(t.recipient), now))]
    await uow.notifications.add_many(rows)


def _reachable(ctx: Context, target: Target) -> bool:
    if target.channel not in ctx.channels:
        return False
    # a department without an endpoint: the inbox copy is its notification
    return target.channel != "webhook" or target.recipient.split(":", 1)[1] in ctx.webhooks


def _notification(event: Envelope, target: Target, data: dict, body: str | None,
                  pref: Mapping[str, Any] | None, now: datetime) -> dict | None:
    """The row to insert for one target, or None when its preferences refuse the channel."""
    if pref and pref["channels"] is not None and target.channel not in pref["channels"]:
        return None
    due, status = now, "pending"
    if pref and pref["quiet_start"] and not target.urgent and \
            target.recipient.startswith("resident:"):
        release = QuietHours(pref["quiet_start"], pref["quiet_end"]).release_at(now)
        if release is not None:
            due, status = release, "deferred"
    return {
        "id": uuid.uuid4(), "event_id": event.id, "event_type": event.type,
        "recipient": target.recipient, "channel": target.channel, "template": target.template,
        "context": data, "body": body, "urgent": target.urgent,
        "digest_key": f"{target.digest_key}:{target.channel}" if target.digest_key else None,
        "status": status, "next_attempt_at": due, "created_at": now}


# -- delivery ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClaimDue:
    """Lease at most `limit` due notifications."""

    limit: int = 20


@dataclass(frozen=True)
class Prepare:
    """A claimed notification (as claim_due returned it); `queued` counts the messages to
    the same recipient and channel prepared before it in the same round, not yet sent."""

    notification: Mapping[str, Any]
    queued: int = 0


@dataclass(frozen=True)
class PrepareAll:
    """The notifications of one claim, prepared in one unit of work."""

    notifications: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class RecordAttempt:
    """How sending a claimed notification went; `error` None when it was delivered."""

    notification: Mapping[str, Any]
    body: str
    error: DeliveryError | None
    seconds: float


@dataclass(frozen=True)
class RecordAttempts:
    """The attempts of one round, recorded in one unit of work."""

    attempts: Sequence[RecordAttempt]


async def claim_due(ctx: Context, uow: UnitOfWork, command: ClaimDue) -> list[dict]:
    """Lease due notifications to this worker, so two workers never take the same one."""
    now = ctx.clock()
    claimed = await uow.notifications.claim_due(now, now + LEASE, command.limit)
    if not claimed:  # refreshed when the sender runs out of work, not on every claim
        PENDING_RETRIES.set(await uow.notifications.pending_retries())
    return claimed


async def prepare(ctx: Context, uow: UnitOfWork, command: Prepare) -> Message | None:
    """The message to send for a claimed notification; None when it has to wait instead."""
    row, now = command.notification, ctx.clock()
    # the limit protects phones; department systems and inboxes take every message
    if row["channel"] == "sms" and not row["urgent"]:
        sent = await uow.notifications.sent_since(row["recipient"], row["channel"],
                                                  now - ctx.rate_window)
        if rate_limited(sent + command.queued, ctx.rate_limit):
            await uow.notifications.postpone(row["id"], now + ctx.rate_window / 4)
            SENT.labels(row["channel"], "rate_limited").inc()
            return None
    items = None
    if row["digest_key"]:  # the waiting messages of the digest join this one, listed in it
        items = [row["context"],
                 *await uow.notifications.absorb_digest(row["digest_key"], row["id"], now)]
    subject, body = (row["body"][:30], row["body"]) if row["body"] else \
        ctx.renderer.render(row["template"], row["context"], items)
    return Message(str(row["id"]), row["recipient"], subject, body,
                   await _address(ctx, uow, row["recipient"], row["channel"]))


async def prepare_all(ctx: Context, uow: UnitOfWork,
                      command: PrepareAll) -> list[Message | None]:
    """`prepare` for each notification of a claim, in one transaction instead of one each."""
    queued: dict[tuple[str, str], int] = {}
    messages = []
    for row in command.notifications:
        key = (row["recipient"], row["channel"])
        message = await prepare(ctx, uow, Prepare(row, queued.get(key, 0)))
        if message is not None:
            queued[key] = queued.get(key, 0) + 1
        messages.append(message)
    return messages


async def _address(ctx: Context, uow: UnitOfWork, recipient: str, channel: str) -> str | None:
    if channel == "webhook":
        return ctx.webhooks.get(recipient.split(":", 1)[1])
    if channel not in ("sms", "email"):
        return None
    contact = await uow.contacts.get(recipient) or {}
    if channel == "sms":
        return contact.get("phone")
    return ctx.emails.get(recipient) or contact.get("email")


async def record_attempts(ctx: Context, uow: UnitOfWork, command: RecordAttempts) -> list[str]:
    """Record the attempts of a round in one unit of work; the outcome of each, in order:
    sent, pending again after a backoff, or dead — dead-lettered to notifications.dlq through
    the outbox in this same unit.

    The deliveries, most of a round, take two statements however many there are (the
    attempts inserted, the notifications marked sent); a failure is recorded on its own.
    """
    now = ctx.clock()
    attempts = [Attempt(a.notification["id"], now, "sent" if a.error is None else "failed",
                        a.error.reason if a.error else None, a.seconds)
                for a in command.attempts]
    await uow.notifications.add_attempts(attempts)
    sent = [a for a in command.attempts if a.error is None]
    await uow.notifications.mark_sent([Sent(a.notification["id"], a.notification["attempts"] + 1,
                                            a.body, now) for a in sent])
    for attempt in sent:
        channel = attempt.notification["channel"]
        SENT.labels(channel, "sent").inc()
        LATENCY.labels(channel).observe((now - attempt.notification["created_at"])
                                        .total_seconds())
    return [("sent" if a.error is None else await _record_failure(ctx, uow, a, a.error, now))
            for a in command.attempts]


async def _record_failure(ctx: Context, uow: UnitOfWork, command: RecordAttempt,
                          error: DeliveryError, now: datetime) -> str:
    """A failed attempt: pending again after a backoff, or dead and dead-lettered."""
    row = command.notification
    attempts, channel = row["attempts"] + 1, row["channel"]
    delay = None if error.permanent else ctx.policy.next_delay(attempts)
    if delay is None:
        await uow.notifications.mark_dead(row["id"], attempts=attempts, body=command.body,
                                          error=error.reason)
        value = json.dumps({"id": str(row["id"]), "recipient": row["recipient"],
                            "channel": channel, "event_id": row["event_id"],
                            "event_type": row["event_type"]}).encode()
        await uow.outbox.dead_letter(topic="notifications", key=row["recipient"].encode(),
                                     value=value, reason=error.reason,
                                     category="delivery-failed",
                                     dead_letter_id=f"dead:{row['id']}")
        SENT.labels(channel, "dead").inc()
        return "dead"
    await uow.notifications.retry_at(row["id"], attempts=attempts, error=error.reason,
                                     at=now + timedelta(seconds=delay))
    SENT.labels(channel, "failed").inc()
    log.info("delivery failed, will retry", notification=str(row["id"]), channel=channel,
             attempts=attempts, retry_in=round(delay, 2))
    return "failed"


async def seconds_to_next_due(ctx: Context, uow: UnitOfWork, shortest: float) -> float:
    """How long an idle sender may sleep: until the next notification falls due (a retry,
    quiet hours, a lease running out), between `shortest` and IDLE_WAIT seconds."""
    due = await uow.notifications.next_due()
    if due is None:
        return max(shortest, IDLE_WAIT)
    return min(max(shortest, (due - ctx.clock()).total_seconds()), max(shortest, IDLE_WAIT))


async def deliver_due(ctx: Context, unit_of_work: Callable[[], UnitOfWork],
                      limit: int = 20) -> int:
    """Claim due notifications and deliver each; returns how many were claimed.

    No transaction is open while a channel talks to the network: a slow gateway holds a
    lease, not a connection. The claim, the preparation of what was claimed and the record of
    the attempts are one transaction each (three a round, not two a notification); what was
    sent is recorded even if a later send fails unexpectedly.
    """
    claimed = await run_use_case(unit_of_work, partial(claim_due, ctx), ClaimDue(limit))
    if not claimed:
        return 0
    messages = await run_use_case(unit_of_work, partial(prepare_all, ctx), PrepareAll(claimed))
    attempts: list[RecordAttempt] = []
    try:
        for row, message in zip(claimed, messages, strict=True):
            if message is None:
                continue
            error, seconds = await _send(ctx.channels[row["channel"]], message)
            attempts.append(RecordAttempt(row, message.body, error, seconds))
    finally:
        if attempts:
            await run_use_case(unit_of_work, partial(record_attempts, ctx),
                               RecordAttempts(attempts))
    return len(claimed)


async def _send(channel: Channel, message: Message) -> tuple[DeliveryError | None, float]:
    """Send once: the failure (if any) and how long it took."""
    start = perf_counter()
    try:
        await channel.send(message)
    except DeliveryError as exc:
        return exc, perf_counter() - start
    return None, perf_counter() - start


# -- reads and preferences -----------------------------------------------------------------------

@dataclass(frozen=True)
class ListNotifications:
    """A recipient's newest `limit` notifications."""

    recipient: str
    limit: int


@dataclass(frozen=True)
class SetPreferences:
    """A recipient's preferences as the API took them (they replace the stored ones)."""

    recipient: str
    preferences: PreferencesIn


async def list_for(uow: UnitOfWork, command: ListNotifications) -> list[dict]:
    """A recipient's notifications, newest first (the inbox)."""
    rows = await uow.notifications.list_for(command.recipient, command.limit)
    return [{**row, "id": str(row["id"])} for row in rows]


async def get_one(uow: UnitOfWork, notification_id: str) -> dict:
    """One notification with every delivery attempt."""
    row = await uow.notifications.get(notification_id)
    if row is None:
        raise NotFound(f"no notification {notification_id}")
    return {"id": notification_id, **{k: row[k] for k in VIEW},
            "delivery_attempts": await uow.notifications.attempts(row["id"])}


async def set_preferences(uow: UnitOfWork, command: SetPreferences) -> dict:
    """Store a recipient's channels and quiet hours, and its phone or e-mail if given."""
    prefs, recipient = command.preferences, command.recipient
    start, end = (prefs.quiet_hours.start, prefs.quiet_hours.end) if prefs.quiet_hours \
        else (None, None)
    await uow.preferences.put(recipient, channels=prefs.channels, quiet_start=_time(start),
                              quiet_end=_time(end))
    if prefs.phone or prefs.email:
        await uow.contacts.save(recipient, phone=prefs.phone, email=prefs.email)
    return {"recipient": recipient, "channels": prefs.channels,
            "quiet_hours": {"start": start, "end": end} if start else None}


def _time(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None
