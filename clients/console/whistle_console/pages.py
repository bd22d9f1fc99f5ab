"""The pages: triage queue, live board, case page, map (street office and operators),
the department workbench, and supervision (operators); the actions each page posts.

Every call goes to the services with the signed-in user's token; the console adds its own
gate on top (a street sees only its street's cases, a department only cases dispatched to it),
so that a page never shows what the role should not see even where a service is broader.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from . import text, web
from .api import ApiError, Refused, Services
from .session import Session
from .territory import street_map
from .text import ACTIVE_ASSIGNMENTS, OPEN_STATUSES, escalation_level

Street = Annotated[Session, Depends(web.need("street", "operator"))]
Dept = Annotated[Session, Depends(web.need("dept"))]
Operator = Annotated[Session, Depends(web.need("operator"))]
Anyone = Annotated[Session, Depends(web.need("street", "operator", "dept"))]

REPORT_KINDS = {
    "acknowledged": "报到", "arrived": "到场", "resolved": "办结", "returned": "退单",
    "extension_requested": "申请延期",
}
# what a department may report from each state of its assignment (as dispatch's state machine)
ALLOWED = {
    "ordered": ("acknowledged", "returned", "extension_requested"),
    "acknowledged": ("arrived", "resolved", "returned", "extension_requested"),
    "arrived": ("resolved", "returned", "extension_requested"),
}


def register(app: FastAPI) -> None:
    app.get("/", response_class=HTMLResponse)(home)
    app.get("/triage", response_class=HTMLResponse)(triage_page)
    app.get("/triage/list", response_class=HTMLResponse)(triage_list)
    app.get("/board", response_class=HTMLResponse)(board_page)
    app.get("/board/panel", response_class=HTMLResponse)(board_panel)
    app.get("/map", response_class=HTMLResponse)(map_page)
    app.get("/cases/{case_id}", response_class=HTMLResponse)(case_page)
    app.get("/cases/{case_id}/live", response_class=HTMLResponse)(case_live)
    app.post("/cases/{case_id}/assign")(assign)
    app.post("/cases/{case_id}/whistle")(whistle)
    app.post("/cases/{case_id}/extensions")(decide_extension)
    app.post("/cases/{case_id}/reports")(report)
    app.post("/cases/{case_id}/split")(split)
    app.get("/orders", response_class=HTMLResponse)(orders_page)
    app.get("/orders/list", response_class=HTMLResponse)(orders_list)
    app.get("/supervision", response_class=HTMLResponse)(supervision_page)
    app.get("/supervision/panel", response_class=HTMLResponse)(supervision_panel)


async def home(request: Request, session: Anyone) -> Response:
    return web.redirect(web.home_of(session))


# -- helpers -----------------------------------------------------------------------------------


def _street_filter(request: Request, session: Session) -> str | None:
    """A street office is held to its street; an operator may choose one (or all)."""
    if session.role == "street":
        return session.street
    chosen = request.query_params.get("street") or None
    return chosen if chosen in {s.code for s in web.territory(request).streets} else None


def _case_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise web.PageError(404, "未找到", "没有这个案件。") from None


def street_of_case(case: dict) -> str | None:
    for node in (case.get("location") or {}).get("path") or []:
        if node.get("level") == "street":
            return node.get("code")
    return None


async def load_case(request: Request, session: Session, case_id: str) -> dict:
    """A case the role may open, else the 403 page (dispatch's own 403 included)."""
    case = await web.api(request).case(session.token, _case_id(case_id))
    if session.role == "dept":
        if not set(session.depts) & {a["dept"] for a in case.get("assignments", [])}:
            raise web.PageError(403, "无权访问", "该案件未派给您的部门。")
    elif session.role == "street":
        if street_of_case(case) not in session.streets:
            raise web.PageError(403, "无权访问", "该案件不在您的街道辖区内。")
    return case


def _summary_street_ok(session: Session, item: dict) -> bool:
    return session.role != "street" or item.get("street") in session.streets


def _filtered(items: list[dict], q: dict[str, str]) -> list[dict]:
    """The filters the list API has no parameter for, applied to a page of summaries."""
    out = []
    for item in items:
        if q.get("category") and item.get("category") != q["category"]:
            continue
        if q.get("priority") and item.get("priority") != q["priority"]:
            continue
        if q.get("community") and item.get("community") != q["community"]:
            continue
        if q.get("grid") and item.get("grid_code") != q["grid"]:
            continue
        out.append(item)
    return out


def _query(request: Request) -> dict[str, str]:
    keep = ("street", "dept", "category", "priority", "community", "grid")
    return {k: request.query_params[k] for k in keep if request.query_params.get(k)}


async def _lists(api: Services, token: str, calls: dict[str, dict]) -> dict[str, list[dict]]:
    keys = list(calls)
    pages = await asyncio.gather(*(api.cases(token, **calls[k]) for k in keys))
    return dict(zip(keys, pages, strict=True))


# -- triage queue ------------------------------------------------------------------------------


async def _triage_items(request: Request, session: Session) -> list[dict]:
    street = _street_filter(request, session)
    items = await web.api(request).cases(session.token, status="triage", street=street,
                                         limit=100)
    items = [i for i in items if _summary_street_ok(session, i)]
    return list(reversed(items))  # the queue is worked oldest first


def _place_choices(request: Request, session: Session) -> list[dict]:
    """Where a triage case may be placed: the street's communities (a street office), or
    every street and community (an operator)."""
    where = web.territory(request)
    streets = [s for s in where.streets if session.role != "street" or s.code in session.streets]
    return [{"street": s, "communities": where.communities.get(s.code, [])} for s in streets]


async def triage_page(request: Request, session: Street) -> Response:
    items = await _triage_items(request, session)
    return await web.render(request, "triage.html", {
        "items": items, "street": _street_filter(request, session),
        "places": _place_choices(request, session)})


async def triage_list(request: Request, session: Street) -> Response:
    items = await _triage_items(request, session)
    return await web.render(request, "_triage_list.html", {
        "items": items, "street": _street_filter(request, session),
        "places": _place_choices(request, session)})


async def assign(request: Request, case_id: str, session: Street) -> Response:
    """One click from a suggestion, or any category / lead department (and a place)."""
    form = await web.checked_form(request, session)
    case = await load_case(request, session, case_id)
    body = {k: str(form.get(k)).strip() for k in ("category", "dept", "place")
            if form.get(k) and str(form.get(k)).strip()}
    back = web.safe_next(str(form.get("back") or ""), "/triage")
    error = None
    if "category" not in body and "dept" not in body:
        error = "请选择类别或主办部门。"
    elif "place" in body and session.role == "street":
        if web.territory(request).street_of(body["place"]) not in session.streets:
            error = "只能选择本街道的社区或网格。"
    elif not (case.get("location") or {}).get("path") and "place" not in body:
        error = "该案件还没有位置：请选择所在社区。"
    result = None
    if error is None:
        try:
            result = await web.api(request).post(
                "dispatch", f"/v1/cases/{case['case_id']}/assign", session.token, body)
        except Refused as exc:
            error = f"派单未被接受：{exc.detail}"
    names = await web.names(request)
    if web.is_htmx(request):
        if error:
            case_summary = {**case, "street": street_of_case(case)}
            return await web.render(request, "_triage_item.html", {
                **names, "item": case_summary, "error": error,
                "places": _place_choices(request, session)})
        return await web.render(request, "_triage_done.html", {**names, "case": result})
    resp = web.redirect(back)
    if error:
        return web.flash(resp, request, "error", error)
    lead = names["depts"].get(result.get("lead"), result.get("lead"))
    number = result.get("tracking_no") or ""
    return web.flash(resp, request, "ok", f"已派单（{number}）：主办 {lead}")


# -- live board --------------------------------------------------------------------------------


async def _board(request: Request, session: Session) -> dict[str, Any]:
    api, q = web.api(request), _query(request)
    street = _street_filter(request, session)
    dept = q.get("dept")
    common = {"street": street, "dept": dept}
    got = await _lists(api, session.token, {
        "new": {**common, "limit": 15},
        "dispatched": {**common, "status": "dispatched", "limit": 30},
        "acknowledged": {**common, "status": "acknowledged", "limit": 20},
        "in_progress": {**common, "status": "in_progress", "limit": 20},
        "overdue": {**common, "overdue": "true", "limit": 40},
        "triage": {"street": street, "status": "triage", "limit": 100},
    })
    got = {k: _filtered([i for i in v if _summary_street_ok(session, i)], q)
           for k, v in got.items()}
    working = got["acknowledged"] + got["in_progress"]
    detailed = await api.details(session.token, got["overdue"] + working)
    by_id = {c["case_id"]: c for c in detailed}
    levels = {cid: escalation_level(c) for cid, c in by_id.items()}
    escalated = [i for i in got["overdue"] if levels.get(i["case_id"]) in ("street", "district",
                                                                            "city")]
    extensions = [{"case": c, "a": a} for c in detailed for a in c.get("assignments", [])
                  if a.get("extension_requested_hours") and a.get("status") in ACTIVE_ASSIGNMENTS]
    hotspots = await _hotspots(api, session, street)
    return {"q": q, "street": street, "hotspots": hotspots, "columns": [
        ("new", "新受理", got["new"]), ("dispatched", "已派单待报到", got["dispatched"]),
        ("overdue", "超期", got["overdue"]), ("escalated", "督办中", escalated)],
        "levels": levels, "working": working, "extensions": extensions,
        "triage_count": len(got["triage"]), "updated": datetime.now(UTC)}


async def _hotspots(api: Any, session: Session, street: str | None) -> list[dict]:
    """The hotspots of the street (未诉先办) from scoring; none when scoring is away (the
    board still serves the cases)."""
    try:
        found = await api.get("scoring", "/v1/hotspots", session.token,
                              **({"street": street} if street else {}))
    except ApiError:  # scoring away or not allowed: the board still serves the cases
        return []
    return (found or {}).get("current") or (found or {}).get("recent", [])[:5]


async def board_page(request: Request, session: Street) -> Response:
    return await web.render(request, "board.html", await _board(request, session))


async def board_panel(request: Request, session: Street) -> Response:
    return await web.render(request, "_board_panel.html", await _board(request, session))


# -- map ---------------------------------------------------------------------------------------


async def map_page(request: Request, session: Street) -> Response:
    where = web.territory(request)
    street = _street_filter(request, session) or (where.streets[0].code if where.streets
                                                  else None)
    items = await web.api(request).cases(session.token, street=street, limit=500)
    live = [i for i in items if i.get("status") in (*OPEN_STATUSES, "triage")
            and i.get("street") == street]
    by_grid: dict[str, int] = {}
    by_community: dict[str, int] = {}
    for i in live:
        if i.get("grid_code"):
            by_grid[i["grid_code"]] = by_grid.get(i["grid_code"], 0) + 1
        elif i.get("community"):
            by_community[i["community"]] = by_community.get(i["community"], 0) + 1
    drawn = street_map(where, street, by_grid) if street else None
    return await web.render(request, "map.html", {
        "street": street, "map": drawn, "open_total": len(live),
        "by_community": sorted(by_community.items()), "limited": len(items) == 500})


# -- case page ---------------------------------------------------------------------------------


def _case_context(session: Session, case: dict) -> dict[str, Any]:
    timeline = [e for e in case.get("timeline", [])
                if not (e.get("type") == "dispatch.ordered.v1"
                        and (e.get("data") or {}).get("role") != "triage")]
    mine = [a for a in case.get("assignments", [])
            if a.get("dept") in session.depts and a.get("status") in ACTIVE_ASSIGNMENTS]
    actions = [(a, [k for k in ALLOWED.get(a["status"], ())]) for a in mine]
    pending_ext = [a for a in case.get("assignments", [])
                   if a.get("extension_requested_hours") and a.get("status") in ACTIVE_ASSIGNMENTS]
    return {"case": case, "timeline": timeline, "actions": actions, "pending_ext": pending_ext,
            "level": escalation_level(case), "street_code": street_of_case(case),
            "report_kinds": REPORT_KINDS}


async def case_page(request: Request, case_id: str, session: Anyone) -> Response:
    case = await load_case(request, session, case_id)
    street = street_of_case(case)
    places = _place_choices(request, session)
    if session.role == "operator" and street:
        places = [p for p in places if p["street"].code == street]
    return await web.render(request, "case.html", {**_case_context(session, case),
                                                   "places": places})


async def case_live(request: Request, case_id: str, session: Anyone) -> Response:
    case = await load_case(request, session, case_id)
    return await web.render(request, "_case_live.html", _case_context(session, case))


async def _act(request: Request, session: Session, case_id: str, path: str, body: dict,
               done: str, back: str) -> Response:
    """Post an action; back to `back` with what happened (or why it was refused)."""
    fragment = web.is_htmx(request) and back.startswith("/orders")
    try:
        await web.api(request).post("dispatch", path, session.token, body)
    except Refused as exc:
        refused = ("error", f"操作未被接受：{exc.detail}")
        if fragment:
            return await _orders_fragment(request, session, refused)
        return web.flash(web.redirect(back), request, *refused)
    if fragment:
        return await _orders_fragment(request, session, ("ok", done))
    return web.flash(web.redirect(back), request, "ok", done)


async def whistle(request: Request, case_id: str, session: Street) -> Response:
    form = await web.checked_form(request, session)
    case = await load_case(request, session, case_id)
    depts = [str(d) for d in form.getlist("departments") if d]
    reason = str(form.get("reason") or "").strip()
    back = f"/cases/{case['case_id']}"
    if not depts or not reason:
        return web.flash(web.redirect(back), request, "error", "吹哨需要选择部门并填写事由。")
    return await _act(request, session, case_id, f"/v1/cases/{case['case_id']}/whistle",
                      {"departments": depts[:15], "reason": reason[:1000]},
                      "已吹哨，相关部门已收到工单。", back)


async def split(request: Request, case_id: str, session: Street) -> Response:
    """拆单: a call wrongly merged into the case becomes a case of its own."""
    form = await web.checked_form(request, session)
    case = await load_case(request, session, case_id)
    incident = str(form.get("incident_id") or "")
    back = f"/cases/{case['case_id']}"
    if incident not in {i["incident_id"] for i in case.get("linked_incidents") or []}:
        return web.flash(web.redirect(back), request, "error", "该来电不在本案件中。")
    return await _act(request, session, case_id, f"/v1/cases/{case['case_id']}/split",
                      {"incident_id": incident}, "已拆单，该来电将单独派单。", back)


async def decide_extension(request: Request, case_id: str, session: Street) -> Response:
    form = await web.checked_form(request, session)
    case = await load_case(request, session, case_id)
    approve = form.get("decision") == "approve"
    body: dict[str, Any] = {"dept": str(form.get("dept") or ""), "approve": approve}
    back = f"/cases/{case['case_id']}"
    hours = str(form.get("hours") or "").strip()
    if approve and hours:
        if not hours.isdigit() or not 1 <= int(hours) <= 720:
            return web.flash(web.redirect(back), request, "error", "延期小时数应为 1–720。")
        body["hours"] = int(hours)
    note = str(form.get("note") or "").strip()
    if note:
        body["note"] = note[:1000]
    done = "已批准延期。" if approve else "已驳回延期申请。"
    return await _act(request, session, case_id, f"/v1/cases/{case['case_id']}/extensions",
                      body, done, back)


async def report(request: Request, case_id: str, session: Dept) -> Response:
    """报到, 到场, 办结 (with a result), 退单 (with a reason), 申请延期 (hours)."""
    form = await web.checked_form(request, session)
    cid = _case_id(case_id)
    kind = str(form.get("kind") or "")
    back = web.safe_next(str(form.get("back") or ""), f"/cases/{cid}")
    dept = str(form.get("dept") or session.dept or "")
    if kind not in REPORT_KINDS or dept not in session.depts:
        raise web.PageError(400, "请求无效", "未知的操作。")
    body: dict[str, Any] = {"kind": kind, "dept": dept}
    problem = None
    if kind == "resolved":
        body["result"] = str(form.get("result") or "").strip()[:2000]
        problem = None if body["result"] else "办结需要填写处理结果。"
    elif kind == "returned":
        body["reason"] = str(form.get("reason") or "").strip()[:2000]
        problem = None if body["reason"] else "退单需要填写理由。"
    elif kind == "extension_requested":
        hours = str(form.get("extension_hours") or "").strip()
        if not hours.isdigit() or not 1 <= int(hours) <= 720:
            problem = "延期小时数应为 1–720。"
        else:
            body["extension_hours"] = int(hours)
            reason = str(form.get("reason") or "").strip()
            if reason:
                body["reason"] = reason[:2000]
    if problem:
        if web.is_htmx(request) and back.startswith("/orders"):
            return await _orders_fragment(request, session, ("error", problem))
        return web.flash(web.redirect(back), request, "error", problem)
    return await _act(request, session, cid, f"/v1/cases/{cid}/reports", body,
                      f"已{REPORT_KINDS[kind]}。", back)


# -- department workbench ----------------------------------------------------------------------


async def _orders(request: Request, session: Session) -> list[dict]:
    """My live assignments, the nearest deadline first."""
    api = web.api(request)
    calls = {f"{d}/{s}": {"dept": d, "status": s, "limit": 50}
             for d in session.depts for s in OPEN_STATUSES}
    got = await _lists(api, session.token, calls)
    seen: dict[str, dict] = {}
    for items in got.values():
        for i in items:
            seen.setdefault(i["case_id"], i)
    oldest = sorted(seen.values(), key=lambda i: str(i.get("created_at")))[:60]
    rows = []
    for case in await api.details(session.token, oldest):
        for a in case.get("assignments", []):
            if a.get("dept") in session.depts and a.get("status") in ACTIVE_ASSIGNMENTS:
                kind = "ack" if a["status"] == "ordered" else "resolve"
                due = a.get("ack_by") if kind == "ack" else a.get("resolve_by")
                rows.append({"case": case, "a": a, "due": due, "due_kind": kind,
                             "overdue": text.overdue(due), "allowed": ALLOWED.get(a["status"], ())})
    rows.sort(key=lambda r: text.iso(r["due"]) or "9999")
    return rows


async def orders_page(request: Request, session: Dept) -> Response:
    return await web.render(request, "orders.html", {"rows": await _orders(request, session)})


async def _orders_fragment(request: Request, session: Session,
                           message: tuple[str, str] | None = None) -> Response:
    return await web.render(request, "_orders_list.html", {
        "rows": await _orders(request, session),
        "message": {"k": message[0], "m": message[1]} if message else None})


async def orders_list(request: Request, session: Dept) -> Response:
    return await _orders_fragment(request, session)


# -- supervision -------------------------------------------------------------------------------


def _month(value: str | None) -> str:
    now = datetime.now(text.SHANGHAI).strftime("%Y-%m")
    if not value or len(value) != 7 or value[4] != "-":
        return now
    year, month = value[:4], value[5:]
    if not (year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
        return now
    return value


async def _supervision(request: Request, session: Session) -> dict[str, Any]:
    api = web.api(request)
    street = _street_filter(request, session)
    overdue = await api.cases(session.token, overdue="true", street=street, limit=100)
    detailed = await api.details(session.token, overdue[:80])
    groups: dict[str, list[dict]] = {level: [] for level in text.LEVEL_ORDER}
    for case in detailed:
        groups[escalation_level(case) or "overdue"].append(case)
    return {"groups": groups, "street": street, "total": len(overdue),
            "updated": datetime.now(UTC)}


async def supervision_page(request: Request, session: Operator) -> Response:
    period = _month(request.query_params.get("period"))
    ranking, error = [], None
    try:
        ranking = await web.api(request).get("scoring", "/v1/departments/ranking",
                                             session.token, period=period)
    except ApiError as exc:
        error = f"考核排名暂不可用（{exc.status}）。"
    return await web.render(request, "supervision.html", {
        **await _supervision(request, session), "ranking": ranking, "period": period,
        "ranking_error": error})


async def supervision_panel(request: Request, session: Operator) -> Response:
    return await web.render(request, "_supervision_panel.html",
                            await _supervision(request, session))
