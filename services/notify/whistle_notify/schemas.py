"""Request bodies of the notify API."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class QuietHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str = Field(pattern=r"^\d{2}:\d{2}(:\d{2})?$", description="local HH:MM[:SS]")
    end: str = Field(pattern=r"^\d{2}:\d{2}(:\d{2})?$")

    @field_validator("start", "end")
    @classmethod
    def _a_time_of_day(cls, value: str) -> str:
        time.fromisoformat(value)  # 24:00 or 47:40 is not a time of day
        return value


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[Literal["sms", "email", "webhook", "inbox"]] | None = None
    quiet_hours: QuietHoursIn | None = None
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=200)
