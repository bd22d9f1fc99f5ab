"""Notify's unit of work in memory: the same repository methods over dicts, plus channels
that keep what they were given instead of sending it."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from typing import Any

from whistle_common.uow import FakeUnitOfWork
from whistle_notify.adapters.channels import DeliveryError, Message
from whistle_notify.domain.delivery import Attempt, Sent

LISTED = ("id", "event_type", "recipient", "channel", "status", "body", "attempts",
          "created_at", "sent_at")


class FakeNotifications:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, dict[str, Any]] = {}
        self.attempts_of: dict[uuid.UUID, list[dict[str, Any]]] = {}
        self.statements = 0  # writes of attempts and deliveries, each one statement

    async def add(self, row: dict[str, Any]) -> bool:
        key = (row["event_id"], row["recipient"], row["channel"])
        if any((r["event_id"], r["recipient"], r["channel"]) == key for r in self.rows.values()):
            return False
        self.rows[row["id"]] = {**copy.deepcopy(row), "attempts": 0, "lease_until": None,
                                "last_error": None, "sent_at": None}
        return True

    async def add_many(self, rows: list[dict[str, Any]]) -> int:
        return sum([await self.add(row) for row in rows])

    async def claim_due(self, now: datetime, lease_until: datetime,
                        limit: int) -> list[dict[str, Any]]:
        due = sorted((r for r in self.rows.values() if r["next_attempt_at"] <= now and (
            r["status"] in ("pending", "deferred")
            or (r["status"] == "sending" and r["lease_until"] < now))),
            key=lambda r: r["next_attempt_at"])[:limit]
        for row in due:
            row.update(status="sending", lease_until=lease_until)
        return copy.deepcopy(due)

    async def next_due(self) -> datetime | None:
        times = [r["lease_until"] if r["status"] == "sending" else r["next_attempt_at"]
                 for r in self.rows.values() if r["status"] in ("pending", "deferred", "sending")]
        return min(times, default=None)

    async def pending_retries(self) -> int:
        return sum(r["status"] == "pending" and r["attempts"] > 0 for r in self.rows.values())

    async def sent_since(self, recipient: str, channel: str, since: datetime) -> int:
        return sum((r["recipient"], r["channel"], r["status"]) == (recipient, channel, "sent")
                   and r["sent_at"] > since for r in self.rows.values())

    async def postpone(self, notification_id: uuid.UUID, until: datetime) -> None:
        self.rows[notification_id].update(status="pending", next_attempt_at=until)

    async def absorb_digest(self, digest_key: str, into: uuid.UUID,
                            at: datetime) -> list[dict[str, Any]]:
        joined = [r for r in self.rows.values() if r["digest_key"] == digest_key
                  and r["id"] != into and r["status"] in ("pending", "deferred")]
        for row in joined:
            row.update(status="digested", sent_at=at)
        return [copy.deepcopy(r["context"]) for r in joined]

    async def add_attempts(self, attempts: list[Attempt]) -> None:
        self.statements += 1 if attempts else 0
        for a in attempts:
            self.attempts_of.setdefault(a.notification_id, []).append(
                {"at": a.at, "outcome": a.outcome, "error": a.error, "seconds": a.seconds})

    async def mark_sent(self, sent: list[Sent]) -> None:
        self.statements += 1 if sent else 0
        for s in sent:
            self.rows[s.notification_id].update(status="sent", attempts=s.attempts, body=s.body,
                                                sent_at=s.at, lease_until=None)

    async def mark_dead(self, notification_id: uuid.UUID, *, attempts: int, body: str,
                        error: str) -> None:
        self.rows[notification_id].update(status="dead", attempts=attempts, body=body,
                                          last_error=error, lease_until=None)

    async def retry_at(self, notification_id: uuid.UUID, *, attempts: int, error: str,
                       at: datetime) -> None:
        self.rows[notification_id].update(status="pending", attempts=attempts,
                                          last_error=error, next_attempt_at=at,
                                          lease_until=None)

    async def list_for(self, recipient: str, limit: int) -> list[dict[str, Any]]:
        mine = sorted((r for r in self.rows.values() if r["recipient"] == recipient),
                      key=lambda r: r["created_at"], reverse=True)[:limit]
        return [{k: r[k] for k in LISTED} for r in mine]

    async def get(self, notification_id: str) -> dict[str, Any] | None:
        try:
            return copy.deepcopy(self.rows.get(uuid.UUID(notification_id)))
        except ValueError:
            return None

    async def attempts(self, notification_id: uuid.UUID) -> list[dict[str, Any]]:
        return copy.deepcopy(self.attempts_of.get(notification_id, []))


class FakePreferences:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def get(self, recipient: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.rows.get(recipient))

    async def get_many(self, recipients: list[str]) -> dict[str, dict[str, Any]]:
        return {r: copy.deepcopy(self.rows[r]) for r in recipients if r in self.rows}

    async def put(self, recipient: str, *, channels, quiet_start, quiet_end) -> None:
        self.rows[recipient] = {"channels": copy.copy(channels), "quiet_start": quiet_start,
                                "quiet_end": quiet_end}


class FakeContacts:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def get(self, recipient: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.rows.get(recipient))

    async def save(self, recipient: str, *, phone: str | None = None,
                   email: str | None = None) -> None:
        stored = self.rows.setdefault(recipient, {"phone": None, "email": None})
        stored.update(phone=stored["phone"] if phone is None else phone,
                      email=stored["email"] if email is None else email)


class FakeNotifyUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.notifications = FakeNotifications()
        self.preferences = FakePreferences()
        self.contacts = FakeContacts()
        self._saved: tuple = ()

    def _state(self) -> tuple:
        n = self.notifications
        return n.rows, n.attempts_of, self.preferences.rows, self.contacts.rows

    def checkpoint(self) -> None:
        self._saved = copy.deepcopy(self._state())

    def restore(self) -> None:
        n = self.notifications
        n.rows, n.attempts_of, self.preferences.rows, self.contacts.rows = \
            copy.deepcopy(self._saved)


class FakeChannel:
    """A channel that keeps what it is given; queued failures are raised one per send."""

    def __init__(self, name: str, *failures: DeliveryError) -> None:
        self.name = name
        self.sent: list[Message] = []
        self.failures = list(failures)

    async def send(self, message: Message) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
