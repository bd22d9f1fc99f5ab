"""Dispatch's unit of work: its cases repository and outbox on one transaction."""

from __future__ import annotations

import asyncpg
from whistle_common.uow import PgUnitOfWork

from .repository import CaseRepository


class PgDispatchUnitOfWork(PgUnitOfWork):
    cases: CaseRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        self.cases = CaseRepository(conn)
