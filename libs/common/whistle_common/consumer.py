"""Consuming one topic at-least-once and idempotently, with poison messages to the DLQ."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from .dlq import send_to_dlq
from .envelope import TYPE_HEADER, Envelope, EnvelopeError, decode_record
from .idempotency import claim_event
from .kafka import Producer
from .logging import bind_event_context
from .metrics import EVENT_HANDLE_SECONDS, EVENTS_CONSUMED
from .topics import event_types_of
from .uow import PgUnitOfWork, UnitOfWork
from .usecase import Rejected, problem_for

log = structlog.get_logger(__name__)
MAX_BUG_ATTEMPTS = 5
__all__ = ["ConsumerSpec", "EventConsumer", "Incoming", "Raw", "Rejected"]


@dataclass(frozen=True)
class Incoming:
    """One consumed message with its decoded envelope."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    partition: int | None
    offset: int | None
    envelope: Envelope


Handler = Callable[[UnitOfWork, Incoming], Awaitable[None]]


@dataclass
class ConsumerSpec:
    """What one service does with one topic: a handler per event type."""

    topic: str
    handlers: dict[str, Handler]
    name: str
    concurrency: int = 1
    batch_size: int = 200       # events applied in one transaction (one commit, one fsync)
    # seconds a batch waits, from its first event, for more to come (whistle_common.batching:
    # no timer runs while nothing comes). One batch is one transaction; the window adds at
    # most this much to one hop.
    batch_window: float = 0.05
    extra: dict[str, Any] = field(default_factory=dict)
    # called after events were applied and committed (e.g. to wake a worker that acts on what
    # the handlers wrote, instead of it polling the database)
    on_commit: Callable[[], None] | None = None
    # the service's unit of work joined to the consumer's transaction
    unit_of_work: Callable[[asyncpg.Connection], UnitOfWork] = \
        lambda conn: PgUnitOfWork(conn=conn)


@dataclass(frozen=True)
class Raw:
    """One message as Kafka delivered it."""

    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    partition: int | None
    offset: int | None


class EventConsumer:
    """Applies messages of one topic; each outcome is counted in a metric."""

    def __init__(self, spec: ConsumerSpec, *, pool: Callable[[], asyncpg.Pool],
                 producer: Callable[[], Producer]) -> None:
        self.spec = spec
        self._pool = pool
        self._producer = producer
        self._allowed = event_types_of(spec.topic)

    async def handle(self, *, key: bytes | None, value: bytes | None,
                     headers: dict[str, bytes] | None = None, partition: int | None = None,
                     offset: int | None = None) -> str:
        """Apply one message; return the outcome (applied, duplicate, skipped, ignored,
        dlq)."""
        topic = self.spec.topic
        if (skipped := self._skip(headers)) is not None:
            return skipped
        try:
            env = decode_record(value, headers)
        except EnvelopeError as exc:
            return await self._dead(key, value, exc.reason, "malformed", partition, offset, "?")
        bind_event_context(correlation_id=env.correlationid, case_id=env.subject)
        if env.type not in self._allowed:
            return await self._dead(key, value, f"unknown event type {env.type!r} on {topic}",
                                    "unknown-type", partition, offset, env.type)
        handler = self.spec.handlers.get(env.type)
        if handler is None:
            EVENTS_CONSUMED.labels(topic, env.type, "ignored").inc()
            return "ignored"
        msg = Incoming(topic, key, value, headers or {}, partition, offset, env)
        outcome = await self._apply(handler, msg)
        if isinstance(outcome, tuple):
            reason, category = outcome
            return await self._dead(key, value, reason, category, partition, offset, env.type)
        EVENTS_CONSUMED.labels(topic, env.type, outcome).inc()
        self._committed([outcome])
        return outcome

    async def handle_batch(self, batch: list[Raw]) -> list[str]:
        """Apply a batch in one transaction, each event in its own savepoint.

        One commit for the whole batch instead of one per event; each event is still claimed
        in processed_events in the same transaction as its state change. A rejected event
        rolls back only its savepoint and goes to the DLQ after the commit. If the batch
        fails as a whole, its events are applied one by one with the usual retries.
        """
        ready: list[tuple[int, Incoming, Handler]] = []
        outcomes: list[str] = [""] * len(batch)
        for i, raw in enumerate(batch):
            first = await self._triage(raw)
            if isinstance(first, str):
                outcomes[i] = first
            else:
                ready.append((i, *first))
        if not ready:
            return outcomes
        try:
            dead = await self._apply_batch(ready, outcomes)
        except Exception as exc:  # noqa: BLE001 - fall back to one by one, with retries
            log.warning("batch failed, applying one by one", error=str(exc), size=len(ready))
            for i, msg, handler in ready:
                outcomes[i] = await self._finish(msg, await self._apply(handler, msg))
            self._committed(outcomes)
            return outcomes
        self._committed(outcomes)
        for i, msg, reason in dead:
            outcomes[i] = await self._finish(msg, reason)
        return outcomes

    def _committed(self, outcomes: list[str]) -> None:
        if self.spec.on_commit is not None and "applied" in outcomes:
            self.spec.on_commit()

    async def _triage(self, raw: Raw) -> str | tuple[Incoming, Handler]:
        """Decode and pick the handler; poison and unhandled types are settled here."""
        topic = self.spec.topic
        if (skipped := self._skip(raw.headers)) is not None:
            return skipped
        try:
            env = decode_record(raw.value, raw.headers)
        except EnvelopeError as exc:
            bind_event_context()  # no ids of an earlier event on this message's lines
            return await self._dead(raw.key, raw.value, exc.reason, "malformed", raw.partition,
                                    raw.offset, "?")
        bind_event_context(correlation_id=env.correlationid, case_id=env.subject)
        if env.type not in self._allowed:
            return await self._dead(raw.key, raw.value,
                                    f"unknown event type {env.type!r} on {topic}",
                                    "unknown-type", raw.partition, raw.offset, env.type)
        handler = self.spec.handlers.get(env.type)
        if handler is None:
            EVENTS_CONSUMED.labels(topic, env.type, "ignored").inc()
            return "ignored"
        return Incoming(topic, raw.key, raw.value, raw.headers, raw.partition, raw.offset,
                        env), handler

    def _skip(self, headers: dict[str, bytes] | None) -> str | None:
        """'skipped' when the record's type header names a type of this topic that this
        consumer has no handler for: acknowledged without decoding the value. A missing,
        unreadable or foreign type header decides nothing (the value is decoded and checked)."""
        named = (headers or {}).get(TYPE_HEADER)
        if not named:
            return None
        try:
            type_ = named.decode("ascii")
        except (UnicodeDecodeError, AttributeError):
            return None
        if type_ not in self._allowed or type_ in self.spec.handlers:
            return None
        EVENTS_CONSUMED.labels(self.spec.topic, type_, "skipped").inc()
        return "skipped"

    async def _apply_batch(self, ready, outcomes) -> list[tuple[int, Incoming, tuple]]:
        dead = []
        start = time.perf_counter()
        # an event alone in its batch needs no savepoint (two round trips): if it is rejected,
        # the whole transaction rolls back and the one-by-one path dead-letters it
        alone = len(ready) == 1
        async with self._pool().acquire() as conn, conn.transaction():
            for i, msg, handler in ready:
                bind_event_context(correlation_id=msg.envelope.correlationid,
                                   case_id=msg.envelope.subject)
                try:
                    async with nullcontext() if alone else conn.transaction():  # a savepoint
                        if not await claim_event(conn, self.spec.name, msg.envelope.id):
                            outcomes[i] = "duplicate"
                            continue
                        await handler(self.spec.unit_of_work(conn), msg)
                        outcomes[i] = "applied"
                except Exception as exc:
                    problem = problem_for(exc)
                    if problem is None or problem.retry or alone:
                        raise  # the whole batch falls back to one by one, with retries
                    dead.append((i, msg, (problem.detail or problem.title, problem.slug)))
        elapsed = time.perf_counter() - start
        for i, msg, _ in ready:
            if outcomes[i]:
                EVENTS_CONSUMED.labels(self.spec.topic, msg.envelope.type, outcomes[i]).inc()
                EVENT_HANDLE_SECONDS.labels(self.spec.topic).observe(elapsed / len(ready))
        return dead

    async def _finish(self, msg: Incoming, outcome: str | tuple[str, str]) -> str:
        bind_event_context(correlation_id=msg.envelope.correlationid, case_id=msg.envelope.subject)
        if isinstance(outcome, tuple):
            reason, category = outcome
            return await self._dead(msg.key, msg.value, reason, category, msg.partition,
                                    msg.offset, msg.envelope.type)
        EVENTS_CONSUMED.labels(self.spec.topic, msg.envelope.type, outcome).inc()
        return outcome

    async def _apply(self, handler: Handler, msg: Incoming) -> str | tuple[str, str]:
        bind_event_context(correlation_id=msg.envelope.correlationid, case_id=msg.envelope.subject)
        attempt, delay = 0, 0.1
        while True:
            attempt += 1
            start = time.perf_counter()
            try:
                async with self._pool().acquire() as conn, conn.transaction():
                    if not await claim_event(conn, self.spec.name, msg.envelope.id):
                        return "duplicate"
                    await handler(self.spec.unit_of_work(conn), msg)
                EVENT_HANDLE_SECONDS.labels(self.spec.topic).observe(time.perf_counter() - start)
                return "applied"
            except Exception as exc:  # noqa: BLE001 - a bug must not wedge the partition
                problem = problem_for(exc)
                if problem is not None and not problem.retry:
                    return problem.detail or problem.title, problem.slug
                if problem is not None:
                    log.warning("transient error applying event, retrying", error=str(exc),
                                event_type=msg.envelope.type, attempt=attempt)
                else:
                    log.exception("handler failed", event_type=msg.envelope.type,
                                  attempt=attempt)
                    if attempt >= MAX_BUG_ATTEMPTS:
                        return f"handler error after {attempt} attempts: {exc!r}", "handler-error"
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _dead(self, key, value, reason, category, partition, offset, type_) -> str:
        await send_to_dlq(self._producer(), topic=self.spec.topic, key=key, value=value,
                          reason=reason, category=category, partition=partition, offset=offset)
        EVENTS_CONSUMED.labels(self.spec.topic, type_ if type_ in self._allowed else "invalid",
                               "dlq").inc()
        return "dlq"
