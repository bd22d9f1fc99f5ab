"""Composition root of the intake service."""

from __future__ import annotations

from fastapi import FastAPI
from whistle_common.consumer import ConsumerSpec
from whistle_common.service import create_service
from whistle_common.topics import CASES_EVENTS

from .entrypoints import http
from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the intake service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    consumers = [ConsumerSpec(CASES_EVENTS, handlers={}, name="intake.cases")]
    return create_service(settings=settings, package="whistle_intake", title="Whistle intake",
                          routers=[http.router], consumers=consumers)
