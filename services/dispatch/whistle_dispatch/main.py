"""Composition root of the dispatch service."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from whistle_catalogue import load_catalogue
from whistle_common.consumer import ConsumerSpec, Incoming
from whistle_common.service import create_service
from whistle_common.topics import INCIDENTS_RECEIVED

from .settings import Settings


async def on_incident(conn, msg: Incoming) -> None:
    data = msg.envelope.data
    await conn.execute(
        "INSERT INTO cases(id, incident_id, status, category) VALUES ($1,$2,'created',$3) "
        "ON CONFLICT (incident_id) DO NOTHING",
        uuid.uuid4(), msg.envelope.subject, data.get("category", "general"))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the dispatch service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    consumers = [ConsumerSpec(INCIDENTS_RECEIVED, handlers={"incident.received.v1": on_incident},
                              name="dispatch.incidents")]
    return create_service(settings=settings, package="whistle_dispatch", title="Whistle dispatch",
                          routers=[], consumers=consumers,
                          dept_codes=list(load_catalogue().departments))
