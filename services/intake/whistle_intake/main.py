"""Composition root of the intake service."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from fastapi import FastAPI
from whistle_catalogue import load_catalogue
from whistle_common.consumer import ConsumerSpec
from whistle_common.ratelimit import TokenBuckets
from whistle_common.service import Runtime, create_service
from whistle_common.topics import CASES_EVENTS, EVENT_TYPES
from whistle_places.places import load_places

from . import handlers
from .adapters.model_store import ClassifierHolder, ModelStore, load_overrides
from .adapters.uow import PgIntakeUnitOfWork
from .entrypoints import http, open311
from .settings import Settings


def load_classifier(model_dir: Path | None = None) -> ClassifierHolder:
    """The promoted model (or the shipped one), the keyword overrides, and the catalogue's
    lead departments; a model that cannot load leaves the rules in charge."""
    catalogue = load_catalogue()
    holder = ClassifierHolder(ModelStore(model_dir), load_overrides(),
                              {c.code: c.lead for c in catalogue.categories.values()})
    holder.refresh()
    return holder


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the intake service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    case_handlers = {t: handlers.on_case_event for t in EVENT_TYPES[CASES_EVENTS]}
    case_handlers["classification.corrected.v1"] = handlers.on_correction
    consumers = [ConsumerSpec(CASES_EVENTS, handlers=case_handlers, name="intake.cases")]
    holder = ClassifierHolder(ModelStore(settings.model_dir), load_overrides(),
                              {c.code: c.lead for c in load_catalogue().categories.values()})

    async def load_model(_: Runtime) -> None:
        await asyncio.to_thread(holder.refresh)
        app.state.model_watch = asyncio.create_task(_watch(holder, settings.model_refresh_seconds))

    async def stop_watch(_: Runtime) -> None:
        task = getattr(app.state, "model_watch", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = create_service(settings=settings, package="whistle_intake", title="Whistle intake",
                         routers=[http.router, open311.router], consumers=consumers,
                         form_prefixes=("/open311/",), on_start=[load_model],
                         on_stop=[stop_watch], ready_details={"classifier": holder.status},
                         unit_of_work=PgIntakeUnitOfWork)
    app.state.ref = handlers.Reference(load_catalogue(), load_places(), holder)
    app.state.buckets = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    return app


async def _watch(holder: ClassifierHolder, seconds: float) -> None:
    """Swap in a newly promoted model without a restart."""
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(holder.refresh)
