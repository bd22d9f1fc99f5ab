"""Notify's unit of work: notifications, preferences, contacts and the outbox on one
transaction."""

from __future__ import annotations

import asyncpg
from whistle_common.uow import PgUnitOfWork

from .repository import ContactRepository, NotificationRepository, PreferenceRepository


class PgNotifyUnitOfWork(PgUnitOfWork):
    notifications: NotificationRepository
    preferences: PreferenceRepository
    contacts: ContactRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        self.notifications = NotificationRepository(conn)
        self.preferences = PreferenceRepository(conn)
        self.contacts = ContactRepository(conn)
