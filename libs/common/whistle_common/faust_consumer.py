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
"""

from __future__ import annotations

from typing import Any

from aiokafka.consumer.fetcher import Fetcher
from faust.transport.drivers import aiokafka as faust_aiokafka

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

    return QuietConsumer
