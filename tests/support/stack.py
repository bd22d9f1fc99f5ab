"""Access to the real local stack from tests: databases, Kafka topics, service URLs."""

from __future__ import annotations

import asyncio
import contextlib
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

    @contextlib.asynccontextmanager
    async def rolled_back(self, service: str):
        """A connection to a service's database in a transaction rolled back at the end."""
        conn = await self.db(service)
        tx = conn.transaction()
        await tx.start()
        try:
            yield conn
        finally:
            await tx.rollback()
            await conn.close()

    async def fetch(self, service: str, sql: str, *args) -> list[asyncpg.Record]:
        """Rows of one query on a service's database (a connection per call)."""
        conn = await self.db(service)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    def http(self, service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url(service), timeout=15.0)

    def warnings_logged(self, service: str, *, tail_bytes: int = 256 * 1024) -> list[str]:
        """The warnings and errors at the end of a service's log, one line each, with the
        same line repeated in a row counted once ("×n")."""
        path = self.stack.layout.logfile(service)
        try:
            with open(path, "rb") as log:
                log.seek(max(0, path.stat().st_size - tail_bytes))
                lines = log.read().decode(errors="replace").splitlines()
        except OSError:
            return []
        found: list[list] = []  # [time, what, times in a row]
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("level") not in ("warning", "error", "critical"):
                continue
            what = f"{record['level']}: {str(record.get('event'))[:200]}"
            if found and found[-1][1] == what:
                found[-1][2] += 1
            else:
                found.append([str(record.get("timestamp", ""))[11:19], what, 1])
        return [f"{at} {what}" + (f" ×{n}" if n > 1 else "") for at, what, n in found]

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

    async def outbox_pending(self, service: str) -> int:
        """Rows of a service's transactional outbox not yet acknowledged by Kafka."""
        rows = await self.fetch(service, "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
        return rows[0]["n"]

    async def outbox_drained(self, service: str, *, timeout: float = 60.0) -> None:
        """Wait until everything the service has committed to its outbox is in Kafka."""
        async def drained():
            return await self.outbox_pending(service) == 0

        await eventually(drained, timeout=timeout, interval=0.2,
                         what=f"{service}'s outbox drained")

    async def consumed(self, service: str, topics: list[str], *,
                       timeout: float = 60.0) -> None:
        """Wait until the service's consumer group has committed every message that is on
        `topics` now (their end offsets taken at the call): it has applied all of them."""
        from aiokafka import AIOKafkaConsumer
        from aiokafka import TopicPartition as Partition
        from aiokafka.admin import AIOKafkaAdminClient

        group = f"whistle-{service}"  # the Faust app id is the consumer group
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                    enable_auto_commit=False)
        await admin.start()
        await consumer.start()
        try:
            described = await admin.describe_topics(topics)
            parts = [Partition(t["topic"], p["partition"]) for t in described
                     for p in t.get("partitions", [])]
            assert parts, f"no partitions for {topics}"
            ends = await consumer.end_offsets(parts)

            async def behind() -> dict[str, int]:
                committed = await admin.list_consumer_group_offsets(group, partitions=parts)
                left = {}
                for tp in parts:
                    done = committed.get(tp)
                    offset = done.offset if done is not None and done.offset >= 0 else 0
                    if offset < ends[tp]:
                        left[f"{tp.topic}/{tp.partition}"] = ends[tp] - offset
                return left

            async def caught_up():
                return not await behind()

            try:
                await eventually(caught_up, timeout=timeout, interval=0.3,
                                 what=f"{group} consumed {topics} to {dict(ends)}")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; still behind: {await behind()}") from None
        finally:
            await consumer.stop()
            await admin.close()


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

    def read_to_end(self, *, timeout: float = 30.0) -> None:
        """Consume until every partition's position reaches the end offsets taken now.

        After the producers are known to be done (their outboxes drained), this reads all
        there is: an assertion that something did NOT arrive is then exact, not a guess about
        how long it would take to show up."""
        ends = self.consumer.end_offsets(self.tps)
        deadline = time.monotonic() + timeout
        while True:
            behind = {tp.partition: ends[tp] - self.consumer.position(tp) for tp in self.tps
                      if self.consumer.position(tp) < ends[tp]}
            if not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.topic}: not read to its end offsets after "
                                     f"{timeout}s; messages behind per partition: {behind}")
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


class Readiness:
    """The four services' answers to /readyz: true when all are ready; its repr names those
    that are not, with their checks and the last warnings of their logs (what a failing
    wait prints)."""

    def __init__(self, live: Live, answers: dict[str, str]) -> None:
        self.live, self.unready = live, answers

    def __bool__(self) -> bool:
        return not self.unready

    def __repr__(self) -> str:
        parts = []
        for service, answer in self.unready.items():
            parts.append(f"{service}: {answer}")
            parts.extend(f"  {line}" for line in self.live.warnings_logged(service)[-8:])
        return "ready" if not parts else "\n".join(["not ready", *parts])


async def all_ready(live: Live) -> Readiness:
    """Whether all four services answer /readyz with 200."""
    unready = {}
    async with httpx.AsyncClient(timeout=3) as client:
        for service in ("intake", "dispatch", "scoring", "notify"):
            try:
                resp = await client.get(f"{live.url(service)}/readyz")
                if resp.status_code != 200:
                    unready[service] = f"{resp.status_code} {resp.text[:300]}"
            except httpx.HTTPError as exc:
                unready[service] = repr(exc)
    return Readiness(live, unready)


CONSUMED = {  # the topics each service consumes (its Faust group is whistle-<service>)
    "intake": ["cases.events"],
    "dispatch": ["incidents.received", "dispatch.reports"],
    "scoring": ["cases.events"],
    "notify": ["cases.events", "points.events", "notifications.requests"],
}


async def restore(live: Live, *, timeout: float = 180.0) -> None:
    """Start whatever of Kafka, PostgreSQL and the four services is not running, and wait
    until every service is ready: what a test that breaks the stack runs in `finally`."""
    await asyncio.to_thread(live.stack.up, timeout=timeout)
    await eventually(lambda: all_ready(live), timeout=timeout, interval=1,
                     what="every service ready")


async def settled(live: Live, *, timeout: float = 180.0) -> None:
    """The whole pipeline is idle: intake's events are in Kafka, dispatch applied them and
    published its own, and every consumer has applied everything on its topics."""
    await dispatch_settled(live, timeout=timeout)
    for service in ("intake", "scoring", "notify", "dispatch"):
        await live.consumed(service, CONSUMED[service], timeout=timeout)
        await live.outbox_drained(service, timeout=timeout)


async def case_of(live: Live, incident_id: str, timeout: float = 30) -> str:
    """The id of the case dispatch made for an incident, or merged it into (waits for it)."""
    async def find():
        rows = await live.fetch(
            "dispatch", "SELECT id::text FROM cases WHERE incident_id=$1 UNION ALL "
            "SELECT case_id::text FROM case_incidents WHERE incident_id=$1", incident_id)
        return rows[0]["id"] if rows else None

    return await eventually(find, timeout=timeout, what=f"case for incident {incident_id}")


async def dispatch_settled(live: Live, *, timeout: float = 60.0) -> None:
    """Every incident accepted so far has been through dispatch and its events are in Kafka:
    intake's outbox is drained, dispatch has applied incidents.received up to that point,
    and dispatch's outbox is drained."""
    from whistle_common.topics import INCIDENTS_RECEIVED

    await live.outbox_drained("intake", timeout=timeout)
    await live.consumed("dispatch", [INCIDENTS_RECEIVED], timeout=timeout)
    await live.outbox_drained("dispatch", timeout=timeout)


async def lead_orders_by_incident(live: Live, tail: TopicTail, wanted: set[str],
                                  timeout: float) -> tuple[dict[str, set[str]], int]:
    """All lead orders for `wanted` incidents on the tail's topic: event ids per incident,
    and the number of redelivered copies (the same event id more than once).

    Waits until every incident has one, then until the pipeline has settled, then reads the
    topic to its end: a second order, had dispatch made one, is on the topic by then."""
    def lead(e):
        return e.data.get("incident_id") in wanted and e.data.get("role") == "lead"

    def ordered():
        tail.poll(0.5)
        return {e.data["incident_id"] for e in tail.matching(lead)} >= wanted

    await eventually(lambda: asyncio.to_thread(ordered), timeout=timeout, interval=0,
                     what=f"a lead order for each of {len(wanted)} incidents on {tail.topic}")
    await dispatch_settled(live, timeout=timeout)
    await asyncio.to_thread(tail.read_to_end, timeout=timeout)
    events = tail.matching(lead)
    by_incident: dict[str, set[str]] = {}
    for e in events:
        by_incident.setdefault(e.data["incident_id"], set()).add(e.id)
    return by_incident, len(events) - sum(len(v) for v in by_incident.values())
