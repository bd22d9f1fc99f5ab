"""Gauges of the database's state are read when Prometheus scrapes, not on a timer."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client import Gauge
from starlette.applications import Starlette
from starlette.routing import Route
from whistle_common.metrics import ScrapeRefresh, metrics_endpoint

PROBE = Gauge("whistle_test_scrape_probe", "set by a scrape refresher in a unit test")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_scrape_refreshes_unless_the_last_refresh_is_young() -> None:
    calls, clock = [], Clock()

    async def refresh() -> None:
        calls.append(clock.now)

    scrape = ScrapeRefresh([refresh], min_age=5.0, clock=clock)
    await scrape()
    clock.now += 4.9
    await scrape()                  # a second scraper, or a fast one: shares the first read
    clock.now += 0.1
    await scrape()
    assert calls == [100.0, 105.0]


async def test_dispatch_reads_its_open_and_overdue_gauges_when_scraped() -> None:
    from whistle_catalogue import load_catalogue
    from whistle_dispatch.main import CASES_OPEN, CASES_OVERDUE, create_app
    from whistle_dispatch.settings import Settings

    from tests.unit.dispatch.fakes import FakeDispatchUnitOfWork

    dept = next(iter(load_catalogue().departments))
    app = create_app(Settings(gauge_refresh_seconds=2.5))
    uow = FakeDispatchUnitOfWork()
    reads = []

    async def open_by_dept(now):
        reads.append(now)
        return [{"dept": dept, "open": 4, "overdue": 1}]

    uow.cases.open_by_dept = open_by_dept
    app.state.runtime.uow = lambda: uow     # the refresher reads through the service's runtime
    assert app.state.scrape_refresh._min_age == 2.5
    await app.state.scrape_refresh()
    assert len(reads) == 1
    assert CASES_OPEN.labels(dept)._value.get() == 4
    assert CASES_OVERDUE.labels(dept)._value.get() == 1


async def test_concurrent_scrapes_wait_for_one_refresh() -> None:
    started, release, calls = asyncio.Event(), asyncio.Event(), []

    async def slow() -> None:
        calls.append(1)
        started.set()
        await release.wait()

    scrape = ScrapeRefresh([slow], min_age=1.0)
    first = asyncio.create_task(scrape())
    await started.wait()
    second = asyncio.create_task(scrape())
    for _ in range(20):             # turns of the loop, no clock: the second reaches the lock
        await asyncio.sleep(0)
    assert not second.done()        # waits for the read in flight instead of starting another
    release.set()
    await asyncio.gather(first, second)
    assert calls == [1]


async def test_a_failing_or_slow_refresher_leaves_the_others_and_the_scrape_alone() -> None:
    done = []

    async def broken() -> None:
        raise RuntimeError("database gone")

    async def stuck() -> None:
        await asyncio.Event().wait()    # never answers: the timeout cancels it

    async def fine() -> None:
        done.append(1)

    await ScrapeRefresh([broken, stuck, fine], min_age=1.0, timeout=0.05)()
    assert done == [1]


async def test_get_metrics_answers_with_the_gauges_just_refreshed() -> None:
    reads = []

    async def refresh() -> None:
        reads.append(1)
        PROBE.set(len(reads) * 7)

    app = Starlette(routes=[Route("/metrics", metrics_endpoint)])
    app.state.scrape_refresh = ScrapeRefresh([refresh], min_age=0.0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://service") as client:
        first = await client.get("/metrics")
        second = await client.get("/metrics")
    assert "whistle_test_scrape_probe 7.0" in first.text
    assert "whistle_test_scrape_probe 14.0" in second.text


async def test_an_app_without_scraped_gauges_still_answers() -> None:
    app = Starlette(routes=[Route("/metrics", metrics_endpoint)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://service") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200 and "whistle_test_scrape_probe" in response.text
