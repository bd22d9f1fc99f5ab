"""A notification that dies is dead-lettered through the outbox, in the same unit of work that
marks it dead: no in-memory hand-off that a crash could lose."""

import json
import uuid

from whistle_common.topics import dlq_topic
from whistle_notify import handlers
from whistle_notify.adapters.channels import DeliveryError

from .support import NOW


async def claimed_sms(uow) -> dict:
    await uow.notifications.add({
        "id": uuid.uuid4(), "event_id": "e-1", "event_type": "case.dispatched.v1",
        "recipient": "resident:138", "channel": "sms", "template": "resident_dispatched",
        "context": {}, "body": None, "urgent": False, "digest_key": None,
        "status": "pending", "next_attempt_at": NOW, "created_at": NOW})
    [row] = await uow.notifications.claim_due(NOW, NOW + handlers.LEASE, 1)
    return row


def dead(row) -> handlers.RecordAttempt:
    return handlers.RecordAttempt(row, "正文", DeliveryError("no SMS gateway configured",
                                                           permanent=True), 0.01)


async def test_a_dead_notification_goes_to_the_outbox_with_its_reason(ctx, uow):
    row = await claimed_sms(uow)
    async with uow:
        assert await handlers.record_attempts(
            ctx, uow, handlers.RecordAttempts([dead(row)])) == ["dead"]
        assert uow.notifications.rows[row["id"]]["status"] == "dead"
        await uow.commit()
    [letter] = uow.outbox.dead
    assert dlq_topic(letter.topic) == "notifications.dlq" and letter.key == b"resident:138"
    assert json.loads(letter.value)["id"] == str(row["id"])
    assert letter.dead_letter_id == f"dead:{row['id']}"
    assert letter.reason == "no SMS gateway configured"


async def test_without_a_commit_neither_the_death_nor_its_dead_letter_remains(ctx, uow):
    row = await claimed_sms(uow)
    async with uow:
        await handlers.record_attempts(ctx, uow, handlers.RecordAttempts([dead(row)]))
    assert uow.outbox.dead == [] and uow.rollbacks == 1
    assert uow.notifications.rows[row["id"]]["status"] == "sending"
