"""The notify routes on the real ASGI app with the in-memory unit of work (no lifespan runs):
authorisation in the route, everything else answered by the shared mapping."""

from __future__ import annotations

import functools
import uuid

import pytest
from whistle_notify.main import create_app

from ..asgi import client_of
from .support import CASE, consume, event, rows

OPERATOR = {"Authorization": "Bearer dev-operator-token"}
HUANWEI = {"Authorization": "Bearer dev-dept-huanwei-token"}


@functools.cache
def app():
    return create_app()


@pytest.fixture
async def client(uow):
    async with client_of(app(), lambda: uow) as client:
        yield client


async def test_the_inbox_is_listed_for_who_may_see_it(ctx, uow, client):
    await consume(ctx, uow, event("case.reopened.v1", {**CASE, "dept": "gongan"}))
    resp = await client.get("/v1/notifications", params={"recipient": "dept:gongan"},
                            headers=OPERATOR)
    assert resp.status_code == 200
    assert {n["id"] for n in resp.json()} == {str(r["id"]) for r in rows(uow)}
    commits = uow.commits
    denied = await client.get("/v1/notifications", params={"recipient": "dept:gongan"},
                              headers=HUANWEI)
    assert denied.status_code == 403 and uow.commits == commits  # refused before the use case


async def test_one_notification_404_403_and_200(ctx, uow, client):
    await consume(ctx, uow, event("case.reopened.v1", {**CASE, "dept": "gongan"}))
    missing = await client.get(f"/v1/notifications/{uuid.uuid4()}", headers=OPERATOR)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["type"].endswith("/not-found")
    note = str(rows(uow)[0]["id"])
    assert (await client.get(f"/v1/notifications/{note}", headers=HUANWEI)).status_code == 403
    found = await client.get(f"/v1/notifications/{note}", headers=OPERATOR)
    assert found.status_code == 200 and found.json()["delivery_attempts"] == []


async def test_preferences_are_set_over_http(uow, client):
    resp = await client.put("/v1/recipients/resident:i-1/preferences", headers=OPERATOR,
                            json={"quiet_hours": {"start": "22:00", "end": "07:00"}})
    assert resp.status_code == 200
    assert resp.json() == {"recipient": "resident:i-1", "channels": None,
                           "quiet_hours": {"start": "22:00", "end": "07:00"}}
    assert uow.preferences.rows["resident:i-1"]["quiet_end"].hour == 7
    denied = await client.put("/v1/recipients/dept:gongan/preferences", headers=HUANWEI,
                              json={})
    assert denied.status_code == 403
