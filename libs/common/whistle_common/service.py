"""Composition root shared by the services: FastAPI and Faust on one loop, wired in a lifespan."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import faust
import structlog
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from faust.contrib.asgi import faust_app_running
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import REGISTRY
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential
from whistle_serving import serve as quiet_serve

from .auth import TokenTable
from .batching import batches
from .commit_guard import guard_commits
from .consumer import ConsumerSpec, EventConsumer, Raw
from .db import create_pool, migrate
from .faust_consumer import QuietMonitor, quiet_consumer
from .http import BodyGuardMiddleware
from .kafka import Producer
from .lag import export_lag
from .logging import configure_logging
from .metrics import HttpMetricsMiddleware, ScrapeRefresh, init_dlq_series, metrics_endpoint
from .outbox import OutboxRelay
from .problems import install_problem_handlers
from .settings import CommonSettings
from .stream_watchdog import watch_streams
from .topics import all_topics
from .uow import PgUnitOfWork, UnitOfWork

log = structlog.get_logger(__name__)
Hook = Callable[["Runtime"], Awaitable[None]]
_faust_metrics: FaustMetrics | None = None


@dataclass
class Runtime:
    """The live resources of one service process (app.state.runtime)."""

    settings: CommonSettings
    faust_app: faust.App
    pool: asyncpg.Pool | None = None
    producer: Producer | None = None
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    started_at: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)
    unit_of_work: type[PgUnitOfWork] = PgUnitOfWork

    def uow(self) -> UnitOfWork:
        """A fresh unit of work on the pool (pass `runtime.uow` to run_use_case)."""
        return self.unit_of_work(self.db())

    def db(self) -> asyncpg.Pool:
        assert self.pool is not None, "pool used before start-up"
        return self.pool

    def kafka(self) -> Producer:
        assert self.producer is not None, "producer used before start-up"
        return self.producer


def make_faust_app(settings: CommonSettings) -> faust.App:
    """A Faust app tuned for fast, predictable group joins; no web server of its own."""
    global _faust_metrics
    app = faust.App(
        f"whistle-{settings.service_name}",
        broker=[f"kafka://{b}" for b in settings.brokers],
        value_serializer="raw", key_serializer="raw",
        web_enabled=False, topic_disable_leader=True, topic_allow_declare=False,
        consumer_auto_offset_reset="earliest", producer_acks=-1,
        broker_session_timeout=10.0, broker_heartbeat_interval=3.0,
        broker_rebalance_timeout=20.0, broker_commit_every=100, broker_commit_interval=1.0,
        stream_wait_empty=False, topic_partitions=settings.kafka_topic_partitions,
        store="memory://",
        # Faust's own producer carries only stream records (scoring's re-keyed incidents and
        # its table's changelog; events go through the outbox's producer): 10 ms of linger
        # puts an incident's records for its community and its street in one request
        producer_linger=0.01,
    )
    # the transport resolves its event loop lazily: setting its consumer class here is safe
    app.transport.Consumer = quiet_consumer(settings.kafka_fetch_max_wait_ms,
                                            settings.kafka_fetcher_poll_seconds,
                                            settings.kafka_fetch_gather_ms)
    if _faust_metrics is None:
        _faust_metrics = FaustMetrics.create(REGISTRY, "faust")
    app.monitor = QuietMonitor(metrics=_faust_metrics)
    return app


def attach_consumer(faust_app: faust.App, consumer: EventConsumer, service: str) -> None:
    """Register a Faust agent that feeds raw messages of one topic to the consumer."""
    topic = faust_app.topic(consumer.spec.topic, key_type=bytes, value_type=bytes,
                            key_serializer="raw", value_serializer="raw", allow_empty=True)

    spec = consumer.spec

    async def agent(stream):
        # acks are ours: an event is acked (its offset may be committed) only once its batch
        # was applied. batches() sets no timer while nothing comes (take_events woke every
        # agent every batch_window seconds) and opens the window at a batch's first event
        manual = stream.noack()
        async for events in batches(manual.events(), spec.batch_size, spec.batch_window):
            batch = [Raw(e.message.key, e.message.value,
                         {k: (v or b"") for k, v in (e.message.headers or [])},
                         e.message.partition, e.message.offset) for e in events]
            await apply_until_done(consumer, batch)
            for event in events:
                await manual.ack(event)

    agent.__name__ = f"{service}_{consumer.spec.name}".replace(".", "_").replace("-", "_")
    faust_app.agent(topic, name=f"{service}.{consumer.spec.name}",
                    concurrency=consumer.spec.concurrency)(agent)


async def apply_until_done(consumer: EventConsumer, batch: list[Raw], *,
                           first_delay: float = 0.1, max_delay: float = 5.0) -> None:
    """Apply a batch, retrying with back-off while it fails as a whole (a dead letter that
    cannot reach Kafka, the database gone between retries). Raising instead would crash the
    agent, which Faust restarts past the batch: its events would be lost to this process.
    Handlers are idempotent (each event is claimed by id), so a retry re-applies nothing; a
    handler's own bug is dead-lettered inside handle_batch and ends the retries."""
    def report(state: RetryCallState) -> None:
        log.error("batch not applied, retrying", topic=consumer.spec.topic, size=len(batch),
                  attempt=state.attempt_number, retry_in=round(state.upcoming_sleep, 3),
                  error=repr(state.outcome.exception()))

    # never stops by itself (a cancelled agent still stops: CancelledError is not retried)
    async for attempt in AsyncRetrying(
            wait=wait_exponential(multiplier=first_delay, max=max_delay),
            retry=retry_if_exception_type(Exception), before_sleep=report):
        with attempt:
            await consumer.handle_batch(batch)


def create_service(
    *, settings: CommonSettings, package: str, title: str, routers: Sequence[APIRouter],
    consumers: Sequence[ConsumerSpec] = (), dept_codes: Sequence[str] = (),
    on_start: Sequence[Hook] = (), on_stop: Sequence[Hook] = (), version: str = "0.1.0",
    form_prefixes: tuple[str, ...] = (), max_body_bytes: int = 64 * 1024,
    ready_details: Mapping[str, Callable[[], Any]] | None = None,
    unit_of_work: type[PgUnitOfWork] = PgUnitOfWork,
    on_scrape: Sequence[Hook] = (), scrape_min_age: float = 1.0,
) -> FastAPI:
    """Build one service's ASGI app; nothing is opened until the lifespan runs.

    `unit_of_work` is the service's PgUnitOfWork subclass: HTTP use cases get one per request
    (`runtime.uow`), consumers one joined to each event's transaction. `on_scrape`: hooks that
    set gauges from the database, run by GET /metrics when their last run is older than
    `scrape_min_age` seconds (whistle_common.metrics.ScrapeRefresh).
    """
    faust_app = make_faust_app(settings)
    runtime = Runtime(settings=settings, faust_app=faust_app, unit_of_work=unit_of_work)
    init_dlq_series([c.topic for c in consumers])
    for spec in consumers:
        spec.unit_of_work = lambda conn: unit_of_work(conn=conn)
        consumer = EventConsumer(spec, pool=runtime.db, producer=runtime.kafka)
        runtime.consumers.append(consumer)
        attach_consumer(faust_app, consumer, settings.service_name)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        configure_logging(settings.service_name, settings.log_level)
        loop = asyncio.get_running_loop()
        runtime.started_at = loop.time()
        async with AsyncExitStack() as stack:
            runtime.pool = await create_pool(settings.database_url, min_size=settings.db_pool_min,
                                             max_size=settings.db_pool_max)
            stack.push_async_callback(runtime.pool.close)
            async with runtime.pool.acquire() as conn:
                applied = await migrate(conn, ["whistle_common", package])
            if applied:
                log.info("migrations applied", migrations=applied)
            runtime.producer = Producer(settings.kafka_bootstrap_servers,
                                        client_id=f"whistle-{settings.service_name}")
            stack.push_async_callback(runtime.producer.stop)
            runtime.producer.watch()
            runtime.relay = OutboxRelay(runtime.pool, runtime.producer,
                                        batch_size=settings.outbox_batch_size,
                                        poll_seconds=settings.outbox_poll_seconds)
            await runtime.relay.start()
            stack.push_async_callback(runtime.relay.stop)
            for hook in on_start:
                await hook(runtime)
            for hook in on_stop:
                stack.push_async_callback(hook, runtime)
            # Kafka may be down: HTTP serves (intake accepts into its outbox) while topics and
            # Faust start in the background as soon as the broker answers
            stopping = asyncio.Event()
            producer = runtime.producer
            streams = asyncio.create_task(_run_streams(settings, dept_codes, faust_app,
                                                       consumers, stopping,
                                                       lambda: producer.reachable))
            streams.add_done_callback(_report_end)
            stack.push_async_callback(_stop_streams, streams, stopping)
            log.info("service started", seconds=round(loop.time() - runtime.started_at, 2))
            yield

    app = FastAPI(title=title, version=version, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.tokens = TokenTable(settings.whistle_api_tokens)
    if on_scrape:
        app.state.scrape_refresh = ScrapeRefresh(
            [functools.partial(hook, runtime) for hook in on_scrape], min_age=scrape_min_age)
    app.add_middleware(BodyGuardMiddleware, max_bytes=max_body_bytes, form_prefixes=form_prefixes)
    app.add_middleware(HttpMetricsMiddleware)
    install_problem_handlers(app)
    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.add_api_route("/healthz", _healthz, methods=["GET"], tags=["ops"])
    app.add_api_route("/readyz", _readyz(runtime, ready_details or {}), methods=["GET"],
                      tags=["ops"])
    for router in routers:
        app.include_router(router)
    return app


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _run_streams(settings: CommonSettings, dept_codes: Sequence[str],
                       faust_app: faust.App, consumers: Sequence[ConsumerSpec],
                       stopping: asyncio.Event, broker_reachable: Callable[[], bool]) -> None:
    """Topics, the Faust consumers and the lag export, once Kafka answers (however late)."""
    if not await _ensure_topics(settings, dept_codes, stopping):
        return
    async with faust_app_running(faust_app, stop_timeout=15):
        lag_task = None
        if consumers:
            lag_task = asyncio.create_task(export_lag(
                settings.kafka_bootstrap_servers, faust_app.conf.id,
                [c.topic for c in consumers], settings.lag_refresh_seconds))
        # Faust can leave a partition's commit behind for good around a rebalance: rewind it
        guard = asyncio.create_task(guard_commits(faust_app, settings.service_name))
        watchdog = None
        if settings.kafka_rebalance_stuck_seconds:
            watchdog = asyncio.create_task(watch_streams(
                faust_app, settings.service_name,
                stuck_after=settings.kafka_rebalance_stuck_seconds,
                broker_reachable=broker_reachable))
        log.info("streams started")
        try:
            await stopping.wait()
        finally:
            await _cancel(guard)
            if watchdog is not None:
                await _cancel(watchdog)
            if lag_task is not None:
                await _cancel(lag_task)


def _report_end(task: asyncio.Task) -> None:
    """A streams task that died shows in the log (and /readyz shows consumers: false)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("streams stopped with an error", error=repr(task.exception()))


async def _stop_streams(task: asyncio.Task, stopping: asyncio.Event) -> None:
    stopping.set()
    try:
        await asyncio.wait_for(task, 30)
    except TimeoutError:
        await _cancel(task)
    except Exception:  # noqa: BLE001 - already reported by _report_end; finish shutting down
        pass


async def _ensure_topics(settings: CommonSettings, dept_codes: Sequence[str],
                         stopping: asyncio.Event) -> bool:
    """Create missing topics, retrying until Kafka answers; False if stopped first."""
    from .topics import INTERNAL_TOPICS, ensure_topics

    delay = 0.2
    while not stopping.is_set():
        try:
            created = await ensure_topics(
                settings.kafka_bootstrap_servers, [*all_topics(dept_codes), *INTERNAL_TOPICS],
                partitions=settings.kafka_topic_partitions,
                replication=settings.kafka_replication_factor, configs=INTERNAL_TOPICS)
        except Exception as exc:  # noqa: BLE001 - the broker is down or starting: retry
            log.warning("kafka not reachable yet; serving HTTP meanwhile", error=repr(exc))
            try:
                await asyncio.wait_for(stopping.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, 5.0)
            continue
        if created:
            log.info("topics created", topics=created)
        return True
    return False


async def _healthz() -> dict:
    """Liveness: the process serves HTTP."""
    return {"status": "ok"}


def _readyz(runtime: Runtime, details: Mapping[str, Callable[[], Any]]):
    async def readyz() -> JSONResponse:
        """Readiness: Postgres and Kafka answer and the consumer group has joined."""
        checks = {"postgres": await _db_ok(runtime), "kafka": False, "consumers": False,
                  "outbox_relay": runtime.relay is not None and runtime.relay.alive}
        if runtime.producer is not None:
            checks["kafka"] = runtime.producer.reachable  # kept current in the background
        app = runtime.faust_app
        checks["consumers"] = (not runtime.consumers) or (
            app.rebalancing_count > 0 and not app.rebalancing)
        ok = all(checks.values())
        body = {"status": "ready" if ok else "not ready", "checks": checks}
        # details describe a degraded but working mode (e.g. rules-only classification)
        body.update({name: describe() for name, describe in details.items()})
        return JSONResponse(body, status_code=200 if ok else 503)

    return readyz


async def _db_ok(runtime: Runtime) -> bool:
    if runtime.pool is None:
        return False
    try:
        async with runtime.pool.acquire(timeout=2) as conn:
            return await conn.fetchval("SELECT 1", timeout=2) == 1
    except Exception:  # noqa: BLE001 - readiness answers yes or no
        return False


def serve(app_factory: Callable[[], FastAPI], settings: CommonSettings) -> None:
    """Run one service process: uvicorn with the app's lifespan driving Faust."""
    config = uvicorn.Config(app_factory(), host=settings.host, port=settings.port,
                            log_config=None, lifespan="on", access_log=False,
                            timeout_graceful_shutdown=15, loop="uvloop", http="httptools")
    quiet_serve(config)
