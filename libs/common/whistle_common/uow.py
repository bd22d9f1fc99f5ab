"""Unit of work (the async form of cosmicpython's pattern): one transaction, the service's
repositories bound to it, and its outbox.

Handlers take `(uow, command)` and never see a connection. `run_use_case` (usecase.py) opens
the unit, runs the handler and commits; leaving without a commit rolls back. A consumer binds
a unit to the transaction it already holds (one batch, a savepoint per event): there the
consumer commits, so `commit` and `rollback` of a joined unit do nothing.

Each service subclasses `PgUnitOfWork` (building its repositories in `bind`) and
`FakeUnitOfWork` (in-memory repositories for handler unit tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

import asyncpg

from .dlq import dlq_headers, dlq_log
from .envelope import Envelope
from .topics import dlq_topic


class Outbox(Protocol):
    """Messages that leave with the transaction: events and dead letters."""

    async def add(self, topic: str, event: Envelope,
                  headers: dict[str, str] | None = None) -> None: ...

    async def add_many(self,
                       items: list[tuple[str, Envelope, dict[str, str] | None]]) -> None: ...

    async def dead_letter(self, *, topic: str, key: bytes | None, value: bytes, reason: str,
                          category: str, dead_letter_id: str) -> None: ...


class UnitOfWork:
    """`async with uow:` … `await uow.commit()`; anything not committed is rolled back."""

    outbox: Outbox

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.rollback()

    async def commit(self) -> None:
        raise NotImplementedError

    async def rollback(self) -> None:
        raise NotImplementedError


class PgOutbox:
    """The `outbox` table, written in the unit's transaction; the relay publishes it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, topic: str, event: Envelope,
                  headers: dict[str, str] | None = None) -> None:
        from .outbox import enqueue_many

        await enqueue_many(self._conn, [(topic, event, headers)])

    async def add_many(self, items: list[tuple[str, Envelope, dict[str, str] | None]]) -> None:
        from .outbox import enqueue_many

        await enqueue_many(self._conn, items)

    async def dead_letter(self, *, topic: str, key: bytes | None, value: bytes, reason: str,
                          category: str, dead_letter_id: str) -> None:
        await self._conn.execute(
            "INSERT INTO outbox(topic, key, value, headers, event_id) VALUES ($1,$2,$3,$4,$5)",
            dlq_topic(topic), key, value, json.dumps(dlq_headers(topic, reason, category)),
            dead_letter_id)
        dlq_log(topic, category, reason)


class PgUnitOfWork(UnitOfWork):
    """A transaction on a pooled connection, or a unit joined to a caller's transaction."""

    def __init__(self, pool: asyncpg.Pool | None = None, *,
                 conn: asyncpg.Connection | None = None) -> None:
        if (pool is None) == (conn is None):
            raise ValueError("give a pool (own transaction) or a connection (joined)")
        self._pool = pool
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None
        if conn is not None:
            self._bind(conn)

    def _bind(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.outbox = PgOutbox(conn)
        self.bind(conn)

    def bind(self, conn: asyncpg.Connection) -> None:
        """Build the service's repositories on `conn` (subclasses)."""

    async def __aenter__(self) -> Self:
        if self._pool is None:
            return self  # joined: the caller's transaction is already open
        conn = await self._pool.acquire()
        try:
            self._tx = conn.transaction()
            await self._tx.start()
        except BaseException:
            await self._pool.release(conn)
            raise
        self._bind(conn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pool is None:
            return
        try:
            await self.rollback()
        finally:
            conn, self._conn = self._conn, None
            if conn is not None:
                await self._pool.release(conn)

    async def commit(self) -> None:
        if self._tx is not None:
            tx, self._tx = self._tx, None
            await tx.commit()

    async def rollback(self) -> None:
        if self._tx is not None:
            tx, self._tx = self._tx, None
            try:
                await tx.rollback()
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
                pass  # the connection is gone, and its transaction with it


@dataclass
class DeadLetter:
    topic: str
    key: bytes | None
    value: bytes
    reason: str
    category: str
    dead_letter_id: str


@dataclass
class FakeOutbox:
    """In memory: what a committed unit would have published (`events`, `dead`)."""

    events: list[tuple[str, Envelope, dict[str, str] | None]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    _pending: list[tuple[str, Envelope, dict[str, str] | None]] = field(default_factory=list)
    _pending_dead: list[DeadLetter] = field(default_factory=list)

    async def add(self, topic: str, event: Envelope,
                  headers: dict[str, str] | None = None) -> None:
        self._pending.append((topic, event, headers))

    async def add_many(self, items: list[tuple[str, Envelope, dict[str, str] | None]]) -> None:
        self._pending.extend(items)

    async def dead_letter(self, *, topic: str, key: bytes | None, value: bytes, reason: str,
                          category: str, dead_letter_id: str) -> None:
        if all(d.dead_letter_id != dead_letter_id for d in self.dead + self._pending_dead):
            self._pending_dead.append(DeadLetter(topic, key, value, reason, category,
                                                 dead_letter_id))

    def flush(self) -> None:
        self.events += self._pending
        self.dead += self._pending_dead
        self.discard()

    def discard(self) -> None:
        self._pending, self._pending_dead = [], []

    def of_type(self, event_type: str) -> list[Envelope]:
        return [event for _, event, _ in self.events if event.type == event_type]

    def topics(self) -> list[str]:
        return [topic for topic, _, _ in self.events]


class FakeUnitOfWork(UnitOfWork):
    """For handler unit tests: repositories in memory, an outbox that lists what it holds.

    Subclasses set their fake repositories in `__init__` and may snapshot/restore them in
    `checkpoint`/`restore` so that a rollback really undoes a failed handler's writes.
    """

    def __init__(self) -> None:
        self.outbox = FakeOutbox()
        self.commits = 0
        self.rollbacks = 0
        self._open = False

    async def __aenter__(self) -> Self:
        self._open = True
        self.checkpoint()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._open:
            await self.rollback()

    async def commit(self) -> None:
        self.commits += 1
        self.outbox.flush()
        self._open = False

    async def rollback(self) -> None:
        if self._open:
            self.rollbacks += 1
            self.outbox.discard()
            self.restore()
            self._open = False

    def checkpoint(self) -> None:
        """Remember the repositories' state (subclasses)."""

    def restore(self) -> None:
        """Return the repositories to the last checkpoint (subclasses)."""
