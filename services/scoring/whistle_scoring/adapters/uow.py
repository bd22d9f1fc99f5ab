"""Scoring's unit of work: volunteers, tasks, the ledger, the assessment, incident counts
and hotspots, and the outbox on one transaction."""

from __future__ import annotations

import asyncpg
from whistle_common.uow import PgUnitOfWork

from .ledger import Ledger
from .repository import (
    AssessmentRepository,
    HotspotRepository,
    TaskRepository,
    VolunteerRepository,
)


class PgScoringUnitOfWork(PgUnitOfWork):
    volunteers: VolunteerRepository
    tasks: TaskRepository
    ledger: Ledger
    assessment: AssessmentRepository
    hotspots: HotspotRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        self.volunteers = VolunteerRepository(conn)
        self.tasks = TaskRepository(conn)
        self.ledger = Ledger(conn)
        self.assessment = AssessmentRepository(conn)
        self.hotspots = HotspotRepository(conn)
