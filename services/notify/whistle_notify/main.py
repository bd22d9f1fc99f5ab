"""Composition root of the notify service."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from functools import partial

import httpx
import structlog
from fastapi import FastAPI
from whistle_catalogue import load_catalogue
from whistle_common.consumer import ConsumerSpec
from whistle_common.service import Runtime, create_service
from whistle_common.topics import (
    CASES_EVENTS,
    EVENT_TYPES,
    INSIGHTS_HOTSPOTS,
    NOTIFICATIONS_REQUESTS,
    POINTS_EVENTS,
)
from whistle_common.usecase import run_use_case

from . import handlers
from .adapters.channels import EmailChannel, InboxChannel, SmsGatewayChannel, WebhookChannel
from .adapters.uow import PgNotifyUnitOfWork
from .domain.delivery import RetryPolicy
from .domain.rules import RULES
from .entrypoints import http
from .render import Renderer
from .settings import Settings

log = structlog.get_logger(__name__)


async def sender(ctx: handlers.Context, runtime: Runtime, every: float,
                 wake: asyncio.Event) -> None:
    """Deliver due notifications; dead ones reach notifications.dlq through the outbox.

    Idle, it sleeps until the next notification falls due (a retry, quiet hours, a lease
    that runs out) or this worker's consumers commit new ones, instead of polling: `every`
    is the shortest sleep, handlers.IDLE_WAIT the longest.
    """
    while True:
        wake.clear()  # before claiming: a commit from now on wakes the next wait
        try:
            sent = await handlers.deliver_due(ctx, runtime.uow)
            wait = None if sent else await run_use_case(
                runtime.uow, partial(handlers.seconds_to_next_due, ctx), every)
        except Exception:  # noqa: BLE001 - the sender keeps going; state is in Postgres
            log.exception("sender loop failed")
            sent, wait = 0, every
        if not sent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the notify service app (nothing opens until the lifespan runs)."""
    settings = settings or Settings()
    client = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
    ctx = handlers.Context(
        renderer=Renderer(load_catalogue().departments),
        channels={"webhook": WebhookChannel(client, dict(settings.whistle_dept_secrets)),
                  "sms": SmsGatewayChannel(client, settings.sms_url, settings.sms_key),
                  "email": EmailChannel(settings.smtp_host, settings.smtp_port,
                                        settings.smtp_from),
                  "inbox": InboxChannel()},
        policy=RetryPolicy(settings.max_attempts, settings.retry_base_seconds),
        webhooks=dict(settings.webhooks), emails=dict(settings.emails),
        rate_limit=settings.rate_limit,
        rate_window=timedelta(seconds=settings.rate_window_seconds))
    on_event = partial(handlers.on_event, ctx)
    wake = asyncio.Event()  # set when a consumer committed new notifications
    consumers = [
        ConsumerSpec(CASES_EVENTS, name="notify.cases",
                     handlers={t: on_event for t in EVENT_TYPES[CASES_EVENTS] if t in RULES},
                     on_commit=wake.set),
        ConsumerSpec(POINTS_EVENTS, name="notify.points",
                     handlers={t: on_event for t in EVENT_TYPES[POINTS_EVENTS]},
                     on_commit=wake.set),
        ConsumerSpec(NOTIFICATIONS_REQUESTS, name="notify.requests",
                     handlers={"notification.requested.v1": partial(handlers.on_request, ctx)},
                     on_commit=wake.set),
        ConsumerSpec(INSIGHTS_HOTSPOTS, name="notify.hotspots",
                     handlers={t: on_event for t in EVENT_TYPES[INSIGHTS_HOTSPOTS]},
                     on_commit=wake.set),
    ]
    tasks: list[asyncio.Task] = []

    async def start_sender(runtime: Runtime) -> None:
        tasks.append(asyncio.create_task(sender(ctx, runtime, settings.poll_seconds, wake)))

    async def stop_sender(_: Runtime) -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await client.aclose()

    app = create_service(settings=settings, package="whistle_notify", title="Whistle notify",
                         routers=[http.router],
                         consumers=consumers, on_start=[start_sender], on_stop=[stop_sender],
                         unit_of_work=PgNotifyUnitOfWork)
    return app
