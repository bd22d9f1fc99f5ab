"""A notification that dies is dead-lettered through the outbox, in the same transaction that
marks it dead: no in-memory hand-off that a crash could lose."""

import json
from datetime import UTC, datetime

from whistle_notify import handlers
from whistle_notify.adapters.channels import DeliveryError


class RecordingConnection:
    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple]] = []

    async def execute(self, sql: str, *args):
        self.statements.append((sql, args))


async def test_a_dead_notification_goes_to_the_outbox_with_its_reason():
    conn = RecordingConnection()
    row = {"id": "6f1c", "attempts": 0, "channel": "sms", "recipient": "resident:138",
           "event_id": "e-1", "event_type": "case.dispatched.v1",
           "created_at": datetime.now(UTC)}
    error = DeliveryError("no SMS gateway configured", permanent=True)
    await handlers._record(None, conn, row, "正文", error, 0.01, None)
    outbox = [args for sql, args in conn.statements if "INSERT INTO outbox" in sql]
    assert len(outbox) == 1
    topic, key, value, headers, event_id = outbox[0]
    assert topic == "notifications.dlq" and key == b"resident:138"
    assert json.loads(value)["id"] == "6f1c" and event_id == "dead:6f1c"
    assert ["x-dlq-reason", "no SMS gateway configured"] in json.loads(headers)
    assert any("status='dead'" in sql for sql, _ in conn.statements)
