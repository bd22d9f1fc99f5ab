"""Issue 10: no personal data in the services' logs.

The test posts its own incident with a name and a phone number, so it does not depend on
running after the others. It fails rather than passes on nothing: each service's log must
exist, be non-empty and contain a line the running service wrote during this test (it
dead-letters a probe event of a type made up for this run, and logs that type), so a log
that is missing, empty, or stale from an earlier run (the files are appended to) is not
taken for a clean one.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from whistle_common.envelope import new_event

from tests.support.incidents import incident, post
from tests.support.stack import case_of, eventually

pytestmark = pytest.mark.integration
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
NAMES = ("张先生", "李女士", "王阿姨")  # reporter and volunteer names the suite posts
SERVICES = ("intake", "dispatch", "scoring", "notify")
PROBED_ON = {"cases.events": ("intake", "scoring", "notify"), "incidents.received": ("dispatch",)}


def _probe(kind: str) -> bytes:
    """An event of a type no consumer knows: each consumer dead-letters it and logs the
    reason, which names the type."""
    good = json.loads(new_event("case.created.v1", source="/test/logs", subject="logprobe",
                                data={}).to_bytes())
    return json.dumps({**good, "type": kind}).encode()


def _logs(live, service: str) -> list:
    """The service's log and those of extra workers of it the suite started."""
    logs = live.stack.layout.logs
    return [live.stack.layout.logfile(service), *sorted(logs.glob(f"{service}-extra-*.log"))]


async def test_no_phone_numbers_or_names_in_service_logs(live):
    from kafka import KafkaProducer

    async with live.http("intake") as client:
        body = incident(reporter={"name": "张先生", "phone": "13912345678"})
        created = (await post(client, body)).json()
    await case_of(live, created["incident_id"])

    letters = "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:16])
    marker = f"logprobe.{letters}.v1"  # event types are lower-case letters and dots
    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks="all")
    for topic in PROBED_ON:
        producer.send(topic, key=b"logprobe", value=_probe(marker))
    producer.flush()
    producer.close()

    for service in SERVICES:
        log = live.stack.layout.logfile(service)

        async def probed(log=log):
            return log.exists() and marker in log.read_text(errors="replace")

        await eventually(probed, timeout=60, interval=0.5,
                         what=f"{service} logged the probe {marker} in {log}")

    found, sizes = {}, {}
    for service in SERVICES:
        for log in _logs(live, service):
            assert log.exists(), f"no log file for {service} at {log}"
            text = log.read_text(errors="replace")
            sizes[log.name] = len(text)
            hits = MOBILE.findall(text) + [n for n in NAMES if n in text]
            if hits:
                found[log.name] = sorted(set(hits))[:5]
    assert all(sizes.values()), f"empty service logs: {sizes}"
    assert found == {}
