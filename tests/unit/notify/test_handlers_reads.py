"""Reads and preferences on the in-memory unit of work: the inbox, one notification with its
attempts (or NotFound), and preferences with contact details."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import time

import pytest
from whistle_common.problems import ProblemError
from whistle_common.usecase import NotFound, run_use_case
from whistle_notify import handlers
from whistle_notify.adapters.channels import DeliveryError

from .support import CASE, consume, deliver, event, rows, set_prefs


async def test_preferences_are_stored_and_answered(uow):
    answer = await set_prefs(uow, "resident:i-1", channels=["sms"], phone="137001",
                             quiet_hours={"start": "22:00", "end": "07:00"})
    assert answer == {"recipient": "resident:i-1", "channels": ["sms"],
                      "quiet_hours": {"start": "22:00", "end": "07:00"}}
    assert uow.preferences.rows["resident:i-1"] == {
        "channels": ["sms"], "quiet_start": time(22), "quiet_end": time(7)}
    assert uow.contacts.rows["resident:i-1"] == {"phone": "137001", "email": None}


async def test_new_preferences_replace_the_old_and_an_e_mail_keeps_the_phone(uow):
    await set_prefs(uow, "resident:i-1", channels=["sms"], phone="137001",
                    quiet_hours={"start": "22:00", "end": "07:00"})
    answer = await set_prefs(uow, "resident:i-1", email="a@example.cn")
    assert answer == {"recipient": "resident:i-1", "channels": None, "quiet_hours": None}
    assert uow.preferences.rows["resident:i-1"] == {
        "channels": None, "quiet_start": None, "quiet_end": None}
    assert uow.contacts.rows["resident:i-1"] == {"phone": "137001", "email": "a@example.cn"}


async def test_preferences_without_contact_details_store_no_contact(uow):
    await set_prefs(uow, "dept:gongan", channels=["inbox"])
    assert uow.contacts.rows == {} and "dept:gongan" in uow.preferences.rows


async def test_the_inbox_lists_a_recipients_notifications_newest_first(ctx, uow, clock):
    no_hooks = replace(ctx, webhooks={})
    for dept in ("gongan", "chengguan", "gongan", "gongan"):
        await consume(no_hooks, uow, event("case.reopened.v1", {**CASE, "dept": dept}))
        clock.advance(minutes=1)
    listed = await run_use_case(lambda: uow, handlers.list_for,
                                handlers.ListNotifications("dept:gongan", 2))
    newest = rows(uow, recipient="dept:gongan")[::-1][:2]
    assert [n["id"] for n in listed] == [str(r["id"]) for r in newest]
    assert set(listed[0]) == {"id", "event_type", "recipient", "channel", "status", "body",
                              "attempts", "created_at", "sent_at"}


async def test_one_notification_comes_with_every_attempt(ctx, uow, channels, clock):
    channels["sms"].failures.append(DeliveryError("HTTP 503"))
    await consume(ctx, uow, event("case.created.v1", {**CASE, "reporter": {"phone": "137"}}))
    [row] = rows(uow)
    await deliver(ctx, uow)
    clock.advance(seconds=5)
    await deliver(ctx, uow)
    found = await run_use_case(lambda: uow, handlers.get_one, str(row["id"]))
    assert set(found) == {"id", "event_id", "event_type", "recipient", "channel", "status",
                          "body", "attempts", "next_attempt_at", "last_error", "created_at",
                          "sent_at", "urgent", "delivery_attempts"}
    assert (found["id"], found["status"], found["attempts"]) == (str(row["id"]), "sent", 2)
    assert [(a["outcome"], a["error"]) for a in found["delivery_attempts"]] == [
        ("failed", "HTTP 503"), ("sent", None)]


@pytest.mark.parametrize("notification_id", [str(uuid.UUID(int=7)), "not-a-uuid"])
async def test_an_unknown_notification_is_not_found(uow, notification_id):
    with pytest.raises(NotFound):
        await handlers.get_one(uow, notification_id)
    with pytest.raises(ProblemError) as raised:
        await run_use_case(lambda: uow, handlers.get_one, notification_id)
    assert (raised.value.status, raised.value.slug) == (404, "not-found")
    assert raised.value.detail == f"no notification {notification_id}"


async def test_a_database_outage_is_a_503_with_retry_after(uow, monkeypatch):
    async def unreachable(*_):
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    monkeypatch.setattr(uow.notifications, "list_for", unreachable)
    with pytest.raises(ProblemError) as raised:
        await run_use_case(lambda: uow, handlers.list_for,
                           handlers.ListNotifications("dept:gongan", 5))
    assert raised.value.status == 503 and raised.value.headers == {"Retry-After": "5"}
