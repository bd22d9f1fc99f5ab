"""docker-compose.yml cannot run here (no Docker engine): check its wiring instead.

It is loaded by compose-go, the loader Docker Compose uses (deploy/compose-check), and
validated against the Compose JSON Schema when ../shared/schemas is present.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SERVICES = {"intake": 8001, "dispatch": 8002, "scoring": 8003, "notify": 8004}


@pytest.fixture(scope="module")
def project() -> dict:
    if shutil.which("go") is None:
        pytest.skip("Go is not installed: compose-go cannot load the file")
    result = subprocess.run(["go", "run", ".", str(ROOT / "docker-compose.yml")],
                            cwd=ROOT / "deploy" / "compose-check", capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_component_is_present(project):
    assert set(project["services"]) == {*SERVICES, "kafka", "postgres", "prometheus", "grafana",
                                        "console"}
    assert project["services"]["kafka"]["image"] == "apache/kafka:3.9.1"
    assert project["services"]["postgres"]["image"].startswith("postgres:16")


def test_kafka_is_kraft_with_bounded_heap(project):
    env = project["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "-Xmx512m" in env["KAFKA_HEAP_OPTS"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"


@pytest.mark.parametrize("name, port", SERVICES.items())
def test_service_wiring(project, name, port):
    svc = project["services"][name]
    env = svc["environment"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["DATABASE_URL"].endswith(f"@postgres:5432/{name}")
    assert env[f"{name.upper()}_PORT"] == str(port)
    assert env["HOST"] == "0.0.0.0"
    assert [(p["published"], p["target"]) for p in svc["ports"]] == [(str(port), port)]
    assert svc["build"]["dockerfile"] == f"services/{name}/Dockerfile"
    assert (ROOT / svc["build"]["dockerfile"]).exists()
    assert f"127.0.0.1:{port}/readyz" in " ".join(svc["healthcheck"]["test"])
    deps = svc["depends_on"]
    assert deps["kafka"]["condition"] == deps["postgres"]["condition"] == "service_healthy"


def test_infrastructure_has_healthchecks(project):
    for name in ("kafka", "postgres", "prometheus", "grafana"):
        assert project["services"][name]["healthcheck"]["test"], name


def test_postgres_creates_each_service_database():
    sql = (ROOT / "deploy/postgres/init-databases.sql").read_text()
    for name in SERVICES:
        assert f"CREATE DATABASE {name};" in sql


def test_prometheus_scrapes_every_service():
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]}
    assert targets == {f"{n}:{p}" for n, p in SERVICES.items()}


def test_compose_file_matches_the_published_schema():
    schema_path = ROOT.parent / "shared" / "schemas" / "compose-spec.json"
    if not schema_path.exists():
        pytest.skip("../shared/schemas/compose-spec.json is only on the project's own machines")
    import jsonschema

    schema = json.loads(schema_path.read_text())
    jsonschema.validate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), schema)
