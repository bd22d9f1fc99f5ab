"""CloudEvents exactly: the conformance suite's JSON-format cases (cloudevents/conformance,
read from ../shared/schemas, which only the project's own machines have) and both modes of
the Kafka protocol binding, checked with the official Python SDK's Kafka binding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cloudevents.core.bindings.kafka import (  # the official SDK's Kafka protocol binding
    KafkaMessage,
    from_binary_event,
    from_kafka_event,
)
from whistle_common.envelope import (
    CONTENT_TYPE,
    EnvelopeError,
    check_cloudevent,
    decode,
    decode_record,
    new_event,
)

SUITE = Path(__file__).resolve().parents[3].parent / "shared/schemas/cloudevents-conformance"


def cases(name: str) -> list[dict]:
    if not SUITE.exists():
        return []
    return json.loads((SUITE / f"{name}.json").read_text("utf-8"))["tests"]


needs_suite = pytest.mark.skipif(not SUITE.exists(),
                                 reason="../shared/schemas is only on the project's own machines")


@needs_suite
@pytest.mark.parametrize("case", cases("invalid-events"), ids=lambda c: c["id"])
def test_every_invalid_event_of_the_suite_is_refused_with_a_reason(case):
    with pytest.raises(EnvelopeError) as refused:
        decode(json.dumps(case["event"]).encode())
    assert refused.value.reason
    with pytest.raises(EnvelopeError):
        check_cloudevent(case["event"])  # refused by CloudEvents' rules, not only Whistle's


@needs_suite
@pytest.mark.parametrize("case", cases("valid-events"), ids=lambda c: c["id"])
def test_every_valid_event_of_the_suite_is_a_cloudevent(case):
    check_cloudevent(case["event"])
    with_whistle_rules = {"subject": "s-1", "time": "2018-04-05T17:31:00Z",
                          "correlationid": "c-1", "type": "conformance.tested.v1", "data": {},
                          **{k: v for k, v in case["event"].items()
                             if k not in ("type", "data", "data_base64")
                             and v is not None}}
    with_whistle_rules.pop("datacontenttype", None)
    assert decode(json.dumps(with_whistle_rules).encode()).id == case["event"]["id"]


def test_the_suite_is_there_on_the_projects_machines_or_the_checks_say_why():
    assert SUITE.exists() or cases("invalid-events") == []


EVENT = new_event("dispatch.ordered.v1", source="/whistle/dispatch", subject="case-1",
                  data={"case_id": "case-1", "dept": "chengguan"}, correlationid="inc-1")


def test_a_structured_record_is_read_by_the_official_sdk():
    record = KafkaMessage(headers={"content-type": CONTENT_TYPE.encode()}, key=EVENT.key,
                          value=EVENT.to_bytes())
    event = from_kafka_event(record)  # detects the mode as a department's SDK does
    attributes = event.get_attributes()
    assert (attributes["id"], attributes["type"], attributes["subject"]) == (
        EVENT.id, EVENT.type, "case-1")
    assert event.get_data() == EVENT.data


def test_a_binary_record_from_a_department_sdk_is_accepted():
    headers = {"ce_specversion": b"1.0", "ce_id": b"e-1", "ce_source": b"/dept/chengguan",
               "ce_type": b"dispatch.reported.v1", "ce_subject": b"case-1",
               "ce_time": b"2026-11-25T10:00:00+08:00", "ce_correlationid": b"inc-1",
               "content-type": b"application/json"}
    value = json.dumps({"dept": "chengguan", "kind": "acknowledged"}).encode()
    env = decode_record(value, headers)
    assert (env.id, env.type, env.subject, env.data["kind"]) == (
        "e-1", "dispatch.reported.v1", "case-1", "acknowledged")
    sdk = from_binary_event(KafkaMessage(headers=headers, key=b"case-1", value=value))
    assert sdk.get_attributes()["id"] == env.id  # the same record, as the SDK reads it


def test_a_binary_record_with_bad_attributes_is_refused():
    with pytest.raises(EnvelopeError, match="RFC 3339"):
        decode_record(b"{}", {"ce_specversion": b"1.0", "ce_id": b"e", "ce_source": b"/x",
                              "ce_type": b"a.b.v1", "ce_subject": b"s", "ce_time": b"noon",
                              "ce_correlationid": b"c"})
    with pytest.raises(EnvelopeError, match="JSON"):
        decode_record(b"plain", {"ce_specversion": b"1.0", "content-type": b"text/plain"})
