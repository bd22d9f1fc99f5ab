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
# the Kafka protocol binding: structured mode says so in this header; binary mode carries the
# attributes as ce_* headers and the data as the value
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# Not a CloudEvents attribute (those would be ce_* and mean binary mode): a plain header the
# outbox adds naming the event type, so that a consumer skips types it has no handler for
# without decoding the value. Records without it are decoded as before.
TYPE_HEADER = "whistle-type"
# RFC 3339 date-time: seconds required, offset Z or ±hh:mm (hours 00–23, minutes 00–59)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.(\d+))?"
                     r"([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)$")
MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*(\s*;.*)?$")
EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
CORE = {"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject",
        "time", "data", "data_base64"}


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


def check_cloudevent(obj: dict[str, Any]) -> None:
    """The rules of CloudEvents 1.0 itself (JSON format), as its conformance suite states
    them; EnvelopeError names the first one broken."""
    for name in ("specversion", "id", "source", "type"):
        if name not in obj or obj[name] is None:
            raise EnvelopeError(f"missing attribute {name}")
        if not isinstance(obj[name], str) or not obj[name]:
            raise EnvelopeError(f"{name} must be a non-empty string")
    if obj["specversion"] != "1.0":
        raise EnvelopeError(f"specversion must be 1.0, got {obj['specversion']!r}")
    for name in ("subject", "dataschema", "datacontenttype"):
        if obj.get(name) is not None and (not isinstance(obj[name], str) or not obj[name]):
            raise EnvelopeError(f"{name}, when present, must be a non-empty string")
    if obj.get("datacontenttype") is not None and not MEDIA_TYPE.match(obj["datacontenttype"]):
        raise EnvelopeError(f"datacontenttype {obj['datacontenttype']!r} is not an RFC 2046 "
                            "media type")
    if obj.get("time") is not None:
        parse_time(obj["time"])
    if "data" in obj and "data_base64" in obj:
        raise EnvelopeError("an event has data or data_base64, not both")
    for name, value in obj.items():
        if name in CORE:
            continue
        if not EXTENSION_NAME.match(name):
            raise EnvelopeError(f"extension name {name!r}: lower-case letters and digits, "
                                "at most 20")
        if isinstance(value, float) or not isinstance(value, str | bool | int | None):
            raise EnvelopeError(f"extension {name}: a string, boolean or integer")


def parse_time(text: Any) -> datetime:
    """An RFC 3339 timestamp (seconds and offset required), up to nanoseconds."""
    match = RFC3339.match(text) if isinstance(text, str) else None
    if match is None:
        raise EnvelopeError(f"time {text!r} is not RFC 3339 (seconds and a Z or ±hh:mm "
                            "offset are required)")
    fraction = match.group(2) or ""
    normal = text.replace(f".{fraction}", f".{fraction[:6].ljust(6, '0')}" if fraction else "")
    try:
        return datetime.fromisoformat(normal.replace("z", "Z").replace("t", "T"))
    except ValueError as exc:
        raise EnvelopeError(f"time {text!r} is not a real instant: {exc}") from exc


def decode_record(value: bytes | None, headers: dict[str, bytes] | None = None) -> Envelope:
    """A Kafka record → Envelope, in either mode of the CloudEvents Kafka protocol binding:
    structured (the value is the event; `content-type: application/cloudevents+json`, or no
    content-type at all) or binary (attributes in `ce_*` headers, the data in the value)."""
    found = {k.lower(): v for k, v in (headers or {}).items()}
    if "ce_specversion" not in found:
        return decode(value)
    try:
        attributes = {k[3:]: v.decode("utf-8") for k, v in found.items() if k.startswith("ce_")}
        content_type = found.get("content-type", b"application/json").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"a ce_ header is not UTF-8: {exc}") from exc
    if not content_type.split(";")[0].strip().endswith("json"):
        raise EnvelopeError(f"binary-mode data of type {content_type!r}: Whistle events carry "
                            "JSON data")
    try:
        data = json.loads((value or b"").decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EnvelopeError(f"binary-mode data is not JSON: {exc}") from exc
    event = {**attributes, "datacontenttype": content_type, "data": data}
    return decode(json.dumps(event, ensure_ascii=False).encode())


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
    check_cloudevent(obj)
    # Whistle's own rules on top: who the event is about, its chain, when, and a JSON object
    missing = [a for a in REQUIRED if obj.get(a) in (None, "")]
    if missing:
        raise EnvelopeError(f"missing attribute(s) {', '.join(missing)}")
    _check_type(obj["type"])
    if not isinstance(obj.get("data"), dict):
        raise EnvelopeError("data must be a JSON object")
    when = parse_time(obj["time"])
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
