"""Consuming one topic at-least-once and idempotently, with poison messages to the DLQ."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from .dlq import send_to_dlq
from .envelope import Envelope, EnvelopeError, decode
from .idempotency import claim_event
from .kafka import Producer
from .logging import bind_event_context
from .metrics import EVENT_HANDLE_SECONDS, EVENTS_CONSUMED
from .topics import event_types_of

log = structlog.get_logger(__name__)
TRANSIENT = (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
             asyncpg.InterfaceError, asyncpg.TooManyConnectionsError, asyncio.TimeoutError,
             asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
MAX_BUG_ATTEMPTS = 5


class Rejected(Exception):
    """A handler refuses an event (invalid for the current state); it goes to the DLQ."""

    def __init__(self, reason: str, category: str = "rejected") -> None:
        super().__init__(reason)
        self.reason, self.category = reason, category


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


Handler = Callable[[asyncpg.Connection, Incoming], Awaitable[None]]


@dataclass
class ConsumerSpec:
    """What one service does with one topic: a handler per event type."""

    topic: str
    handlers: dict[str, Handler]
    name: str
    concurrency: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


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
        """Apply one message; return the outcome (applied, duplicate, ignored, dlq)."""
        topic = self.spec.topic
        try:
            env = decode(value)
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
        return outcome

    async def _apply(self, handler: Handler, msg: Incoming) -> str | tuple[str, str]:
        attempt, delay = 0, 0.1
        while True:
            attempt += 1
            start = time.perf_counter()
            try:
                async with self._pool().acquire() as conn, conn.transaction():
                    if not await claim_event(conn, self.spec.name, msg.envelope.id):
                        return "duplicate"
                    await handler(conn, msg)
                EVENT_HANDLE_SECONDS.labels(self.spec.topic).observe(time.perf_counter() - start)
                return "applied"
            except Rejected as exc:
                return exc.reason, exc.category
            except TRANSIENT as exc:
                log.warning("transient error applying event, retrying", error=str(exc),
                            event_type=msg.envelope.type, attempt=attempt)
            except Exception as exc:  # noqa: BLE001 - a bug must not wedge the partition
                log.exception("handler failed", event_type=msg.envelope.type, attempt=attempt)
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
