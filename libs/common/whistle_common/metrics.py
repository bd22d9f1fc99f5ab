"""Prometheus metrics shared by every service (base units, `_total` counters, no ids)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

DLQ_MESSAGES = Counter("whistle_dlq_messages_total", "Messages sent to a dead-letter topic",
                       ["topic", "reason"])
OUTBOX_PENDING = Gauge("whistle_outbox_pending", "Outbox rows not yet published to Kafka")
OUTBOX_PUBLISHED = Counter("whistle_outbox_published_total", "Outbox rows published", ["topic"])
OUTBOX_PUBLISH_ERRORS = Counter("whistle_outbox_publish_errors_total",
                                "Failed outbox publish attempts")
EVENTS_CONSUMED = Counter("whistle_events_consumed_total", "Events taken from Kafka",
                          ["topic", "type", "outcome"])
EVENT_HANDLE_SECONDS = Histogram("whistle_event_handle_seconds", "Time to apply one event",
                                 ["topic"])
PARTITION_REWINDS = Counter(
    "whistle_consumer_partition_rewinds_total",
    "Partitions fetched again from their commit offset because the commit had stopped "
    "advancing (messages skipped by the stream processor around a rebalance)", ["topic"])
CONSUMER_LAG = Gauge("whistle_consumer_lag", "Messages behind the log end", ["topic"])
HTTP_REQUESTS = Counter("whistle_http_requests_total", "HTTP requests",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("whistle_http_request_duration_seconds", "HTTP request duration",
                         ["method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
HTTP_IN_FLIGHT = Gauge("whistle_http_requests_in_flight", "HTTP requests being served")
log = structlog.get_logger(__name__)


def init_dlq_series(topics: list[str]) -> None:
    """Known label sets start at 0, so dashboards and rates have a series before any event."""
    for topic in topics:
        DLQ_MESSAGES.labels(topic, "malformed")


class HttpMetricsMiddleware:
    """RED metrics labelled by route template (never by concrete ids)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_IN_FLIGHT.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, template, str(status["code"])).inc()
            HTTP_SECONDS.labels(method, template).observe(time.perf_counter() - start)


async def metrics_endpoint(request: Request) -> Response:
    """GET /metrics in the Prometheus text format, the app's scraped gauges refreshed first."""
    refresh = getattr(request.app.state, "scrape_refresh", None)
    if refresh is not None:
        await refresh()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class ScrapeRefresh:
    """Gauges of the database's state, read when they are scraped instead of on a timer.

    A loop that read open cases or this month's scores every few seconds did so whether or
    not anything looked; GET /metrics now runs the refreshers first, unless the last refresh
    is younger than `min_age` seconds (scrapers that come together, or faster than the
    database answers, share one read). Concurrent scrapes wait for the refresh in flight. A
    refresher that fails or outlasts `timeout` leaves its gauges as they were and is logged:
    the scrape is answered either way.
    """

    def __init__(self, refreshers: Sequence[Callable[[], Awaitable[None]]], *,
                 min_age: float = 1.0, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._refreshers = list(refreshers)
        self._min_age = min_age
        self._timeout = timeout
        self._clock = clock
        self._last: float | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self._min_age:
                return
            self._last = now
            for refresh in self._refreshers:
                try:
                    await asyncio.wait_for(refresh(), self._timeout)
                except Exception as exc:  # noqa: BLE001 - a gauge never fails the scrape
                    log.warning("gauge refresh failed", refresher=getattr(
                        refresh, "__qualname__", repr(refresh)), error=repr(exc))
