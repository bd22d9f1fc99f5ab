"""docs/asyncapi.yaml: generated from the topic table and the event models, committed, valid
for the official AsyncAPI parser, and true to the payloads the services really build."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from whistle_common import asyncapi, topics
from whistle_common.consumer import Incoming
from whistle_common.envelope import Envelope, new_event
from whistle_common.event_schemas import EVENT_DATA
from whistle_common.signing import signed_headers

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
NPM_PROJECT = ROOT / "deploy" / "asyncapi"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


# -- (1) the committed document is what the code generates ----------------------------------------

def test_the_committed_document_is_what_the_code_generates():
    assert DOCUMENT.read_text(encoding="utf-8") == asyncapi.render(), (
        "docs/asyncapi.yaml is stale: run `.venv/bin/python -m whistle_common.asyncapi --write`")
    assert asyncapi.main(["--check", str(DOCUMENT)]) == 0


def test_check_reports_a_stale_document(tmp_path):
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text(asyncapi.render().replace("dispatch.withdrawn.v1", "dispatch.gone.v1"))
    assert asyncapi.main(["--check", str(stale)]) == 1
    assert asyncapi.main(["--write", str(stale)]) == 0
    assert asyncapi.main(["--check", str(stale)]) == 0


# -- (2) every topic and event type of whistle_common.topics is in it -----------------------------

def test_every_topic_and_event_type_is_documented(document):
    addresses = {c["address"]: c for c in document["channels"].values()}
    expected = set(topics.all_topics()) | {asyncapi.ORDERS_ADDRESS}
    assert set(addresses) == expected
    messages = document["components"]["messages"]

    def names(channel: dict) -> set[str]:
        return {messages[ref["$ref"].rsplit("/", 1)[1]]["name"]
                for ref in channel["messages"].values()}

    for topic, types in topics.EVENT_TYPES.items():
        assert names(addresses[topic]) == set(types), topic
    orders = addresses[asyncapi.ORDERS_ADDRESS]
    assert names(orders) == set(topics.event_types_of(topics.orders_topic("chengguan")))
    assert set(orders["parameters"]) == {"dept"}
    every_type = set().union(*topics.EVENT_TYPES.values(), topics.ORDER_EVENT_TYPES)
    assert set(EVENT_DATA) == every_type, "a model per event type, and no other"
    # each event type's payload is the envelope whose data is that event's schema
    schemas = document["components"]["schemas"]
    for message in messages.values():
        if message["name"] in every_type:
            envelope = schemas[message["payload"]["$ref"].rsplit("/", 1)[1]]
            assert envelope["properties"]["type"]["const"] == message["name"]
            assert envelope["properties"]["data"]["$ref"].startswith("#/components/schemas/")


def test_reports_carry_the_signature_headers_and_the_security_scheme(document):
    report = document["components"]["messages"]["dispatchReportedV1"]
    assert set(report["headers"]["required"]) == set(signed_headers("d", "s", b"v"))
    [receive] = [op for op in document["operations"].values()
                 if op["channel"]["$ref"] == "#/channels/dispatchReports"]
    assert receive["action"] == "receive"
    assert receive["security"] == [
        {"$ref": "#/components/securitySchemes/departmentSignature"}]
    [orders] = [op for op in document["operations"].values()
                if op["channel"]["$ref"] == f"#/channels/{asyncapi.ORDERS_CHANNEL}"]
    assert orders["action"] == "send"


# -- (3) the official parser accepts it -----------------------------------------------------------

def test_the_official_asyncapi_parser_validates_the_document():
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run @asyncapi/parser (deploy/asyncapi)")
    if not (NPM_PROJECT / "node_modules" / "@asyncapi" / "parser").exists():
        subprocess.run([npm, "ci", "--prefix", str(NPM_PROJECT), "--ignore-scripts",
                        "--no-audit", "--no-fund"], check=True, timeout=300,
                       capture_output=True)
    done = subprocess.run([node, str(NPM_PROJECT / "validate.mjs"), str(DOCUMENT), "--strict"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid AsyncAPI 3.0.0" in done.stdout


# -- (4) real payloads validate against the document's schemas ------------------------------------

def _validator(document: dict[str, Any], event_type: str) -> jsonschema.Validator:
    """The payload schema of an event type's message, resolved within the document."""
    [message_id] = [k for k, m in document["components"]["messages"].items()
                    if m["name"] == event_type]
    schema = {"$ref": f"#/components/messages/{message_id}/payload",
              "components": document["components"]}
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def _check(document: dict[str, Any], value: bytes | dict[str, Any]) -> str:
    event = json.loads(value) if isinstance(value, bytes) else value
    errors = sorted(_validator(document, event["type"]).iter_errors(event), key=str)
    assert not errors, f"{event['type']}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])
    return event["type"]


@pytest.fixture(scope="module")
def intake_events() -> list[Envelope]:
    """incident.received.v1 as intake builds it: one placed and given a category, one the
    classifier and the address leave to triage."""
    from whistle_catalogue import load_catalogue
    from whistle_intake import handlers
    from whistle_intake.main import load_classifier
    from whistle_intake.schemas import IncidentCreate
    from whistle_places.places import load_places

    ref = handlers.Reference(load_catalogue(), load_places(), load_classifier())
    now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    drafts = [
        {"source": "hotline", "external_id": "12345-0001", "kind": "complaint",
         "category": "noise", "description": "楼下KTV凌晨两点还在唱歌，噪音很大",
         "location": {"grid_code": "12011900100101", "address": "府君山社区3号楼"},
         "reporter": {"name": "张先生", "phone": "+86 138-1234-1234"}, "priority": "normal",
         "occurred_at": "2026-11-25T01:30:00+08:00"},
        {"source": "resident", "external_id": "r-2", "kind": "request",
         "description": "有点事情想反映一下", "reporter": {"phone": "13700001111"}},
        {"source": "hotline", "external_id": "12345-0003", "kind": "complaint",
         "category": "noise", "description": "楼下KTV半夜唱歌噪音很大",
         "location": {"grid_code": "12011900100101", "address": "府君山社区5号楼"},
         "reporter": {"phone": "13900002222"}, "priority": "normal"},
    ]
    events = []
    for n, body in enumerate(drafts, 1):
        row = handlers._prepare(IncidentCreate.model_validate(body), ref=ref, now=now,
                                request_hash="h")
        row["tracking_no"] = f"12345-20261125-{n:04d}"
        events.append(handlers._received_event(row, ref, now))
    assert [e.data["needs_triage"] for e in events] == [False, True, False]
    return events


async def _dispatch_events(received: list[Envelope]) -> list[tuple[str, Envelope]]:
    """What dispatch publishes for those incidents, driven through its real handlers: orders,
    a merge and its split, reports, an extension, a return, supervision, a rating, triage and
    a correction."""
    from whistle_catalogue import load_catalogue, load_territory
    from whistle_common.usecase import run_use_case
    from whistle_dispatch import handlers
    from whistle_dispatch.domain.deadlines import weekdays_only

    from tests.unit.dispatch.fakes import FakeDispatchUnitOfWork

    secrets = {"gongan": "s-gongan", "chengguan": "s-chengguan", "huanwei": "s-huanwei"}
    ctx = handlers.Context(load_catalogue(), load_territory(), weekdays_only, secrets)
    uow = FakeDispatchUnitOfWork()

    async def consume(handler, env: Envelope, topic: str, headers: dict | None = None,
                      value: bytes | None = None) -> None:
        value = value or env.to_bytes()
        msg = Incoming(topic, env.key, value, headers or {}, 0, 0, env)
        async with uow:
            await handler(ctx, uow, msg)
            await uow.commit()

    async def use(handler, command) -> Any:
        return await run_use_case(lambda: uow, partial(handler, ctx), command)

    async def report(case_id: str, dept: str, kind: str, **fields: Any) -> None:
        from whistle_clients.department import report_envelope
        from whistle_common.envelope import decode

        value = report_envelope(case_id, dept, kind, **fields)
        headers = {k: v.encode() for k, v in signed_headers(dept, secrets[dept], value).items()}
        await consume(handlers.on_report, decode(value), topics.DISPATCH_REPORTS, headers,
                      value)

    placed, triage, again = received
    await consume(handlers.on_incident, placed, topics.INCIDENTS_RECEIVED)
    await consume(handlers.on_incident, triage, topics.INCIDENTS_RECEIVED)
    await consume(handlers.on_incident, again, topics.INCIDENTS_RECEIVED)  # merged (并单)
    [(case_id, lead)] = [(e.subject, e.data["lead"]) for _, e, _ in uow.outbox.events
                         if e.type == "case.created.v1" and e.data["lead"]]
    [triage_id] = [e.subject for _, e, _ in uow.outbox.events
                   if e.type == "case.queued_for_triage.v1"]
    on_case = {e.data["dept"] for _, e, _ in uow.outbox.events
               if e.type == "case.dispatched.v1" and e.subject == case_id}
    helper = next(d for d in sorted(ctx.catalogue.departments) if d not in on_case)
    await use(handlers.whistle, handlers.Whistle(case_id, (helper,), "需要协同"))
    await use(handlers.split, handlers.Split(case_id, again.subject, by="street:120119001"))
    await report(case_id, lead, "acknowledged")
    await report(case_id, lead, "arrived")
    await report(case_id, lead, "extension_requested", extension_hours=24, reason="等配件")
    await use(handlers.decide_extension,
              handlers.DecideExtension(case_id, lead, True, by="street:120119001"))
    await report(case_id, lead, "resolved", result="已处理")
    await use(handlers.rate, handlers.Rate(case_id, "unsatisfied", "还是很吵"))
    await report(case_id, lead, "returned", reason="不属于本部门职责")
    later = datetime.now(UTC) + timedelta(days=60)
    await handlers.sweep(ctx, lambda: uow, later, limit=20)
    await use(handlers.assign, handlers.Assign(triage_id, "chengguan", None, by="street:1",
                                                     place="12011900100101"))
    await report(triage_id, "chengguan", "acknowledged")
    await report(triage_id, "chengguan", "resolved", result="已清理")
    await use(handlers.rate, handlers.Rate(triage_id, "satisfied"))
    return [(topic, env) for topic, env, _ in uow.outbox.events]


async def _hotspot_event() -> Envelope:
    """hotspot.detected.v1 as scoring's use case builds it."""
    from whistle_common.usecase import run_use_case
    from whistle_scoring import handlers
    from whistle_scoring.domain.hotspots import Baseline, Detection
    from whistle_scoring.main import load_context

    from tests.unit.scoring.fakes import FakeScoringUnitOfWork

    ctx, uow = load_context(), FakeScoringUnitOfWork()
    start = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    found = Detection("spike", 9, 0.6, 1.2e-7, Baseline(0.3, 0.3, 28, "days"))
    await run_use_case(lambda: uow, partial(handlers.raise_hotspot, ctx), handlers.RaiseHotspot(
        ("community", "120119001001", "water"), start, found, ("c-1", "c-2")))
    [(topic, event, _)] = uow.outbox.events
    assert topic == topics.INSIGHTS_HOTSPOTS
    return event


async def test_real_payloads_validate_against_the_documents_schemas(document, intake_events):
    seen = {_check(document, e.to_bytes()) for e in intake_events}
    published = await _dispatch_events(intake_events)
    for topic, env in published:
        assert env.type in topics.event_types_of(topic), (topic, env.type)
        seen.add(_check(document, env.to_bytes()))
    # what a department sends, as the reference client builds it
    from whistle_clients.department import report_envelope

    for kind, fields in [("acknowledged", {}), ("resolved", {"result": "已清理占道摊点"}),
                         ("returned", {"reason": "非本部门"}),
                         ("extension_requested", {"extension_hours": 48})]:
        seen.add(_check(document, report_envelope("c-1", "chengguan", kind, **fields)))
    # scoring's points events, shaped as whistle_scoring.handlers builds them
    seen.add(_check(document, new_event(
        "points.awarded.v1", source="/whistle/scoring", subject=str(uuid.uuid4()),
        data={"volunteer_id": "v-1", "points": 12, "hours": 1.5, "task_id": "t-1",
              "case_id": None, "community": "120119001001", "txn_id": "x-1"}).to_bytes()))
    seen.add(_check(document, new_event(
        "points.redeemed.v1", source="/whistle/scoring", subject="v-1",
        data={"volunteer_id": "v-1", "points": 5, "item": "洗衣液", "balance": 7,
              "txn_id": "x-2"}).to_bytes()))
    # a notification request, as tests/e2e/test_notify.py sends it
    seen.add(_check(document, new_event(
        "notification.requested.v1", source="/test", subject="street:120119001",
        data={"recipient": "street:120119001", "channel": "email",
              "text": "【督办】文昌街道：本周超期工单3件，请督促办理。",
              "urgent": True}).to_bytes()))
    seen.add(_check(document, (await _hotspot_event()).to_bytes()))
    never_published = {"case.unassigned.v1"}
    assert set(EVENT_DATA) - never_published <= seen, sorted(set(EVENT_DATA) - seen)


def test_the_schemas_refuse_what_whistle_would_refuse(document):
    good = json.loads(new_event("dispatch.reported.v1", source="/departments/gongan",
                                subject="c-1", data={"dept": "gongan", "kind": "arrived"}
                                ).to_bytes())
    _check(document, good)
    for broken in ({**good, "data": {"dept": "gongan", "kind": "finished"}},
                   {**good, "data": {"kind": "arrived"}},
                   {**good, "data": {**good["data"], "extension_hours": 0}},
                   {**good, "type": "case.created.v1"},
                   {k: v for k, v in good.items() if k != "correlationid"},
                   {**good, "Bad_Extension": "x"}):
        assert list(_validator(document, "dispatch.reported.v1").iter_errors(broken)), broken
    _check(document, {**good, "traceparent": "00-abc-def-01"})  # an extension attribute
