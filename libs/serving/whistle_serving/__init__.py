"""How every Whistle process serves HTTP (the four services and the console).

uvicorn's main loop sleeps 0.1 s between ticks only to refresh the Date header once a second
and to notice a shutdown request: ten wake-ups a second, a fixed share of an idle process's
CPU. `QuietServer` ticks once a second and wakes at once on a shutdown signal.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import uvicorn


class QuietServer(uvicorn.Server):
    """uvicorn's server ticking once a second instead of ten times: a tick refreshes the Date
    header every time, and a shutdown signal ends the wait at once."""

    _exit: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._exit is not None:
            self._loop.call_soon_threadsafe(self._exit.set)  # safe from a signal handler

    async def main_loop(self) -> None:
        self._loop, self._exit = asyncio.get_running_loop(), asyncio.Event()
        while not await self.on_tick(0):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), 1.0)


def serve(config: uvicorn.Config) -> None:
    """Run a quiet server until it stops; exit 3, as `uvicorn.run` does, if it never started
    (the socket could not be bound, or the app's startup failed)."""
    server = QuietServer(config)
    server.run()
    if not server.started:
        raise SystemExit(3)


__all__ = ["QuietServer", "serve"]
