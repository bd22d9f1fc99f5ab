"""Every service answers a database outage with 503 problem details and Retry-After, never a
500 — checked on the real ASGI apps with a unit of work whose database is unreachable (no
lifespan runs: no Kafka, no Postgres)."""

from __future__ import annotations

import functools
import uuid

import pytest
from whistle_common.uow import UnitOfWork

from ..asgi import client_of

OPERATOR = {"Authorization": "Bearer dev-operator-token"}
HOTLINE = {"Authorization": "Bearer dev-hotline-token"}
INCIDENT = {"source": "hotline", "external_id": "12345-outage", "kind": "complaint",
            "category": "noise", "description": "楼下KTV凌晨两点还在唱歌，噪音很大",
            "location": {"grid_code": "12011900100101"}}


class Unreachable(UnitOfWork):
    async def __aenter__(self):
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    async def rollback(self) -> None:
        pass


@functools.cache
def app_of(service: str):
    module = __import__(f"whistle_{service}.main", fromlist=["create_app"])
    return module.create_app()


CALLS = [
    ("intake", "POST", "/v1/incidents", HOTLINE, INCIDENT),
    ("intake", "GET", f"/v1/incidents/{uuid.UUID(int=1)}", HOTLINE, None),
    ("dispatch", "GET", "/v1/cases", OPERATOR, None),
    ("dispatch", "POST", f"/v1/cases/{uuid.UUID(int=2)}/rating", OPERATOR,
     {"rating": "satisfied"}),
    ("notify", "GET", "/v1/notifications?recipient=dept:huanbao", OPERATOR, None),
    ("notify", "GET", f"/v1/notifications/{uuid.UUID(int=3)}", OPERATOR, None),
    ("scoring", "GET", "/v1/tasks", OPERATOR, None),
    ("scoring", "GET", "/v1/leaderboards?scope=community:120119001001", OPERATOR, None),
]


@pytest.mark.parametrize(("service", "method", "path", "headers", "body"), CALLS,
                         ids=[f"{c[0]} {c[1]} {c[2].split('?')[0]}" for c in CALLS])
async def test_a_database_outage_is_a_503_problem_with_retry_after(service, method, path,
                                                                   headers, body):
    async with client_of(app_of(service), Unreachable) as client:
        resp = await client.request(method, path, headers=headers, json=body)
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["retry-after"] == "5"
    assert resp.json()["type"].endswith("/unavailable")
