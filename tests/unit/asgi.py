"""A service's real ASGI app on an in-memory transport, its use cases on a given unit of work
(no lifespan runs: no Kafka, no Postgres)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from whistle_common.uow import UnitOfWork


@asynccontextmanager
async def client_of(app: FastAPI,
                    unit_of_work: Callable[[], UnitOfWork]) -> AsyncIterator[httpx.AsyncClient]:
    app.state.runtime.uow = unit_of_work
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
