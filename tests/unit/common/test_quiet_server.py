"""The HTTP server of every process ticks once a second and stops at once on a signal."""

from __future__ import annotations

import asyncio
import signal

import uvicorn
from fastapi import FastAPI
from whistle_serving import QuietServer


class Probe(QuietServer):
    """Records its ticks instead of uvicorn's housekeeping (the Date header, connection
    limits), answering whether to stop as uvicorn's tick does."""

    def __init__(self) -> None:
        super().__init__(uvicorn.Config(FastAPI()))
        self.ticks: list[float] = []
        self.ticked = asyncio.Event()

    async def on_tick(self, counter: int) -> bool:
        self.ticks.append(asyncio.get_running_loop().time())
        self.ticked.set()
        return self.should_exit


async def first_tick(server: Probe) -> asyncio.Future:
    """Start the server's loop and wait for its first tick; its wait for the next tick (a
    timer) is scheduled in the same step, before this test runs again."""
    task = asyncio.ensure_future(server.main_loop())
    await asyncio.wait_for(server.ticked.wait(), 2)
    return task


def live_timers(loop: asyncio.AbstractEventLoop) -> list[float]:
    """How far ahead each live timer handle of the loop is due, in seconds."""
    return [h.when() - loop.time() for h in loop._scheduled if not h.cancelled()]  # noqa: SLF001


async def test_between_ticks_one_timer_a_second_ahead():
    loop = asyncio.get_running_loop()
    server = Probe()
    task = await first_tick(server)
    assert len(server.ticks) == 1
    due = live_timers(loop)
    assert len(due) == 1 and 0.9 < due[0] <= 1.0   # uvicorn's own: 0.1 s ahead
    server.handle_exit(signal.SIGTERM, None)
    await asyncio.wait_for(task, 2)
    assert len(server.ticks) == 2


async def test_a_shutdown_signal_ends_the_wait_before_the_next_tick():
    loop = asyncio.get_running_loop()
    server = Probe()
    task = await first_tick(server)
    first = server.ticks[0]
    server.handle_exit(signal.SIGTERM, None)
    await asyncio.wait_for(task, 2)
    assert server.should_exit
    # the last tick came from the signal, not from the timer a second after the first
    assert server.ticks[-1] - first < 0.9
    assert live_timers(loop) == []


def test_a_signal_before_the_loop_runs_only_sets_the_flag():
    server = Probe()
    server.handle_exit(signal.SIGTERM, None)   # no loop yet: nothing to wake
    assert server.should_exit
