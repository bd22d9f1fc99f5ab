"""Dead-letter helper: a message that cannot be applied goes to `<topic>.dlq` with the reason."""

from __future__ import annotations

import asyncio

import structlog

from .kafka import Producer
from .metrics import DLQ_MESSAGES
from .topics import dlq_topic

log = structlog.get_logger(__name__)
MAX_REASON = 1000


def dlq_headers(topic: str, reason: str, category: str, partition: int | None = None,
                offset: int | None = None) -> list[tuple[str, str]]:
    """The headers that say where a dead letter came from and why."""
    return [("x-dlq-reason", reason[:MAX_REASON]), ("x-dlq-category", category),
            ("x-dlq-source-topic", topic), ("x-dlq-source-partition", str(partition)),
            ("x-dlq-source-offset", str(offset))]


def dlq_log(topic: str, category: str, reason: str, **where: object) -> None:
    """Count and log one dead letter."""
    DLQ_MESSAGES.labels(topic, category).inc()
    log.warning("message sent to dlq", topic=topic, category=category, reason=reason[:200],
                **where)


async def send_to_dlq(
    producer: Producer, *, topic: str, key: bytes | None, value: bytes | None, reason: str,
    category: str, partition: int | None = None, offset: int | None = None,
    attempts: int = 0,
) -> None:
    """Publish the original bytes to the DLQ (acks=all), retrying until Kafka takes them.

    The consumer does not move past a poison message until it is safely in the DLQ,
    so nothing is dropped on the floor.
    """
    headers = [(k, v.encode()) for k, v in dlq_headers(topic, reason, category, partition,
                                                      offset)]
    delay = 0.2
    while True:
        try:
            kafka = await producer.get()
            await kafka.send_and_wait(dlq_topic(topic), value=value or b"", key=key,
                                      headers=headers)
            break
        except Exception as exc:  # noqa: BLE001 - retry until the DLQ has it
            attempts += 1
            log.warning("dlq publish failed, retrying", topic=topic, error=str(exc),
                        attempts=attempts)
            await producer.reset()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
    dlq_log(topic, category, reason, partition=partition, offset=offset)
