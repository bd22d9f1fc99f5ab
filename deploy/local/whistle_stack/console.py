"""The web console (`clients/console`, `python -m whistle_console`) as the component `console`
of the local stack: one background process on :8080 (`CONSOLE_PORT`), pointed at the four
services' local addresses, with a pid file in `.local/run/` and its log in `.local/logs/`."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from .paths import Layout
from .procs import StackError, read_pid, spawn, stop_pid

NAME = "console"
DEFAULT_PORT = 8080
MARKER = "whistle_console"


@dataclass(frozen=True)
class ConsoleProc:
    """Start, wait for and stop the console; it only calls the services' HTTP APIs."""

    layout: Layout
    service_url: Callable[[str], str]  # ServiceProcs.url

    @property
    def port(self) -> int:
        return int(os.environ.get("CONSOLE_PORT", DEFAULT_PORT))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running_pid(self) -> int | None:
        return read_pid(self.layout.pidfile(NAME), MARKER)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"CONSOLE_PORT": str(self.port), "PYTHONUNBUFFERED": "1"})
        for service in ("intake", "dispatch", "scoring", "notify"):
            env.setdefault(f"CONSOLE_{service.upper()}_URL", self.service_url(service))
        return env

    def start(self, extra_env: dict[str, str] | None = None) -> bool:
        """Start unless running; True when this call started it."""
        if self.running_pid():
            return False
        self.layout.ensure()
        env = self.env() | {k: v for k, v in (extra_env or {}).items() if k not in os.environ}
        spawn([sys.executable, "-m", MARKER], pidfile=self.layout.pidfile(NAME),
              logfile=self.layout.logfile(NAME), env=env, cwd=self.layout.root)
        return True

    def wait_ready(self, *, timeout: float = 30.0) -> float:
        """Seconds until GET /healthz answers 200."""
        start = time.monotonic()
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.running_pid() is None:
                    tail = self.layout.logfile(NAME).read_text(errors="replace")[-3000:]
                    raise StackError(f"the console exited during start-up:\n{tail}")
                try:
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return time.monotonic() - start
                except httpx.HTTPError:
                    pass
                if time.monotonic() - start > timeout:
                    raise StackError(f"console not ready after {timeout:.0f}s "
                                     f"(log: {self.layout.logfile(NAME)})")
                time.sleep(0.2)

    def stop(self, *, kill: bool = False) -> None:
        pid = self.running_pid()
        if pid:
            stop_pid(pid, timeout=10, sig=signal.SIGKILL if kill else signal.SIGTERM)
        self.layout.pidfile(NAME).unlink(missing_ok=True)
