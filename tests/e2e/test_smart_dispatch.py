"""Issue 13 on the real stack: a complaint without a category reaches the right department,
an ambiguous one waits in triage with no order, an operator's choice dispatches it and is
stored as a correction, and a retrain that includes it is served without a restart."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys

import pytest
from whistle_intake.adapters.corpus import data_dir
from whistle_intake.adapters.model_store import ModelStore

from tests.support import depts
from tests.support.incidents import incident, post
from tests.support.stack import OPERATOR, case_of, eventually

pytestmark = pytest.mark.e2e

WAGES = ("来电人反映：本人在城北物流园做装卸，老板从八月份开始就说资金周转不开，"
         "三个月工钱一共一万二一直拖着，现在电话也不接了，请帮忙要回来。")
AMBIGUOUS = "你好，我想反映个事情，上次打过电话了到现在也没人给个说法，你们到底管不管"
STREET = "120119001"  # 文昌街道, the street of GRID


async def test_a_wage_complaint_without_category_reaches_the_labour_inspectorate(live):
    orders = depts.order_tail(live, "laodong_jiancha")
    async with live.http("intake") as client:
        resp = await post(client, incident(category=None, description=WAGES))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["needs_triage"] is False and body["category"] == "wage_arrears"
    assert len(body["suggestions"]) == 3 and body["suggestions"][0]["evidence"]
    assert body["model_version"]
    order = await asyncio.to_thread(
        orders.wait_for, lambda e: e.data["incident_id"] == body["incident_id"], timeout=30)
    orders.close()
    assert order[0].data["role"] == "lead" and order[0].data["category"] == "wage_arrears"


async def test_triage_assignment_correction_and_retrain(live):
    # a retrain of an earlier run learned this very text: start from the shipped model
    await _serve_shipped_model(live)
    async with live.http("intake") as client:
        resp = await post(client, incident(category=None, description=AMBIGUOUS))
    body = resp.json()
    assert resp.status_code == 201 and body["needs_triage"] is True, body
    case_id = await case_of(live, body["incident_id"])

    async def queued():
        async with live.http("dispatch") as client:
            page = (await client.get("/v1/cases", params={"status": "triage", "street": STREET,
                                                          "limit": 500},
                                     headers=OPERATOR)).json()
        return next((c for c in page["items"] if c["case_id"] == case_id), None)

    listed = await eventually(queued, timeout=30, what="case in the triage queue")
    assert len(listed["suggestions"]) == 3 and listed["description"] == AMBIGUOUS
    assert await _assignments(live, case_id) == []  # no department got an order

    orders = depts.order_tail(live, "chengguan")
    async with live.http("dispatch") as client:
        resp = await client.post(f"/v1/cases/{case_id}/assign",
                                 json={"category": "street_vending"}, headers=OPERATOR)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "dispatched" and resp.json()["lead"] == "chengguan"
    await asyncio.to_thread(orders.wait_for,
                            lambda e: e.data["incident_id"] == body["incident_id"], timeout=30)
    orders.close()
    correction = await eventually(lambda: _correction(live, body["incident_id"]), timeout=30,
                                  what="correction stored by intake")
    assert (correction["to_category"], correction["reason"]) == ("street_vending", "triage")

    try:
        outcome = await asyncio.to_thread(_retrain, live)
        assert outcome["promoted"] is True and outcome["corrections"] >= 1
        model_json = json.loads((live.stack.layout.state / "models" / outcome["version"]
                                 / "model.json").read_text("utf-8"))
        assert f"correction:{correction['event_id']}" in model_json["training"]["correction_ids"]

        await _wait_for_model(live, outcome["version"])
        async with live.http("intake") as client:
            again = (await post(client, incident(category=None, description=WAGES))).json()
        assert again["model_version"] == outcome["version"]
    finally:
        await _serve_shipped_model(live)  # leave the stack as found, whatever happened


async def _serve_shipped_model(live) -> None:
    """Promote a copy of the model shipped in the package, and wait until intake serves it."""
    shipped = data_dir("model")
    version = json.loads((shipped / "model.json").read_text("utf-8"))["version"]
    store = ModelStore(live.stack.layout.state / "models")
    store.root.mkdir(parents=True, exist_ok=True)
    if not store.version_dir(version).exists():
        shutil.copytree(shipped, store.version_dir(version))
    store.promote(version)
    await _wait_for_model(live, version)


async def _wait_for_model(live, version: str) -> None:
    async def serving():
        async with live.http("intake") as client:
            ready = (await client.get("/readyz")).json()
        return ready["classifier"]["version"] == version

    await eventually(serving, timeout=30, what=f"intake serves model {version}")


async def _assignments(live, case_id: str) -> list:
    return await live.fetch("dispatch", "SELECT dept FROM case_assignments WHERE case_id=$1::uuid",
                            case_id)


async def _correction(live, incident_id: str):
    rows = await live.fetch(
        "intake", "SELECT * FROM classification_corrections WHERE incident_id=$1::uuid",
        incident_id)
    return dict(rows[0]) if rows else None


def _retrain(live) -> dict:
    env = {**os.environ, "DATABASE_URL": live.stack.postgres.url_for("intake"),
           "WHISTLE_MODEL_DIR": str(live.stack.layout.state / "models")}
    done = subprocess.run([sys.executable, "-m", "whistle_intake", "retrain"], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
