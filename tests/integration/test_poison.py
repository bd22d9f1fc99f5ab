"""Issue 10: poison on every consumed topic goes to its DLQ with a reason; consumers go on."""

from __future__ import annotations

import json

import pytest
from whistle_common.envelope import new_event

from tests.support.incidents import incident, post
from tests.support.stack import case_of, eventually

pytestmark = pytest.mark.integration
CONSUMERS = {  # topic → the services consuming it
    "incidents.received": ["dispatch"], "dispatch.reports": ["dispatch"],
    "cases.events": ["intake", "scoring", "notify"], "points.events": ["notify"],
    "notifications.requests": ["notify"],
}


def poison(topic: str) -> dict[str, bytes]:
    good = json.loads(new_event("case.created.v1", source="/t", subject="x", data={}).to_bytes())
    no_id = {k: v for k, v in good.items() if k != "id"}
    unknown = {**good, "type": "ufo.landed.v1"}
    return {"bad-json": b"{not json", "no-id": json.dumps(no_id).encode(),
            "unknown-type": json.dumps(unknown).encode(),
            "oversized": json.dumps({**good, "data": {"x": "x" * 1_000_100}}).encode()}


async def _caught_up(live) -> bool:
    """Every service has consumed everything (its exported lag is zero)."""
    return all(live.metric(s, "whistle_consumer_lag") == 0
               for s in ("intake", "dispatch", "scoring", "notify"))


async def test_poison_on_every_consumed_topic(live):
    from kafka import KafkaProducer

    # earlier tests may leave a backlog (the fault suite): start from caught-up consumers,
    # since one Faust consumer fetches all of a service's topics in turn
    await eventually(lambda: _caught_up(live), timeout=300, interval=2,
                     what="consumers caught up")

    tails = {topic: live.tail(f"{topic}.dlq") for topic in CONSUMERS}
    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks="all",
                             max_request_size=2_000_000)
    for topic in CONSUMERS:
        for name, value in poison(topic).items():
            producer.send(topic, key=f"poison-{name}".encode(), value=value)
    producer.flush()
    producer.close()
    summary = {}
    for topic, services in CONSUMERS.items():
        expected = 4 * len(services)

        tail, source = tails[topic], topic.encode()

        async def arrived(tail=tail, source=source, expected=expected):
            tail.poll(0.5)
            found = [h for _, h, _ in tail.seen if h.get("x-dlq-source-topic") == source]
            return found if len(found) >= expected else None

        got = await eventually(arrived, timeout=120, what=f"poison from {topic} in its DLQ")
        reasons = {h["x-dlq-category"].decode() for h in got}
        assert reasons == {"malformed", "unknown-type"}, (topic, reasons)
        texts = " | ".join(h["x-dlq-reason"].decode() for h in got)
        assert "not a CloudEvent in JSON" in texts and "missing attribute id" in texts
        assert "exceeds" in texts and "unknown event type 'ufo.landed.v1'" in texts
        summary[topic] = len(got)
        tails[topic].close()
    print(f"\ndead-lettered: {summary}")
    for service in ("intake", "dispatch", "scoring", "notify"):
        assert live.metric(service, "whistle_dlq_messages_total") >= 4
    async with live.http("intake") as client:  # the consumers kept going
        created = (await post(client, incident())).json()

    await case_of(live, created["incident_id"])  # a valid incident after the poison
