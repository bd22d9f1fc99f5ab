"""From events to notifications on the in-memory unit of work: once per (event, recipient,
channel), as the rule table says, filtered by preferences and channels, held by quiet hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from whistle_common.problems import ProblemError
from whistle_notify import handlers
from whistle_notify.domain.rules import targets

from .support import CASE, NOW, STREET_MAIL, consume, deliver, event, rows, set_prefs

RELEASE = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


def request(**data):
    return event("notification.requested.v1", data, topic="notifications.requests")


def pairs(uow) -> set[tuple[str, str]]:
    return {(r["recipient"], r["channel"]) for r in rows(uow)}


async def test_an_event_creates_the_targets_of_its_rules_once(ctx, uow):
    data = {**CASE, "dept": "gongan", "role": "lead"}
    msg = event("case.dispatched.v1", data)
    await consume(ctx, uow, msg)
    expected = {(t.recipient, t.channel, t.template) for t in targets(msg.envelope.type, data)}
    assert len(expected) == 3
    assert {(r["recipient"], r["channel"], r["template"]) for r in rows(uow)} == expected
    assert all(r["status"] == "pending" and r["next_attempt_at"] == NOW
               and r["event_id"] == msg.envelope.id and r["context"] == data for r in rows(uow))
    await consume(ctx, uow, msg)  # redelivered: nothing new
    assert len(rows(uow)) == 3
    await consume(ctx, uow, event("case.dispatched.v1", data))  # another event: its own
    assert len(rows(uow)) == 6


async def test_a_new_case_keeps_the_residents_phone_for_the_sms(ctx, uow, channels):
    await consume(ctx, uow, event("case.created.v1", {**CASE, "reporter": {"phone": "137001"}}))
    assert uow.contacts.rows == {"resident:i-1": {"phone": "137001", "email": None}}
    assert pairs(uow) == {("resident:i-1", "sms")}
    await deliver(ctx, uow)
    assert [m.address for m in channels["sms"].sent] == ["137001"]


async def test_every_caller_of_a_merged_case_is_told_once_of_its_resolution(ctx, uow, channels):
    await consume(ctx, uow, event("case.created.v1", {**CASE, "reporter": {"phone": "137001"}}))
    for n, caller in enumerate(("i-2", "i-3"), 2):
        await consume(ctx, uow, event("case.merged.v1", {
            **CASE, "merged_incident_id": caller, "callers": n, "score": 0.9,
            "reasons": ["same category"], "linked_incidents": ["i-2", "i-3"][:n - 1],
            "reporter": {"phone": f"13700{n}"}}))
    assert uow.contacts.rows["resident:i-3"] == {"phone": "137003", "email": None}
    assert sorted(r["recipient"] for r in rows(uow, template="resident_merged")) == [
        "resident:i-2", "resident:i-3"]  # each told once that the call joined a case
    resolved = event("case.resolved.v1", {**CASE, "lead": "shuiwu", "result": "已抢修",
                                          "resolved_by": ["shuiwu"], "on_time": True,
                                          "callers": 3, "linked_incidents": ["i-2", "i-3"]})
    await consume(ctx, uow, resolved)
    await consume(ctx, uow, resolved)  # redelivered: still once each
    assert sorted(r["recipient"] for r in rows(uow, template="resident_resolved")) == [
        "resident:i-1", "resident:i-2", "resident:i-3"]
    await deliver(ctx, uow)
    told = [m.address for m in channels["sms"].sent if "已办结" in m.body]
    assert sorted(told) == ["137001", "137002", "137003"]
    merged_text = next(m.body for m in channels["sms"].sent if m.address == "137003")
    assert "已有3位市民反映" in merged_text


async def test_a_case_without_a_phone_stores_no_contact_and_its_sms_has_no_address(ctx, uow,
                                                                                     channels):
    await consume(ctx, uow, event("case.created.v1", {**CASE, "reporter": {"name": "张"}}))
    assert uow.contacts.rows == {}
    await deliver(ctx, uow)
    assert [m.address for m in channels["sms"].sent] == [None]  # the gateway refuses it


async def test_webhooks_only_for_departments_with_an_endpoint(ctx, uow):
    await consume(ctx, uow, event("case.reopened.v1", {**CASE, "dept": "gongan"}))
    await consume(ctx, uow, event("case.reopened.v1", {**CASE, "dept": "chengguan"}))
    assert pairs(uow) == {("dept:gongan", "webhook"), ("dept:gongan", "inbox"),
                          ("dept:chengguan", "inbox")}


async def test_preferences_choose_the_channels(ctx, uow):
    await set_prefs(uow, "volunteer:v9", channels=["inbox"])
    for volunteer in ("v9", "v8"):
        await consume(ctx, uow, event("points.awarded.v1", {"volunteer_id": volunteer,
                                                            "points": 3, "hours": 1},
                                      topic="points.events"))
    assert pairs(uow) == {("volunteer:v9", "inbox"), ("volunteer:v8", "inbox"),
                          ("volunteer:v8", "sms")}


async def test_a_channel_the_service_does_not_run_is_skipped(ctx, uow):
    no_mail = replace(ctx, channels={k: v for k, v in ctx.channels.items() if k != "email"})
    await consume(no_mail, uow, event("case.escalated.v1",
                                      {**CASE, "dept": "gongan", "level": "street"}))
    assert pairs(uow) == {("street:120119001", "inbox")}


async def test_quiet_hours_hold_non_urgent_resident_messages_only(ctx, uow, channels, clock):
    for recipient in ("resident:i-1", "dept:gongan"):  # 10:00 in Shanghai is inside
        await set_prefs(uow, recipient, quiet_hours={"start": "09:00", "end": "11:00"},
                        phone="137005")
    await consume(ctx, uow, event("case.resolved.v1", {**CASE, "dept": "gongan",
                                                       "result": "已处理完毕"}))
    await consume(ctx, uow, event("case.reopened.v1", {**CASE, "dept": "gongan"}))
    await consume(ctx, uow, request(recipient="resident:i-1", channel="sms", text="紧急停水通知",
                                    urgent=True), handlers.on_request)
    [resolved] = rows(uow, event_type="case.resolved.v1")
    assert resolved["status"] == "deferred" and resolved["next_attempt_at"] == RELEASE
    others = [r for r in rows(uow) if r["id"] != resolved["id"]]
    assert len(others) == 3 and all(r["status"] == "pending" and r["next_attempt_at"] == NOW
                                    for r in others)

    assert await deliver(ctx, uow) == 3
    assert [m.body for m in channels["sms"].sent] == ["紧急停水通知"]
    clock.now = RELEASE
    assert await deliver(ctx, uow) == 1
    assert "已办结" in channels["sms"].sent[-1].body


async def test_a_requested_message_is_stored_once_and_sent_as_written(ctx, uow, channels):
    text = "【督办】文昌街道：本周超期工单3件，请督促办理。"
    msg = request(recipient="street:120119001", channel="email", text=text, urgent=True)
    await consume(ctx, uow, msg, handlers.on_request)
    await consume(ctx, uow, msg, handlers.on_request)
    [row] = rows(uow)
    assert (row["recipient"], row["channel"], row["body"], row["urgent"], row["template"],
            row["context"]) == ("street:120119001", "email", text, True, "", {})
    await deliver(ctx, uow)
    [mail] = channels["email"].sent
    assert (mail.address, mail.subject, mail.body) == (STREET_MAIL, text[:30], text)


async def test_a_request_without_a_channel_goes_to_the_inbox(ctx, uow):
    await consume(ctx, uow, request(recipient="dept:gongan", text="请于周五前报送材料"),
                  handlers.on_request)
    assert pairs(uow) == {("dept:gongan", "inbox")}


async def test_a_failure_midway_leaves_nothing_of_the_event(ctx, uow, monkeypatch):
    add, calls = uow.notifications.add, []

    async def add_then_lose_the_database(row):
        calls.append(row)
        if len(calls) == 2:
            raise ConnectionResetError("server closed the connection")
        return await add(row)

    monkeypatch.setattr(uow.notifications, "add", add_then_lose_the_database)
    with pytest.raises(ProblemError) as raised:
        await consume(ctx, uow, event("case.dispatched.v1", {**CASE, "dept": "gongan",
                                                             "role": "lead"}))
    assert raised.value.status == 503  # unavailable: a consumer retries the event
    assert len(calls) == 2 and uow.rollbacks == 1 and rows(uow) == []


async def test_a_hotspot_tells_its_street_office_at_once(ctx, uow, channels):
    data = {"hotspot_id": "h-1", "kind": "spike", "scope": "community",
            "place": "120119001001", "place_name": "府君山社区", "street": "120119001",
            "district": "120119", "category": "water", "category_name": "供水",
            "window_start": "2026-11-25T02:00:00+00:00",
            "window_end": "2026-11-25T03:00:00+00:00", "count": 9, "expected": 0.6,
            "p_value": 1e-7, "baseline": {"mean": 0.3, "std": 0.3, "samples": 28,
                                          "method": "days"}, "sample_cases": ["c-1", "c-2"]}
    msg = event("hotspot.detected.v1", data, topic="insights.hotspots")
    await consume(ctx, uow, msg)
    assert pairs(uow) == {("street:120119001", "inbox"), ("street:120119001", "email")}
    assert all(r["urgent"] for r in rows(uow))  # quiet hours do not hold it
    await deliver(ctx, uow)
    [mail] = channels["email"].sent
    assert "府君山社区供水类诉求突增：本时段已9件（往常约0.3件）" in mail.body
