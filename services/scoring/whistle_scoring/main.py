"""Composition root of the scoring service."""

from __future__ import annotations

import json
from importlib import resources

from fastapi import FastAPI
from whistle_catalogue import load_territory
from whistle_common.consumer import ConsumerSpec
from whistle_common.service import create_service
from whistle_common.topics import CASES_EVENTS

from . import handlers
from .domain.points import PointsRules
from .entrypoints import http
from .settings import Settings


def load_context() -> handlers.Context:
    """Points rules, leaderboard sizes and assessment weights: data shipped with scoring."""
    raw = json.loads((resources.files("whistle_scoring") / "data" / "rules.json").read_text())
    return handlers.Context(PointsRules(**raw["points"]), raw["assessment_weights"],
                            raw["leaderboard_top"], load_territory())


def case_consumer() -> ConsumerSpec:
    return ConsumerSpec(CASES_EVENTS, name="scoring.cases",
                        handlers={t: handlers.on_case_event for t in handlers.ASSESSED})


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the scoring service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    app = create_service(settings=settings, package="whistle_scoring", title="Whistle scoring",
                         routers=[http.router], consumers=[case_consumer()])
    app.state.ctx = load_context()
    return app
