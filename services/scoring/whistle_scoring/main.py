"""Composition root of the scoring service."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import resources

from fastapi import FastAPI
from prometheus_client import Gauge
from whistle_catalogue import load_catalogue, load_territory
from whistle_common.consumer import ConsumerSpec
from whistle_common.service import Runtime, create_service
from whistle_common.topics import CASES_EVENTS
from whistle_common.usecase import run_use_case

from . import handlers
from .adapters.uow import PgScoringUnitOfWork
from .domain.hotspots import HotspotPolicy
from .domain.periods import month_of, parse_period
from .domain.points import PointsRules
from .entrypoints import http
from .settings import Settings
from .streams import HotspotCounter, attach_hotspots


def load_context(settings: Settings | None = None) -> handlers.Context:
    """Points rules, leaderboard sizes and assessment weights (data shipped with scoring), the
    territory and catalogue, and the hotspot policy the settings ask for."""
    settings = settings or Settings()
    raw = json.loads((resources.files("whistle_scoring") / "data" / "rules.json").read_text())
    policy = HotspotPolicy(window=timedelta(seconds=settings.hotspot_window_seconds),
                           min_count=settings.hotspot_min_count)
    return handlers.Context(PointsRules(**raw["points"]), raw["assessment_weights"],
                            raw["leaderboard_top"], load_territory(), load_catalogue(),
                            hotspots=policy)


def case_consumer(ctx: handlers.Context) -> ConsumerSpec:
    return ConsumerSpec(CASES_EVENTS, name="scoring.cases",
                        handlers={**{t: handlers.on_case_event for t in handlers.ASSESSED},
                                  **{t: partial(handlers.count_incident, ctx)
                                     for t in handlers.COUNTED}})


def hotspot_counter(ctx: handlers.Context, runtime: Runtime) -> HotspotCounter:
    """The streams' counter, judging and raising through scoring's use cases."""
    async def load(key, starts):
        return await run_use_case(runtime.uow, partial(handlers.baselines, ctx),
                                  handlers.BaselineQuery(key, starts))

    async def raise_(key, start, detection, cases):
        return await run_use_case(runtime.uow, partial(handlers.raise_hotspot, ctx),
                                  handlers.RaiseHotspot(key, start, detection, cases))

    return HotspotCounter(ctx.hotspots, load, raise_)


DEPT_RATE = Gauge("whistle_department_rate",
                  "This month's assessment rates per department (0–1)", ["dept", "rate"])
DEPT_SCORE = Gauge("whistle_department_score", "This month's weighted score", ["dept"])
COMMUNITY_POINTS = Gauge("whistle_community_points_month",
                         "Points awarded this month per community", ["community"])


async def refresh_gauges(ctx: handlers.Context, runtime: Runtime) -> None:
    """Set this month's rates, scores and community points from the database (run by a
    scrape)."""
    period = parse_period(month_of(datetime.now(UTC)))
    figures = await run_use_case(runtime.uow, partial(handlers.month_figures, ctx), period)
    for row in figures.ranking:
        for rate, value in row["rates"].items():
            DEPT_RATE.labels(row["dept"], rate).set(value if value is not None
                                                    else float("nan"))
        DEPT_SCORE.labels(row["dept"]).set(row["score"] or 0)
    for community, points in figures.community_points.items():
        COMMUNITY_POINTS.labels(community).set(points)


# a ranking reads the month's assessments: scrapes within this many seconds share one
GAUGE_MIN_AGE = 10.0


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the scoring service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    ctx = load_context(settings)
    for code in ctx.territory.communities:
        COMMUNITY_POINTS.labels(code).set(0)
    app = create_service(settings=settings, package="whistle_scoring", title="Whistle scoring",
                         routers=[http.router], consumers=[case_consumer(ctx)],
                         unit_of_work=PgScoringUnitOfWork,
                         on_scrape=[partial(refresh_gauges, ctx)], scrape_min_age=GAUGE_MIN_AGE)
    app.state.ctx = ctx
    runtime = app.state.runtime
    attach_hotspots(runtime.faust_app, hotspot_counter(ctx, runtime))
    return app
