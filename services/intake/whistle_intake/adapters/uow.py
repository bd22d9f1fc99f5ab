"""Intake's unit of work: its incidents repository and outbox on one transaction."""

from __future__ import annotations

import asyncpg
from whistle_common.uow import PgUnitOfWork

from .repository import IncidentRepository


class PgIntakeUnitOfWork(PgUnitOfWork):
    incidents: IncidentRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        self.incidents = IncidentRepository(conn)
