"""The four Whistle services as background processes of the local stack."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import httpx

from .paths import Layout
from .procs import StackError, read_pid, spawn, stop_pid

SERVICES = {"intake": 8001, "dispatch": 8002, "scoring": 8003, "notify": 8004}


@dataclass(frozen=True)
class ServiceProcs:
    """Start, wait for and stop the services; each reads its settings from the environment."""

    layout: Layout
    bootstrap: str
    database_url_for: object  # Callable[[str], str]

    def port(self, name: str) -> int:
        return int(os.environ.get(f"{name.upper()}_PORT", SERVICES[name]))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def running_pid(self, name: str) -> int | None:
        return read_pid(self.layout.pidfile(name), f"whistle_{name}")

    def env(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "DATABASE_URL": self.database_url_for(name),
            f"{name.upper()}_PORT": str(self.port(name)),
            "PYTHONUNBUFFERED": "1",
        })
        if name == "intake":
            env.setdefault("WHISTLE_MODEL_DIR", str(self.layout.state / "models"))
        return env

    def start(self, names: list[str], extra_env: dict[str, str] | None = None) -> list[str]:
        """Start the named services that are not running; return those started."""
        self.layout.ensure()
        started = []
        for name in names:
            if self.running_pid(name):
                continue
            env = self.env(name) | {k: v for k, v in (extra_env or {}).items()
                                    if k not in os.environ}
            spawn([sys.executable, "-m", f"whistle_{name}"], pidfile=self.layout.pidfile(name),
                  logfile=self.layout.logfile(name), env=env, cwd=self.layout.root)
            started.append(name)
        return started

    def wait_ready(self, names: list[str], *, timeout: float = 60.0) -> dict[str, float]:
        """Wait until GET /readyz answers 200 on each; return seconds each took."""
        start = time.monotonic()
        pending = set(names)
        took: dict[str, float] = {}
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    if self.running_pid(name) is None:
                        tail = self.layout.logfile(name).read_text(errors="replace")[-3000:]
                        raise StackError(f"service {name} exited during start-up:\n{tail}")
                    try:
                        if client.get(f"{self.url(name)}/readyz").status_code == 200:
                            took[name] = time.monotonic() - start
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() - start > timeout:
                    raise StackError(
                        f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))} "
                        f"(logs in {self.layout.logs})")
                time.sleep(0.2)
        return took

    def stop(self, names: list[str], *, kill: bool = False) -> None:
        import signal

        for name in names:
            pid = self.running_pid(name)
            if pid:
                stop_pid(pid, timeout=20, sig=signal.SIGKILL if kill else signal.SIGTERM)
            self.layout.pidfile(name).unlink(missing_ok=True)
