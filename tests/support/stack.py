"""Access to the real local stack from tests: databases, Kafka topics, service URLs."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable

import asyncpg
import httpx
from kafka import KafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from whistle_common.envelope import Envelope, decode
from whistle_stack.stack import Stack

HOTLINE = {"Authorization": "Bearer dev-hotline-token"}
OPERATOR = {"Authorization": "Bearer dev-operator-token"}


def dept_headers(code: str) -> dict[str, str]:
    return {"Authorization": f"Bearer dev-dept-{code}-token"}


class Live:
    """The running stack as the tests see it."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    @property
    def bootstrap(self) -> str:
        return self.stack.bootstrap

    def url(self, service: str) -> str:
        return self.stack.services.url(service)

    async def db(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(self.stack.postgres.url_for(service))

    async def fetch(self, service: str, sql: str, *args) -> list[asyncpg.Record]:
        """Rows of one query on a service's database (a connection per call)."""
        conn = await self.db(service)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    def http(self, service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url(service), timeout=15.0)

    def metric(self, service: str, name: str, **labels: str) -> float:
        """Sum of the samples of a metric whose labels include `labels`."""
        text = httpx.get(f"{self.url(service)}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    total += sample.value
        return total

    def tail(self, topic: str) -> TopicTail:
        return TopicTail(self.bootstrap, topic)


class TopicTail:
    """Reads a topic from its current end: what arrives after the tail was opened."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                      group_id=None, consumer_timeout_ms=500)
        parts = self.consumer.partitions_for_topic(topic) or set()
        self.tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self.consumer.assign(self.tps)
        self.consumer.seek_to_end(*self.tps)
        for tp in self.tps:
            self.consumer.position(tp)
        self.seen: list[tuple[Envelope | None, dict, bytes | None]] = []

    def poll(self, seconds: float = 1.0) -> None:
        batches = self.consumer.poll(timeout_ms=int(seconds * 1000))
        for records in batches.values():
            for rec in records:
                headers = {k: v for k, v in (rec.headers or [])}
                try:
                    env = decode(rec.value)
                except ValueError:
                    env = None
                self.seen.append((env, headers, rec.value))

    def wait_for(self, predicate: Callable[[Envelope], bool], *, timeout: float = 30.0,
                 count: int = 1) -> list[Envelope]:
        """Poll until `count` envelopes match predicate; return them (or fail with what came)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e, _, _ in self.seen if e is not None and predicate(e)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                types = [e.type if e else "<undecodable>" for e, _, _ in self.seen][-20:]
                raise AssertionError(f"{len(found)}/{count} matching events on {self.topic} "
                                     f"after {timeout}s; last seen: {types}")
            self.poll(0.5)

    def matching(self, predicate: Callable[[Envelope], bool]) -> list[Envelope]:
        return [e for e, _, _ in self.seen if e is not None and predicate(e)]

    def close(self) -> None:
        self.consumer.close()


async def eventually(check, *, timeout: float = 30.0, interval: float = 0.2, what: str = ""):
    """Await check() until it returns a truthy value; return it, or fail after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"not true after {timeout}s: {what} (last: {last!r})")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


class ExtraWorkers:
    """Extra service processes with their own settings (e.g. two fast-clock dispatchers)."""

    def __init__(self, live: Live, service: str) -> None:
        self.live, self.service = live, service
        self.names: list[str] = []
        self.ports: list[int] = []

    def start(self, count: int, base_port: int, env: dict[str, str]) -> list[int]:
        import sys

        from whistle_stack.procs import spawn

        stack = self.live.stack
        for i in range(count):
            name, port = f"{self.service}-extra-{i + 1}", base_port + i
            worker_env = stack.services.env(self.service) | env | {
                f"{self.service.upper()}_PORT": str(port)}
            spawn([sys.executable, "-m", f"whistle_{self.service}"],
                  pidfile=stack.layout.pidfile(name), logfile=stack.layout.logfile(name),
                  env=worker_env, cwd=stack.layout.root)
            self.names.append(name)
            self.ports.append(port)
        deadline = time.monotonic() + 90
        pending = set(self.ports)
        while pending:
            for port in sorted(pending):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        pending.discard(port)
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"extra workers not ready: {pending}")
            time.sleep(0.3)
        return self.ports

    def stop(self) -> None:
        from whistle_stack.procs import read_pid, stop_pid

        for name in self.names:
            pid = read_pid(self.live.stack.layout.pidfile(name), f"whistle_{self.service}")
            if pid:
                stop_pid(pid)
            self.live.stack.layout.pidfile(name).unlink(missing_ok=True)


async def all_ready(live: Live) -> bool:
    """Whether all four services answer /readyz with 200."""
    async with httpx.AsyncClient(timeout=3) as client:
        for service in ("intake", "dispatch", "scoring", "notify"):
            try:
                if (await client.get(f"{live.url(service)}/readyz")).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
    return True


async def case_of(live: Live, incident_id: str, timeout: float = 30) -> str:
    """The id of the case dispatch made for an incident (waits for it)."""
    async def find():
        rows = await live.fetch("dispatch", "SELECT id::text FROM cases WHERE incident_id=$1",
                                incident_id)
        return rows[0]["id"] if rows else None

    return await eventually(find, timeout=timeout, what=f"case for incident {incident_id}")


async def lead_orders_by_incident(tail: TopicTail, wanted: set[str],
                                  timeout: float) -> tuple[dict[str, set[str]], int]:
    """Lead orders seen for `wanted` incidents: event ids per incident, and copies."""
    def lead(e):
        return e.data.get("incident_id") in wanted and e.data.get("role") == "lead"

    await asyncio.to_thread(tail.wait_for, lead, count=len(wanted), timeout=timeout)
    await asyncio.sleep(3)  # a second order, if any, would show by now
    await asyncio.to_thread(tail.poll, 1)
    events = tail.matching(lead)
    by_incident: dict[str, set[str]] = {}
    for e in events:
        by_incident.setdefault(e.data["incident_id"], set()).add(e.id)
    return by_incident, len(events) - sum(len(v) for v in by_incident.values())
