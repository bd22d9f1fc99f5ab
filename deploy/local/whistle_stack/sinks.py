"""Local delivery sinks for the demo, in the spirit of MailHog: an SMTP server and an HTTP SMS
gateway that accept what notify sends and keep it where a person can read it.

    python -m whistle_stack.sinks [--smtp-port 2525] [--http-port 8025]

Messages: `GET http://127.0.0.1:8025/messages` (JSON, newest first) and
`.local/logs/sink-messages.jsonl`. Refused when ENVIRONMENT=production: a production notify
must talk to a real gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import deque
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from aiohttp import web
from aiosmtpd.controller import Controller

SMS_KEY = os.environ.get("NOTIFY_SMS_KEY", "dev-sms-key")


class Inbox:
    """The last messages received, mirrored to a JSON-lines file."""

    def __init__(self, path: Path, keep: int = 1000) -> None:
        self.path, self.items = path, deque(maxlen=keep)
        path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, channel: str, to: str, text: str, **extra) -> None:
        item = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "channel": channel,
                "to": to, "text": text, **extra}
        self.items.appendleft(item)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


class MailSink:
    """aiosmtpd handler: every message is accepted and kept."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        mail = message_from_bytes(envelope.content, policy=policy.default)
        body = mail.get_body(preferencelist=("plain", "html"))
        self.inbox.add("email", ", ".join(envelope.rcpt_tos),
                       body.get_content() if body else "", subject=str(mail["subject"] or ""))
        return "250 Message accepted"


def http_app(inbox: Inbox) -> web.Application:
    async def sms(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {SMS_KEY}":
            return web.json_response({"error": "bad key"}, status=401)
        body = await request.json()
        if not body.get("to") or not body.get("text"):
            return web.json_response({"error": "to and text are required"}, status=400)
        inbox.add("sms", str(body["to"]), str(body["text"]))
        return web.json_response({"status": "accepted"}, status=202)

    async def messages(request: web.Request) -> web.Response:
        channel = request.query.get("channel")
        items = [m for m in inbox.items if channel in (None, m["channel"])]
        return web.json_response(items[:200], dumps=lambda o: json.dumps(o, ensure_ascii=False))

    app = web.Application()
    app.add_routes([web.post("/sms", sms), web.get("/messages", messages)])
    return app


async def serve(smtp_port: int, http_port: int, store: Path) -> None:
    inbox = Inbox(store)
    controller = Controller(MailSink(inbox), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    runner = web.AppRunner(http_app(inbox))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    print(f"sinks: SMTP 127.0.0.1:{smtp_port}, SMS http://127.0.0.1:{http_port}/sms, "
          f"messages http://127.0.0.1:{http_port}/messages", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        controller.stop()
        await runner.cleanup()


def main() -> None:
    if os.environ.get("ENVIRONMENT") == "production":
        sys.exit("the local delivery sinks are for development; ENVIRONMENT=production refuses"
                 " them")
    parser = argparse.ArgumentParser()
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--store", type=Path, default=Path(".local/logs/sink-messages.jsonl"))
    args = parser.parse_args()
    asyncio.run(serve(args.smtp_port, args.http_port, args.store))


if __name__ == "__main__":
    main()
