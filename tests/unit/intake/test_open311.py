"""Open311 GeoReport v2 answers, spec-exact: the real intake app on an in-memory unit of work
(no lifespan: no Kafka, no Postgres), every JSON answer validated against the Open311
organisation's JSON schemas (../shared/schemas/open311-georeport-v2, present on the team's
machines only: the schema checks skip without them) with format checking."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from whistle_catalogue import load_catalogue
from whistle_common.consumer import Incoming
from whistle_common.envelope import new_event
from whistle_common.topics import CASES_EVENTS
from whistle_intake import handlers
from whistle_intake.main import create_app

from ..asgi import client_of
from .fakes import FakeIntakeUnitOfWork

SCHEMAS = Path(__file__).resolve().parents[3].parent / "shared" / "schemas" / \
    "open311-georeport-v2"
BASE = "/open311/v2"
W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")  # no fractions
GRID = "12011900100101"
KEY = "dev-hotline-token"
CATALOGUE = load_catalogue()


def _w3c_datetime(value: object) -> bool:
    """W3C datetime as Open311 wants it; checked here because jsonschema only checks
    date-time with rfc3339-validator installed (it is not a dependency of the project)."""
    if not isinstance(value, str):
        return True
    if not W3C.match(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))  # a real date (raises if not)
    return True


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.path)) and " " not in value


def format_checker() -> FormatChecker:
    checker = FormatChecker()  # every format jsonschema can check with what is installed
    if "date-time" not in checker.checkers:
        checker.checks("date-time", raises=ValueError)(_w3c_datetime)
    if "uri" not in checker.checkers:
        checker.checks("uri")(_uri)
    return checker


@pytest.fixture(scope="module")
def validators() -> dict[str, Draft4Validator]:
    if not SCHEMAS.is_dir():
        pytest.skip(f"Open311 JSON schemas not found at {SCHEMAS} (they live in ../shared on "
                    "the team's machines only)")
    documents = {p.name: json.loads(p.read_text("utf-8")) for p in SCHEMAS.glob("*.json")}
    swagger = documents["swagger.json"]
    # the answer to POST requests: an array of RequestResponse (swagger.json definitions)
    documents["request-response.json"] = {
        "type": "array", "minItems": 1, "definitions": swagger["definitions"],
        "items": {"$ref": "#/definitions/RequestResponse"}}
    registry = Registry().with_resources(
        (name, Resource.from_contents(doc, default_specification=DRAFT4))
        for name, doc in documents.items())
    checker = format_checker()
    return {name: Draft4Validator(doc, registry=registry, format_checker=checker)
            for name, doc in documents.items()}


def valid(validators, schema: str, answer) -> None:
    errors = sorted(validators[schema].iter_errors(answer), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.fixture(scope="module")
def app():
    return create_app()  # no lifespan runs: the classifier is never loaded (unused here)


@pytest.fixture
def uow() -> FakeIntakeUnitOfWork:
    return FakeIntakeUnitOfWork()


@pytest.fixture
async def client(app, uow):
    async with client_of(app, lambda: uow) as c:
        yield c


def form(**overrides) -> dict[str, str]:
    body = {"api_key": KEY, "service_code": "noise", "lat": "40.045", "long": "117.4",
            "description": "楼下KTV凌晨两点还在唱歌，噪音很大", "first_name": "三",
            "last_name": "张", "phone": "13812341234"}
    return {k: v for k, v in {**body, **overrides}.items() if v is not None}


async def create(client, **overrides) -> str:
    resp = await client.post(f"{BASE}/requests.json", data=form(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()[0]["service_request_id"]


def no_empty_strings(answer) -> None:
    items = answer if isinstance(answer, list) else [answer]
    for item in items:
        assert all(v != "" for v in item.values()), item


def is_xml(resp) -> ET.Element:
    assert resp.headers["content-type"] == "text/xml; charset=utf-8"
    assert resp.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(resp.content)


def assert_error(resp, status: int, fmt: str = "json") -> str:
    assert resp.status_code == status, resp.text
    if fmt == "xml":
        root = is_xml(resp)
        assert root.tag == "errors" and [e.tag for e in root] == ["error"]
        assert [c.tag for c in root[0]] == ["code", "description"]
        assert root.findtext("error/code") == str(status)
        return root.findtext("error/description")
    assert resp.headers["content-type"] == "application/json"
    [error] = resp.json()
    assert set(error) == {"code", "description"} and error["code"] == status
    assert isinstance(error["description"], str) and error["description"]
    return error["description"]


def case_event(type_: str, incident_id: str, at: datetime, **data) -> Incoming:
    env = new_event(type_, source="/whistle/dispatch", subject=str(uuid.uuid4()),
                    data={"incident_id": incident_id, **data}, correlationid=incident_id,
                    now=at)
    return Incoming(CASES_EVENTS, None, env.to_bytes(), {}, 0, 0, env)


async def test_discovery_gives_a_base_url_clients_append_paths_to(client):
    resp = await client.get(f"{BASE}/discovery.json")
    assert resp.status_code == 200
    [endpoint] = resp.json()["endpoints"]
    assert endpoint["formats"] == ["application/json", "text/xml"]
    assert W3C.match(endpoint["changeset"]) and W3C.match(resp.json()["changeset"])
    url = endpoint["url"]
    assert url == f"http://test{BASE}/"
    for appended in (url + "services.xml", url + "services.json", url + "discovery.xml"):
        assert (await client.get(appended)).status_code == 200, appended
    for bare in (url, url.rstrip("/")):  # the base itself answers (the discovery)
        resp = await client.get(bare)
        assert resp.status_code == 200 and resp.json()["endpoints"][0]["url"] == url
    doubled = await client.get(url + "/services.xml", follow_redirects=True)
    assert doubled.status_code == 200 and is_xml(doubled).tag == "services"
    xml = is_xml(await client.get(f"{BASE}/discovery.xml"))
    assert xml.findtext("endpoints/endpoint/url") == url
    assert [f.text for f in xml.find("endpoints/endpoint/formats")] == [
        "application/json", "text/xml"]


async def test_services_are_valid_with_boolean_metadata_and_display_names(client, validators):
    resp = await client.get(f"{BASE}/services.json", params={"jurisdiction_id": "tianjin"})
    assert resp.status_code == 200
    services = resp.json()
    valid(validators, "services.json", services)
    assert len(services) == len(CATALOGUE.categories)
    noise = next(s for s in services if s["service_code"] == "noise")
    assert noise["service_name"] == CATALOGUE.category("noise").name != "noise"
    assert all(s["metadata"] is False for s in services)
    xml = is_xml(await client.get(f"{BASE}/services.xml"))
    assert {s.findtext("metadata") for s in xml} == {"false"}
    assert "general" in [s.findtext("service_code") for s in xml]


async def test_every_service_definition_has_an_attributes_array(client, validators):
    for code in CATALOGUE.categories:
        resp = await client.get(f"{BASE}/services/{code}.json")
        assert resp.status_code == 200, code
        valid(validators, "service-definition.json", resp.json())
        assert resp.json() == {"service_code": code, "attributes": []}
    xml = is_xml(await client.get(f"{BASE}/services/noise.xml"))
    assert xml.tag == "service_definition" and xml.find("attributes") is not None
    assert_error(await client.get(f"{BASE}/services/ufo.json"), 404)
    assert_error(await client.get(f"{BASE}/services/ufo.xml"), 404, "xml")


async def test_a_posted_request_reads_back_spec_exact_in_json_and_xml(client, validators):
    resp = await client.post(f"{BASE}/requests.json",
                             data=form(jurisdiction_id="tianjin",
                                       media_url="https://img.example.cn/a.jpg"))
    assert resp.status_code == 201, resp.text
    valid(validators, "request-response.json", resp.json())
    [created] = resp.json()
    request_id = created["service_request_id"]
    assert created["service_notice"].startswith("受理编号 ")

    one = await client.get(f"{BASE}/requests/{request_id}.json",
                           params={"jurisdiction_id": "tianjin"})
    assert one.status_code == 200
    valid(validators, "requests.json", one.json())
    [request] = one.json()
    valid(validators, "request.json", request)
    no_empty_strings(request)
    assert request["service_request_id"] == request_id and request["status"] == "open"
    assert request["service_code"] == "noise"
    assert request["service_name"] == CATALOGUE.category("noise").name
    assert request["agency_responsible"] is None  # not dispatched yet
    assert request["expected_datetime"] is None
    assert request["media_url"] == "https://img.example.cn/a.jpg"
    assert request["status_notes"]
    assert request["address_id"] == GRID and request["address"]
    assert (request["lat"], request["long"]) == (40.045, 117.4)
    for key in ("requested_datetime", "updated_datetime"):
        assert W3C.match(request[key]) and request[key].endswith("+08:00"), request[key]
    assert "13812341234" not in one.text

    xml = is_xml(await client.get(f"{BASE}/requests/{request_id}.xml"))
    assert xml.tag == "service_requests" and [r.tag for r in xml] == ["request"]
    node = xml.find("request")
    assert node.findtext("service_request_id") == request_id
    assert node.findtext("service_name") == request["service_name"]
    assert node.findtext("requested_datetime") == request["requested_datetime"]
    assert node.find("expected_datetime") is not None and not node.findtext("expected_datetime")

    listed = await client.get(f"{BASE}/requests.json",
                              params={"service_request_id": f"{request_id},{uuid.uuid4()}"})
    valid(validators, "requests.json", listed.json())
    assert [r["service_request_id"] for r in listed.json()] == [request_id]


async def test_without_a_known_location_or_media_the_fields_are_null(client, validators):
    request_id = await create(client, lat=None, long=None, address_string="就在我家楼下")
    [request] = (await client.get(f"{BASE}/requests/{request_id}.json")).json()
    valid(validators, "request.json", request)
    no_empty_strings(request)
    assert request["lat"] is None and request["long"] is None
    assert request["media_url"] is None and request["address"] == "就在我家楼下"


async def test_the_answer_follows_the_case(client, uow, validators):
    request_id = await create(client)
    dispatched_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    resolve_by = datetime(2026, 11, 28, 2, 0, 0, 123456, tzinfo=UTC)
    await handlers.on_case_event(uow, case_event(
        "case.dispatched.v1", request_id, dispatched_at, lead="huanbao",
        deadlines={"resolve_by": resolve_by.isoformat()}))
    [request] = (await client.get(f"{BASE}/requests/{request_id}.json")).json()
    valid(validators, "request.json", request)
    huanbao = CATALOGUE.departments["huanbao"].name
    assert request["agency_responsible"] == huanbao and request["status"] == "open"
    assert request["expected_datetime"] == "2026-11-28T10:00:00+08:00"  # fractions dropped
    assert huanbao in request["status_notes"]

    resolved_at = dispatched_at + timedelta(hours=2)
    await handlers.on_case_event(uow, case_event("case.resolved.v1", request_id, resolved_at,
                                                 result="已整改，噪音已停止"))
    [request] = (await client.get(f"{BASE}/requests/{request_id}.json")).json()
    valid(validators, "request.json", request)
    assert request["status"] == "closed"
    assert "已办结" in request["status_notes"] and "已整改，噪音已停止" in request["status_notes"]
    assert request["updated_datetime"] == resolved_at.astimezone(
        datetime.fromisoformat(request["requested_datetime"]).tzinfo).isoformat()
    closed = await client.get(f"{BASE}/requests.json", params={"status": "closed"})
    assert [r["service_request_id"] for r in closed.json()] == [request_id]
    assert (await client.get(f"{BASE}/requests.json", params={"status": "open"})).json() == []


async def test_a_post_without_service_code_is_a_400_in_the_open311_shape(client, uow):
    for fmt in ("json", "xml"):
        resp = await client.post(f"{BASE}/requests.{fmt}", data=form(service_code=None))
        assert "service_code" in assert_error(resp, 400, fmt)
        resp = await client.post(f"{BASE}/requests.{fmt}", data=form(service_code=""))
        assert_error(resp, 400, fmt)
    assert "ufo" in assert_error(
        await client.post(f"{BASE}/requests.xml", data=form(service_code="ufo")), 400, "xml")
    assert uow.incidents.rows == {}


async def test_other_bad_posts_are_open311_errors(client, uow):
    assert_error(await client.post(f"{BASE}/requests.json", data=form(api_key=None)), 401)
    assert_error(await client.post(f"{BASE}/requests.xml", data=form(api_key="nope")), 401,
                 "xml")
    assert_error(await client.post(f"{BASE}/requests.json", data=form(lat="north")), 400)
    assert_error(await client.post(f"{BASE}/requests.json",
                                   data=form(lat=None, long=None)), 400)  # no location
    assert_error(await client.post(f"{BASE}/requests.json",
                                   data=form(media_url="not a url")), 400)
    assert_error(await client.post(f"{BASE}/requests.json", data=form(description=" ")), 400)
    assert uow.incidents.rows == {}
    assert_error(await client.get(f"{BASE}/requests/{uuid.uuid4()}.xml"), 404, "xml")
    assert_error(await client.get(f"{BASE}/requests/{uuid.uuid4()}.json"), 404)
    assert_error(await client.get(f"{BASE}/requests.json", params={"start_date": "x"}), 400)
    assert_error(await client.get(f"{BASE}/requests.json", params={"status": "pending"}), 400)
    assert_error(await client.get(f"{BASE}/nothing.xml"), 404, "xml")
    assert_error(await client.get(f"{BASE}/services.yaml"), 404)


async def test_get_requests_pages(client, validators):
    created = [await create(client, description=f"楼下KTV凌晨还在唱歌，第{i}次投诉")
               for i in range(5)]
    seen, links = [], []
    for page in (1, 2, 3):
        resp = await client.get(f"{BASE}/requests.json",
                                params={"page": page, "page_size": 2, "service_code": "noise"})
        assert resp.status_code == 200
        valid(validators, "requests.json", resp.json()) if resp.json() else None
        seen.append([r["service_request_id"] for r in resp.json()])
        links.append(resp.headers.get("link"))
    assert [len(p) for p in seen] == [2, 2, 1]
    assert sorted(sum(seen, [])) == sorted(created)  # no overlap, none missing
    assert seen[0][0] == created[-1]  # newest first
    assert 'page=2' in links[0] and 'rel="next"' in links[0] and links[2] is None
    following = urlsplit(links[0].split(">")[0].lstrip("<"))
    again = await client.get(f"{following.path}?{following.query}")
    assert [r["service_request_id"] for r in again.json()] == seen[1]
    xml = is_xml(await client.get(f"{BASE}/requests.xml", params={"page": 3, "page_size": 2}))
    assert [r.findtext("service_request_id") for r in xml] == seen[2]
    assert len((await client.get(f"{BASE}/requests.json")).json()) == 5  # default page
    for bad in ({"page_size": 201}, {"page_size": 0}, {"page": 0}, {"page": "two"}):
        assert_error(await client.get(f"{BASE}/requests.json", params=bad), 400)
    valid(validators, "requests.json", (await client.get(
        f"{BASE}/requests.json", params={"page_size": 200})).json())
