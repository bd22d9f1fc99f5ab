"""When a dispatch worker sweeps for due supervision stages.

A sweep every second found nothing due almost every time: one transaction a second per worker
while the city sleeps. A worker now sweeps when the earliest deadline in the database comes,
or earlier when one of its own use cases writes an earlier one (a new case, an approved
extension): `deadline_written` wakes it. Never more often than `min_interval`, never less
often than `max_idle` — the safety net for deadlines written by another worker that died
before its own sweep, and for a write this worker was told of before it committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SweepSchedule:
    def __init__(self, *, min_interval: float, max_idle: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if not 0 < min_interval <= max_idle:
            raise ValueError("need 0 < min_interval <= max_idle")
        self.min_interval = min_interval
        self.max_idle = max_idle
        self._clock = clock
        self._hint: datetime | None = None     # earliest deadline written since known
        self._target: datetime | None = None   # when the current wait ends
        self._wake = asyncio.Event()

    @property
    def asleep(self) -> bool:
        """True while `wait` sleeps towards a sweep."""
        return self._target is not None

    def deadline_written(self, due: datetime) -> None:
        """A use case wrote a deadline due at `due`: wake the wait if it ends later."""
        if self._hint is None or due < self._hint:
            self._hint = due
        if self._target is None or due < self._target:
            self._wake.set()

    def swept(self, at: datetime) -> None:
        """A sweep at `at` took what was due: hints of deadlines up to then are spent."""
        if self._hint is not None and self._hint <= at:
            self._hint = None

    def until(self, upcoming: datetime | None) -> float:
        """Seconds until the earliest deadline known (the database's `upcoming` or one
        written since); infinity when there is none."""
        due = [t for t in (upcoming, self._hint) if t is not None]
        if not due:
            return float("inf")
        return (min(due) - self._clock()).total_seconds()

    async def wait(self, upcoming: datetime | None) -> None:
        """Sleep until the next sweep: the earliest deadline, but at least `min_interval` and
        at most `max_idle` after the call. An earlier deadline written meanwhile shortens
        the sleep."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            while True:
                end = min(start + self.max_idle,
                          max(start + self.min_interval, loop.time() + self.until(upcoming)))
                remaining = end - loop.time()
                if remaining <= 0:
                    return
                self._target = self._clock() + timedelta(seconds=remaining)
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    return
        finally:
            self._target = None
