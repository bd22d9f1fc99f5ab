"""Channels behind one interface; each speaks a real protocol."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import httpx
from whistle_common.signing import sign


class DeliveryError(Exception):
    """A failed attempt; `permanent` means retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


@dataclass(frozen=True)
class Message:
    notification_id: str
    recipient: str
    subject: str
    body: str
    address: str | None  # phone, e-mail or URL, resolved by the sender


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> None:
        """Deliver or raise DeliveryError."""


async def _post(client: httpx.AsyncClient, what: str, url: str, **request) -> None:
    """POST; unreachable or 5xx/408/429 is worth a retry, any other 4xx is permanent."""
    try:
        resp = await client.post(url, **request)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{what} unreachable: {type(exc).__name__}") from exc
    if resp.status_code >= 300:
        permanent = 400 <= resp.status_code < 500 and resp.status_code not in (408, 429)
        raise DeliveryError(f"HTTP {resp.status_code}", permanent=permanent)


class WebhookChannel:
    """POST JSON to the department's endpoint, signed: timestamp + HMAC-SHA256 of the body."""

    name = "webhook"

    def __init__(self, client: httpx.AsyncClient, secrets: dict[str, str]) -> None:
        self.client, self.secrets = client, secrets

    async def send(self, message: Message) -> None:
        if not message.address:
            raise DeliveryError("no webhook endpoint configured", permanent=True)
        dept = message.recipient.split(":", 1)[1]
        secret = self.secrets.get(dept)
        if secret is None:
            raise DeliveryError(f"no signing secret for {dept}", permanent=True)
        body = json.dumps({"id": message.notification_id, "recipient": message.recipient,
                           "subject": message.subject, "text": message.body},
                          ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {"content-type": "application/json", "x-whistle-timestamp": timestamp,
                   "x-whistle-signature": sign(secret, timestamp, body),
                   "idempotency-key": message.notification_id}
        await _post(self.client, "webhook", message.address, content=body, headers=headers)


class SmsGatewayChannel:
    """An HTTP SMS gateway: POST {to, text} with the provider key."""

    name = "sms"

    def __init__(self, client: httpx.AsyncClient, url: str | None, key: str) -> None:
        self.client, self.url, self.key = client, url, key

    async def send(self, message: Message) -> None:
        if not self.url:
            raise DeliveryError("no SMS gateway configured", permanent=True)
        if not message.address:
            raise DeliveryError("no phone number for the recipient", permanent=True)
        await _post(self.client, "SMS gateway", self.url,
                    json={"to": message.address, "text": message.body,
                          "client_ref": message.notification_id},
                    headers={"authorization": f"Bearer {self.key}",
                             "idempotency-key": message.notification_id})


class EmailChannel:
    """SMTP."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    async def send(self, message: Message) -> None:
        if not message.address:
            raise DeliveryError("no e-mail address for the recipient", permanent=True)
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, message.address, message.subject
        mail["Message-ID"] = f"<{message.notification_id}@whistle>"
        mail.set_content(message.body)
        try:
            await aiosmtplib.send(mail, hostname=self.host, port=self.port,
                                  timeout=self.timeout, start_tls=False)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}") from exc


class InboxChannel:
    """Stored in Postgres and read with GET /v1/notifications: delivery is the row itself."""

    name = "inbox"

    async def send(self, message: Message) -> None:
        return None
