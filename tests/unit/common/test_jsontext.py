"""whistle_common.jsontext: orjson where it agrees with the standard library, the standard
library's answer where it does not."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from whistle_common import jsontext


@dataclass
class Point:
    lat: float
    at: datetime


def test_writes_what_the_standard_library_wrote():
    value = {"text": "水管爆了 😡", "n": 3, "x": 0.1, "none": None, "ok": False,
             "at": datetime(2026, 12, 7, 18, 0, 0, 123456, tzinfo=UTC),
             "whole_second": datetime(2026, 12, 7, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
             "day": date(2026, 12, 7), "list": [1, [2, {"a": "b"}]]}
    old = json.dumps(value, ensure_ascii=False, default=lambda v: v.isoformat())
    assert jsontext.dumps(value) == old.replace(": ", ":").replace(", ", ",")
    assert "水管" in jsontext.dumps(value)  # UTF-8 as is, not \u escapes


def test_dataclasses_uuids_and_integer_keys():
    at = datetime(2026, 12, 7, tzinfo=UTC)
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert json.loads(jsontext.dumps({"p": Point(40.5, at), "id": key, 7: "seven"})) == {
        "p": {"lat": 40.5, "at": at.isoformat()}, "id": str(key), "7": "seven"}


def test_an_integer_past_64_bits_is_written_as_before():
    big = {"n": 2**70, "p": Point(1.0, datetime(2026, 1, 1, tzinfo=UTC))}
    assert json.loads(jsontext.dumps(big)) == {"n": 2**70, "p": {
        "lat": 1.0, "at": "2026-01-01T00:00:00+00:00"}}


def test_what_nothing_knows_how_to_write_is_a_type_error():
    with pytest.raises(TypeError):
        jsontext.dumps({"x": object()})
