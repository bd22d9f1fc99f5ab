"""The whole local stack: Kafka, PostgreSQL and the services, with what each call started."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field

from .console import ConsoleProc
from .kafka import KafkaCluster
from .paths import Layout, layout
from .postgres import Postgres
from .procs import StackError, port_open
from .services import SERVICES, ServiceProcs

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


@dataclass
class Started:
    """What one `up` started, so that `down` of the same run stops only that."""

    kafka: bool = False
    postgres: bool = False
    services: list[str] = field(default_factory=list)
    console: bool = False
    ready_seconds: dict[str, float] = field(default_factory=dict)


class Stack:
    """Facade over the local Kafka, PostgreSQL and service processes."""

    def __init__(self, where: Layout | None = None) -> None:
        self.layout = where or layout()
        self.kafka = KafkaCluster(self.layout)
        self.postgres = Postgres(self.layout)
        self.services = ServiceProcs(self.layout, self.bootstrap, self.postgres.url_for)
        self.console = ConsoleProc(self.layout, self.services.url)

    @property
    def external_kafka(self) -> bool:
        env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        return bool(env) and env != self.kafka.bootstrap

    @property
    def bootstrap(self) -> str:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or self.kafka.bootstrap

    def up_infra(self) -> Started:
        """Start Kafka and PostgreSQL (unless external or already up) and create the databases."""
        started = Started()
        if not self.external_kafka:
            started.kafka = bool(self.kafka.start())
        started.postgres = self.postgres.start()
        asyncio.run(self.postgres.ensure_databases())
        return started

    def up(self, names: list[str] | None = None, *, timeout: float = 90.0,
           extra_env: dict[str, str] | None = None) -> Started:
        """Start infra and the named services (default: all four and the web console),
        waiting for /readyz."""
        started = self.up_infra()
        whole = names is None
        names = list(SERVICES) if names is None else names
        started.services = self.services.start(names, extra_env)
        started.ready_seconds = self.services.wait_ready(started.services, timeout=timeout)
        if whole and console_installed():
            try:
                started.console = self.console.start(extra_env)
                if started.console:
                    started.ready_seconds["console"] = self.console.wait_ready()
            except StackError as exc:  # the services run all the same; say why it did not
                print(f"console not started: {exc}", file=sys.stderr)
                self.console.stop()
                started.console = False
        return started

    def down(self, started: Started | None = None) -> None:
        """Stop what `started` names, or everything this stack has pid files for."""
        if started is None:
            from .demo import stop_simulators
            from .prometheus import LocalPrometheus

            stop_simulators(self)
            LocalPrometheus(self.layout).stop()
            self.console.stop()
            self.services.stop(list(SERVICES))
            self.kafka.stop()
            self.postgres.stop()
            return
        if started.console:
            self.console.stop()
        self.services.stop(started.services)
        if started.kafka:
            self.kafka.stop()
        if started.postgres:
            self.postgres.stop()

    def status(self) -> dict[str, str]:
        out = {}
        if self.external_kafka:
            out["kafka"] = f"external {self.bootstrap}"
        else:
            pid = self.kafka.running_pid(1)
            out["kafka"] = f"running pid {pid} on {self.bootstrap}" if pid else "stopped"
        if self.postgres.external_url:
            out["postgres"] = "external (DATABASE_URL)"
        else:
            out["postgres"] = (f"running on 127.0.0.1:{self.postgres.port}"
                               if self.postgres.running() else "stopped")
        for name in SERVICES:
            pid = self.services.running_pid(name)
            port = self.services.port(name)
            up = pid and port_open("127.0.0.1", port)
            out[name] = f"running pid {pid} on :{port}" if up else "stopped"
        pid = self.console.running_pid()
        up = pid and port_open("127.0.0.1", self.console.port)
        out["console"] = f"running pid {pid} on {self.console.url}" if up else "stopped"
        return out


def console_installed() -> bool:
    """Whether the web console's package is in this environment (it is in the workspace)."""
    import importlib.util

    return importlib.util.find_spec("whistle_console") is not None
