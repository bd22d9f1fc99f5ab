"""Reference integration for a department's IT team (kafka-python only).

A department consumes its own topic `dispatch.orders.<code>` and reports back on
`dispatch.reports` with an HMAC-SHA256 signature made with its secret:

    client = DepartmentClient("127.0.0.1:9092", "chengguan", secret="dev-secret-chengguan")
    for order in client.orders(timeout_s=10):
        client.report(order["case_id"], "acknowledged")
        client.report(order["case_id"], "resolved", result="已清理占道摊点")

Signature: hex(HMAC-SHA256(secret, f"{timestamp}." + message value)), sent with the headers
`x-whistle-dept`, `x-whistle-timestamp` and `x-whistle-signature`. The value is a CloudEvents
1.0 structured JSON envelope of type `dispatch.reported.v1` keyed by case id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

REPORTS_TOPIC = "dispatch.reports"
KINDS = ("acknowledged", "arrived", "resolved", "returned", "extension_requested")


def report_envelope(case_id: str, dept: str, kind: str, correlation_id: str | None = None,
                    **fields: Any) -> bytes:
    """The bytes of one dispatch.reported.v1 envelope."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    now = datetime.now(UTC)
    event = {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": f"/departments/{dept}",
        "type": "dispatch.reported.v1", "subject": case_id, "time": now.isoformat(),
        "datacontenttype": "application/json", "correlationid": correlation_id or case_id,
        "data": {"case_id": case_id, "dept": dept, "kind": kind,
                 "reported_at": now.isoformat(), **fields},
    }
    return json.dumps(event, ensure_ascii=False).encode()


# the CloudEvents Kafka binding's structured mode: the value is the whole event
STRUCTURED = ("content-type", b"application/cloudevents+json; charset=utf-8")


def signature_headers(dept: str, secret: str, value: bytes) -> list[tuple[str, bytes]]:
    """Kafka headers authenticating `value` as sent by `dept`."""
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + value, hashlib.sha256)
    return [("x-whistle-dept", dept.encode()), ("x-whistle-timestamp", timestamp.encode()),
            ("x-whistle-signature", digest.hexdigest().encode())]


class DepartmentClient:
    """Consume one department's orders and report back, signed."""

    def __init__(self, bootstrap: str, dept: str, *, secret: str,
                 group_id: str | None = None, from_beginning: bool = False) -> None:
        self.dept = dept
        self.secret = secret
        self.topic = f"dispatch.orders.{dept}"
        self._group_id = group_id or f"dept-{dept}"
        self._bootstrap = bootstrap
        self._from_beginning = from_beginning
        self._consumer: KafkaConsumer | None = None
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                      enable_idempotence=True, linger_ms=5)

    def orders(self, *, timeout_s: float = 1.0) -> Iterator[dict[str, Any]]:
        """Orders (dispatch.ordered.v1 data, plus `_type` and `_id`) arriving within timeout_s."""
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                self.topic, bootstrap_servers=self._bootstrap, group_id=self._group_id,
                auto_offset_reset="earliest" if self._from_beginning else "latest",
                enable_auto_commit=True, consumer_timeout_ms=int(timeout_s * 1000))
        for record in self._consumer:
            try:
                event = json.loads(record.value)
            except ValueError:
                continue  # not ours to fix: the platform validates what it publishes
            yield {**event.get("data", {}), "_type": event.get("type"), "_id": event.get("id"),
                   "_correlationid": event.get("correlationid")}

    def report(self, case_id: str, kind: str, *, correlation_id: str | None = None,
               **fields: Any) -> None:
        """Send one signed report and wait for Kafka to acknowledge it."""
        value = report_envelope(case_id, self.dept, kind, correlation_id, **fields)
        future = self.producer.send(REPORTS_TOPIC, key=case_id.encode(), value=value,
                                    headers=[STRUCTURED,
                                             *signature_headers(self.dept, self.secret, value)])
        future.get(timeout=30)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
        self.producer.close()
