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
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka


class QuietConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, building its aiokafka consumer with the configured polls."""

    fetch_max_wait_ms: int = 1500
    fetcher_poll_seconds: float = 0.2

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads both when it starts its fetcher, after this constructor
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        consumer._consumer_timeout = self.fetcher_poll_seconds
        return consumer


def quiet_consumer(fetch_max_wait_ms: int, fetcher_poll_seconds: float) -> type:
    """A Faust consumer class whose aiokafka consumer long-polls `fetch_max_wait_ms` and whose
    fetcher wakes on its own every `fetcher_poll_seconds` at most."""
    thread = type("QuietConsumerThread", (QuietConsumerThread,), {
        "fetch_max_wait_ms": fetch_max_wait_ms, "fetcher_poll_seconds": fetcher_poll_seconds})

    class QuietConsumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
            return thread(self, loop=self.loop, beacon=self.beacon)

    return QuietConsumer
