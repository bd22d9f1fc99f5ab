"""The sender on the in-memory unit of work: claim with a lease, prepare (rate limit, digest,
address), send over a fake channel outside any unit, record sent / retry later / dead."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from functools import partial

import pytest
from prometheus_client import REGISTRY
from whistle_common.usecase import run_use_case
from whistle_notify import handlers
from whistle_notify.adapters.channels import DeliveryError

from .fakes import FakeChannel
from .support import CASE, NOW, consume, deliver, event, rows, set_prefs


async def resident_sms(ctx, uow) -> dict:
    """A case.created notification: one SMS to the resident, whose phone is known."""
    await consume(ctx, uow, event("case.created.v1", {**CASE, "reporter": {"phone": "137001"}}))
    [row] = rows(uow)
    return row


def stored(uow, row) -> dict:
    return uow.notifications.rows[row["id"]]


def outcomes(uow, row) -> list[str]:
    return [a["outcome"] for a in uow.notifications.attempts_of.get(row["id"], [])]


async def test_a_delivered_message_is_rendered_addressed_and_recorded_once(ctx, uow, channels):
    row = await resident_sms(ctx, uow)
    assert await deliver(ctx, uow) == 1
    [sms] = channels["sms"].sent
    assert (sms.notification_id, sms.recipient, sms.address) == (str(row["id"]), "resident:i-1",
                                                                 "137001")
    assert "已受理" in sms.body and CASE["tracking_no"] in sms.body
    after = stored(uow, row)
    assert (after["status"], after["attempts"], after["sent_at"], after["body"],
            after["lease_until"]) == ("sent", 1, NOW, sms.body, None)
    assert outcomes(uow, row) == ["sent"]
    assert await deliver(ctx, uow) == 0 and len(channels["sms"].sent) == 1
    assert uow.outbox.dead == []


async def test_webhooks_and_e_mails_are_addressed_from_the_settings(ctx, uow, channels):
    await consume(ctx, uow, event("case.escalated.v1", {**CASE, "dept": "gongan",
                                                        "level": "street"}))
    await consume(ctx, uow, event("case.reopened.v1", {**CASE, "dept": "gongan"}))
    await deliver(ctx, uow)
    assert [m.address for m in channels["email"].sent] == ["jiedao@wenchang.example.cn"]
    assert [m.address for m in channels["webhook"].sent] == ["http://hooks.example/gongan"]
    assert [m.address for m in channels["inbox"].sent] == [None, None]


async def test_an_e_mail_not_in_the_settings_goes_to_the_stored_contact(ctx, uow, channels):
    await set_prefs(uow, "district:120119", email="qu@example.cn")
    await consume(ctx, uow, event("case.escalated.v1", {**CASE, "dept": "gongan",
                                                        "level": "district"}))
    await deliver(ctx, uow)
    assert [m.address for m in channels["email"].sent] == ["qu@example.cn"]


async def test_a_transient_failure_waits_for_a_backoff_then_sends_once(ctx, uow, channels,
                                                                         clock):
    channels["sms"].failures.append(DeliveryError("HTTP 503"))
    row = await resident_sms(ctx, uow)
    assert await deliver(ctx, uow) == 1
    after = stored(uow, row)
    assert (after["status"], after["attempts"], after["last_error"],
            after["lease_until"]) == ("pending", 1, "HTTP 503", None)
    # 2 s for a first retry, with ±50 % jitter
    assert NOW + timedelta(seconds=1) <= after["next_attempt_at"] <= NOW + timedelta(seconds=3)
    assert await deliver(ctx, uow) == 0  # not before its time
    assert REGISTRY.get_sample_value("whistle_notifications_pending_retries") == 1
    clock.now = after["next_attempt_at"]
    assert await deliver(ctx, uow) == 1
    assert stored(uow, row)["status"] == "sent" and stored(uow, row)["attempts"] == 2
    assert outcomes(uow, row) == ["failed", "sent"] and len(channels["sms"].sent) == 1
    assert uow.outbox.dead == []


async def test_a_permanent_failure_is_dead_at_once_and_dead_lettered(ctx, uow, channels):
    channels["sms"].failures.append(DeliveryError("HTTP 400", permanent=True))
    row = await resident_sms(ctx, uow)
    await deliver(ctx, uow)
    after = stored(uow, row)
    assert (after["status"], after["attempts"], after["last_error"]) == ("dead", 1, "HTTP 400")
    [dead] = uow.outbox.dead
    assert (dead.topic, dead.key, dead.reason, dead.category, dead.dead_letter_id) == (
        "notifications", b"resident:i-1", "HTTP 400", "delivery-failed", f"dead:{row['id']}")
    assert json.loads(dead.value) == {"id": str(row["id"]), "recipient": "resident:i-1",
                                      "channel": "sms", "event_id": row["event_id"],
                                      "event_type": "case.created.v1"}
    assert await deliver(ctx, uow) == 0  # dead stays dead


async def test_exhausted_attempts_are_dead_and_dead_lettered_once(ctx, uow, channels, clock):
    channels["sms"].failures += [DeliveryError("HTTP 503")] * 3  # max_attempts is 3
    row = await resident_sms(ctx, uow)
    for _ in range(3):
        assert await deliver(ctx, uow) == 1
        clock.advance(seconds=10)
    assert stored(uow, row)["status"] == "dead" and stored(uow, row)["attempts"] == 3
    assert outcomes(uow, row) == ["failed"] * 3 and channels["sms"].sent == []
    assert [d.reason for d in uow.outbox.dead] == ["HTTP 503"]


async def test_non_urgent_sms_over_the_rate_limit_wait_and_urgent_ones_go(ctx, uow, channels,
                                                                          clock):
    await set_prefs(uow, "volunteer:v9", channels=["sms"], phone="137009")
    for points in (1, 2, 3):
        await consume(ctx, uow, event("points.awarded.v1", {"volunteer_id": "v9",
                                                            "points": points, "hours": 1},
                                      topic="points.events"))
    clock.advance(seconds=1)  # the urgent one is due last
    await consume(ctx, uow, event("notification.requested.v1", {
        "recipient": "volunteer:v9", "channel": "sms", "text": "紧急集合", "urgent": True},
        topic="notifications.requests"), handlers.on_request)
    assert await deliver(ctx, uow) == 4
    assert len(channels["sms"].sent) == 3 and channels["sms"].sent[-1].body == "紧急集合"
    [waiting] = rows(uow, status="pending")
    assert waiting["attempts"] == 0 and waiting["context"]["points"] == 3
    assert waiting["next_attempt_at"] == clock.now + timedelta(minutes=10) / 4
    clock.now = waiting["next_attempt_at"]
    assert await deliver(ctx, uow) == 1 and len(channels["sms"].sent) == 3  # still too many
    clock.now = NOW + timedelta(minutes=10, seconds=2)  # the window has moved on
    assert await deliver(ctx, uow) == 1 and len(channels["sms"].sent) == 4


async def test_waiting_reminders_of_a_digest_go_out_as_one_message(ctx, uow, channels, clock):
    no_hooks = replace(ctx, webhooks={})
    for tracking_no in ("WS-A", "WS-B"):
        await consume(no_hooks, uow, event("case.overdue.v1", {
            **CASE, "tracking_no": tracking_no, "dept": "gongan", "deadline": "ack",
            "due": "2026-11-25T01:00:00+00:00"}))
        clock.advance(seconds=1)
    first, second = rows(uow)
    assert first["digest_key"] == second["digest_key"] == "dept:gongan:department_overdue:inbox"
    assert await deliver(no_hooks, uow, limit=1) == 1
    [message] = channels["inbox"].sent
    assert "2件" in message.body and "WS-A" in message.body and "WS-B" in message.body
    assert stored(uow, first)["status"] == "sent"
    assert stored(uow, second)["status"] == "digested"
    assert stored(uow, second)["sent_at"] == clock.now
    assert await deliver(no_hooks, uow) == 0


async def test_a_claimed_notification_is_not_claimed_again_until_its_lease_ends(ctx, uow,
                                                                                clock):
    await resident_sms(ctx, uow)
    await consume(ctx, uow, event("case.reopened.v1", {**CASE, "dept": "chengguan"}))
    claim = partial(handlers.claim_due, ctx)
    [first] = await run_use_case(lambda: uow, claim, handlers.ClaimDue(limit=1))
    assert first["status"] == "sending" and first["lease_until"] == NOW + handlers.LEASE
    [second] = await run_use_case(lambda: uow, claim, handlers.ClaimDue())
    assert second["id"] != first["id"]
    clock.advance(seconds=59)
    assert await run_use_case(lambda: uow, claim, handlers.ClaimDue()) == []
    clock.advance(seconds=2)  # the worker holding them died: its leases ran out
    assert {r["id"] for r in await run_use_case(lambda: uow, claim, handlers.ClaimDue())} == {
        first["id"], second["id"]}


class Broken(FakeChannel):
    async def send(self, message) -> None:
        raise RuntimeError("a bug in the channel")


async def test_a_sender_that_fails_between_claim_and_record_loses_nothing(ctx, uow, clock):
    row = await resident_sms(ctx, uow)
    with pytest.raises(RuntimeError):
        await deliver(replace(ctx, channels={**ctx.channels, "sms": Broken("sms")}), uow)
    assert stored(uow, row)["status"] == "sending" and outcomes(uow, row) == []
    assert await deliver(ctx, uow) == 0  # still leased
    clock.advance(seconds=61)
    assert await deliver(ctx, uow) == 1 and stored(uow, row)["status"] == "sent"


async def test_a_round_is_three_units_of_work_however_many_it_delivers(ctx, uow, channels):
    for n in range(5):
        await consume(ctx, uow, event("case.created.v1", {
            **CASE, "case_id": f"c-{n}", "incident_id": f"i-{n}",
            "reporter": {"phone": f"13700{n}"}}))
    before, writes = uow.commits, uow.notifications.statements
    assert await deliver(ctx, uow) == 5
    assert len(channels["sms"].sent) == 5 and not rows(uow, status="pending")
    assert uow.commits - before == 3  # claim, prepare all, record all
    # the record: five attempts inserted in one statement, five marked sent in another
    assert uow.notifications.statements - writes == 2
    assert all(outcomes(uow, row) == ["sent"] for row in rows(uow))


async def test_a_round_records_deliveries_and_failures_each_as_they_went(ctx, uow):
    for n in range(3):
        await consume(ctx, uow, event("case.created.v1", {
            **CASE, "case_id": f"c-{n}", "incident_id": f"i-{n}",
            "reporter": {"phone": f"13700{n}"}}))
    mixed = replace(ctx, channels={**ctx.channels, "sms": TakeTurns(
        "sms", DeliveryError("HTTP 503"), None, DeliveryError("HTTP 400", permanent=True))})
    assert await deliver(mixed, uow) == 3
    statuses = sorted((stored(uow, r)["status"], outcomes(uow, r)) for r in rows(uow))
    assert statuses == [("dead", ["failed"]), ("pending", ["failed"]), ("sent", ["sent"])]
    assert len(uow.outbox.dead) == 1


class TakeTurns(FakeChannel):
    """Fails or delivers in the order given (None: delivers)."""

    def __init__(self, name: str, *turns: DeliveryError | None) -> None:
        super().__init__(name)
        self.turns = list(turns)

    async def send(self, message):
        turn = self.turns.pop(0) if self.turns else None
        if turn is not None:
            raise turn
        self.sent.append(message)


class BrokenChannel(FakeChannel):
    """Sends once, then fails with an error no channel should raise."""

    async def send(self, message):
        if self.sent:
            raise RuntimeError("a bug in the channel")
        self.sent.append(message)


async def test_what_was_sent_is_recorded_when_a_later_send_blows_up(ctx, uow):
    broken = replace(ctx, channels={**ctx.channels, "sms": BrokenChannel("sms")})
    for n in range(2):
        await consume(broken, uow, event("case.created.v1", {
            **CASE, "case_id": f"c-{n}", "incident_id": f"i-{n}",
            "reporter": {"phone": f"13700{n}"}}))
    with pytest.raises(RuntimeError):
        await deliver(broken, uow)
    [sent] = rows(uow, status="sent")
    assert outcomes(uow, sent) == ["sent"]  # not sent again when the lease runs out
    [leased] = [r for r in rows(uow) if r["status"] != "sent"]
    assert outcomes(uow, leased) == []
