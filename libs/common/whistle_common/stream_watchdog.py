"""Restarting a service whose stream processing is wedged.

Faust (faust-streaming 0.15.3) finishes a rebalance in its Recovery service, which reads the
tables' changelogs and then resumes the streams. That service can end for good while the
process goes on: a step of it that outlasts `broker_request_timeout` is taken for the
service being stopped (`Service.wait_first` answers "stopped" on a timeout) and its loop
breaks; an error of the broker in one of its steps (highwaters, a seek) crashes it. Every
rebalance after that starts and never ends: the app stays `rebalancing`, its consumers take
nothing, and /readyz says `consumers: false` until somebody restarts the process. Scoring,
whose hotspot counts are a Faust table, was seen so after a Kafka restart in CI.

The watchdog looks at the app every few seconds. It restarts the process when the app (or
its Recovery service) crashed, or when a rebalance has lasted `stuck_after` seconds while
Kafka answered and no changelog offset moved (a long recovery that makes progress is left
alone; so is a rebalance waiting out a broker outage). The restart replaces the process image
with a fresh one (`os.execv` of the same command line: same pid, same log, no supervisor
needed); nothing is lost by it — what intake accepted is in its database, and the messages
consumed since the last commit come again to idempotent consumers.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StreamHealth:
    """What the watchdog reads of a Faust app at one look."""

    rebalancing: bool
    crashed: str | None         # the crash reason of the app or its Recovery service
    recovery_offsets: int       # sum of the changelog offsets recovery has read
    broker_reachable: bool


class Watchdog:
    """Decides, look after look, whether the stream processing is wedged."""

    def __init__(self, stuck_after: float, *, clock: Callable[[], float] = time.monotonic):
        self.stuck_after = stuck_after
        self._clock = clock
        self._since: float | None = None   # when the current stretch of no progress began
        self._offsets: int | None = None

    def check(self, health: StreamHealth) -> str | None:
        """The reason to restart, or None."""
        if health.crashed is not None:
            return f"stream processing crashed: {health.crashed}"
        now, moved = self._clock(), health.recovery_offsets != self._offsets
        self._offsets = health.recovery_offsets
        if not health.rebalancing or not health.broker_reachable:
            self._since = None  # nothing to do, or waiting for the broker: not stuck
            return None
        if self._since is None or moved:
            self._since = now   # the count starts at the first look without progress
            return None
        stuck_for = now - self._since
        if stuck_for >= self.stuck_after:
            return f"rebalance without progress for {stuck_for:.0f} s while Kafka answered"
        return None


def read_health(faust_app: Any, broker_reachable: bool) -> StreamHealth:
    """A look at the app: its rebalance flag, crashes, and the progress of its recovery."""
    recovery = getattr(faust_app.tables, "_recovery", None)
    crashed = None
    for service in (faust_app, recovery):
        if service is not None and service._crashed.is_set():
            crashed = f"{type(service).__name__}: {service.crash_reason!r}"
            break
    offsets = 0
    if recovery is not None:
        offsets = sum(recovery.active_offsets.values()) + sum(recovery.standby_offsets.values())
    return StreamHealth(rebalancing=bool(faust_app.rebalancing), crashed=crashed,
                        recovery_offsets=offsets, broker_reachable=broker_reachable)


def reexec() -> None:
    """Replace this process with a fresh run of the same command line."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


async def watch_streams(faust_app: Any, service: str, *, stuck_after: float,
                        broker_reachable: Callable[[], bool], every: float = 5.0,
                        restart: Callable[[], None] = reexec) -> None:
    """Run until cancelled; restart the process once its stream processing is wedged."""
    dog = Watchdog(stuck_after)
    while True:
        await asyncio.sleep(every)
        try:
            reason = dog.check(read_health(faust_app, broker_reachable()))
        except Exception:  # noqa: BLE001 - a look that fails is no reason to restart
            log.warning("stream watchdog look failed", service=service, exc_info=True)
            continue
        if reason is not None:
            log.error("stream processing wedged; restarting the process", service=service,
                      reason=reason, assignment=_assignment(faust_app))
            restart()
            return


def _assignment(faust_app: Any) -> list[str]:
    try:
        return sorted(f"{tp.topic}:{tp.partition}" for tp in faust_app.consumer.assignment())
    except Exception:  # noqa: BLE001 - the consumer may be gone with the crash
        return []
