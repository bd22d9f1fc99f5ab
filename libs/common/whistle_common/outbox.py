"""Transactional outbox: events commit with the state change, a relay publishes them."""

from __future__ import annotations

import asyncio
import json
import random

import asyncpg
import structlog

from .envelope import CONTENT_TYPE, TYPE_HEADER, Envelope
from .kafka import Producer
from .metrics import OUTBOX_PENDING, OUTBOX_PUBLISH_ERRORS, OUTBOX_PUBLISHED

log = structlog.get_logger(__name__)
CHANNEL = "whistle_outbox"
RELAY_LOCK = 0x5717_0002  # one relay publishes at a time per database, keeping key order
# While LISTEN works, a commit wakes the relay; polling is then only a safety net (a wake-up
# lost with a dropped connection) and runs this rarely. Without LISTEN, poll_seconds applies.
IDLE_POLL_SECONDS = 30.0
# One statement per batch: the relay lock, the next rows and how many are pending in all
# (the window count is taken before LIMIT). Always one row at least: `mine` false (and no
# outbox columns) when another relay holds the lock, `id` null when nothing is pending.
# The transaction commits without waiting for its WAL flush: marking rows sent is the one
# thing it writes, and should a database crash lose that mark the rows are published again,
# which consumers already take as a redelivery (at least once, deduplicated by event id).
NEXT_BATCH = (
    "WITH relay AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($1) AS mine,"
    " set_config('synchronous_commit', 'off', true)) "
    "SELECT relay.mine, o.* FROM relay LEFT JOIN LATERAL ("
    " SELECT id, topic, key, value, headers, count(*) OVER () AS pending FROM outbox"
    " WHERE relay.mine AND sent_at IS NULL ORDER BY id LIMIT $2) o ON true")


async def enqueue(conn: asyncpg.Connection, topic: str, event: Envelope,
                  headers: dict[str, str] | None = None) -> None:
    """Write event to the outbox inside the caller's transaction."""
    await enqueue_many(conn, [(topic, event, headers)])


async def enqueue_many(
    conn: asyncpg.Connection, items: list[tuple[str, Envelope, dict[str, str] | None]]
) -> None:
    """Write several events to the outbox inside the caller's transaction."""
    if not items:
        return
    # structured mode of the CloudEvents Kafka binding: the header tells an SDK the value is
    # the whole event (without it, SDKs read records as binary mode and find no event)
    rows = [(topic, ev.key, ev.to_bytes(),
             json.dumps(sorted({"content-type": CONTENT_TYPE, TYPE_HEADER: ev.type,
                                **(headers or {})}.items())),
             ev.id)
            for topic, ev, headers in items]
    # one statement for all rows; its trigger (migration 0002) wakes the relay on commit
    await conn.execute(
        "INSERT INTO outbox(topic, key, value, headers, event_id) "
        "SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[], $5::text[])",
        *map(list, zip(*rows, strict=True)))


class OutboxRelay:
    """Publishes pending outbox rows in id order; a broker outage only delays them."""

    def __init__(self, pool: asyncpg.Pool, producer: Producer, *, batch_size: int = 500,
                 poll_seconds: float = 0.5, retention_hours: int = 72) -> None:
        self._pool = pool
        self._producer = producer
        self._batch = batch_size
        self._poll = poll_seconds
        self._retention_hours = retention_hours
        self._wake = asyncio.Event()
        self._contended = False  # the last try found another relay publishing
        self._task: asyncio.Task | None = None
        self._listener: asyncpg.Connection | None = None

    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def _notified(self, *_) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        """(Re)open the LISTEN connection; polling covers any gap while it is down."""
        await self._unlisten()
        try:
            conn = await self._pool.acquire(timeout=5)
            await asyncio.wait_for(conn.add_listener(CHANNEL, self._notified), 5)
            self._listener = conn
        except Exception as exc:  # noqa: BLE001 - polling still publishes
            log.warning("outbox listener unavailable, polling only", error=str(exc))

    async def _unlisten(self) -> None:
        conn, self._listener = self._listener, None
        if conn is None:
            return
        try:
            if not conn.is_closed():
                await asyncio.wait_for(conn.remove_listener(CHANNEL, self._notified), 5)
            await self._pool.release(conn, timeout=5)
        except Exception:  # noqa: BLE001 - a dead connection is simply dropped
            pass

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._unlisten()

    def listening(self) -> bool:
        """True while the LISTEN connection is usable. After a database crash asyncpg detaches
        the connection from its pool proxy and every call on the proxy raises: that means
        "gone", not a failed publish (which would reset the shared Kafka producer)."""
        try:
            return self._listener is not None and not self._listener.is_closed()
        except asyncpg.InterfaceError:
            self._listener = None
            return False

    @property
    def alive(self) -> bool:
        """False when the relay task has ended (it never should while the service runs)."""
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        """Relay forever; every step is bounded in time and every failure is retried."""
        failures = cycles = 0
        while True:
            # cleared before reading, so a commit notified while publishing is never lost
            self._wake.clear()
            try:
                sent = await asyncio.wait_for(self.publish_batch(), 60)
                failures = 0
                cycles += 1
                if cycles % 200 == 0:
                    await asyncio.wait_for(self._purge(), 30)
                if not self.listening():
                    await asyncio.wait_for(self._listen(), 15)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep relaying whatever broke
                failures += 1
                OUTBOX_PUBLISH_ERRORS.inc()
                log.warning("outbox publish failed", error=repr(exc), failures=failures)
                await self._producer.reset()
                await asyncio.sleep(min(10.0, 0.2 * 2 ** failures) * random.uniform(0.5, 1.0))
                continue
            if sent < self._batch:
                await self._idle()

    async def _idle(self) -> None:
        """Wait for a commit's notification, or until the next poll."""
        try:
            await asyncio.wait_for(self._wake.wait(), self.idle_timeout())
        except TimeoutError:
            pass

    def idle_timeout(self) -> float:
        """Seconds until the next poll: rarely while listening alone, often without LISTEN or
        while another relay publishes (it may die holding the rows)."""
        quiet = self.listening() and not self._contended
        return max(self._poll, IDLE_POLL_SECONDS) if quiet else self._poll

    async def publish_batch(self) -> int:
        """Publish up to one batch; rows are marked sent only after Kafka acknowledged all."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(NEXT_BATCH, RELAY_LOCK, self._batch)
            self._contended = not rows[0]["mine"]
            if rows[0]["id"] is None:
                if not self._contended:
                    OUTBOX_PENDING.set(0)
                return 0
            producer = await self._producer.get()
            futures = []
            for row in rows:
                headers = [(k, v.encode()) for k, v in json.loads(row["headers"])]
                futures.append(await producer.send(
                    row["topic"], value=row["value"], key=row["key"], headers=headers))
            await asyncio.wait_for(asyncio.gather(*futures), 30)
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
                               [r["id"] for r in rows])
            for row in rows:
                OUTBOX_PUBLISHED.labels(row["topic"]).inc()
            OUTBOX_PENDING.set(rows[0]["pending"] - len(rows))
            return len(rows)

    async def _purge(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE sent_at < now() - make_interval(hours => $1)",
                self._retention_hours)
