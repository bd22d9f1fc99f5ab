"""The local delivery sinks keep what notify sends, check the gateway key, and refuse to run
in production."""

import json
import os
import subprocess
import sys

from aiohttp.test_utils import TestClient, TestServer
from whistle_stack.sinks import SMS_KEY, Inbox, http_app


async def test_an_sms_is_kept_and_listed(tmp_path):
    inbox = Inbox(tmp_path / "m.jsonl")
    async with TestClient(TestServer(http_app(inbox))) as client:
        refused = await client.post("/sms", json={"to": "13800000000", "text": "x"})
        sent = await client.post("/sms", json={"to": "13800000000", "text": "您的诉求已受理"},
                                 headers={"authorization": f"Bearer {SMS_KEY}"})
        listed = await (await client.get("/messages", params={"channel": "sms"})).json()
    assert refused.status == 401 and sent.status == 202
    assert listed[0]["text"] == "您的诉求已受理" and listed[0]["to"] == "13800000000"
    stored = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert len(stored) == 1


def test_production_refuses_the_sinks():
    done = subprocess.run([sys.executable, "-m", "whistle_stack.sinks"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "ENVIRONMENT": "production"})
    assert done.returncode != 0 and "production" in done.stderr


def test_an_email_is_kept(tmp_path):
    import smtplib
    import socket
    from email.message import EmailMessage

    from aiosmtpd.controller import Controller
    from whistle_stack.sinks import MailSink

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox(tmp_path / "m.jsonl")
    controller = Controller(MailSink(inbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "w@localhost", "s@localhost", "超期提醒"
        mail.set_content("3 件工单超期")
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.send_message(mail)
    finally:
        controller.stop()
    assert inbox.items[0]["channel"] == "email" and inbox.items[0]["subject"] == "超期提醒"
    assert "3 件工单超期" in inbox.items[0]["text"]
