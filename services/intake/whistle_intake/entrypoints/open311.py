"""Open311 GeoReport v2 on the same intake path, so existing Open311 clients can post.

Answers follow the GeoReport v2 spec and the Open311 JSON schemas: optional values are null
(never an empty string), datetimes are W3C (no fractions, with an offset), `metadata` is a
boolean and errors are `[{"code", "description"}]` (`<errors><error>…` in XML). Classifying
free text without a `service_code` stays on /v1/incidents.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from whistle_common.logging import mask_text
from whistle_common.problems import ProblemError
from whistle_common.usecase import run_use_case

from .. import handlers
from ..domain import incident as rules
from ..schemas import IncidentCreate
from .http import accept

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"])
FORMATS = ("json", "xml")
CLOSED = ("resolved", "closed")
OPEN = tuple(s for s in rules.STATUS_RANK if s not in CLOSED)
ROOTS = {"services": "service", "service_requests": "request", "errors": "error"}
CHANGESET = "2026-11-21T00:00:00+08:00"
PAGE_SIZE, MAX_PAGE_SIZE = 100, 200
# what the hotline tells a resident at each status of the case
STATUS_NOTES = {"received": "已受理，等待立案派单", "triage": "人工分拣中，确定承办部门",
                "accepted": "已立案，等待派单", "dispatched": "已派单至承办部门",
                "rerouting": "承办部门退单，重新派单中", "in_progress": "承办部门正在处理",
                "resolved": "已办结", "reopened": "已重新办理", "closed": "已结案"}


class Open311Error(Exception):
    """An error answered in the Open311 shape."""

    def __init__(self, status: int, description: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.headers = status, description, dict(headers or {})

    @classmethod
    def of(cls, exc: ProblemError) -> Open311Error:
        # Open311 knows 400 for a request it cannot take; problem details' 422 is one
        status = 400 if exc.status == 422 else exc.status
        return cls(status, exc.detail or exc.title, exc.headers)


def _render(fmt: str, root: str, items: list[dict] | dict, status: int = 200,
            headers: Mapping[str, str] | None = None) -> Response:
    if fmt == "json":
        return JSONResponse(items, status_code=status, headers=headers)
    element = ET.Element(root)
    for item in items if isinstance(items, list) else [items]:
        child = ET.SubElement(element, ROOTS.get(root, root)) if isinstance(items, list) \
            else element
        _fill(child, item)
    body = b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(element, encoding="utf-8",
                                                                   xml_declaration=False)
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8",
                    headers=headers)


def _fill(element: ET.Element, item: dict) -> None:
    for key, value in item.items():
        if isinstance(value, list):
            holder = ET.SubElement(element, key)
            for v in value:
                if isinstance(v, dict):
                    _fill(ET.SubElement(holder, key.rstrip("s") or key), v)
                else:
                    ET.SubElement(holder, key.rstrip("s") or key).text = _text(v)
        elif isinstance(value, dict):
            _fill(ET.SubElement(element, key), value)
        else:
            ET.SubElement(element, key).text = _text(value)


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def _error(fmt: str, error: Open311Error) -> Response:
    return _render(fmt if fmt in FORMATS else "json", "errors",
                   [{"code": error.status, "description": error.description}], error.status,
                   error.headers)


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format .{fmt}: use .json or .xml")


def _w3c(value: datetime | None, tz: ZoneInfo) -> str | None:
    """A W3C datetime (2026-11-25T10:00:00+08:00): no fractions, the offset always given."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(tz).replace(microsecond=0).isoformat()


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.ref.catalogue.timezone)


def _discovery(request: Request) -> dict:
    base = str(request.base_url).rstrip("/") + PREFIX + "/"
    return {"changeset": CHANGESET, "contact": "12345 市民服务热线",
            "key_service": "Ask the city platform team for an api_key (a bearer token with "
                           "incidents:write).",
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2",
                           "url": base, "changeset": CHANGESET, "type": "production",
                           "formats": ["application/json", "text/xml"]}]}


@router.get("/discovery.{fmt}")
async def discovery(fmt: str, request: Request) -> Response:
    """Where this endpoint is and what it speaks; `url` is the base clients append to."""
    if fmt not in FORMATS:
        return _error(fmt, Open311Error(404, f"unknown format .{fmt}: use .json or .xml"))
    return _render(fmt, "discovery", _discovery(request))


@router.get("/", include_in_schema=False)
@router.get("", include_in_schema=False)
async def base(request: Request) -> Response:
    """The base URL itself answers the discovery (JSON)."""
    return _render("json", "discovery", _discovery(request))


def _service(cat, catalogue) -> dict:
    lead = catalogue.departments[cat.lead].name
    return {"service_code": cat.code, "service_name": cat.name,
            "description": f"{cat.description}（主办：{lead}）" if cat.description
            else f"主办：{lead}",
            "metadata": False, "type": "realtime", "keywords": cat.klass, "group": cat.area}


@router.get("/services.{fmt}")
async def services(fmt: str, request: Request, jurisdiction_id: str | None = None) -> Response:
    """The catalogue as Open311 services, grouped by area (一级分类)."""
    if fmt not in FORMATS:
        return _error(fmt, Open311Error(404, f"unknown format .{fmt}: use .json or .xml"))
    catalogue = request.app.state.ref.catalogue
    return _render(fmt, "services", [_service(c, catalogue)
                                     for c in catalogue.categories.values()])


@router.get("/services/{code}.{fmt}")
async def service_definition(code: str, fmt: str, request: Request,
                             jurisdiction_id: str | None = None) -> Response:
    """A service definition; no category needs extra attributes (`metadata` is false)."""
    if fmt not in FORMATS:
        return _error(fmt, Open311Error(404, f"unknown format .{fmt}: use .json or .xml"))
    if request.app.state.ref.catalogue.category(code) is None:
        return _error(fmt, Open311Error(404, f"service_code {code} not found"))
    return _render(fmt, "service_definition", {"service_code": code, "attributes": []})


@router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request) -> Response:
    """Create a service request from a form-encoded (or JSON) Open311 body; `service_code`
    and a location (lat & long, address_string or address_id) are required."""
    try:
        _check(fmt)
        form = await _body(request)
        principal = request.app.state.tokens.lookup(form.get("api_key", ""))
        if principal is None:
            raise Open311Error(401, "api_key missing or unknown")
        if not (principal.is_operator or principal.has("incidents:write")):
            raise Open311Error(403, "api_key may not create requests")
        draft = _draft(form, request.app.state.ref.catalogue)
        outcome = await accept(request, draft, principal.client)
    except Open311Error as exc:
        return _error(fmt, exc)
    except ProblemError as exc:
        return _error(fmt, Open311Error.of(exc))
    row = outcome.row
    return _render(fmt, "service_requests", [{
        "service_request_id": str(row["id"]),
        "service_notice": f"受理编号 {row['tracking_no']}"}], 201 if outcome.created else 200)


async def _body(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            data = await request.json()
        except ValueError as exc:
            raise Open311Error(400, "the body is not valid JSON") from exc
        return {k: str(v) for k, v in data.items() if v is not None} \
            if isinstance(data, dict) else {}
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


def _draft(form: dict[str, str], catalogue) -> IncidentCreate:
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code was not provided")
    if catalogue.category(code) is None:
        raise Open311Error(400, f"service_code {code} not found")
    grid = form.get("attribute[grid_code]") or form.get("grid_code") or None
    lat, lon = _number(form, "lat"), _number(form, "long")
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long go together")
    if lat is None and not (form.get("address_string") or form.get("address_id") or grid):
        raise Open311Error(400, "a location is required: lat & long, address_string or "
                                "address_id")
    media = form.get("media_url") or None
    if media is not None and not _is_url(media):
        raise Open311Error(400, "media_url must be an absolute http(s) URL")
    name = " ".join(p for p in (form.get("last_name"), form.get("first_name")) if p) or None
    try:
        return IncidentCreate.model_validate({
            "source": "resident",
            "external_id": form.get("attribute[external_id]") or f"open311-{uuid.uuid4()}",
            "kind": "complaint", "category": code, "description": form.get("description", ""),
            "location": {"grid_code": grid, "place_code": form.get("address_id") or None,
                         "lat": lat, "lon": lon,
                         "address": form.get("address_string") or None},
            "reporter": {"name": name, "phone": form.get("phone") or None},
            "media_urls": [media] if media else [],
        })
    except ValidationError as exc:
        raise Open311Error(400, "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())[:500]) from exc


def _number(form: dict[str, str], key: str) -> float | None:
    value = (form.get(key) or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise Open311Error(400, f"{key} must be a number") from exc


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _named(location: dict[str, Any]) -> str:
    """The resolved place as words (天津市蓟州区文昌街道鼓楼社区), when the caller gave none."""
    return "".join(node["name"] for node in location.get("path") or [])


@dataclass(frozen=True)
class Found:
    """A stored incident with its timeline, as Open311 shows it."""

    row: Mapping[str, Any]
    timeline: list[dict]


def _status_notes(row: Mapping[str, Any], timeline: list[dict], agency: str | None) -> str:
    """The case in words: its status (and who handles it), then the latest note of it."""
    status = row["status"]
    words = STATUS_NOTES.get(status, status)
    if status == "dispatched" and agency:
        words = f"已派单至{agency}"
    note = next((e["note"] for e in reversed(timeline)
                 if e.get("note") and e.get("status") == status), None)
    return f"{words}：{mask_text(note)}" if note else words


def _as_request(found: Found, catalogue, tz: ZoneInfo) -> dict:
    row = found.row
    location = row["location"] if isinstance(row["location"], dict) else json.loads(
        row["location"])
    dept = catalogue.departments.get(row["agency"]) if row["agency"] else None
    agency = dept.name if dept else (row["agency"] or None)
    category = catalogue.category(row["category"])
    changes = [row["updated_at"], *(e["at"] for e in found.timeline if e.get("at"))]
    media = next((u for u in row.get("media_urls") or [] if _is_url(u)), None)
    lat, lon = location.get("lat"), location.get("lon")
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if row["status"] in CLOSED else "open",
        "status_notes": _status_notes(row, found.timeline, agency),
        "service_name": category.name if category else row["category"],
        "service_code": row["category"],
        "description": mask_text(row["description"])[:rules.MAX_DESCRIPTION] or None,
        "agency_responsible": agency,
        "service_notice": f"受理编号 {row['tracking_no']}",
        "requested_datetime": _w3c(row["received_at"], tz),
        "updated_datetime": _w3c(max(c for c in changes if c is not None), tz),
        "expected_datetime": _w3c(row["expected_at"], tz),
        "address": location.get("address") or _named(location) or None,
        "address_id": location.get("place_code") or row["grid_code"] or None,
        "lat": float(lat) if lat is not None else None,
        "long": float(lon) if lon is not None else None,
        "media_url": media,
    }


async def _search(uow, query: handlers.SearchRequests) -> list[Found]:
    rows = await handlers.search_incidents(uow, query)
    return [Found(row, await uow.incidents.timeline(row["id"])) for row in rows]


def _date(value: str | None, key: str, tz: ZoneInfo) -> datetime | None:
    if not value:
        return None
    try:
        found = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError as exc:
        raise Open311Error(400, f"{key} must be a W3C datetime, e.g. "
                                "2026-11-25T10:00:00+08:00") from exc
    return found if found.tzinfo else found.replace(tzinfo=tz)


def _page(value: str | None, key: str, default: int, most: int | None = None) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) < 1 or (most is not None and int(value) > most):
        limit = f" and at most {most}" if most else ""
        raise Open311Error(400, f"{key} must be a whole number from 1{limit}")
    return int(value)


def _statuses(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    asked = {s.strip() for s in value.split(",") if s.strip()}
    if asked - {"open", "closed"}:
        raise Open311Error(400, "status must be open, closed or both (comma delimited)")
    if asked == {"open", "closed"}:
        return ()
    return OPEN if asked == {"open"} else CLOSED


@router.get("/requests.{fmt}")
async def get_requests(fmt: str, request: Request, service_request_id: str | None = None,
                       service_code: str | None = None, start_date: str | None = None,
                       end_date: str | None = None, status: str | None = None,
                       page: str | None = None, page_size: str | None = None,
                       jurisdiction_id: str | None = None) -> Response:
    """Search service requests (public, no personal data), newest first, a page at a time
    (`page` from 1, `page_size` up to 200; a `Link` header points to the next page)."""
    try:
        _check(fmt)
        tz = _zone(request)
        number = _page(page, "page", 1)
        size = _page(page_size, "page_size", PAGE_SIZE, MAX_PAGE_SIZE)
        ids = tuple(i.strip() for i in service_request_id.split(",") if i.strip()) \
            if service_request_id else ()
        query = handlers.SearchRequests(
            ids, service_code or None, _date(start_date, "start_date", tz),
            _date(end_date, "end_date", tz), limit=size + 1, offset=(number - 1) * size,
            statuses=_statuses(status))
        found = await run_use_case(request.app.state.runtime.uow, _search, query)
    except Open311Error as exc:
        return _error(fmt, exc)
    except ProblemError as exc:
        return _error(fmt, Open311Error.of(exc))
    catalogue = request.app.state.ref.catalogue
    headers = {}
    if len(found) > size:
        following = request.url.include_query_params(page=number + 1, page_size=size)
        headers["Link"] = f'<{following}>; rel="next"'
    return _render(fmt, "service_requests",
                   [_as_request(f, catalogue, tz) for f in found[:size]], headers=headers)


@router.get("/requests/{request_id}.{fmt}")
async def get_request(request_id: str, fmt: str, request: Request,
                      jurisdiction_id: str | None = None) -> Response:
    """One service request (a list of one, as the spec answers)."""
    try:
        _check(fmt)
        view = await run_use_case(request.app.state.runtime.uow, handlers.incident_view,
                                  request_id)
    except Open311Error as exc:
        return _error(fmt, exc)
    except ProblemError as exc:
        return _error(fmt, Open311Error.of(exc))
    found = Found(view.row, view.timeline)
    return _render(fmt, "service_requests",
                   [_as_request(found, request.app.state.ref.catalogue, _zone(request))])


@router.api_route("/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
async def elsewhere(rest: str, request: Request) -> Response:
    """A path a client built by appending to the base URL with an extra slash
    (…/open311/v2//services.xml) is redirected to the real one; anything else is an
    Open311 404."""
    collapsed = "/".join(p for p in rest.split("/") if p)
    if collapsed != rest and collapsed:
        target = request.url.replace(path=f"{PREFIX}/{collapsed}")
        return RedirectResponse(str(target), status_code=308)
    fmt = rest.rsplit(".", 1)[-1] if "." in rest else "json"
    return _error(fmt, Open311Error(404, f"no such Open311 resource: {PREFIX}/{rest}"))
