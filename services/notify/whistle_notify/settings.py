"""Settings of the notify service, from environment variables (`NOTIFY_*` for its own)."""

import json
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from whistle_common.settings import DEV_MARK, service_settings


def _env(name: str, default: Any, description: str, **limits: Any) -> Any:
    return Field(default, validation_alias=AliasChoices(f"NOTIFY_{name.upper()}", name),
                 description=description, **limits)


class Settings(service_settings("notify", 8004, fetch_gather_ms=250)):
    """notify settings: channels, retry policy, rate limits."""

    sms_url: str | None = _env("sms_url", None, "HTTP SMS gateway endpoint (POST {to, text})")
    sms_key: str = _env("sms_key", "dev-sms-key", "bearer key of the SMS gateway")
    smtp_host: str = _env("smtp_host", "127.0.0.1", "SMTP server")
    smtp_port: int = _env("smtp_port", 2525, "SMTP port", ge=1, le=65535)
    smtp_from: str = _env("smtp_from", "whistle@localhost", "sender address")
    webhooks: dict[str, str] = _env("webhooks", {}, "JSON: department code → webhook URL")
    emails: dict[str, str] = _env("emails", {}, "JSON: recipient (street:<code>…) → e-mail")
    max_attempts: int = _env("max_attempts", 5, "attempts before the DLQ", ge=1, le=20)
    retry_base_seconds: float = _env("retry_base_seconds", 2.0, "first backoff", gt=0)
    rate_limit: int = _env("rate_limit", 5, "messages per recipient and channel per window",
                           ge=1)
    rate_window_seconds: float = _env("rate_window_seconds", 600, "rate-limit window", gt=0)
    poll_seconds: float = _env("poll_seconds", 0.5, "how often the sender looks for work", gt=0)

    @field_validator("webhooks", "emails", mode="before")
    @classmethod
    def _json(cls, value):
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _no_dev_key_in_production(self):
        if self.environment == "production" and self.sms_key.startswith(DEV_MARK):
            raise ValueError("ENVIRONMENT=production refuses the development NOTIFY_SMS_KEY")
        return self
