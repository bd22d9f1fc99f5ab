"""Request bodies of the scoring API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VolunteerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    community: str = Field(min_length=1, max_length=32)
    team_colour: Literal["red", "green", "yellow", "blue", "purple"]
    party_member: bool = False
    phone: str | None = Field(None, max_length=32)


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community: str = Field(min_length=1, max_length=32)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    category: str = Field("service_order", max_length=64)
    difficulty: Literal["easy", "normal", "hard"] = "normal"
    max_volunteers: int = Field(1, ge=1, le=50)


class ClaimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    volunteer_id: str


class CompletionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    volunteer_id: str
    hours: float = Field(gt=0, le=12)


class RedemptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    volunteer_id: str
    points: int = Field(gt=0, le=1_000_000)
    item: str = Field(min_length=1, max_length=200)
    request_id: str | None = Field(None, max_length=100, description="idempotency key")
