"""Composition root of the scoring service."""

from __future__ import annotations

from fastapi import FastAPI
from whistle_common.consumer import ConsumerSpec
from whistle_common.service import create_service
from whistle_common.topics import CASES_EVENTS

from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the scoring service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    consumers = [ConsumerSpec(CASES_EVENTS, handlers={}, name="scoring.cases")]
    return create_service(settings=settings, package="whistle_scoring",
                          title="Whistle scoring", routers=[], consumers=consumers)
