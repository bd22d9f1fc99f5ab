"""Request bodies of the notify API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QuietHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str = Field(pattern=r"^\d{2}:\d{2}(:\d{2})?$", description="local HH:MM[:SS]")
    end: str = Field(pattern=r"^\d{2}:\d{2}(:\d{2})?$")


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[Literal["sms", "email", "webhook", "inbox"]] | None = None
    quiet_hours: QuietHoursIn | None = None
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=200)
