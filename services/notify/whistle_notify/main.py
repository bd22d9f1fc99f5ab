"""Composition root of the notify service."""

from __future__ import annotations

from fastapi import FastAPI
from whistle_common.consumer import ConsumerSpec
from whistle_common.service import create_service
from whistle_common.topics import CASES_EVENTS, NOTIFICATIONS_REQUESTS, POINTS_EVENTS

from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the notify service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    consumers = [ConsumerSpec(t, handlers={}, name=f"notify.{t}")
                 for t in (CASES_EVENTS, POINTS_EVENTS, NOTIFICATIONS_REQUESTS)]
    return create_service(settings=settings, package="whistle_notify",
                          title="Whistle notify", routers=[], consumers=consumers)
