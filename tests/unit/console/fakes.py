"""Fake intake, dispatch and scoring for the console's unit tests (and for developing pages
without the stack): the public API shapes, the same token rules, in memory.

`FakePlatform().transport()` is an httpx transport the console's client is built with; every
call is recorded in `platform.calls` as (method, service, path, token, body).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

URLS = {"intake": "http://intake.fake", "dispatch": "http://dispatch.fake",
        "scoring": "http://scoring.fake", "notify": "http://notify.fake"}
WENCHANG, CHAICUN = "120119001", "120119004"
TOKENS = {
    "tok-street-wenchang": ("street-wenchang", ["street:120119001", "incidents:read"]),
    "tok-street-chaicun": ("street-chaicun", ["street:120119004", "incidents:read"]),
    "tok-operator": ("operator", ["operator"]),
    "tok-chengguan": ("dept-chengguan", ["dept:chengguan"]),
    "tok-huanbao": ("dept-huanbao", ["dept:huanbao"]),
    "tok-hotline": ("hotline-12345", ["incidents:write", "incidents:read"]),
    "tok-volunteer": ("volunteer-app", ["volunteer:*"]),
}
ACTIVE = {"ordered", "acknowledged", "arrived"}
NEXT = {"ordered": {"acknowledged": "acknowledged", "returned": "returned",
                    "extension_requested": "ordered"},
        "acknowledged": {"arrived": "arrived", "resolved": "resolved", "returned": "returned",
                         "extension_requested": "acknowledged"},
        "arrived": {"resolved": "resolved", "returned": "returned",
                    "extension_requested": "arrived"}}


def catalogue() -> dict:
    raw = json.loads((resources.files("whistle_catalogue") / "data" / "catalogue.json")
                     .read_text("utf-8"))
    names = {d["code"]: d["name"] for d in raw["departments"]}
    return {"version": raw["version"], "departments": raw["departments"],
            "categories": [{**c, "lead_name": names[c["lead"]]} for c in raw["categories"]]}


def territory_paths() -> dict[str, list[dict]]:
    raw = json.loads((resources.files("whistle_catalogue") / "data" / "territory.geojson")
                     .read_text("utf-8"))
    meta = raw["whistle"]
    city = {"level": "city", "code": meta["city"]["code"], "name": meta["city"]["name"]}
    paths: dict[str, list[dict]] = {}
    for d in meta["districts"]:
        dn = {"level": "district", "code": d["code"], "name": d["name"]}
        for s in d["streets"]:
            sn = {"level": "street", "code": s["code"], "name": s["name"]}
            paths[s["code"]] = [city, dn, sn]
            for c in s["communities"]:
                cn = {"level": "community", "code": c["code"], "name": c["name"]}
                paths[c["code"]] = [city, dn, sn, cn]
    for f in raw["features"]:
        p = f["properties"]
        paths[p["code"]] = [*paths[p["community"]],
                            {"level": "grid", "code": p["code"], "name": p["name"]}]
    return paths


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


class FakePlatform:
    """What the console sees of the platform, kept in memory."""

    def __init__(self, *, me: bool = True) -> None:
        self.me = me  # False: a dispatch without GET /v1/me (the console probes instead)
        self.cases: dict[str, dict] = {}
        self.calls: list[tuple[str, str, str, str | None, Any]] = []
        self.catalogue = catalogue()
        self.leads = {c["code"]: c["lead"] for c in self.catalogue["categories"]}
        self.paths = territory_paths()
        self.fail_next: int | None = None  # answer the next POST with this status
        self.hotspots: list[dict] = []
        self.app = self._build()

    # -- building cases ----------------------------------------------------------------------

    def add_case(self, *, place: str | None = "12011900100101", status: str = "dispatched",
                 category: str = "street_vending", description: str = "占道经营的摊贩",
                 lead: str | None = None, suggestions: list[dict] | None = None,
                 overdue: bool = False, escalations: list[str] | None = None,
                 extension: int | None = None, priority: str = "normal",
                 age_minutes: float = 30, assignment_status: str = "ordered",
                 phone: str = "138****1234") -> str:
        case_id = str(uuid.uuid4())
        now = _now()
        created = now - timedelta(minutes=age_minutes)
        path = self.paths.get(place, []) if place else []
        codes = {n["level"]: n["code"] for n in path}
        lead = lead or (self.leads.get(category) if status != "triage" else None)
        assignments = []
        if lead:
            due = now - timedelta(hours=1) if overdue else now + timedelta(hours=20)
            assignments.append({
                "dept": lead, "role": "lead", "status": assignment_status,
                "ordered_at": _iso(created), "ack_by": _iso(now - timedelta(hours=2) if overdue
                                                           else now + timedelta(hours=2)),
                "resolve_by": _iso(due), "acknowledged_at": None, "resolved_at": None,
                "result": None, "extension_requested_hours": extension,
                "escalations": list(escalations or [])})
        self.cases[case_id] = {
            "case_id": case_id, "incident_id": str(uuid.uuid4()), "status": status,
            "category": category, "kind": "complaint", "priority": priority,
            "tracking_no": f"WS20261125-{len(self.cases) + 1:08d}", "description": description,
            "location": {"path": path, "address": None}, "reporter_phone": phone,
            "lead": lead, "returns": 0, "reopens": 0, "rating": None,
            "suggestions": suggestions or [], "classified_as": category, "model_version": "m1",
            "deadlines": ({"ack_by": assignments[0]["ack_by"],
                           "resolve_by": assignments[0]["resolve_by"]} if assignments else None),
            "assignments": assignments, "created_at": _iso(created),
            "updated_at": _iso(created),
            "street": codes.get("street"), "community": codes.get("community"),
            "grid_code": codes.get("grid"),
            "timeline": [{"at": _iso(created), "type": "case.created.v1", "dept": None,
                          "data": {}}],
            "callers": 1, "linked_incidents": [], "split_from": None,
        }
        return case_id

    def merge_into(self, case_id: str, description: str, phone: str = "139****0001") -> str:
        """Another caller's incident joins the case (并单)."""
        case, incident_id = self.cases[case_id], str(uuid.uuid4())
        case["linked_incidents"].append({
            "incident_id": incident_id, "tracking_no": f"WS-M-{len(case['linked_incidents'])}",
            "description": description, "address": None, "received_at": _iso(_now()),
            "reporter_phone": phone, "score": 0.82,
            "reasons": ["same category", "same grid", "text similarity 0.41"],
            "merged_at": _iso(_now())})
        case["callers"] = 1 + len(case["linked_incidents"])
        self._touch(case, "case.merged.v1", None, merged_incident_id=incident_id,
                    callers=case["callers"])
        return incident_id

    def summary(self, case: dict) -> dict:
        keep = ("case_id", "incident_id", "status", "category", "priority", "lead", "street",
                "community", "grid_code", "created_at", "updated_at", "suggestions",
                "description")
        return {k: case[k] for k in keep}

    def view(self, case: dict) -> dict:
        return {k: v for k, v in case.items()
                if k not in ("street", "community", "grid_code", "updated_at")}

    def _touch(self, case: dict, type_: str, who: str | None = None, **data) -> None:
        case["updated_at"] = _iso(_now())
        case["timeline"].append({"at": _iso(_now()), "type": type_, "dept": who, "data": data})

    # -- the fake API ------------------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.app)

    def _build(self) -> FastAPI:
        app = FastAPI()
        platform = self

        def problem(status: int, detail: str) -> JSONResponse:
            return JSONResponse({"type": f"https://whistle/problems/{status}", "title": "x",
                                 "status": status, "detail": detail}, status_code=status,
                                media_type="application/problem+json")

        def caller(request: Request) -> tuple[str, set[str]] | None:
            header = request.headers.get("authorization", "")
            token = header.removeprefix("Bearer ").strip()
            found = TOKENS.get(token)
            return (found[0], set(found[1])) if found else None

        def service(request: Request) -> str:
            return request.url.hostname.split(".")[0]

        async def record(request: Request) -> Any:
            body = None
            if request.method == "POST":
                body = json.loads(await request.body() or b"null")
            token = request.headers.get("authorization", "").removeprefix("Bearer ") or None
            platform.calls.append((request.method, service(request), request.url.path, token,
                                   body))
            return body

        def depts(scopes: set[str]) -> set[str]:
            return {s.split(":", 1)[1] for s in scopes if s.startswith("dept:")}

        def streets(scopes: set[str]) -> set[str]:
            return {s.split(":", 1)[1] for s in scopes if s.startswith("street:")}

        def may_see(scopes: set[str], case: dict) -> bool:
            if "operator" in scopes:
                return True
            if streets(scopes):
                return case["street"] in streets(scopes)
            if "incidents:read" in scopes:
                return True
            return bool(depts(scopes) & {a["dept"] for a in case["assignments"]})

        @app.middleware("http")
        async def guard(request: Request, call_next):
            await record(request)
            if request.method == "POST" and platform.fail_next:
                status, platform.fail_next = platform.fail_next, None
                return problem(status, "illegal transition: refused by the fake")
            return await call_next(request)

        @app.get("/v1/categories")
        async def categories():
            return platform.catalogue

        @app.get("/v1/departments")
        async def departments():
            return platform.catalogue["departments"]

        @app.get("/v1/me")
        async def me(request: Request):
            if not platform.me:
                return problem(404, "Not Found")
            who = caller(request)
            if who is None:
                return problem(401, "unknown token")
            return {"client": who[0], "scopes": sorted(who[1])}

        @app.get("/v1/cases")
        async def list_cases(request: Request, status: str | None = None,
                             dept: str | None = None, street: str | None = None,
                             overdue: bool = False, limit: int = 50):
            who = caller(request)
            if who is None:
                return problem(401, "unknown token")
            scopes = who[1]
            mine = streets(scopes)
            if mine and "operator" not in scopes:
                if street and street not in mine:
                    return problem(403, "not your street")
                street = street or sorted(mine)[0]
            elif not ("operator" in scopes or "incidents:read" in scopes):
                own = depts(scopes)
                if not own:
                    return problem(403, "needs operator or dept scope")
                if dept and dept not in own:
                    return problem(403, "not your department")
                dept = dept or sorted(own)[0]
            now = _now()
            found = []
            for case in sorted(platform.cases.values(), key=lambda c: c["created_at"],
                               reverse=True):
                if status and case["status"] != status:
                    continue
                if street and case["street"] != street:
                    continue
                if dept and dept not in {a["dept"] for a in case["assignments"]}:
                    continue
                if overdue and not any(
                        a["status"] in ACTIVE and (dept is None or a["dept"] == dept)
                        and ((a["status"] == "ordered" and a["ack_by"] < _iso(now))
                             or a["resolve_by"] < _iso(now)) for a in case["assignments"]):
                    continue
                found.append(platform.summary(case))
            return {"items": found[:limit], "next": None}

        @app.get("/v1/cases/{case_id}")
        async def get_case(case_id: str, request: Request):
            who = caller(request)
            if who is None:
                return problem(401, "unknown token")
            case = platform.cases.get(case_id)
            if case is None:
                return problem(404, f"no case {case_id}")
            if not may_see(who[1], case):
                return problem(403, "this case was not dispatched to you")
            return platform.view(case)

        def acting(request: Request, case_id: str, *, supervisor: bool):
            who = caller(request)
            if who is None:
                return None, problem(401, "unknown token")
            case = platform.cases.get(case_id)
            if case is None:
                return None, problem(404, "no case")
            scopes = who[1]
            if "operator" in scopes:
                return case, None
            if supervisor and case["street"] in streets(scopes):
                return case, None
            return None, problem(403, "needs operator or the street office")

        @app.post("/v1/cases/{case_id}/assign")
        async def assign(case_id: str, request: Request):
            case, refused = acting(request, case_id, supervisor=True)
            if refused:
                return refused
            body = json.loads(await request.body())
            if body.get("place"):
                if body["place"] not in platform.paths:
                    return problem(409, "unknown place")
                path = platform.paths[body["place"]]
                codes = {n["level"]: n["code"] for n in path}
                case["location"]["path"] = path
                case.update(street=codes.get("street"), community=codes.get("community"),
                            grid_code=codes.get("grid"))
            if not case["location"]["path"]:
                return problem(409, "the case has no place yet")
            category = body.get("category") or case["category"]
            lead = body.get("dept") or platform.leads[category]
            now = _now()
            case.update(category=category, lead=lead, status="dispatched")
            case["assignments"].append({
                "dept": lead, "role": "lead", "status": "ordered", "ordered_at": _iso(now),
                "ack_by": _iso(now + timedelta(hours=2)),
                "resolve_by": _iso(now + timedelta(hours=24)), "acknowledged_at": None,
                "resolved_at": None, "result": None, "extension_requested_hours": None,
                "escalations": []})
            case["deadlines"] = {"ack_by": case["assignments"][-1]["ack_by"],
                                 "resolve_by": case["assignments"][-1]["resolve_by"]}
            platform._touch(case, "case.assigned.v1", lead, category=category, dept=lead)
            return platform.view(case)

        @app.post("/v1/cases/{case_id}/reports")
        async def report(case_id: str, request: Request):
            who = caller(request)
            if who is None:
                return problem(401, "unknown token")
            own = depts(who[1])
            body = json.loads(await request.body())
            dept = body.get("dept") or (next(iter(own)) if len(own) == 1 else None)
            if not own or dept not in own:
                return problem(403, "report as one of your departments")
            case = platform.cases.get(case_id)
            if case is None:
                return problem(404, "no case")
            live = [a for a in case["assignments"] if a["dept"] == dept]
            if not live:
                return problem(403, "this case was not dispatched to you")
            a = live[-1]
            kind = body["kind"]
            if kind not in NEXT.get(a["status"], {}):
                return problem(409, f"{dept} cannot report {kind!r} while {a['status']!r}")
            a["status"] = NEXT[a["status"]][kind]
            now = _iso(_now())
            if kind == "acknowledged":
                a["acknowledged_at"] = now
                case["status"] = "acknowledged"
            elif kind == "arrived":
                case["status"] = "in_progress"
            elif kind == "resolved":
                a["resolved_at"], a["result"] = now, body.get("result")
                case["status"] = "resolved"
            elif kind == "extension_requested":
                a["extension_requested_hours"] = body.get("extension_hours")
            elif kind == "returned":
                case["status"] = "pending_assignment"
            platform._touch(case, {"acknowledged": "case.acknowledged.v1",
                                   "arrived": "case.arrived.v1",
                                   "resolved": "case.resolved.v1",
                                   "returned": "case.returned.v1",
                                   "extension_requested": "case.extension_requested.v1"}[kind],
                            dept, **{k: v for k, v in body.items() if k != "kind"})
            return platform.view(case)

        @app.post("/v1/cases/{case_id}/whistle")
        async def whistle(case_id: str, request: Request):
            case, refused = acting(request, case_id, supervisor=True)
            if refused:
                return refused
            body = json.loads(await request.body())
            now = _now()
            for dept in body["departments"]:
                case["assignments"].append({
                    "dept": dept, "role": "co", "status": "ordered", "ordered_at": _iso(now),
                    "ack_by": _iso(now + timedelta(hours=2)),
                    "resolve_by": _iso(now + timedelta(hours=24)), "acknowledged_at": None,
                    "resolved_at": None, "result": None, "extension_requested_hours": None,
                    "escalations": []})
                platform._touch(case, "case.dispatched.v1", dept, role="co",
                                reason=body["reason"])
            return {**platform.view(case), "summoned": body["departments"]}

        @app.post("/v1/cases/{case_id}/extensions")
        async def extensions(case_id: str, request: Request):
            case, refused = acting(request, case_id, supervisor=True)
            if refused:
                return refused
            body = json.loads(await request.body())
            for a in case["assignments"]:
                if a["dept"] == body["dept"] and a["extension_requested_hours"]:
                    a["extension_requested_hours"] = None
                    platform._touch(case, "case.extension_decided.v1", a["dept"],
                                    approved=body["approve"], hours=body.get("hours"))
                    return platform.view(case)
            return problem(409, "no extension asked")

        @app.post("/v1/cases/{case_id}/split")
        async def split(case_id: str, request: Request):
            case, refused = acting(request, case_id, supervisor=True)
            if refused:
                return refused
            body = json.loads(await request.body())
            kept = [i for i in case["linked_incidents"] if i["incident_id"] != body["incident_id"]]
            if len(kept) == len(case["linked_incidents"]):
                return problem(409, f"incident {body['incident_id']} is not merged into this case")
            case["linked_incidents"], case["callers"] = kept, 1 + len(kept)
            platform._touch(case, "case.split.v1", None, split_incident_id=body["incident_id"])
            new_id = platform.add_case(place=case["grid_code"], category=case["category"])
            platform.cases[new_id].update(incident_id=body["incident_id"], split_from=case_id)
            return {**platform.view(case), "split": platform.view(platform.cases[new_id])}

        @app.get("/v1/hotspots")
        async def hotspots(request: Request, street: str | None = None):
            who = caller(request)
            if who is None:
                return problem(401, "unknown token")
            scopes = who[1]
            mine = streets(scopes)
            if "operator" not in scopes and "incidents:read" not in scopes and not mine:
                return problem(403, "needs operator, incidents:read or a street scope")
            if mine and "operator" not in scopes:
                street = street or sorted(mine)[0]
            found = [h for h in platform.hotspots if street is None or h["street"] == street]
            return {"current": found, "recent": found, "recurring": []}

        @app.get("/v1/departments/ranking")
        async def ranking(request: Request, period: str):
            who = caller(request)
            if who is None:
                return problem(401, "unknown token")
            if "operator" not in who[1]:
                return problem(403, "needs one of the scopes: operator")
            rows = [("huanbao", 0.95, 0.9, 0.88, 92.1), ("chengguan", 0.9, 0.8, None, 84.3),
                    ("jiaojing", 0.4, 0.3, 0.5, 39.7)]
            return [{"rank": i + 1, "dept": d, "period": period,
                     "facts": {"dispatched": 20 - i},
                     "rates": {"response": r, "resolution": s, "on_time_resolution": s,
                               "satisfaction": t}, "weights": {}, "score": score}
                    for i, (d, r, s, t, score) in enumerate(rows)]

        @app.get("/v1/departments/{code}/assessment")
        async def assessment(code: str, request: Request, period: str):
            who = caller(request)
            if who is None:
                return problem(401, "unknown token")
            if "operator" not in who[1] and code not in depts(who[1]):
                return problem(403, "operators or the department itself")
            return {"dept": code, "period": period, "rates": {}, "score": None}

        return app


def seed(platform: FakePlatform) -> dict[str, str]:
    """A street's worth of cases in every state (ids by name)."""
    vending = [{"category": "street_vending", "probability": 0.46,
                "evidence": ["摆摊", "占道", "人行道"]},
               {"category": "noise", "probability": 0.21, "evidence": ["吆喝"]},
               {"category": "sanitation", "probability": 0.12, "evidence": ["垃圾"]}]
    ids = {
        "triage": platform.add_case(status="triage", category="general", suggestions=vending,
                                    description="人行道上每天晚上都有人摆摊吆喝，垃圾扔一地，"
                                                "行人只能走到马路上", age_minutes=50),
        "triage_unplaced": platform.add_case(
            place=None, status="triage", category="general", suggestions=vending,
            description="就在我家楼下那条街，天天有人占道", age_minutes=40),
        "triage_street": platform.add_case(
            place=WENCHANG, status="triage", category="general", suggestions=vending[1:],
            description="文昌街道那边夜里很吵", age_minutes=20),
        "dispatched": platform.add_case(description="鼓楼小区门口流动摊贩占道经营",
                                        place="12011900100201", age_minutes=15),
        "acknowledged": platform.add_case(description="府君山社区路灯不亮", category="streetlight",
                                          status="acknowledged",
                                          assignment_status="acknowledged", age_minutes=120,
                                          extension=24),
        "overdue": platform.add_case(description="餐馆油烟直排扰民", category="cooking_fumes",
                                     overdue=True, age_minutes=600),
        "escalated": platform.add_case(description="工地夜间施工噪音", category="noise",
                                       overdue=True, escalations=["ack:overdue", "ack:street",
                                                                  "ack:district"],
                                       age_minutes=900, priority="urgent"),
        "other_street": platform.add_case(description="柴村社区垃圾堆放", category="sanitation",
                                          place="12011900400101", age_minutes=35),
        "huanbao": platform.add_case(description="河道有异味", category="water_pollution",
                                     lead="huanbao", age_minutes=70),
    }
    return ids
