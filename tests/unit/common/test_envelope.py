import json
from datetime import UTC, datetime

import pytest
from whistle_common.envelope import Envelope, EnvelopeError, decode, encode, new_event


def sample() -> Envelope:
    return new_event("incident.received.v1", source="/whistle/intake", subject="inc-1",
                     data={"description": "楼下烧烤店油烟太大", "n": 3},
                     now=datetime(2026, 11, 21, 0, 30, tzinfo=UTC))


def test_round_trip_keeps_every_attribute():
    env = sample()
    back = decode(encode(env))
    assert back == env


def test_structured_json_mode_has_contract_fields():
    raw = json.loads(encode(sample()))
    assert raw["specversion"] == "1.0"
    assert raw["datacontenttype"] == "application/json"
    assert raw["correlationid"] == "inc-1"
    assert raw["subject"] == "inc-1"
    assert raw["data"]["description"] == "楼下烧烤店油烟太大"
    assert raw["time"].startswith("2026-11-21T00:30:00")


def test_key_is_subject():
    assert sample().key == b"inc-1"


@pytest.mark.parametrize("raw, reason", [
    (b"not json", "not a CloudEvent in JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (None, "empty message value"),
    (b"x" * 1_000_001, "exceeds"),
])
def test_garbage_is_rejected_with_a_reason(raw, reason):
    with pytest.raises(EnvelopeError) as err:
        decode(raw)
    assert reason in err.value.reason


def _mutated(**changes) -> bytes:
    raw = json.loads(encode(sample()))
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return json.dumps(raw).encode()


@pytest.mark.parametrize("changes, reason", [
    ({"specversion": "0.3"}, "specversion"),
    ({"type": "IncidentReceived"}, "noun.verb.vN"),
    ({"subject": None}, "subject"),
    ({"correlationid": None}, "correlationid"),
    ({"data": [1, 2]}, "data must be a JSON object"),
    ({"id": None}, "missing attribute id"),
    ({"source": None}, "missing attribute source"),
    ({"time": "yesterday"}, "RFC 3339"),
    ({"source": 5}, "source must be a non-empty string"),
    ({"time": "2026-11-21T08:30:00"}, "offset"),
    ({"time": "2026-11-21T08:30+08:00"}, "seconds"),
    ({"time": "2026-11-21T08:30:00+08"}, "offset"),
])
def test_invalid_envelopes_are_rejected_with_reason(changes, reason):
    with pytest.raises(EnvelopeError) as err:
        decode(_mutated(**changes))
    assert reason in err.value.reason


def test_encode_refuses_bad_type_and_naive_time():
    with pytest.raises(EnvelopeError):
        encode(Envelope("Bad", "/s", "x", {}, "x"))
    with pytest.raises(EnvelopeError):
        encode(Envelope("a.b.v1", "/s", "x", {}, "x", time=datetime(2026, 1, 1)))
