"""Where the local stack keeps its files: everything under a git-ignored `.local/`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def project_root() -> Path:
    """Return the repository root (the folder holding `pyproject.toml` and `deploy/`)."""
    env = os.environ.get("WHISTLE_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "kafka" / "pom.xml").exists():
            return parent
    return Path.cwd()


@dataclass(frozen=True)
class Layout:
    """File layout of the local stack."""

    root: Path

    @property
    def state(self) -> Path:
        return Path(os.environ.get("WHISTLE_STATE_DIR", self.root / ".local"))

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def kafka_libs(self) -> Path:
        return self.state / "kafka" / "libs"

    def kafka_node(self, node_id: int) -> Path:
        return self.state / "kafka" / f"node-{node_id}"

    @property
    def pg_data(self) -> Path:
        return self.state / "postgres" / "data"

    @property
    def pg_socket(self) -> Path:
        return self.state / "postgres" / "socket"

    def pidfile(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def logfile(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def ensure(self) -> None:
        for d in (self.run, self.logs):
            d.mkdir(parents=True, exist_ok=True)


def layout() -> Layout:
    """Return the layout for this checkout."""
    return Layout(project_root())
