"""The `data` of every event type Whistle publishes or accepts, and the CloudEvents envelope.

These models document the contract (docs/asyncapi.yaml is generated from them by
`whistle_common.asyncapi`); they mirror what the services build — intake's `_received_event`,
dispatch's `_case_view`/`_order_view` merged with the case's recorded events, scoring's points
events, the department client's reports — and tests/unit/common/test_asyncapi.py checks real
payloads from those code paths against them. The services do not validate with them.

A field typed `X | None` without a default is always present and may be null; a field with a
default may be absent. Objects are closed (no other fields) so that the document is exact: a
field added in code fails the test until it is added here. Consumers should still ignore fields
they do not know; a new optional field does not change an event's version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

Role = Literal["lead", "co", "triage"]
Kind = Literal["complaint", "request", "report", "service_order"]
Priority = Literal["urgent", "normal"]
ReportKind = Literal["acknowledged", "arrived", "resolved", "returned", "extension_requested"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- shared parts ---------------------------------------------------------------------------------

class PathNode(_Closed):
    """One level of where a case is, from the city down."""

    level: Literal["city", "district", "street", "community", "grid"]
    code: str
    name: str


class Deadlines(_Closed):
    """An assignment's deadlines (限时): acknowledge (报到) by, resolve (办结) by."""

    ack_by: datetime
    resolve_by: datetime


class Suggestion(_Closed):
    """A category the classifier proposes, with its probability and the words that led to it."""

    category: str
    probability: float
    evidence: list[str]


# -- incident.received.v1 (intake → incidents.received) -------------------------------------------

class Classification(_Closed):
    """How the category was decided: given by the caller, or the classifier's guess."""

    outcome: Literal["given", "classified", "triage"]
    confidence: float
    needs_triage: bool
    method: str = Field(description="given | model | rule | rules_only")
    rule: str | None
    suggestions: list[Suggestion]
    model_version: str | None
    department_confidence: float | None = None
    matched: list[str] | None = None


class IncidentLocation(_Closed):
    """Where intake placed the incident and how; level `unresolved` means triage places it."""

    grid_code: str | None
    place_code: str | None
    level: Literal["grid", "community", "street", "unresolved"]
    lat: float | None
    lon: float | None
    address: str | None
    resolved_by: str = Field(description="grid_code | address_id | coordinates | "
                                         "address:<method> | unresolved")
    confidence: float | None
    note: str | None
    path: list[PathNode]
    territory_version: str | None


class Reporter(_Closed):
    name: str | None
    phone: str | None = Field(description="normalised mainland number (personal data)")


class IncidentReceived(_Closed):
    """An incident intake accepted (from the hotline, a grid worker or a resident)."""

    incident_id: str
    tracking_no: str
    source: Literal["hotline", "grid", "resident"]
    external_id: str
    kind: Kind
    category: str
    classification: Classification
    priority: Priority
    description: str
    location: IncidentLocation
    reporter: Reporter
    media_urls: list[str]
    occurred_at: datetime | None
    received_at: datetime
    catalogue_version: str | None
    needs_triage: bool
    triage_reasons: list[Literal["category", "location"]]
    suggestions: list[Suggestion]
    model_version: str | None


# -- cases.events (dispatch) ----------------------------------------------------------------------

class CaseView(_Closed):
    """What every case event carries: the case as it is after the event."""

    case_id: str
    incident_id: str
    category: str
    kind: str
    priority: str
    status: Literal["triage", "dispatched", "acknowledged", "in_progress", "pending_assignment",
                    "resolved", "reopened", "closed"]
    lead: str | None = Field(description="the lead department, once there is one")
    street: str | None
    district: str | None
    community: str | None
    grid_code: str | None
    tracking_no: str | None
    callers: int = Field(1, ge=1, description="incidents the case stands for: its own and "
                                              "those merged into it (并单)")
    linked_incidents: list[str] = Field(
        default_factory=list, description="the incidents merged into the case; every one of "
                                          "their callers is told of the case's progress")


class CaseReporter(_Closed):
    phone: str | None = Field(description="the resident's phone (personal data; notify sends "
                                          "the SMS to it)")


class CaseMerged(CaseView):
    """Another caller's incident joined this open case instead of opening one (并单)."""

    merged_incident_id: str
    score: float = Field(ge=0, le=1, description="how sure the match is")
    reasons: list[str] = Field(description="why: category, grid or distance, text, time")
    reporter: CaseReporter


class CaseSplit(CaseView):
    """A person took a wrongly merged incident out of the case; it is dispatched as a case of
    its own (its case.created.v1 follows)."""

    split_incident_id: str
    by: str


class CaseCreated(CaseView):
    rules_applied: list[str]
    co: list[str]
    reporter: CaseReporter
    description: str | None


class CaseDispatched(CaseView):
    """A department was ordered onto the case (its order is on dispatch.orders.<dept>)."""

    dept: str
    role: Role
    deadlines: Deadlines
    reason: str | None = Field(None, description="present when not the first dispatch")


class _DeptEvent(CaseView):
    dept: str
    role: Role


class CaseAcknowledged(_DeptEvent):
    ack_seconds: float
    on_time: bool


class CaseArrived(_DeptEvent):
    pass


class CaseExtensionRequested(_DeptEvent):
    hours: int
    reason: str | None


class CaseExtensionDecided(_DeptEvent):
    approved: bool
    hours: int = Field(description="hours granted; 0 when refused")
    resolve_by: datetime
    by: str
    note: str | None


class CaseResolved(CaseView):
    lead: str
    result: str | None
    resolved_by: list[str]
    on_time: bool


class CaseReturned(_DeptEvent):
    """A department returned the case (退单)."""

    reason: str
    next: str | None = Field(description="the department the case goes to next; "
                                         "street_office: a person assigns it")
    returns: int | None = Field(None, description="the lead's returns so far (lead only)")


class CaseOverdue(_DeptEvent):
    deadline: Literal["ack", "resolve"]
    due: datetime


class CaseEscalated(CaseOverdue):
    level: Literal["street", "district", "city"]
    reason: str


class CaseRated(CaseView):
    rating: Literal["satisfied", "basically_satisfied", "unsatisfied"]
    comment: str | None


class CaseReopened(CaseView):
    reopens: int
    comment: str | None


class CaseClosed(CaseView):
    reason: str
    rating: str | None


class CaseAssigned(CaseView):
    """A person routed the case (triage, after returns, or a category change)."""

    dept: str
    by: str
    previous_category: str


class CaseUnassigned(CaseView):
    """Reserved: allowed on cases.events, not published by this version."""

    model_config = ConfigDict(extra="allow")


class CaseQueuedForTriage(CaseView):
    suggestions: list[Suggestion]
    confidence: float | None
    model_version: str | None


class ClassificationCorrected(CaseView):
    """A person's category choice: a labelled example for the classifier."""

    from_category: str
    to_category: str
    confirmed: bool
    by: str
    reason: Literal["triage", "return", "change"]
    model_version: str | None


# -- dispatch.orders.<dept> (dispatch → a department) --------------------------------------------

class OrderLocation(_Closed):
    path: list[PathNode]
    grid_code: str | None
    address: str | None


class DispatchOrdered(_Closed):
    """An order to a department: everything its system needs, nothing it should not see."""

    case_id: str
    incident_id: str
    tracking_no: str | None
    category: str
    category_name: str | None
    kind: str
    priority: str
    description: str | None
    location: OrderLocation
    reporter_phone: str | None = Field(description="masked, e.g. 138****1234")
    lead: str | None
    co: list[str]
    catalogue_version: str | None
    callers: int = Field(1, ge=1, description="how many callers reported the problem so far")
    dept: str = Field(description="the department ordered (the topic's {dept})")
    role: Role
    deadlines: Deadlines
    reason: str | None = Field(None, description="why, when not the first dispatch (returned, "
                                                 "reassigned, whistle, reopened)")


class DispatchUpdated(_Closed):
    """More about a case the department already has: another caller reported the same
    problem (并单). Nothing new to do, no new deadline; `callers` is how many have called."""

    case_id: str
    dept: str
    reason: str
    callers: int = Field(ge=2)
    incident_id: str = Field(description="the incident that joined the case")
    description: str | None
    reporter_phone: str | None = Field(description="masked, e.g. 138****1234")


class DispatchWithdrawn(_Closed):
    """The department is taken off the case: stop work and send no more reports on it."""

    case_id: str
    dept: str
    reason: str


# -- dispatch.reports (a department → dispatch) ---------------------------------------------------

class DispatchReported(_Closed):
    """A department's report on a case dispatched to it; the envelope's subject is the case id.

    `resolved` needs `result`, `returned` needs `reason`, `extension_requested` needs
    `extension_hours`."""

    case_id: str | None = Field(None, description="the case (the subject is authoritative)")
    dept: str = Field(description="the reporting department; must equal x-whistle-dept")
    kind: ReportKind
    result: str | None = Field(None, max_length=2000)
    reason: str | None = Field(None, max_length=2000)
    extension_hours: int | None = Field(None, ge=1, le=24 * 30)
    reported_at: datetime | None = None


# -- points.events (scoring) ----------------------------------------------------------------------

class PointsAwarded(_Closed):
    volunteer_id: str
    points: int
    hours: float
    task_id: str
    case_id: str | None
    community: str
    txn_id: str


class PointsRedeemed(_Closed):
    volunteer_id: str
    points: int
    item: str
    balance: int
    txn_id: str


# -- notifications.requests (anyone → notify) -----------------------------------------------------

class NotificationRequested(_Closed):
    """A message to send as is (or rendered from `template` with `context`)."""

    recipient: str = Field(description="resident:<incident id> | dept:<code> | "
                                       "street:<code> | …")
    channel: Literal["sms", "email", "webhook", "inbox"] = "inbox"
    text: str | None = None
    template: str | None = None
    context: dict[str, Any] | None = None
    urgent: bool = False


# -- insights.hotspots (scoring) ------------------------------------------------------------------

class HotspotBaseline(_Closed):
    """What the window's count was compared with."""

    mean: float = Field(description="incidents expected in such a window")
    std: float = Field(description="their standard deviation")
    samples: int = Field(description="past windows the baseline was computed from")
    method: Literal["days", "recent", "none"] = Field(
        description="days: the same window of the day on the last 28 days; recent: the "
                    "windows of the last day (the platform has counted for less than 3 days); "
                    "none: no history yet")


class HotspotDetected(_Closed):
    """A category rising in a place (未诉先办): act before the complaints pile up."""

    hotspot_id: str
    kind: Literal["spike", "sustained"] = Field(
        description="spike: this window alone is improbable under the baseline; sustained: "
                    "several windows in a row above it")
    scope: Literal["community", "street"]
    place: str = Field(description="the community or street code")
    place_name: str | None
    street: str | None = Field(description="the street office told of it")
    district: str | None
    category: str
    category_name: str | None
    window_start: datetime
    window_end: datetime
    count: int = Field(description="incidents in the window so far")
    expected: float = Field(description="the rate the count was tested against")
    p_value: float | None = Field(description="probability of at least `count` by chance")
    baseline: HotspotBaseline
    sample_cases: list[str] = Field(description="a few of the window's cases")


# -- notifications.dlq ----------------------------------------------------------------------------

class DeadNotification(_Closed):
    """A notification given up on (the value on notifications.dlq)."""

    id: str
    recipient: str
    channel: str
    event_id: str
    event_type: str


# -- the registry ---------------------------------------------------------------------------------

EVENT_DATA: dict[str, type[BaseModel]] = {
    "incident.received.v1": IncidentReceived,
    "dispatch.reported.v1": DispatchReported,
    "dispatch.ordered.v1": DispatchOrdered,
    "dispatch.withdrawn.v1": DispatchWithdrawn,
    "dispatch.updated.v1": DispatchUpdated,
    "case.merged.v1": CaseMerged,
    "case.split.v1": CaseSplit,
    "case.created.v1": CaseCreated,
    "case.dispatched.v1": CaseDispatched,
    "case.acknowledged.v1": CaseAcknowledged,
    "case.arrived.v1": CaseArrived,
    "case.resolved.v1": CaseResolved,
    "case.returned.v1": CaseReturned,
    "case.overdue.v1": CaseOverdue,
    "case.escalated.v1": CaseEscalated,
    "case.rated.v1": CaseRated,
    "case.reopened.v1": CaseReopened,
    "case.closed.v1": CaseClosed,
    "case.extension_requested.v1": CaseExtensionRequested,
    "case.extension_decided.v1": CaseExtensionDecided,
    "case.assigned.v1": CaseAssigned,
    "case.unassigned.v1": CaseUnassigned,
    "case.queued_for_triage.v1": CaseQueuedForTriage,
    "classification.corrected.v1": ClassificationCorrected,
    "points.awarded.v1": PointsAwarded,
    "points.redeemed.v1": PointsRedeemed,
    "notification.requested.v1": NotificationRequested,
    "hotspot.detected.v1": HotspotDetected,
}


class CloudEvent(BaseModel):
    """CloudEvents 1.0 in structured JSON mode: the value of every event message.

    Whistle publishes exactly these attributes. What it consumes may also carry `dataschema`
    and CloudEvents extension attributes (names of 1–20 lowercase letters and digits, values a
    string, boolean or integer); consumers ignore the ones they do not know."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"additionalProperties": False, "patternProperties": {
            "^(?!data$)[a-z0-9]{1,20}$": {"type": ["string", "boolean", "integer", "null"]}}})
    specversion: Literal["1.0"]
    id: str = Field(min_length=1, description="unique per event; consumers deduplicate on it")
    source: str = Field(min_length=1, description="/whistle/<service>, or /departments/<code>")
    type: str = Field(pattern=r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+\.v[0-9]+$")
    subject: str = Field(min_length=1, description="the entity id; also the Kafka record key")
    time: datetime = Field(description="RFC 3339 with seconds and a UTC offset")
    correlationid: str = Field(min_length=1, description="the chain's first entity (the "
                                                         "incident id for a case's events)")
    datacontenttype: str = Field("application/json", description="application/json")
    dataschema: str | None = Field(None, description="accepted, never sent")
    data: dict[str, Any]


def _model_name(event_type: str) -> str:
    stem = event_type.rsplit(".", 1)[0]
    return "".join(part.capitalize() for part in stem.replace("_", ".").split(".")) + "Event"


def envelope_model(event_type: str) -> type[BaseModel]:
    """The envelope of one event type: `type` fixed, `data` that event's model."""
    return create_model(
        _model_name(event_type), __base__=CloudEvent,
        __doc__=f"A `{event_type}` event in a CloudEvents 1.0 envelope.",
        type=(Literal[event_type], ...), data=(EVENT_DATA[event_type], ...))  # type: ignore[valid-type]
