"""The Java reference department client (clients/java) against the real stack.

Builds the jar with Maven, posts a street-vending complaint (lead: chengguan), runs the jar
with `--once <case_id>` and waits until dispatch shows the case resolved by chengguan. The
order record is also decoded with the Python CloudEvents SDK's Kafka binding, to show that
orders travel in structured mode with a `content-type: application/cloudevents+json` header.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka, from_structured
from cloudevents.core.formats.json import JSONFormat
from whistle_common.envelope import decode
from whistle_common.signing import verify

from tests.support import depts
from tests.support.incidents import GRID, incident, post
from tests.support.stack import OPERATOR, eventually

pytestmark = pytest.mark.e2e

JAVA_DIR = Path(__file__).resolve().parents[2] / "clients" / "java"
JAR = JAVA_DIR / "target" / "whistle-department-client.jar"
DEPT = "chengguan"
SECRET = f"dev-secret-{DEPT}"


@pytest.fixture(scope="session")
def java_client_jar() -> Path:
    """clients/java built with Maven (skips when Maven or a JDK is missing)."""
    missing = [tool for tool in ("mvn", "java") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not on PATH: the Java client cannot be built")
    try:
        built = subprocess.run(["mvn", "-q", "-B", "package", "-DskipTests"], cwd=JAVA_DIR,
                               capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail("mvn package of clients/java took more than 5 minutes")
    assert built.returncode == 0, (
        f"mvn package failed:\n{built.stdout[-4000:]}\n{built.stderr[-4000:]}")
    assert JAR.is_file(), f"mvn package made no {JAR}"
    return JAR


def _run_jar(jar: Path, bootstrap: str, case_id: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["java", "-jar", str(jar), "--bootstrap", bootstrap, "--dept", DEPT, "--secret", SECRET,
         "--once", case_id, "--timeout", "120"],
        capture_output=True, text=True, timeout=180)


async def _get_case(live, case_id: str) -> dict:
    async with live.http("dispatch") as client:
        resp = await client.get(f"/v1/cases/{case_id}", headers=OPERATOR)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_java_client_acknowledges_and_resolves_its_order(java_client_jar, live):
    orders = depts.order_tail(live, DEPT)
    reports = live.tail("dispatch.reports")
    try:
        async with live.http("intake") as client:
            resp = await post(client, incident(
                category="street_vending", description="府君山社区门口流动摊贩占道经营",
                location={"grid_code": GRID, "address": "府君山社区东门"}))
        assert resp.status_code == 201, resp.text
        incident_id = resp.json()["incident_id"]

        order = (await asyncio.to_thread(
            orders.wait_for, lambda e: e.data.get("incident_id") == incident_id, timeout=60))[0]
        assert order.type == "dispatch.ordered.v1" and order.data["role"] == "lead"
        case_id = order.subject

        # The captured record, decoded by the CloudEvents SDK's Kafka protocol binding.
        headers, raw = next((h, v) for e, h, v in orders.seen if e is not None and e.id == order.id)
        content_type = headers.get("content-type", b"").decode()
        assert content_type.startswith("application/cloudevents+json"), (
            f"order record lacks the structured-mode content-type header: {headers!r}")
        message = KafkaMessage(headers=headers, key=case_id.encode(), value=raw)
        for event in (from_structured(message, JSONFormat()), from_kafka(message, JSONFormat())):
            assert event.get_type() == "dispatch.ordered.v1"
            assert event.get_subject() == case_id and event.get_id() == order.id
            assert event.get_data()["role"] == "lead"

        ran = await asyncio.to_thread(_run_jar, java_client_jar, live.bootstrap, case_id)
        assert ran.returncode == 0, (
            f"java client exited {ran.returncode}:\n{ran.stdout}\n{ran.stderr}")
        logged = [line for line in ran.stdout.splitlines() if f"case={case_id}" in line]
        assert len(logged) == 1 and f"dept={DEPT}" in logged[0], ran.stdout

        async def resolved():
            case = await _get_case(live, case_id)
            mine = [a for a in case["assignments"] if a["dept"] == DEPT]
            return case if case["status"] == "resolved" and mine and \
                mine[0]["status"] == "resolved" else None

        case = await eventually(resolved, timeout=60, what=f"case {case_id} resolved by {DEPT}")
        kinds = [t["type"] for t in case["timeline"]]
        assert {"case.acknowledged.v1", "case.resolved.v1"} <= set(kinds), kinds

        # What the Java client sent: two structured-mode reports, signed over the exact value.
        sent = await asyncio.to_thread(
            reports.wait_for, lambda e: e.subject == case_id and e.source == f"/departments/{DEPT}",
            count=2, timeout=30)
        assert [e.data["kind"] for e in sent] == ["acknowledged", "resolved"]
        assert sent[1].data["result"] and all(e.data["dept"] == DEPT for e in sent)
        assert all(e.correlationid == order.correlationid for e in sent)
        for env, hdrs, value in reports.seen:
            if env is None or env.subject != case_id:
                continue
            assert decode(value).type == "dispatch.reported.v1"
            assert hdrs["x-whistle-dept"] == DEPT.encode()
            assert hdrs["content-type"].decode().startswith("application/cloudevents+json")
            assert verify(SECRET, hdrs["x-whistle-timestamp"].decode(), value,
                          hdrs["x-whistle-signature"].decode()) is None
    finally:
        orders.close()
        reports.close()
