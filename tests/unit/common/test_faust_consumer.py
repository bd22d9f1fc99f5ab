"""The services' Faust consumer long-polls, wakes and gathers as configured, not as Faust
hard-codes."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.structs import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from whistle_common.faust_consumer import (
    GATHER_MIN_BYTES,
    QuietConsumerThread,
    QuietMonitor,
    gather_fetches,
)
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
    assert consumer._consumer_timeout == 5.0        # aiokafka: 0.2


async def test_the_rest_of_fausts_consumer_settings_are_kept() -> None:
    _, consumer = await _worker_consumer(CommonSettings(service_name="probe"))
    assert consumer._group_id == "whistle-probe"
    assert consumer._enable_auto_commit is False


@pytest.mark.parametrize("field, value", [("kafka_fetch_max_wait_ms", 50),
                                          ("kafka_fetch_max_wait_ms", 60_000),
                                          ("kafka_fetcher_poll_seconds", 0),
                                          ("kafka_fetch_gather_ms", -1),
                                          ("kafka_fetch_gather_ms", 60_000)])
def test_out_of_range_polls_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        CommonSettings(**{field: value})


class _Cluster:
    def leader_for_partition(self, tp: TopicPartition) -> int:
        return 0


class _Client:
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._metadata_max_age_ms = 300_000
        self.cluster = _Cluster()


async def _paced_fetcher(answers: list[bool], gather_ms: int = 250):
    """aiokafka's own Fetcher (its background routine stopped) whose fetches bring records
    or not as `answers` say, paced by gather_fetches; and a function giving the
    (max wait, min bytes) of the fetch request aiokafka would send next."""
    subscriptions = SubscriptionState()
    fetcher = Fetcher(_Client(), subscriptions, fetch_max_wait_ms=3000)
    await fetcher.close()
    tp = TopicPartition("incidents", 0)
    subscriptions.assign_from_user({tp})
    assignment = subscriptions.subscription.assignment
    assignment.state_value(tp).seek(7)
    scripted = iter(answers)

    async def fetch(assignment, node_id, request) -> bool:
        return next(scripted)

    fetcher._proc_fetch_request = fetch
    gather_fetches(fetcher, idle_wait_ms=3000, gather_ms=gather_ms)

    def next_request() -> tuple[int, int]:
        (node_id, request), = fetcher._get_actions_per_node(assignment)[0]
        assert node_id == 0 and request._topics == [("incidents", [(0, 7, 1048576)])]
        return request._max_wait_ms, request._min_bytes

    async def answer() -> tuple[int, int]:
        await fetcher._proc_fetch_request(assignment, 0, None)
        return next_request()

    return next_request, answer


async def test_records_are_gathered_while_they_keep_coming() -> None:
    next_request, answer = await _paced_fetcher([True, True, False, False, True], gather_ms=250)
    assert next_request() == (3000, 1)                  # idle: answered at the first record
    assert await answer() == (250, GATHER_MIN_BYTES)    # records came: wait for a batch
    assert await answer() == (250, GATHER_MIN_BYTES)
    assert await answer() == (3000, 1)                  # a gather came back empty: idle again
    assert await answer() == (3000, 1)
    assert await answer() == (250, GATHER_MIN_BYTES)


async def test_a_service_gathers_as_configured_and_dispatch_does_not() -> None:
    from whistle_dispatch.settings import Settings as DispatchSettings
    from whistle_notify.settings import Settings as NotifySettings

    notify, _ = await _worker_consumer(NotifySettings())
    dispatch, _ = await _worker_consumer(DispatchSettings())
    assert notify.fetch_gather_ms == 250
    assert dispatch.fetch_gather_ms == 0    # on the path from a call to its departments
    tuned, _ = await _worker_consumer(NotifySettings(kafka_fetch_gather_ms=40))
    assert tuned.fetch_gather_ms == 40


async def test_the_started_consumers_fetcher_is_paced() -> None:
    from whistle_notify.settings import Settings as NotifySettings

    class Started:
        _fetcher = None

        async def start(self) -> None:
            self._fetcher = Fetcher.__new__(Fetcher)   # what aiokafka's start() creates
            self._fetcher._fetch_min_bytes, self._fetcher._fetch_max_wait_ms = 1, 3000

            async def fetch(*_) -> bool:
                return True
            self._fetcher._proc_fetch_request = fetch

    thread, _ = await _worker_consumer(NotifySettings(kafka_fetch_gather_ms=120))
    thread._create_consumer = lambda loop: Started()
    await thread.on_start()
    fetcher = thread._consumer._fetcher
    assert await fetcher._proc_fetch_request(None, 0, None) is True
    assert (fetcher._fetch_max_wait_ms, fetcher._fetch_min_bytes) == (120, GATHER_MIN_BYTES)


async def test_the_threads_keepalives_wake_at_the_poll() -> None:
    thread, _ = await _worker_consumer(CommonSettings(kafka_fetcher_poll_seconds=7))
    intervals, slept, pokes = [], [], []

    async def itertimer(interval: float, name: str = ""):
        intervals.append(interval)
        return
        yield

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        thread._stopped.set()       # one turn of the keepalive, then stop

    async def poke() -> None:
        pokes.append(1)

    thread.itertimer, thread.sleep, thread._wakeup_timer_in_thread = itertimer, sleep, poke
    await type(thread)._thread_keepalive(thread)
    await thread._keepalive2()
    assert intervals == [7] and slept == [7] and pokes == [1]   # mode's own: 1.0 and 1.1 s


async def test_fausts_wait_for_records_is_the_poll(monkeypatch) -> None:
    asked = []

    async def getmany(self, timeout: float):
        asked.append(timeout)
        return
        yield

    monkeypatch.setattr(faust_aiokafka.Consumer, "getmany", getmany)
    app = make_faust_app(CommonSettings(kafka_fetcher_poll_seconds=6))
    async for _ in app.consumer.getmany(timeout=1.0):   # what Faust's fetch loop asks
        pass
    async for _ in app.consumer.getmany(timeout=9.0):
        pass
    assert asked == [6, 9.0]


async def test_fausts_monitor_samples_nothing_on_a_timer() -> None:
    monitor = make_faust_app(CommonSettings()).monitor
    assert isinstance(monitor, QuietMonitor)
    await asyncio.wait_for(type(monitor)._sampler(monitor), 1)  # returns at once: no loop
