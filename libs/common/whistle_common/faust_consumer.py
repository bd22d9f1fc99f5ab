"""Faust's Kafka consumer with its idle polling made configurable.

Faust builds its aiokafka consumer with a fetch long-poll of 1.5 s written into its code
(`fetch_max_wait_ms=1500`) and leaves aiokafka's fetcher at its default 0.2 s safety poll
(`consumer_timeout_ms`). While nothing arrives, that is a fetch answered empty by the broker
every 1.5 s per service, and the fetcher's loop waking five times a second to find the same
fetch still in flight: about a fifth of what an idle service cost (Kafka's own idle CPU did
not change measurably with the longer long-poll).

A broker answers a fetch as soon as one of its partitions has a record, so a longer long-poll
delays nothing that arrives; what it delays is a change of the fetched set while a fetch is in
flight (a partition assigned, sought or resumed waits for that fetch to come back), which the
bound of a few seconds keeps short. The fetcher's safety poll is only that: a fetch answered,
a record consumed, an assignment changed and a partition resumed all wake it.

Gathering (`kafka_fetch_gather_ms`): a fetch answered at its first record costs a round trip,
a hand-off between Faust's two event loops and a turn of every stage after it, for each
record. Under a steady trickle (an incident every 50 ms, each of its records arriving on its
own), that is what a consumer costs. A service off the path from a call to its departments
(intake's status views, scoring, notify) can take its records in gathers instead: once a fetch
has brought records, the next one asks the broker to wait up to `gather_ms` for a batch
(`fetch.min.bytes` the Java client's way), and the first fetch answered empty goes back to the
idle long-poll, answered at its first record. So idle costs what it did, the first record after
a quiet spell is not delayed, and a busy consumer fetches a few times a second.

Idle wakes (`kafka_fetcher_poll_seconds`, 5 s): besides aiokafka's fetcher, Faust and mode wake
an idle service on their own every second: Faust's fetch loop asks the consumer thread for
records with a wait of 1 s written into its code (a round trip between the two event loops
each second), and mode's thread keeps two one-second "keepalive" timers that poke both loops
(a workaround for a lost wake-up that `call_soon_threadsafe` does not have). With all of
them at the poll and Faust's monitor not sampling (QuietMonitor), an idle service took about
half the CPU it did (10.5–13.2 → 4.8–9.5 CPU-ms a second on one stack). A record that
arrives wakes every one of them, so nothing that comes waits for the poll; what can is a
partition resumed while a wait for records is in flight without it (after a partial pause),
which is fetched at the poll at the latest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from time import monotonic
from typing import Any

from aiokafka.consumer.fetcher import Fetcher
from faust.sensors.prometheus import PrometheusMonitor
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service

# what a gathering fetch asks for before the broker answers it early: more than a gather
# holds, so the wait bounds it (aiokafka's fetch_max_bytes caps the answer at 50 MiB)
GATHER_MIN_BYTES = 1 << 20


def gather_fetches(fetcher: Fetcher, *, idle_wait_ms: int, gather_ms: int) -> None:
    """Make `fetcher` wait up to `gather_ms` at the broker for a batch after a fetch that
    brought records, and long-poll `idle_wait_ms` for the first record after one that did not.

    aiokafka builds each fetch request from the fetcher's `_fetch_min_bytes` and
    `_fetch_max_wait_ms` when it sends it; the fetch that just came back decides the next one.
    """
    fetch = fetcher._proc_fetch_request

    async def fetch_and_pace(assignment: Any, node_id: int, request: Any) -> bool:
        brought = await fetch(assignment, node_id, request)
        if brought:
            fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = GATHER_MIN_BYTES, gather_ms
        else:
            fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = 1, idle_wait_ms
        return brought

    fetcher._proc_fetch_request = fetch_and_pace


class QuietConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, building its aiokafka consumer with the configured polls."""

    fetch_max_wait_ms: int = 1500
    fetcher_poll_seconds: float = 0.2
    fetch_gather_ms: int = 0

    async def _keepalive2(self) -> None:
        """mode's keepalive of the thread's loop, at the poll instead of every 1.1 s."""
        while not self.should_stop:
            await self.sleep(self.fetcher_poll_seconds)
            if self.last_wakeup_at and monotonic() - self.last_wakeup_at > 3 * max(
                    self.fetcher_poll_seconds, 1.0):
                self.log.error("Thread keepalive is not responding...")
            await self._wakeup_timer_in_thread()

    @Service.task
    async def _thread_keepalive(self) -> None:
        """mode's timer keeping the thread's loop scheduled, at the poll instead of 1 s."""
        async for _ in self.itertimer(self.fetcher_poll_seconds, name="_thread_keepalive"):
            pass

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads both when it starts its fetcher, after this constructor
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        consumer._consumer_timeout = self.fetcher_poll_seconds
        return consumer

    async def on_start(self) -> None:
        await super().on_start()  # creates and starts the aiokafka consumer and its fetcher
        if self.fetch_gather_ms:
            gather_fetches(self._consumer._fetcher, idle_wait_ms=self.fetch_max_wait_ms,
                           gather_ms=self.fetch_gather_ms)


def quiet_consumer(fetch_max_wait_ms: int, fetcher_poll_seconds: float,
                   fetch_gather_ms: int = 0) -> type:
    """A Faust consumer class whose aiokafka consumer long-polls `fetch_max_wait_ms`, whose
    fetcher wakes on its own every `fetcher_poll_seconds` at most, and which gathers records
    for up to `fetch_gather_ms` while they keep coming (0: never)."""
    thread = type("QuietConsumerThread", (QuietConsumerThread,), {
        "fetch_max_wait_ms": fetch_max_wait_ms, "fetcher_poll_seconds": fetcher_poll_seconds,
        "fetch_gather_ms": fetch_gather_ms})

    class QuietConsumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
            return thread(self, loop=self.loop, beacon=self.beacon)

        def getmany(self, timeout: float) -> AsyncIterator:
            # Faust's fetch loop asks with timeout=1.0; records that come end the wait early
            return super().getmany(timeout=max(timeout, fetcher_poll_seconds))

    return QuietConsumer


class QuietMonitor(PrometheusMonitor):
    """Faust's Prometheus sensor without the sampler that Monitor runs every second: it
    averages rates for Faust's web view (disabled here); the Prometheus series are kept
    current by the sensor's callbacks, not by the sampler."""

    @Service.task
    async def _sampler(self) -> None:
        return None
