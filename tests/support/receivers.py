"""Local peers for notify's channels: a webhook receiver, an SMS gateway, an SMTP server."""

from __future__ import annotations

import json
import socket
from collections import defaultdict

from aiohttp import web
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpPeers:
    """POST /hook (webhook) and POST /sms (gateway) in one aiohttp app."""

    def __init__(self) -> None:
        self.port = free_port()
        self.webhooks: list[dict] = []
        self.sms_ok: list[dict] = []
        self.sms_refused: list[dict] = []
        self.fail_times: dict[str, int] = {}   # phone → failures each message gets first
        self._failed: dict[str, int] = defaultdict(int)  # client_ref → failures returned
        self.always_fail: set[str] = set()
        self.calls: dict[str, int] = defaultdict(int)
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        self.webhooks.append({"headers": dict(request.headers), "body": await request.read()})
        return web.json_response({"ok": True})

    async def _sms(self, request: web.Request) -> web.Response:
        payload = await request.json()
        phone = payload["to"]
        self.calls[phone] += 1
        ref = payload.get("client_ref", "")
        if phone in self.always_fail or self._failed[ref] < self.fail_times.get(phone, 0):
            self._failed[ref] += 1
            self.sms_refused.append(payload)
            return web.json_response({"error": "gateway busy"}, status=503)
        self.sms_ok.append({**payload, "auth": request.headers.get("authorization")})
        return web.json_response({"accepted": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_post("/sms", self._sms)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def delivered_to(self, phone: str) -> list[dict]:
        return [m for m in self.sms_ok if m["to"] == phone]


class MailBox:
    """An aiosmtpd SMTP server keeping what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[dict] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        self.messages.append({"to": envelope.rcpt_tos, "data": envelope.content.decode()})
        return "250 OK"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def webhook_json(entry: dict) -> dict:
    return json.loads(entry["body"])
