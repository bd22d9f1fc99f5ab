"""Issue 8: notifications over real protocols, once, with retries that survive restarts."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest
from whistle_common.envelope import new_event
from whistle_common.signing import verify
from whistle_common.topics import CASES_EVENTS, POINTS_EVENTS

from tests.support import depts
from tests.support.incidents import incident, post
from tests.support.receivers import HttpPeers, MailBox, webhook_json
from tests.support.stack import OPERATOR, ExtraWorkers, case_of, dept_headers, eventually

pytestmark = pytest.mark.e2e
STREET_MAIL = "jiedao@wenchang.example.cn"


@pytest.fixture(scope="module")
async def peers(live):
    http, mail = HttpPeers(), MailBox()
    await http.start()
    mail.start()
    workers = ExtraWorkers(live, "notify")
    env = {"NOTIFY_SMS_URL": f"http://127.0.0.1:{http.port}/sms",
           "NOTIFY_SMTP_PORT": str(mail.port),
           "NOTIFY_WEBHOOKS": json.dumps({"gongan": f"http://127.0.0.1:{http.port}/hook"}),
           "NOTIFY_EMAILS": json.dumps({"street:120119001": STREET_MAIL}),
           "NOTIFY_RETRY_BASE_SECONDS": "1", "NOTIFY_MAX_ATTEMPTS": "3",
           "NOTIFY_POLL_SECONDS": "0.2"}
    try:
        live.stack.services.stop(["notify"])
        await asyncio.to_thread(workers.start, 1, 8014, env)
        yield {"http": http, "mail": mail, "workers": workers, "env": env, "url":
               "http://127.0.0.1:8014"}
    finally:
        await asyncio.to_thread(workers.stop)
        mail.stop()
        await http.stop()
        live.stack.services.start(["notify"])
        await asyncio.to_thread(live.stack.services.wait_ready, ["notify"])


async def _incident(live, phone: str) -> dict:
    async with live.http("intake") as client:
        resp = await post(client, incident(category="noise", reporter={"phone": phone}))
    assert resp.status_code == 201, resp.text
    return resp.json()


async def _notifications(peers, recipient: str) -> list[dict]:
    import httpx

    async with httpx.AsyncClient(base_url=peers["url"]) as client:
        return (await client.get("/v1/notifications", params={"recipient": recipient},
                                 headers=OPERATOR)).json()


async def _one(peers, notification_id: str) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=peers["url"]) as client:
        return (await client.get(f"/v1/notifications/{notification_id}",
                                 headers=OPERATOR)).json()


async def _nothing_left_to_send(live, recipient: str) -> None:
    """Wait until no notification of the recipient can go out soon: each is sent, dead, or
    pending with its next attempt more than a minute away (a rate-limited one waits a
    quarter of the window), none is being sent. Asserting what was delivered is exact then."""
    async def settled():
        rows = await live.fetch(
            "notify", "SELECT status, next_attempt_at > now() + interval '60 s' AS later "
            "FROM notifications WHERE recipient=$1", recipient)
        return all(r["status"] in ("sent", "dead", "digested")
                   or (r["status"] == "pending" and r["later"]) for r in rows)

    await live.outbox_drained("dispatch")  # every case event is on cases.events …
    await live.consumed("notify", [CASES_EVENTS])  # … and notify has applied it
    await eventually(settled, timeout=60, what=f"nothing left to send to {recipient}")


async def test_sms_webhook_and_inbox_deliver_real_messages(live, peers):
    http = peers["http"]
    created = await _incident(live, "13700001111")
    await eventually(lambda: asyncio.sleep(0, len(http.delivered_to("13700001111")) >= 2),
                     timeout=30, what="received + dispatched SMS")
    texts = [m["text"] for m in http.delivered_to("13700001111")]
    assert any("已受理" in t and created["tracking_no"] in t for t in texts)
    assert any("派至公安派出所" in t for t in texts)
    assert all(m["auth"] == "Bearer dev-sms-key" for m in http.delivered_to("13700001111"))

    def hook_for_case():
        return [w for w in http.webhooks if created["tracking_no"] in webhook_json(w)["text"]]

    await eventually(lambda: asyncio.sleep(0, hook_for_case()), timeout=30, what="webhook")
    hook = hook_for_case()[0]
    headers = {k.lower(): v for k, v in hook["headers"].items()}
    assert verify("dev-secret-gongan", headers["x-whistle-timestamp"], hook["body"],
                  headers["x-whistle-signature"], max_age=300) is None
    assert verify("wrong", headers["x-whistle-timestamp"], hook["body"],
                  headers["x-whistle-signature"]) == "signature mismatch"
    assert "13700001111" not in hook["body"].decode()
    inbox = await _notifications(peers, "dept:gongan")
    assert any(n["channel"] == "inbox" and created["tracking_no"] in (n["body"] or "")
               for n in inbox)


async def test_email_over_smtp(live, peers):
    from kafka import KafkaProducer

    event = new_event("notification.requested.v1", source="/test", subject="street:120119001",
                      data={"recipient": "street:120119001", "channel": "email",
                            "text": "【督办】文昌街道：本周超期工单3件，请督促办理。",
                            "urgent": True})
    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks="all")
    producer.send("notifications.requests", key=event.key, value=event.to_bytes()).get(30)
    producer.close()
    mail = peers["mail"]
    await eventually(lambda: asyncio.sleep(0, mail.messages), timeout=30, what="e-mail")
    message = mail.messages[-1]
    assert message["to"] == [STREET_MAIL]
    assert "Subject:" in message["data"]


async def test_gateway_failing_twice_then_succeeding_sends_exactly_once(live, peers):
    http, phone = peers["http"], "13700002222"
    http.fail_times[phone] = 2
    created = await _incident(live, phone)
    recipient = f"resident:{created['incident_id']}"

    async def received_sent():
        rows = [n for n in await _notifications(peers, recipient)
                if n["event_type"] == "case.created.v1"]
        return rows[0] if rows and rows[0]["status"] == "sent" else None

    row = await eventually(received_sent, timeout=40, what="delivered after two failures")
    detail = await _one(peers, row["id"])
    assert [a["outcome"] for a in detail["delivery_attempts"]] == ["failed", "failed", "sent"]
    assert len([m for m in http.delivered_to(phone) if "已受理" in m["text"]]) == 1


async def test_gateway_that_always_fails_ends_in_the_dlq(live, peers):
    http, phone = peers["http"], "13700003333"
    http.always_fail.add(phone)
    dlq = live.tail("notifications.dlq")
    created = await _incident(live, phone)
    recipient = f"resident:{created['incident_id']}"

    def dead_letters():
        dlq.poll(0.5)
        return [(json.loads(raw), h) for _, h, raw in dlq.seen
                if raw and json.loads(raw).get("recipient") == recipient]

    found = await eventually(lambda: asyncio.sleep(0, dead_letters()), timeout=60,
                             what="dead letter")
    dlq.close()
    payload, headers = found[0]
    assert headers["x-dlq-reason"].decode() == "HTTP 503"
    detail = await _one(peers, payload["id"])
    assert detail["status"] == "dead" and detail["attempts"] == 3
    assert http.delivered_to(phone) == []


async def test_restart_in_the_middle_of_retries_neither_loses_nor_duplicates(live, peers):
    http, phone = peers["http"], "13700004444"
    http.fail_times[phone] = 1
    workers = peers["workers"]
    created = await _incident(live, phone)
    recipient = f"resident:{created['incident_id']}"

    async def failed_once():  # the failure is recorded and the retry not yet taken
        rows = await live.fetch("notify", "SELECT status, attempts FROM notifications "
                                "WHERE recipient=$1 AND event_type='case.created.v1'",
                                recipient)
        return rows and rows[0]["attempts"] == 1 and rows[0]["status"] == "pending"

    await eventually(failed_once, timeout=30, interval=0.05, what="first failed attempt")
    from whistle_stack.procs import read_pid, stop_pid

    pid = read_pid(live.stack.layout.pidfile(workers.names[0]), "whistle_notify")
    stop_pid(pid, sig=9)  # kill -9 between the failure and the retry
    workers.names.clear()
    workers.ports.clear()
    await asyncio.to_thread(workers.start, 1, 8014, peers["env"])

    async def sent():
        rows = [n for n in await _notifications(peers, recipient)
                if n["event_type"] == "case.created.v1"]
        return rows[0] if rows and rows[0]["status"] == "sent" else None

    await eventually(sent, timeout=40, what="delivered after the restart")
    await _nothing_left_to_send(live, recipient)
    assert len([m for m in http.delivered_to(phone) if "已受理" in m["text"]]) == 1
    assert len([n for n in await _notifications(peers, recipient)
                if n["event_type"] == "case.created.v1" and n["channel"] == "sms"]) == 1


async def test_quiet_hours_defer_a_non_urgent_resident_sms(live, peers):
    import httpx

    http, phone = peers["http"], "13700005555"
    created = await _incident(live, phone)
    recipient = f"resident:{created['incident_id']}"
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = now - timedelta(minutes=1), now + timedelta(seconds=8)
    async with httpx.AsyncClient(base_url=peers["url"]) as client:
        resp = await client.put(f"/v1/recipients/{recipient}/preferences", headers=OPERATOR,
                                json={"quiet_hours": {"start": start.strftime("%H:%M:%S"),
                                                      "end": end.strftime("%H:%M:%S")}})
        assert resp.status_code == 200, resp.text
    case_id = await case_of(live, created["incident_id"])
    await depts.report(live, "gongan", case_id, "acknowledged")
    await depts.report(live, "gongan", case_id, "resolved", result="已处理完毕")

    async def resolved_note():
        rows = [n for n in await _notifications(peers, recipient)
                if n["event_type"] == "case.resolved.v1"]
        return rows[0] if rows else None

    note = await eventually(resolved_note, timeout=30, what="resolved notification")
    assert note["status"] == "deferred"
    assert not any("已办结" in m["text"] for m in http.delivered_to(phone))

    async def delivered():
        row = await _one(peers, note["id"])
        return row if row["status"] == "sent" else None

    row = await eventually(delivered, timeout=40, what="delivered after the quiet hours")
    assert datetime.fromisoformat(row["sent_at"]) >= end - timedelta(seconds=1)
    assert any("已办结" in m["text"] for m in http.delivered_to(phone))
    async with httpx.AsyncClient(base_url=peers["url"]) as client:
        denied = await client.get("/v1/notifications", params={"recipient": "dept:gongan"},
                                  headers=dept_headers("huanwei"))
    assert denied.status_code == 403


async def test_a_storm_of_messages_does_not_flood_one_phone(live, peers):
    import random
    import uuid

    from kafka import KafkaProducer

    volunteer = f"storm-{uuid.uuid4().hex[:8]}"
    http, phone = peers["http"], f"1370000{random.randint(0, 9999):04d}"
    recipient = f"volunteer:{volunteer}"
    import httpx

    async with httpx.AsyncClient(base_url=peers["url"]) as client:
        await client.put(f"/v1/recipients/{recipient}/preferences", headers=OPERATOR,
                         json={"channels": ["sms"], "phone": phone})
    producer = KafkaProducer(bootstrap_servers=live.bootstrap, acks="all")
    for i in range(12):
        event = new_event("points.awarded.v1", source="/test", subject=volunteer,
                          data={"volunteer_id": volunteer, "points": i + 1, "hours": 1})
        producer.send("points.events", key=event.key, value=event.to_bytes())
    producer.flush()
    producer.close()
    await eventually(lambda: asyncio.sleep(0, len(http.delivered_to(phone)) >= 5), timeout=30,
                     what="first messages")
    await live.consumed("notify", [POINTS_EVENTS])  # all twelve are notifications now …
    await _nothing_left_to_send(live, recipient)    # … and each was sent or held back
    assert len(http.delivered_to(phone)) == 5  # NOTIFY_RATE_LIMIT per window; the rest wait
    waiting = [n for n in await _notifications(peers, recipient) if n["status"] == "pending"]
    assert len(waiting) == 7
