"""Department-side helpers for tests: the reference kafka-python client, run in a thread."""

from __future__ import annotations

import asyncio

from whistle_clients.department import DepartmentClient, report_envelope, signature_headers

from tests.support.stack import TopicTail


def client(live, dept: str, secret: str | None = None) -> DepartmentClient:
    return DepartmentClient(live.bootstrap, dept, secret=secret or f"dev-secret-{dept}",
                            group_id=None)


async def report(live, dept: str, case_id: str, kind: str, secret: str | None = None,
                 **fields) -> None:
    c = client(live, dept, secret)
    try:
        await asyncio.to_thread(c.report, case_id, kind, **fields)
    finally:
        await asyncio.to_thread(c.close)


async def send_raw(live, value: bytes, key: bytes, headers: list) -> None:
    from kafka import KafkaProducer

    def go():
        p = KafkaProducer(bootstrap_servers=live.bootstrap, acks="all")
        p.send("dispatch.reports", key=key, value=value, headers=headers).get(timeout=30)
        p.close()

    await asyncio.to_thread(go)


def forged(case_id: str, dept: str) -> tuple[bytes, list]:
    value = report_envelope(case_id, dept, "resolved", result="伪造的办结")
    return value, signature_headers(dept, "not-the-secret", value)


def order_tail(live, dept: str) -> TopicTail:
    return live.tail(f"dispatch.orders.{dept}")
