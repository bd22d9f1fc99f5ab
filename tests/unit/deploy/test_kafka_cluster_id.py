"""The local Kafka's cluster id never starts with '-': StorageTool's parser would read it as
an option and refuse to format (a fresh state in 64 did before)."""

from __future__ import annotations

import uuid

from whistle_stack import kafka
from whistle_stack.paths import Layout

# 0xF8 makes URL-safe base64 start with '-' (62 = 0b111110)
DASH = uuid.UUID(bytes=b"\xf8" + bytes(15))


def cluster(tmp_path, monkeypatch) -> kafka.KafkaCluster:
    monkeypatch.setenv("WHISTLE_STATE_DIR", str(tmp_path))
    return kafka.KafkaCluster(Layout(tmp_path))


def test_an_id_that_would_start_with_a_dash_is_drawn_again(tmp_path, monkeypatch):
    drawn = iter([DASH, DASH, uuid.UUID(int=7)])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(drawn))
    node = cluster(tmp_path, monkeypatch)
    cid = node._cluster_id()
    assert not cid.startswith("-") and len(cid) == 22
    assert node._cluster_id() == cid  # kept: the same cluster on the next start


def test_a_marker_left_by_a_failed_format_is_replaced(tmp_path, monkeypatch):
    node = cluster(tmp_path, monkeypatch)
    marker = tmp_path / "kafka" / "kafka.cluster-id"
    marker.parent.mkdir(parents=True)
    marker.write_text("-AAAAAAAAAAAAAAAAAAAAA")
    cid = node._cluster_id()
    assert not cid.startswith("-") and marker.read_text() == cid
