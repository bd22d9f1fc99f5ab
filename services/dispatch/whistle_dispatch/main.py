"""Composition root of the dispatch service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from functools import partial

from fastapi import FastAPI
from prometheus_client import Gauge
from whistle_catalogue import load_catalogue, load_territory
from whistle_common.consumer import ConsumerSpec
from whistle_common.service import Runtime, create_service
from whistle_common.topics import DISPATCH_REPORTS, INCIDENTS_RECEIVED
from whistle_common.usecase import run_use_case

from . import handlers
from .adapters.calendar import is_workday
from .adapters.uow import PgDispatchUnitOfWork
from .domain.merging import MergePolicy
from .domain.supervision import Policy
from .entrypoints import http
from .schedule import SweepSchedule
from .settings import Settings

log = logging.getLogger(__name__)
CASES_OPEN = Gauge("whistle_cases_open", "Open assignments per department", ["dept"])
CASES_OVERDUE = Gauge("whistle_cases_overdue", "Overdue open assignments per department",
                      ["dept"])


async def refresh_gauges(runtime: Runtime, depts: list[str]) -> None:
    """Set the per-department open/overdue gauges from the database (run by a scrape)."""
    counts = await run_use_case(runtime.uow, handlers.count_open, handlers.At(datetime.now(UTC)))
    for dept in depts:
        row = counts.get(dept, {})
        CASES_OPEN.labels(dept).set(row.get("open", 0))
        CASES_OVERDUE.labels(dept).set(row.get("overdue", 0))


async def supervise(runtime: Runtime, ctx: handlers.Context, schedule: SweepSchedule) -> None:
    """Fire due stages whenever the schedule says a deadline has come. Every worker sweeps;
    row locks make each stage fire exactly once."""
    while True:
        now = upcoming = datetime.now(UTC)  # no database yet: look again shortly
        if runtime.pool is not None:
            try:
                await handlers.sweep(ctx, runtime.uow, now)
                schedule.swept(now)
                upcoming = await run_use_case(runtime.uow, handlers.next_deadline,
                                              handlers.At(now))
            except Exception:  # noqa: BLE001 - a failed sweep is retried on the next one
                log.exception("supervision sweep failed")
                upcoming = now  # retry after the shortest interval
        await schedule.wait(upcoming)


def merge_settings(settings: Settings) -> dict:
    """The merge policy (并单) the settings ask for: which categories, how far apart."""
    chosen = settings.merge_categories.strip()
    if chosen.lower() in ("none", "off", ""):
        return {"merge_policy": None}
    distance = settings.merge_distance_m
    policy = MergePolicy(distance_m=distance, distances={
        code: 3 * distance for code in ("water", "power", "gas_supply", "heating")})
    categories = None if chosen == "*" else frozenset(
        c.strip() for c in chosen.split(",") if c.strip())
    return {"merge_policy": policy, "merge_categories": categories}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the dispatch service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    catalogue = load_catalogue()
    schedule = SweepSchedule(min_interval=settings.sweep_seconds,
                             max_idle=max(settings.sweep_seconds, settings.sweep_idle_seconds))
    ctx = handlers.Context(catalogue, load_territory(), is_workday,
                           dict(settings.whistle_dept_secrets), settings.max_returns,
                           time_scale=settings.time_scale,
                           policy=Policy.parse(settings.escalation_policy),
                           autoclose_seconds=settings.autoclose_seconds * settings.time_scale,
                           on_deadline=schedule.deadline_written,
                           **merge_settings(settings))
    consumers = [
        ConsumerSpec(INCIDENTS_RECEIVED, name="dispatch.incidents",
                     handlers={"incident.received.v1": partial(handlers.on_incident, ctx)}),
        ConsumerSpec(DISPATCH_REPORTS, name="dispatch.reports",
                     handlers={"dispatch.reported.v1": partial(handlers.on_report, ctx)}),
    ]
    depts = list(catalogue.departments)
    for dept in depts:
        handlers.ACK_SECONDS.labels(dept)
    tasks: list[asyncio.Task] = []

    async def start_background(runtime: Runtime) -> None:
        tasks.append(asyncio.create_task(supervise(runtime, ctx, schedule),
                                         name="supervision-sweep"))

    async def stop_background(_: Runtime) -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = create_service(settings=settings, package="whistle_dispatch",
                         title="Whistle dispatch", routers=[http.router], consumers=consumers,
                         dept_codes=depts, on_start=[start_background], on_stop=[stop_background],
                         unit_of_work=PgDispatchUnitOfWork,
                         on_scrape=[partial(refresh_gauges, depts=depts)],
                         scrape_min_age=settings.gauge_refresh_seconds)
    app.state.ctx = ctx
    return app
