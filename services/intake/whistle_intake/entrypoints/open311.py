"""Open311 GeoReport v2 on the same intake path, so existing Open311 clients can post."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from whistle_common.logging import mask_text
from whistle_common.problems import ProblemError
from whistle_common.usecase import run_use_case

from .. import handlers
from ..schemas import IncidentCreate
from .http import accept

router = APIRouter(prefix="/open311/v2", tags=["open311"])
FORMATS = ("json", "xml")
CLOSED = {"resolved", "closed"}
ROOTS = {"services": "service", "service_requests": "request", "errors": "error"}


def _render(fmt: str, root: str, items: list[dict] | dict, status: int = 200) -> Response:
    if fmt == "json":
        return JSONResponse(items, status_code=status)
    element = ET.Element(root)
    for item in items if isinstance(items, list) else [items]:
        child = ET.SubElement(element, ROOTS.get(root, root)) if isinstance(items, list) \
            else element
        _fill(child, item)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(element, encoding="utf-8")
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def _fill(element: ET.Element, item: dict) -> None:
    for key, value in item.items():
        if isinstance(value, list):
            holder = ET.SubElement(element, key)
            for v in value:
                if isinstance(v, dict):
                    _fill(ET.SubElement(holder, key.rstrip("s") or key), v)
                else:
                    ET.SubElement(holder, key.rstrip("s") or key).text = str(v)
        elif isinstance(value, dict):
            _fill(ET.SubElement(element, key), value)
        else:
            ET.SubElement(element, key).text = "" if value is None else str(value)


def _error(fmt: str, status: int, description: str) -> Response:
    return _render(fmt if fmt in FORMATS else "json", "errors",
                   [{"code": status, "description": description}], status)


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ProblemError(404, "not-found", "Not found", "format must be .json or .xml")


@router.get("/discovery.{fmt}")
async def discovery(fmt: str, request: Request) -> Response:
    """Where this endpoint is and what it speaks."""
    _check(fmt)
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    return _render(fmt, "discovery", {
        "changeset": "2026-11-21T00:00:00+08:00", "contact": "12345 市民服务热线",
        "key_service": "Ask the city platform team for an api_key (a bearer token with "
                       "incidents:write).",
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                       "changeset": "2026-11-21T00:00:00+08:00", "type": "production",
                       "formats": ["application/json", "text/xml"]}]})


def _service(cat, catalogue) -> dict:
    lead = catalogue.departments[cat.lead].name
    return {"service_code": cat.code, "service_name": cat.name,
            "description": f"{cat.description}（主办：{lead}）", "metadata": "false",
            "type": "realtime", "keywords": cat.klass, "group": cat.area}


@router.get("/services.{fmt}")
async def services(fmt: str, request: Request) -> Response:
    """The catalogue as Open311 services, grouped by area (一级分类)."""
    _check(fmt)
    catalogue = request.app.state.ref.catalogue
    return _render(fmt, "services", [_service(c, catalogue)
                                     for c in catalogue.categories.values()])


@router.get("/services/{code}.{fmt}")
async def service_definition(code: str, fmt: str, request: Request) -> Response:
    """A service definition; no category needs extra attributes."""
    _check(fmt)
    if request.app.state.ref.catalogue.category(code) is None:
        return _error(fmt, 404, f"unknown service_code {code}")
    return _render(fmt, "service_definition", {"service_code": code, "attributes": []})


@router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request) -> Response:
    """Create a service request from a form-encoded (or JSON) Open311 body."""
    _check(fmt)
    form = await _body(request)
    principal = request.app.state.tokens.lookup(form.get("api_key", ""))
    if principal is None:
        return _error(fmt, 401, "api_key missing or unknown")
    if not (principal.is_operator or principal.has("incidents:write")):
        return _error(fmt, 403, "api_key may not create requests")
    try:
        draft = _draft(form)
        outcome = await accept(request, draft, principal.client)
    except ValidationError as exc:
        return _error(fmt, 400, "; ".join(e["msg"] for e in exc.errors())[:500])
    except ProblemError as exc:
        return _error(fmt, exc.status, exc.detail or exc.title)
    row = outcome.row
    return _render(fmt, "service_requests", [{
        "service_request_id": str(row["id"]), "service_notice": f"受理编号 {row['tracking_no']}",
        "account_id": None}], 201 if outcome.created else 200)


async def _body(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        data = await request.json()
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


def _draft(form: dict[str, str]) -> IncidentCreate:
    lat, lon = form.get("lat"), form.get("long")
    name = " ".join(p for p in (form.get("last_name"), form.get("first_name")) if p) or None
    return IncidentCreate.model_validate({
        "source": "resident",
        "external_id": form.get("attribute[external_id]") or f"open311-{uuid.uuid4()}",
        "kind": "complaint", "category": form.get("service_code") or None,
        "description": form.get("description", ""),
        "location": {"grid_code": form.get("attribute[grid_code]") or form.get("grid_code"),
                     "place_code": form.get("address_id") or None,
                     "lat": float(lat) if lat else None, "lon": float(lon) if lon else None,
                     "address": form.get("address_string") or None},
        "reporter": {"name": name, "phone": form.get("phone") or None},
        "media_urls": [form["media_url"]] if form.get("media_url") else [],
    })


def _named(location: dict[str, Any]) -> str:
    """The resolved place as words (天津市蓟州区文昌街道鼓楼社区), when the caller gave none."""
    return "".join(node["name"] for node in location.get("path") or [])


def _as_request(row, agencies: dict[str, Any]) -> dict:
    location = row["location"] if isinstance(row["location"], dict) else json.loads(
        row["location"])
    agency = agencies.get(row["agency"]) if row["agency"] else None
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if row["status"] in CLOSED else "open",
        "status_notes": row["status"], "service_name": row["category"],
        "service_code": row["category"], "description": mask_text(row["description"]),
        "agency_responsible": agency.name if agency else "",
        "service_notice": row["tracking_no"],
        "requested_datetime": row["received_at"].isoformat(),
        "updated_datetime": row["updated_at"].isoformat(),
        "expected_datetime": row["expected_at"].isoformat() if row["expected_at"] else "",
        "address": location.get("address") or _named(location),
        "address_id": location.get("place_code") or row["grid_code"] or "",
        "lat": location.get("lat") or "", "long": location.get("lon") or "", "media_url": "",
    }


@router.get("/requests.{fmt}")
async def get_requests(fmt: str, request: Request, service_request_id: str | None = None,
                       service_code: str | None = None, start_date: datetime | None = None,
                       end_date: datetime | None = None, status: str | None = None) -> Response:
    """Search service requests (public, no personal data)."""
    _check(fmt)
    agencies = request.app.state.ref.catalogue.departments
    ids = tuple(i.strip() for i in service_request_id.split(",")) if service_request_id else ()
    query = handlers.SearchRequests(ids, service_code, start_date, end_date)
    try:
        rows = await run_use_case(request.app.state.runtime.uow, handlers.search_incidents, query)
    except ProblemError as exc:
        return _error(fmt, exc.status, exc.detail or exc.title)
    items = [_as_request(r, agencies) for r in rows]
    if status in ("open", "closed"):
        items = [i for i in items if i["status"] == status]
    return _render(fmt, "service_requests", items)


@router.get("/requests/{request_id}.{fmt}")
async def get_request(request_id: str, fmt: str, request: Request) -> Response:
    """One service request."""
    _check(fmt)
    try:
        view = await run_use_case(request.app.state.runtime.uow, handlers.incident_view,
                                  request_id)
    except ProblemError as exc:
        return _error(fmt, exc.status, exc.detail or exc.title)
    row = view.row
    return _render(fmt, "service_requests",
                   [_as_request(row, request.app.state.ref.catalogue.departments)])
