"""The services' Faust consumer long-polls and wakes as configured, not as Faust hard-codes."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from whistle_common.faust_consumer import QuietConsumerThread
from whistle_common.service import make_faust_app
from whistle_common.settings import CommonSettings


async def _worker_consumer(settings: CommonSettings) -> tuple[object, AIOKafkaConsumer]:
    app = make_faust_app(settings)
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)
    consumer._closed = True  # never started: nothing to close, no warning at collection
    return thread, consumer


async def test_worker_consumer_takes_the_configured_polls() -> None:
    thread, consumer = await _worker_consumer(
        CommonSettings(kafka_fetch_max_wait_ms=4200, kafka_fetcher_poll_seconds=0.7))
    assert isinstance(thread, QuietConsumerThread)
    assert isinstance(thread, faust_aiokafka.AIOKafkaConsumerThread)
    # the attributes aiokafka hands to its fetcher when the consumer starts
    assert consumer._fetch_max_wait_ms == 4200
    assert consumer._consumer_timeout == 0.7


async def test_defaults_poll_less_than_faust_and_aiokafka() -> None:
    _, consumer = await _worker_consumer(CommonSettings())
    assert consumer._fetch_max_wait_ms == 3000      # Faust: 1500
    assert consumer._consumer_timeout == 1.0        # aiokafka: 0.2


async def test_the_rest_of_fausts_consumer_settings_are_kept() -> None:
    _, consumer = await _worker_consumer(CommonSettings(service_name="probe"))
    assert consumer._group_id == "whistle-probe"
    assert consumer._enable_auto_commit is False


@pytest.mark.parametrize("field, value", [("kafka_fetch_max_wait_ms", 50),
                                          ("kafka_fetch_max_wait_ms", 60_000),
                                          ("kafka_fetcher_poll_seconds", 0)])
def test_out_of_range_polls_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        CommonSettings(**{field: value})
