"""The local stack's component `console`, the docker-compose service and its Dockerfile."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
import whistle_console.__main__ as console_main
import yaml
from whistle_serving import QuietServer
from whistle_stack.cli import COMPONENTS
from whistle_stack.console import ConsoleProc
from whistle_stack.paths import Layout

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_console_is_a_component_pointed_at_the_services(monkeypatch, tmp_path):
    assert "console" in COMPONENTS
    monkeypatch.delenv("CONSOLE_PORT", raising=False)
    monkeypatch.delenv("CONSOLE_DISPATCH_URL", raising=False)
    proc = ConsoleProc(Layout(tmp_path), lambda name: f"http://127.0.0.1:{9000 + len(name)}")
    assert proc.port == 8080 and proc.url == "http://127.0.0.1:8080"
    env = proc.env()
    assert env["CONSOLE_DISPATCH_URL"] == "http://127.0.0.1:9008"
    assert env["CONSOLE_PORT"] == "8080"


def test_the_stack_starts_and_stops_the_console(monkeypatch, tmp_path):
    port = free_port()
    monkeypatch.setenv("CONSOLE_PORT", str(port))
    monkeypatch.setenv("WHISTLE_STATE_DIR", str(tmp_path / "state"))
    proc = ConsoleProc(Layout(ROOT), lambda name: "http://127.0.0.1:9")
    assert proc.start() is True
    try:
        assert proc.wait_ready(timeout=30) < 30
        assert proc.start() is False  # already running: not started twice
        page = httpx.get(f"{proc.url}/login", timeout=5)
        assert page.status_code == 200 and "登录指挥台" in page.text
    finally:
        proc.stop()
    assert proc.running_pid() is None


def test_docker_compose_runs_the_console_against_the_services():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    svc = compose["services"]["console"]
    assert svc["build"]["dockerfile"] == "clients/console/Dockerfile"
    assert (ROOT / svc["build"]["dockerfile"]).exists()
    env = svc["environment"]
    for name, port in {"intake": 8001, "dispatch": 8002, "scoring": 8003,
                       "notify": 8004}.items():
        assert env[f"CONSOLE_{name.upper()}_URL"] == f"http://{name}:{port}"
        assert svc["depends_on"][name]["condition"] == "service_healthy"
    assert env["CONSOLE_PORT"] == "8080" and svc["ports"] == ["8080:8080"]
    assert "127.0.0.1:8080/healthz" in " ".join(svc["healthcheck"]["test"])
    dockerfile = (ROOT / "clients/console/Dockerfile").read_text()
    assert "--package whistle-console" in dockerfile and "whistle_console" in dockerfile


def test_the_console_serves_with_the_quiet_server(monkeypatch):
    served: list[QuietServer] = []

    def run(self: QuietServer) -> None:
        served.append(self)
        self.started = True

    monkeypatch.setenv("CONSOLE_PORT", "8099")
    monkeypatch.setattr(QuietServer, "run", run)
    console_main.main()
    assert len(served) == 1 and type(served[0]) is QuietServer
    assert served[0].config.port == 8099 and served[0].config.server_header is False


def test_the_console_exits_when_its_server_did_not_start(monkeypatch):
    monkeypatch.setattr(QuietServer, "run", lambda self: None)
    with pytest.raises(SystemExit) as stopped:
        console_main.main()
    assert stopped.value.code == 3
