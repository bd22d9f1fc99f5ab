"""One mapping of failures: run_use_case answers problem details, the consumer dead-letters
with the same slug (or retries when the database is only unavailable)."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import asynccontextmanager

import asyncpg
import pytest
from whistle_common import consumer as consumer_module
from whistle_common.consumer import ConsumerSpec, EventConsumer, Raw
from whistle_common.envelope import new_event
from whistle_common.problems import ProblemError
from whistle_common.topics import INCIDENTS_RECEIVED
from whistle_common.uow import FakeUnitOfWork
from whistle_common.usecase import (
    Conflict,
    IllegalTransition,
    NotFound,
    Rejected,
    problem_for,
    register,
    run_use_case,
)


class Store(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.items: list[str] = []
        self._saved: list[str] = []

    def checkpoint(self) -> None:
        self._saved = list(self.items)

    def restore(self) -> None:
        self.items = list(self._saved)


def failing(error: BaseException):
    async def handler(uow: Store, item: str) -> None:
        uow.items.append(item)
        await uow.outbox.add("t", new_event("incident.received.v1", source="/t", subject="s",
                                            data={}))
        raise error

    return handler


async def test_a_use_case_commits_its_writes_and_its_outbox_together():
    uow = Store()

    async def add(uow: Store, item: str) -> int:
        uow.items.append(item)
        await uow.outbox.add("t", new_event("incident.received.v1", source="/t", subject=item,
                                            data={}))
        return len(uow.items)

    assert await run_use_case(lambda: uow, add, "a") == 1
    assert uow.items == ["a"] and [e.subject for e in uow.outbox.of_type(
        "incident.received.v1")] == ["a"] and uow.commits == 1


@pytest.mark.parametrize(("error", "status", "slug"), [
    (NotFound("no case 1"), 404, "not-found"),
    (Conflict("taken", balance=3), 409, "conflict"),
    (IllegalTransition("closed"), 409, "illegal-transition"),
    (Rejected("bad grid", "invalid-incident"), 422, "invalid-incident"),
    (ConnectionRefusedError(111, "refused"), 503, "unavailable"),
    (asyncpg.exceptions.CannotConnectNowError("starting"), 503, "unavailable"),
    (asyncpg.exceptions.DeadlockDetectedError("deadlock"), 503, "unavailable"),
    (asyncpg.exceptions.CharacterNotInRepertoireError("\x00"), 422, "invalid-value"),
])
async def test_a_failure_rolls_back_everything_and_answers_its_problem(error, status, slug):
    uow = Store()
    with pytest.raises(ProblemError) as raised:
        await run_use_case(lambda: uow, failing(error), "a")
    assert (raised.value.status, raised.value.slug) == (status, slug)
    assert uow.items == [] and uow.outbox.events == [] and uow.rollbacks == 1
    if status == 503:
        assert raised.value.headers == {"Retry-After": "5"}
    if slug == "conflict":
        assert raised.value.extensions == {"balance": 3}


async def test_a_bug_is_not_dressed_up_as_a_problem():
    uow = Store()
    with pytest.raises(KeyError):
        await run_use_case(lambda: uow, failing(KeyError("x")), "a")
    assert uow.items == [] and problem_for(KeyError("x")) is None


async def test_a_domain_error_that_cannot_import_us_is_registered_once():
    class Overbooked(ValueError):
        slug = "overbooked"

    register(Overbooked, 409)
    with pytest.raises(ProblemError) as raised:
        await run_use_case(Store, failing(Overbooked("no seats")), "a")
    assert (raised.value.status, raised.value.slug, raised.value.detail) == (
        409, "overbooked", "no seats")


# -- the consumer uses the same mapping ----------------------------------------------------------

class Conn:
    def __init__(self) -> None:
        self.claimed: set[str] = set()

    @asynccontextmanager
    async def transaction(self):
        before = set(self.claimed)
        try:
            yield
        except BaseException:
            self.claimed = before
            raise

    async def fetchval(self, sql: str, consumer: str, event_id: str):
        assert "processed_events" in sql
        if event_id in self.claimed:
            return None
        self.claimed.add(event_id)
        return 1


class Pool:
    def __init__(self) -> None:
        self.conn = Conn()

    @asynccontextmanager
    async def acquire(self):
        yield self.conn


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def get(self):
        return self

    async def reset(self) -> None:
        pass

    async def send_and_wait(self, topic, value, key, headers):
        self.sent.append((topic, {k: v.decode() for k, v in headers}))


def raw(event_id: str) -> Raw:
    env = new_event("incident.received.v1", source="/t", subject=event_id, data={})
    return Raw(None, dataclasses.replace(env, id=event_id).to_bytes(), {}, 0, 0)


def consumer_of(handler) -> tuple[EventConsumer, Producer]:
    producer = Producer()
    spec = ConsumerSpec(INCIDENTS_RECEIVED, {"incident.received.v1": handler}, name="t",
                        unit_of_work=lambda conn: FakeUnitOfWork())
    pool = Pool()
    return EventConsumer(spec, pool=lambda: pool, producer=lambda: producer), producer


async def test_a_consumer_dead_letters_a_known_failure_with_the_same_slug():
    seen = []

    async def handler(uow, msg):
        seen.append(msg.envelope.subject)
        if msg.envelope.subject == "bad":
            raise IllegalTransition("the case is closed")

    consumer, producer = consumer_of(handler)
    outcomes = await consumer.handle_batch([raw("ok"), raw("bad")])
    assert outcomes == ["applied", "dlq"]
    [(topic, headers)] = producer.sent
    assert topic == f"{INCIDENTS_RECEIVED}.dlq"
    assert headers["x-dlq-category"] == "illegal-transition"
    assert headers["x-dlq-reason"] == "the case is closed"
    assert await consumer.handle_batch([raw("ok")]) == ["duplicate"]


async def test_a_consumer_retries_while_the_database_is_unavailable(monkeypatch):
    monkeypatch.setattr(asyncio, "sleep", _no_wait)
    calls = []

    async def handler(uow, msg):
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("server closed the connection")

    consumer, producer = consumer_of(handler)
    assert await consumer.handle_batch([raw("e1")]) == ["applied"]
    assert len(calls) == 3 and producer.sent == []


async def test_a_consumer_gives_a_bug_a_few_tries_then_dead_letters_it(monkeypatch):
    monkeypatch.setattr(asyncio, "sleep", _no_wait)

    async def handler(uow, msg):
        raise KeyError("lead")

    consumer, producer = consumer_of(handler)
    assert await consumer.handle_batch([raw("e1")]) == ["dlq"]
    assert producer.sent[0][1]["x-dlq-category"] == "handler-error"
    assert consumer_module.MAX_BUG_ATTEMPTS > 1


_real_sleep = asyncio.sleep


async def _no_wait(_seconds: float, *args) -> None:
    await _real_sleep(0)


async def test_a_dead_letters_log_line_carries_its_own_ids_not_the_last_events(monkeypatch):
    lines = []
    monkeypatch.setattr(consumer_module, "send_to_dlq", _record_context(lines))

    async def handler(uow, msg):
        pass

    consumer, _ = consumer_of(handler)
    stray = dataclasses.replace(new_event("case.created.v1", source="/t", subject="stray",
                                          data={}), correlationid="stray-corr")
    await consumer.handle_batch([raw("first"), Raw(None, stray.to_bytes(), {}, 0, 1),
                                 Raw(None, b"not json", {}, 0, 2)])
    assert lines == [{"correlation_id": "stray-corr", "case_id": "stray"}, {}]


def _record_context(lines):
    import structlog

    async def record(*_args, **_kwargs):
        lines.append(dict(structlog.contextvars.get_contextvars()))

    return record
