"""Prometheus for the local stack: Debian's binary with the project's config and rules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import httpx

from .paths import Layout
from .procs import StackError, read_pid, spawn, stop_pid, wait_until


def binary(name: str = "prometheus") -> str | None:
    return shutil.which(name)


def ensure_installed() -> bool:
    """Install Debian's `prometheus` package (which brings promtool) when root and missing."""
    if binary() and binary("promtool"):
        return True
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(install, env=env, capture_output=True)
    return bool(binary() and binary("promtool"))


@dataclass(frozen=True)
class LocalPrometheus:
    """One Prometheus process scraping the four services on 127.0.0.1."""

    layout: Layout
    port: int = 9090
    name: str = "prometheus"
    interval: str = "5s"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def render(self, ports: dict[str, int]) -> str:
        """The compose config with 127.0.0.1 targets and absolute rule paths."""
        text = (self.layout.root / "deploy" / "prometheus" / "prometheus.yml").read_text()
        for service, port in ports.items():
            text = text.replace(f'"{service}:{port}"', f'"127.0.0.1:{port}"')
        rules = self.layout.root / "deploy" / "prometheus" / "rules"
        text = text.replace("- rules/*.yml", f"- {rules}/*.yml")
        return re.sub(r"(scrape_interval|evaluation_interval): \S+",
                      rf"\1: {self.interval}", text)

    def start(self, ports: dict[str, int], timeout: float = 30) -> bool:
        """Start unless running; False when no Prometheus binary is installed."""
        if binary() is None:
            return False
        if read_pid(self.layout.pidfile(self.name), "prometheus"):
            return True
        folder = self.layout.state / self.name
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "prometheus.yml"
        config.write_text(self.render(ports))
        spawn([binary(), f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
               f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"],
              pidfile=self.layout.pidfile(self.name), logfile=self.layout.logfile(self.name))

        def ready() -> bool:
            if read_pid(self.layout.pidfile(self.name), "prometheus") is None:
                raise StackError(f"Prometheus exited; see {self.layout.logfile(self.name)}")
            try:
                return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=timeout, what="Prometheus")
        return True

    def stop(self) -> None:
        pid = read_pid(self.layout.pidfile(self.name), "prometheus")
        if pid:
            stop_pid(pid)
        self.layout.pidfile(self.name).unlink(missing_ok=True)
