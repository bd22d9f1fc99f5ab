"""Issue 10: every endpoint × every kind of token → 401, 403, or allowed."""

from __future__ import annotations

import pytest

from tests.support.incidents import incident, post
from tests.support.stack import HOTLINE, OPERATOR, case_of, eventually

pytestmark = pytest.mark.integration
TOKENS = {
    "none": {}, "wrong": {"Authorization": "Bearer not-a-token"},
    "hotline": HOTLINE, "deptA": {"Authorization": "Bearer dev-dept-gongan-token"},
    "deptB": {"Authorization": "Bearer dev-dept-huanwei-token"},
    "volunteer": {"Authorization": "Bearer dev-volunteer-token"},
    "community": {"Authorization": "Bearer dev-community-token"}, "operator": OPERATOR,
    "streetA": {"Authorization": "Bearer dev-street-120119001-token"},  # the case's street
    "streetB": {"Authorization": "Bearer dev-street-120119003-token"},
}
EVERYONE = {"hotline", "deptA", "deptB", "volunteer", "community", "operator", "streetA",
            "streetB"}
PUBLIC = "public"


@pytest.fixture(scope="module")
async def ids(live):
    async with live.http("intake") as client:
        created = (await post(client, incident(category="noise"))).json()

    case = await case_of(live, created["incident_id"])
    async with live.http("scoring") as client:
        vol = (await client.post("/v1/volunteers", headers=TOKENS["community"], json={
            "name": "矩阵测试", "community": "120119001001", "team_colour": "blue"})).json()
        task = (await client.post("/v1/tasks", headers=TOKENS["community"], json={
            "community": "120119001001", "title": "授权矩阵测试任务"})).json()

    async def note():
        async with live.http("notify") as client:
            rows = (await client.get("/v1/notifications", params={"recipient": "dept:gongan"},
                                     headers=OPERATOR)).json()
        return rows[0]["id"] if rows else None

    return {"incident": created["incident_id"], "case": case, "volunteer": vol["volunteer_id"],
            "task": task["id"], "notification": await eventually(note, timeout=30,
                                                                 what="a gongan inbox message")}


def endpoints(i: dict) -> list[tuple[str, str, str, dict | None, set[str] | str]]:
    """(service, method, path, body, who may call it)."""
    case, vol, task = i["case"], i["volunteer"], i["task"]
    return [
        ("intake", "POST", "/v1/incidents", incident(), {"hotline", "operator"}),
        ("intake", "GET", f"/v1/incidents/{i['incident']}", None, {"hotline", "operator"}),
        ("intake", "GET", "/v1/categories", None, PUBLIC),
        ("dispatch", "GET", f"/v1/cases/{case}", None,
         {"hotline", "deptA", "operator", "streetA"}),
        ("dispatch", "GET", "/v1/cases", None,
         {"hotline", "deptA", "deptB", "operator", "streetA", "streetB"}),
        ("dispatch", "GET", "/v1/me", None, EVERYONE),
        ("dispatch", "POST", f"/v1/cases/{case}/reports", {"kind": "arrived"}, {"deptA"}),
        ("dispatch", "POST", f"/v1/cases/{case}/whistle",
         {"departments": ["huanbao"], "reason": "矩阵"}, {"operator", "streetA"}),
        ("dispatch", "POST", f"/v1/cases/{case}/assign", {"dept": "zhujian"},
         {"operator", "streetA"}),
        ("dispatch", "POST", f"/v1/cases/{case}/rating", {"rating": "satisfied"},
         {"hotline", "operator"}),
        ("dispatch", "POST", f"/v1/cases/{case}/extensions", {"dept": "gongan", "approve": True},
         {"operator", "streetA"}),
        ("dispatch", "GET", "/v1/departments", None, PUBLIC),
        ("dispatch", "GET", "/v1/grids/12011900100101", None, PUBLIC),
        ("scoring", "POST", "/v1/volunteers",
         {"name": "x", "community": "120119001001", "team_colour": "red"},
         {"community", "operator"}),
        ("scoring", "GET", f"/v1/volunteers/{vol}", None, {"volunteer", "community", "operator"}),
        ("scoring", "GET", f"/v1/volunteers/{vol}/ledger", None,
         {"volunteer", "community", "operator"}),
        ("scoring", "GET", "/v1/tasks", None, EVERYONE),
        ("scoring", "POST", "/v1/tasks", {"community": "120119001001", "title": "t"},
         {"community", "operator"}),
        ("scoring", "POST", f"/v1/tasks/{task}/claim", {"volunteer_id": vol},
         {"volunteer", "community", "operator"}),
        ("scoring", "POST", f"/v1/tasks/{task}/complete", {"volunteer_id": vol, "hours": 1},
         {"community", "operator"}),
        ("scoring", "POST", "/v1/redemptions", {"volunteer_id": vol, "points": 1, "item": "x"},
         {"volunteer", "community", "operator"}),
        ("scoring", "GET", "/v1/leaderboards?scope=community:120119001001", None, PUBLIC),
        ("scoring", "GET", "/v1/departments/gongan/assessment?period=2026-11", None,
         {"deptA", "operator"}),
        ("scoring", "GET", "/v1/departments/ranking?period=2026-11", None, {"operator"}),
        ("notify", "GET", "/v1/notifications?recipient=dept:gongan", None, {"deptA", "operator"}),
        ("notify", "GET", f"/v1/notifications/{i['notification']}", None, {"deptA", "operator"}),
        ("notify", "PUT", "/v1/recipients/dept:gongan/preferences", {},  # {} = no restriction
         {"deptA", "operator"}),
    ]


async def test_authorization_matrix(live, ids):
    wrong = []
    checked = 0
    for service, method, path, body, allowed in endpoints(ids):
        async with live.http(service) as client:
            for name, headers in TOKENS.items():
                resp = await client.request(method, path, json=body, headers=headers)
                checked += 1
                if allowed == PUBLIC:
                    ok = resp.status_code not in (401, 403)
                elif name in ("none", "wrong"):
                    ok = resp.status_code == 401
                elif name in allowed:
                    ok = resp.status_code not in (401, 403) and resp.status_code < 500
                else:
                    ok = resp.status_code == 403
                if not ok:
                    wrong.append((method, path, name, resp.status_code, resp.text[:120]))
    print(f"\nauthorization matrix: {checked} requests checked")
    assert wrong == []
