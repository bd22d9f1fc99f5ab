"""Request bodies of the dispatch API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ReportCreate(BaseModel):
    """A department's report over HTTP (the same fields as dispatch.reported.v1)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["acknowledged", "arrived", "resolved", "returned", "extension_requested"]
    dept: str | None = Field(None, description="needed only when the token has several depts")
    result: str | None = Field(None, max_length=2000)
    reason: str | None = Field(None, max_length=2000)
    extension_hours: int | None = Field(None, ge=1, le=24 * 30)


class WhistleCreate(BaseModel):
    """Summon departments (吹哨)."""

    model_config = ConfigDict(extra="forbid")
    departments: list[str] = Field(min_length=1, max_length=15)
    reason: str = Field(min_length=1, max_length=1000)


class AssignCreate(BaseModel):
    """A person routes a case: by category (its lead and co-departments), by lead department,
    or both (the category for the record, the department to lead)."""

    model_config = ConfigDict(extra="forbid")
    dept: str | None = Field(None, min_length=1, max_length=64)
    category: str | None = Field(None, min_length=1, max_length=64)
    learn: bool = Field(True, description="false when the choice is not a person's judgement "
                                          "(a simulator, a bulk reroute): no training example")
    place: str | None = Field(None, min_length=1, max_length=32,
                              description="a grid, community or street code: where a triage "
                                          "case is when the caller's words placed nothing")

    @model_validator(mode="after")
    def _one_needed(self):
        if self.dept is None and self.category is None:
            raise ValueError("give a category, a dept, or both")
        return self


class RatingCreate(BaseModel):
    """The hotline's call-back (回访)."""

    model_config = ConfigDict(extra="forbid")
    rating: Literal["satisfied", "basically_satisfied", "unsatisfied"]
    comment: str | None = Field(None, max_length=2000)


class ExtensionDecision(BaseModel):
    """The street office's decision on a department's extension request (延期)."""

    model_config = ConfigDict(extra="forbid")
    dept: str = Field(min_length=1, max_length=64)
    approve: bool
    hours: int | None = Field(None, ge=1, le=24 * 30, description="default: what was asked")
    note: str | None = Field(None, max_length=1000)


class SplitCreate(BaseModel):
    """Take a wrongly merged incident out of a case (拆单)."""

    model_config = ConfigDict(extra="forbid")
    incident_id: str = Field(min_length=1, max_length=64)
