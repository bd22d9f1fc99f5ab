"""Issue 10: two dispatch workers in one consumer group; kill -9 one under load."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.incidents import incident, post
from tests.support.stack import ExtraWorkers, eventually, lead_orders_by_incident

pytestmark = pytest.mark.e2e


async def test_killing_one_dispatch_worker_loses_and_doubles_nothing(live):
    from whistle_stack.procs import read_pid, stop_pid

    live.stack.services.stop(["dispatch"])
    workers = ExtraWorkers(live, "dispatch")
    orders = live.tail("dispatch.orders.huanwei")  # sanitation: lead huanwei
    try:
        await asyncio.to_thread(workers.start, 2, 8022, {})
        accepted: list[str] = []
        async with live.http("intake") as client:
            for i in range(90):  # a steady 30/s for 3 s
                resp = await post(client, incident(category="sanitation"))
                assert resp.status_code == 201
                accepted.append(resp.json()["incident_id"])
                if i == 30:  # kill -9 one worker in the middle of the feed
                    pid = read_pid(live.stack.layout.pidfile(workers.names[0]),
                                   "whistle_dispatch")
                    stop_pid(pid, sig=9)
                await asyncio.sleep(1 / 30)

        async def all_cases():
            conn = await live.db("dispatch")
            try:
                rows = await conn.fetch("SELECT incident_id, count(*) AS n FROM cases "
                                        "WHERE incident_id = ANY($1) GROUP BY incident_id",
                                        accepted)
            finally:
                await conn.close()
            return rows if len(rows) == len(accepted) else None

        rows = await eventually(all_cases, timeout=90, what="a case for every incident")
        assert all(r["n"] == 1 for r in rows)
        wanted = set(accepted)
        seen, copies = await lead_orders_by_incident(live, orders, wanted, timeout=90)
        print(f"\nfailover: accepted {len(accepted)}, cases {len(rows)}, lost 0, "
              f"distinct lead orders {sum(len(v) for v in seen.values())}, "
              f"redelivered copies (same event id) {copies}")
        assert set(seen) == wanted  # every incident ordered …
        assert all(len(ids) == 1 for ids in seen.values())  # … once, by event id
    finally:
        orders.close()
        await asyncio.to_thread(workers.stop)
        live.stack.services.start(["dispatch"])
        await asyncio.to_thread(live.stack.services.wait_ready, ["dispatch"])
