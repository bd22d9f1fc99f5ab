import pytest
from whistle_common.auth import Principal, TokenTable
from whistle_common.logging import mask_text
from whistle_common.topics import all_topics, dlq_topic, event_types_of, orders_topic


def test_token_table_resolves_scopes_and_rejects_unknown():
    table = TokenTable({"abc": {"client": "hotline", "scopes": ["incidents:write"]}})
    principal = table.lookup("abc")
    assert principal == Principal("hotline", frozenset({"incidents:write"}))
    assert table.lookup("abd") is None


def test_wildcard_scope():
    p = Principal("app", frozenset({"volunteer:*"}))
    assert p.has("volunteer:v-1") and not p.has("operator")


def test_masking_phones_and_emails():
    text = "居民13812341234来电, 邮箱 zhang.san@example.cn"
    assert mask_text(text) == "居民138****1234来电, 邮箱 z***@example.cn"


def test_topic_names():
    assert dlq_topic("cases.events") == "cases.events.dlq"
    assert orders_topic("chengguan") == "dispatch.orders.chengguan"
    with pytest.raises(ValueError):
        orders_topic("Cheng Guan")
    topics = all_topics(["gongan"])
    assert {"incidents.received", "incidents.received.dlq", "dispatch.orders.gongan",
            "notifications.dlq"} <= set(topics)
    assert "notifications.dlq.dlq" not in topics


def test_event_types_per_topic():
    assert "case.created.v1" in event_types_of("cases.events")
    assert event_types_of("dispatch.orders.gongan") == {"dispatch.ordered.v1",
                                                        "dispatch.withdrawn.v1",
                                                        "dispatch.updated.v1"}
    assert event_types_of("nope") == frozenset()
