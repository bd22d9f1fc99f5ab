"""Composition root of the intake service."""

from __future__ import annotations

import json
from importlib import resources

from fastapi import FastAPI
from whistle_catalogue import load_catalogue, load_territory
from whistle_common.consumer import ConsumerSpec
from whistle_common.ratelimit import TokenBuckets
from whistle_common.service import create_service
from whistle_common.topics import CASES_EVENTS, EVENT_TYPES

from . import handlers
from .domain.classifier import Classifier
from .entrypoints import http, open311
from .settings import Settings


def load_classifier() -> Classifier:
    """The keyword rule table shipped as data with intake."""
    text = (resources.files("whistle_intake") / "data" / "classifier_rules.json").read_text("utf-8")
    return Classifier.from_dict(json.loads(text))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the intake service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    case_handlers = {t: handlers.on_case_event for t in EVENT_TYPES[CASES_EVENTS]}
    consumers = [ConsumerSpec(CASES_EVENTS, handlers=case_handlers, name="intake.cases")]
    app = create_service(settings=settings, package="whistle_intake", title="Whistle intake",
                         routers=[http.router, open311.router], consumers=consumers,
                         form_prefixes=("/open311/",))
    app.state.ref = handlers.Reference(load_catalogue(), load_territory(), load_classifier())
    app.state.buckets = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    return app
