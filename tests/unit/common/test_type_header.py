"""Consumers skip event types they have no handler for by the `whistle-type` header, before
decoding the value; records stay CloudEvents structured mode."""

from __future__ import annotations

import json

from whistle_common.consumer import ConsumerSpec, EventConsumer, Raw
from whistle_common.envelope import CONTENT_TYPE, TYPE_HEADER, new_event
from whistle_common.outbox import enqueue_many
from whistle_common.topics import CASES_EVENTS

from tests.unit.common.test_usecase import Pool, Producer


def consumer(handled: str) -> tuple[EventConsumer, Producer, Pool, list]:
    applied, producer, pool = [], Producer(), Pool()

    async def handler(uow, msg):
        applied.append(msg.envelope.type)

    spec = ConsumerSpec(CASES_EVENTS, {handled: handler}, name="t",
                        unit_of_work=lambda conn: None)
    return EventConsumer(spec, pool=lambda: pool, producer=lambda: producer), producer, pool, \
        applied


def record(type_: str, header: str | None = None, value: bytes | None = None) -> Raw:
    env = new_event(type_, source="/t", subject="case-1", data={})
    headers = {"content-type": CONTENT_TYPE.encode()}
    if header is not None:
        headers[TYPE_HEADER] = header.encode()
    return Raw(b"case-1", env.to_bytes() if value is None else value, headers, 0, 0)


async def test_an_unhandled_type_is_skipped_without_decoding_the_value():
    c, producer, pool, applied = consumer("case.created.v1")
    # the value is not even JSON: only the header was read
    outcomes = await c.handle_batch([record("case.arrived.v1", "case.arrived.v1", b"{nope")])
    assert outcomes == ["skipped"] and producer.sent == [] and not pool.conn.claimed
    assert await c.handle(key=b"k", value=b"{nope",
                          headers={TYPE_HEADER: b"case.arrived.v1"}) == "skipped"


async def test_a_handled_type_is_decoded_and_applied():
    c, _, _, applied = consumer("case.created.v1")
    assert await c.handle_batch([record("case.created.v1", "case.created.v1")]) == ["applied"]
    assert applied == ["case.created.v1"]


async def test_without_the_header_the_value_decides_as_before():
    c, _, _, applied = consumer("case.created.v1")
    outcomes = await c.handle_batch([record("case.arrived.v1"), record("case.created.v1")])
    assert outcomes == ["ignored", "applied"] and applied == ["case.created.v1"]


async def test_a_header_naming_a_foreign_type_does_not_skip_poison():
    c, producer, _, _ = consumer("case.created.v1")
    outcomes = await c.handle_batch([record("case.created.v1", "ufo.landed.v1", b"{nope"),
                                     record("case.created.v1", "case.arrived.v1\xff", b"{")])
    assert outcomes == ["dlq", "dlq"]
    assert [h["x-dlq-category"] for _, h in producer.sent] == ["malformed", "malformed"]


class Recorder:
    def __init__(self) -> None:
        self.args: tuple = ()

    async def execute(self, sql, *args):
        self.args = args


async def test_the_outbox_stores_the_type_header_beside_the_structured_mode_header():
    conn = Recorder()
    env = new_event("case.created.v1", source="/t", subject="case-1", data={})
    await enqueue_many(conn, [(CASES_EVENTS, env, {"x-extra": "1"})])
    [headers] = conn.args[3]
    assert dict(json.loads(headers)) == {"content-type": CONTENT_TYPE,
                                         TYPE_HEADER: "case.created.v1", "x-extra": "1"}
    assert not any(name.startswith("ce_") for name, _ in json.loads(headers))
