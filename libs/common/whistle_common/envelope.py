"""CloudEvents 1.0 envelope (structured JSON mode) for every Kafka message value."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

MAX_EVENT_BYTES = 1_000_000
TYPE_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+\.v[0-9]+$")
_FORMAT = JSONFormat()
REQUIRED = ("specversion", "id", "source", "type", "subject", "time", "correlationid")


class EnvelopeError(ValueError):
    """A message value that is not a valid Whistle envelope; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Envelope:
    """One event: CloudEvents context attributes plus a JSON object as data."""

    type: str
    source: str
    subject: str
    data: dict[str, Any]
    correlationid: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def key(self) -> bytes:
        """Kafka message key: the entity id named in subject."""
        return self.subject.encode()

    def to_bytes(self) -> bytes:
        """Serialize in CloudEvents structured JSON mode."""
        return encode(self)


def new_event(
    type: str, *, source: str, subject: str, data: dict[str, Any],
    correlationid: str | None = None, now: datetime | None = None,
) -> Envelope:
    """Build an envelope; correlationid defaults to the subject (the chain's first entity)."""
    return Envelope(
        type=type, source=source, subject=subject, data=data,
        correlationid=correlationid or subject, time=now or datetime.now(UTC),
    )


def encode(env: Envelope) -> bytes:
    """Envelope → UTF-8 JSON bytes, validated by the CloudEvents SDK."""
    _check_type(env.type)
    if env.time.tzinfo is None:
        raise EnvelopeError("time must carry a UTC offset")
    try:
        event = CloudEvent(
            attributes={
                "specversion": "1.0", "id": env.id, "source": env.source, "type": env.type,
                "subject": env.subject, "time": env.time,
                "datacontenttype": "application/json", "correlationid": env.correlationid,
            },
            data=env.data,
        )
    except (BaseCloudEventException, ValueError, TypeError) as exc:
        raise EnvelopeError(f"invalid envelope: {exc}") from exc
    return _FORMAT.write(event)


def decode(raw: bytes | str | None) -> Envelope:
    """UTF-8 JSON bytes → Envelope, or EnvelopeError with the reason."""
    if raw is None:
        raise EnvelopeError("empty message value")
    if len(raw) > MAX_EVENT_BYTES:
        raise EnvelopeError(f"message of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        obj = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"not UTF-8: {exc}") from exc
    except ValueError as exc:
        raise EnvelopeError(f"not a CloudEvent in JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise EnvelopeError("not a CloudEvent in JSON: the value is not an object")
    missing = [a for a in REQUIRED if obj.get(a) in (None, "")]
    if missing:
        raise EnvelopeError(f"missing attribute(s) {', '.join(missing)}")
    if obj["specversion"] != "1.0":
        raise EnvelopeError(f"specversion must be 1.0, got {obj['specversion']!r}")
    _check_type(obj["type"])
    if not isinstance(obj.get("data"), dict):
        raise EnvelopeError("data must be a JSON object")
    try:
        when = datetime.fromisoformat(str(obj["time"]))
    except ValueError as exc:
        raise EnvelopeError(f"time is not RFC 3339: {exc}") from exc
    if when.tzinfo is None:
        raise EnvelopeError("time must carry a UTC offset")
    attributes = {k: v for k, v in obj.items() if k != "data"}
    attributes["time"] = when
    try:
        CloudEvent(attributes=attributes, data=obj["data"])  # the SDK's own validation
    except (BaseCloudEventException, ValueError, TypeError) as exc:
        raise EnvelopeError(f"invalid CloudEvent: {exc}") from exc
    return Envelope(
        type=obj["type"], source=str(obj["source"]), subject=str(obj["subject"]),
        data=obj["data"], correlationid=str(obj["correlationid"]), id=str(obj["id"]), time=when,
    )


def _check_type(type_: str) -> None:
    if not isinstance(type_, str) or not TYPE_PATTERN.match(type_):
        raise EnvelopeError(f"type {type_!r} is not of the form noun.verb.vN")
