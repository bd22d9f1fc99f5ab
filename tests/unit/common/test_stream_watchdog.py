"""A service whose Faust rebalance never ends restarts itself; one that is merely waiting for
the broker or reading its changelogs does not."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections import Counter

import pytest
from aiokafka.structs import TopicPartition
from whistle_common.service import make_faust_app
from whistle_common.settings import CommonSettings
from whistle_common.stream_watchdog import StreamHealth, Watchdog, read_health, watch_streams


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def health(rebalancing: bool = True, offsets: int = 0, reachable: bool = True,
           crashed: str | None = None) -> StreamHealth:
    return StreamHealth(rebalancing=rebalancing, crashed=crashed, recovery_offsets=offsets,
                        broker_reachable=reachable)


def test_a_rebalance_without_progress_is_wedged_after_the_limit() -> None:
    clock = Clock()
    dog = Watchdog(60, clock=clock)
    assert dog.check(health()) is None
    clock.now += 59
    assert dog.check(health()) is None
    clock.now += 1
    assert "rebalance without progress for 60 s" in dog.check(health())


def test_an_ended_rebalance_starts_the_count_again() -> None:
    clock = Clock()
    dog = Watchdog(60, clock=clock)
    dog.check(health())
    clock.now += 50
    assert dog.check(health(rebalancing=False)) is None
    clock.now += 1
    assert dog.check(health()) is None
    clock.now += 59
    assert dog.check(health()) is None
    clock.now += 1
    assert dog.check(health()) is not None


def test_recovery_that_reads_its_changelogs_is_not_wedged() -> None:
    clock = Clock()
    dog = Watchdog(60, clock=clock)
    for offsets in range(0, 50_000, 1000):  # ten minutes of a long recovery
        clock.now += 12
        assert dog.check(health(offsets=offsets)) is None
    clock.now += 59
    assert dog.check(health(offsets=49_000)) is None
    clock.now += 1
    assert dog.check(health(offsets=49_000)) is not None


def test_a_broker_outage_is_waited_out() -> None:
    clock = Clock()
    dog = Watchdog(60, clock=clock)
    for _ in range(100):
        clock.now += 10
        assert dog.check(health(reachable=False)) is None
    clock.now += 30
    assert dog.check(health()) is None     # Kafka is back: the count starts now
    clock.now += 59
    assert dog.check(health()) is None
    clock.now += 1
    assert dog.check(health()) is not None


def test_a_crash_is_a_reason_at_once() -> None:
    dog = Watchdog(60, clock=Clock())
    reason = dog.check(health(rebalancing=False, crashed="Recovery: TimeoutError()"))
    assert reason == "stream processing crashed: Recovery: TimeoutError()"


def test_health_is_read_off_a_faust_app() -> None:
    app = make_faust_app(CommonSettings(service_name="probe"))
    assert read_health(app, True) == health(rebalancing=False)
    app.on_rebalance_start()
    recovery = app.tables.recovery
    recovery.active_offsets.update(Counter({TopicPartition("t-changelog", 0): 41}))
    recovery.standby_offsets.update(Counter({TopicPartition("t-changelog", 1): 1}))
    assert read_health(app, False) == health(offsets=42, reachable=False)
    recovery._crash(TimeoutError("seek"))
    assert read_health(app, True).crashed == "Recovery: TimeoutError('seek')"


async def test_the_watch_restarts_a_wedged_app_once() -> None:
    app = make_faust_app(CommonSettings(service_name="probe"))
    app.on_rebalance_start()
    app.tables.recovery._crash(RuntimeError("highwaters"))
    restarts = []
    await asyncio.wait_for(watch_streams(app, "probe", stuck_after=60,
                                         broker_reachable=lambda: True, every=0,
                                         restart=lambda: restarts.append(1)), 5)
    assert restarts == [1]


async def test_a_healthy_app_is_left_running() -> None:
    app = make_faust_app(CommonSettings(service_name="probe"))
    restarts, looks, looked_enough = [], [], asyncio.Event()

    def reachable() -> bool:   # asked once a look
        looks.append(1)
        if len(looks) >= 20:
            looked_enough.set()
        return True

    watch = asyncio.create_task(watch_streams(app, "probe", stuck_after=60,
                                              broker_reachable=reachable, every=0,
                                              restart=lambda: restarts.append(1)))
    await asyncio.wait_for(looked_enough.wait(), 5)
    assert not watch.done() and restarts == []
    watch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watch


def test_the_restart_runs_the_same_command_again_in_the_same_process(tmp_path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        from whistle_common.stream_watchdog import reexec
        print(os.getpid(), sys.argv[1:], flush=True)
        if not os.environ.get("REEXECUTED"):
            os.environ["REEXECUTED"] = "1"
            reexec()
    """))
    out = subprocess.run([sys.executable, "-u", str(script), "--flag", "x"], check=True,
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "REEXECUTED": ""}).stdout.split("\n")
    first, second = out[0], out[1]
    assert first == second and first.endswith("['--flag', 'x']")


def test_the_limit_is_a_setting() -> None:
    assert CommonSettings().kafka_rebalance_stuck_seconds == 60
    assert CommonSettings(kafka_rebalance_stuck_seconds=0).kafka_rebalance_stuck_seconds == 0
    with pytest.raises(ValueError, match="kafka_rebalance_stuck_seconds"):
        CommonSettings(kafka_rebalance_stuck_seconds=-1)
