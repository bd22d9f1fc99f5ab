"""The one aiokafka producer of a service: acks=all, idempotence on, started lazily."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer


class Producer:
    """Wraps AIOKafkaProducer so callers survive a broker that is down at start-up."""

    def __init__(self, bootstrap: str, *, client_id: str, linger_ms: int = 5) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.reachable = False  # last answer of the background probe (see `watch`)
        self._watch: asyncio.Task | None = None

    async def get(self) -> AIOKafkaProducer:
        """Return a started producer, starting one if needed (raises while Kafka is down)."""
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap, client_id=self._client_id,
                    acks="all", enable_idempotence=True, linger_ms=self._linger_ms,
                    request_timeout_ms=15_000, max_batch_size=256 * 1024,
                )
                try:
                    await producer.start()
                except Exception:
                    await producer.stop()
                    raise
                self._producer = producer
        return self._producer

    async def reset(self) -> None:
        """Drop the producer after an error so the next call starts a fresh one."""
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), 10)
            except Exception:  # noqa: BLE001 - closing a broken producer may fail; ignore
                pass

    async def ready(self, timeout: float = 2.0) -> bool:
        """True when the cluster answers a metadata request."""
        try:
            producer = await asyncio.wait_for(self.get(), timeout)
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout)
            return True
        except Exception:  # noqa: BLE001 - readiness answers yes or no
            return False

    def watch(self, interval: float = 15.0, timeout: float = 10.0) -> None:
        """Keep `reachable` current in the background, so readiness never waits on Kafka.

        Every `interval` seconds while Kafka answers (each probe is a metadata request for
        every topic, which the broker pays for), every second while it does not."""
        async def probe_forever() -> None:
            while True:
                self.reachable = await self.ready(timeout)
                await asyncio.sleep(interval if self.reachable else min(interval, 1.0))

        if self._watch is None:
            self._watch = asyncio.create_task(probe_forever())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        await self.reset()
