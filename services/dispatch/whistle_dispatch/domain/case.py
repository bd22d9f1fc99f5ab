"""The case and its assignments: a state machine that records what happened as events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from .deadlines import Deadlines
from .merging import MERGEABLE_STATUSES
from .routing import TRIAGE, Routing, next_candidate

# assignment status → report kind → next status
TRANSITIONS: dict[str, dict[str, str]] = {
    "ordered": {"acknowledged": "acknowledged", "returned": "returned",
                "extension_requested": "ordered"},
    "acknowledged": {"arrived": "arrived", "resolved": "resolved", "returned": "returned",
                     "extension_requested": "acknowledged"},
    "arrived": {"resolved": "resolved", "returned": "returned",
                "extension_requested": "arrived"},
}
ACTIVE = {"ordered", "acknowledged", "arrived"}
REPORT_KINDS = ("acknowledged", "arrived", "resolved", "returned", "extension_requested")
OPEN_STATUSES = {"dispatched", "acknowledged", "in_progress", "pending_assignment", "reopened"}
RECLASSIFIABLE = {"triage", "pending_assignment", "dispatched", "acknowledged", "in_progress",
                  "reopened"}
RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")
MERGEABLE = MERGEABLE_STATUSES  # a case another incident can still be merged into


class IllegalTransition(ValueError):
    """A report or command that the case's state does not allow; never applied."""


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to a case; `dept` set for department-addressed events."""

    type: str
    data: dict[str, Any]
    dept: str | None = None


@dataclass
class Assignment:
    dept: str
    role: str  # lead | co | triage
    status: str
    ordered_at: datetime
    ack_by: datetime
    resolve_by: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    result: str | None = None
    extension_requested_hours: int | None = None
    escalations: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass
class Case:
    id: str
    incident_id: str
    category: str
    kind: str
    priority: str
    resolution: str
    status: str
    facts: dict[str, Any]  # location path, description, tracking no, masked phone …
    created_at: datetime
    assignments: list[Assignment] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    returns: int = 0
    reopens: int = 0
    resolved_at: datetime | None = None
    rating: str | None = None
    # incidents merged into the case (并单): incident_id, reporter, text, place, score, reasons
    linked: list[dict[str, Any]] = field(default_factory=list)
    pending: list[DomainEvent] = field(default_factory=list, repr=False)

    # -- queries -------------------------------------------------------------------------------

    def assignment(self, dept: str) -> Assignment | None:
        """The department's live assignment (or its latest one)."""
        found = [a for a in self.assignments if a.dept == dept]
        live = [a for a in found if a.active]
        return (live or found or [None])[-1]

    @property
    def lead(self) -> Assignment | None:
        leads = [a for a in self.assignments if a.role == "lead"]
        return leads[-1] if leads else None

    def active_depts(self) -> list[str]:
        return [a.dept for a in self.assignments if a.active]

    @property
    def callers(self) -> int:
        """How many incidents the case stands for: its own and those merged into it."""
        return 1 + len(self.linked)

    def linked_incident(self, incident_id: str) -> dict[str, Any] | None:
        return next((i for i in self.linked if i["incident_id"] == incident_id), None)

    # -- commands ------------------------------------------------------------------------------

    @classmethod
    def open(cls, *, case_id: str, incident_id: str, category: str, kind: str, priority: str,
             routing: Routing, deadlines: Deadlines, facts: dict[str, Any],
             now: datetime) -> Case:
        """Create a case and dispatch it to its lead and co-departments at once."""
        case = cls(case_id, incident_id, category, kind, priority, routing.resolution,
                   "dispatched", facts, now)
        case._record("case.created.v1", {"rules_applied": list(routing.rules_applied),
                                          "lead": routing.lead, "co": list(routing.co)})
        case._order(routing.lead, "lead", deadlines, now)
        for dept in routing.co:
            case._order(dept, "co", deadlines, now)
        return case

    @classmethod
    def open_for_triage(cls, *, case_id: str, incident_id: str, category: str, kind: str,
                        priority: str, resolution: str, facts: dict[str, Any],
                        now: datetime) -> Case:
        """Create a case that no department receives until a person chooses (triage)."""
        case = cls(case_id, incident_id, category, kind, priority, resolution, "triage",
                   facts, now)
        case._record("case.created.v1", {"rules_applied": [], "lead": None, "co": []})
        case._record("case.queued_for_triage.v1", {
            "suggestions": facts.get("suggestions", []),
            "confidence": facts.get("confidence"), "model_version": facts.get("model_version")})
        return case

    def place(self, place_facts: dict[str, Any]) -> None:
        """A person says where a case in triage is (the caller's words placed nothing)."""
        if self.status != "triage":
            raise IllegalTransition(f"only a case in triage is placed anew, not a {self.status} "
                                    "one")
        self.facts.update(place_facts)

    def reclassify(self, category: str, routing: Routing, deadlines: Deadlines, now: datetime,
                   *, by: str, resolution: str, reason: str, learn: bool = True) -> None:
        """A person chooses the category (triage, after returns, or a correction): the
        departments of the new category replace every live one, and the choice is recorded as
        a labelled example for the classifier."""
        if self.status not in RECLASSIFIABLE:
            raise IllegalTransition(f"case is {self.status}: its category can no longer change")
        before, was = self.category, self.status
        for a in self.assignments:
            if a.active:
                a.status = "withdrawn"
                self._record("dispatch.withdrawn.v1", {"reason": f"reclassified by {by}"},
                             dept=a.dept)
        self.category, self.resolution, self.status = category, resolution, "dispatched"
        self._record("case.assigned.v1", {"dept": routing.lead, "by": by, "category": category,
                                           "previous_category": before})
        self._order(routing.lead, "lead", deadlines, now, reason=f"{reason} by {by}")
        for dept in routing.co:
            self._order(dept, "co", deadlines, now, reason=f"{reason} by {by}")
        if learn:
            self.record_correction(before, category, by=by,
                                   reason="triage" if was == "triage" else reason)

    def record_correction(self, before: str, after: str, *, by: str, reason: str) -> None:
        """A person's category choice: a labelled example for the classifier to learn from."""
        self._record("classification.corrected.v1", {
            "incident_id": self.incident_id, "from_category": before, "to_category": after,
            "confirmed": before == after, "by": by, "reason": reason,
            "model_version": self.facts.get("model_version")})

    def merge(self, incident: dict[str, Any], *, score: float, reasons: list[str],
              now: datetime) -> None:
        """Another caller's incident joins this open case (并单): no new order, an update to
        every department still working on it with the number of callers.

        `incident` holds at least `incident_id` (and what the case shows of each caller; the
        repository keeps the call's whole event beside the link, for a split).
        """
        if self.status not in MERGEABLE:
            raise IllegalTransition(f"a {self.status} case takes no more incidents")
        incident_id = incident["incident_id"]
        if incident_id == self.incident_id or self.linked_incident(incident_id):
            return  # already part of the case
        self.linked.append({**incident, "score": score, "reasons": list(reasons),
                            "merged_at": now.isoformat()})
        base = {"merged_incident_id": incident_id, "callers": self.callers, "score": score,
                "reasons": list(reasons)}
        self._record("case.merged.v1", base)
        for dept in self.active_depts():
            self._record("dispatch.updated.v1", {
                "reason": "another caller reported the same problem",
                "callers": self.callers, "incident_id": incident_id,
                "description": incident.get("description"),
                "reporter_phone": incident.get("reporter_phone_masked")}, dept=dept)

    def split(self, incident_id: str, now: datetime, *, by: str) -> dict[str, Any]:
        """Take a wrongly merged incident out of the case; answers what was kept of it, to be
        dispatched as a case of its own."""
        found = self.linked_incident(incident_id)
        if found is None:
            raise IllegalTransition(f"incident {incident_id} is not merged into this case")
        self.linked = [i for i in self.linked if i["incident_id"] != incident_id]
        self._record("case.split.v1", {"split_incident_id": incident_id, "by": by,
                                        "callers": self.callers})
        return found

    def report(self, dept: str, kind: str, now: datetime, *, result: str | None = None,
               reason: str | None = None, extension_hours: int | None = None,
               candidates: tuple[str, ...] = (), max_returns: int = 2,
               deadlines: Deadlines | None = None) -> None:
        """Apply a department's report (报到, arrive, 办结, 退单, 延期申请)."""
        if kind not in REPORT_KINDS:
            raise IllegalTransition(f"unknown report kind {kind!r}")
        assignment = self.assignment(dept)
        if assignment is None:
            raise IllegalTransition(f"department {dept} is not assigned to case {self.id}")
        allowed = TRANSITIONS.get(assignment.status, {})
        if kind not in allowed:
            raise IllegalTransition(
                f"{dept} cannot report {kind!r} while its assignment is {assignment.status!r}")
        if kind == "resolved" and not result:
            raise IllegalTransition("a resolution needs a result text")
        if kind == "returned" and not reason:
            raise IllegalTransition("a return (退单) needs a reason")
        assignment.status = allowed[kind]
        base = {"dept": dept, "role": assignment.role}
        if kind == "acknowledged":
            assignment.acknowledged_at = now
            seconds = (now - assignment.ordered_at).total_seconds()
            self._record("case.acknowledged.v1", {**base, "ack_seconds": seconds,
                                                  "on_time": now <= assignment.ack_by})
            if assignment.role == "lead":
                self.status = "acknowledged"
        elif kind == "arrived":
            self._record("case.arrived.v1", base)
            if assignment.role == "lead":
                self.status = "in_progress"
        elif kind == "extension_requested":
            if not extension_hours or extension_hours < 1:
                raise IllegalTransition("an extension request needs extension_hours ≥ 1")
            assignment.extension_requested_hours = extension_hours
            self._record("case.extension_requested.v1",
                         {**base, "hours": extension_hours, "reason": reason})
        elif kind == "resolved":
            assignment.resolved_at, assignment.result = now, result
            self._record_timeline_only("department.resolved", {**base, "result": result})
            self._maybe_resolve(now)
        else:
            self._returned(assignment, reason or "", now, candidates, max_returns, deadlines)

    def summon(self, depts: list[str], deadlines: Deadlines, now: datetime, *,
               reason: str) -> list[str]:
        """Whistle (吹哨): order more departments onto the case as co-departments."""
        if self.status not in OPEN_STATUSES:
            raise IllegalTransition(f"case is {self.status}: no whistle on a finished case")
        added = [d for d in dict.fromkeys(depts) if d not in self.active_depts()]
        if not added:
            raise IllegalTransition("every summoned department is already on the case")
        for dept in added:
            self._order(dept, "co", deadlines, now, reason=reason)
        return added

    def assign(self, dept: str, deadlines: Deadlines, now: datetime, *, by: str) -> None:
        """Manual assignment by the street office (after returns): a new lead."""
        if self.status not in {"pending_assignment", "dispatched", "reopened"}:
            raise IllegalTransition(f"case is {self.status}: manual assignment not possible")
        if dept in self.active_depts() and dept != TRIAGE:
            raise IllegalTransition(f"{dept} is already on the case")
        for a in self.assignments:
            if a.role in ("lead", "triage") and a.active:
                a.status = "withdrawn"
                self._record("dispatch.withdrawn.v1", {"reason": "reassigned"}, dept=a.dept)
        self.status = "dispatched"
        self._order(dept, "lead", deadlines, now, reason=f"manual assignment by {by}")

    def supervise(self, seq: int, kind: str, stage: str, now: datetime) -> None:
        """A deadline of assignment `seq` passed unanswered: overdue, or escalate a level."""
        assignment = self.assignments[seq]
        deadline = assignment.ack_by if kind == "ack" else assignment.resolve_by
        base = {"dept": assignment.dept, "role": assignment.role, "deadline": kind,
                "due": deadline.isoformat()}
        assignment.escalations.append(f"{kind}:{stage}")
        if stage == "overdue":
            self._record("case.overdue.v1", base)
        else:
            self._record("case.escalated.v1", {**base, "level": stage,
                                               "reason": f"{kind} deadline missed"})

    def decide_extension(self, dept: str, approve: bool, now: datetime, *, by: str,
                         hours: int | None = None, note: str | None = None) -> None:
        """The street office approves or refuses a department's extension request (延期)."""
        assignment = self.assignment(dept)
        if assignment is None or not assignment.active:
            raise IllegalTransition(f"{dept} has no active assignment on this case")
        requested = assignment.extension_requested_hours
        if requested is None:
            raise IllegalTransition(f"{dept} has not asked for an extension")
        granted = (hours or requested) if approve else 0
        assignment.extension_requested_hours = None
        if approve:
            assignment.resolve_by = assignment.resolve_by + timedelta(hours=granted)
        self._record("case.extension_decided.v1", {
            "dept": dept, "role": assignment.role, "approved": approve, "hours": granted,
            "resolve_by": assignment.resolve_by.isoformat(), "by": by, "note": note})

    def rate(self, rating: str, now: datetime, *, comment: str | None,
             deadlines: Deadlines) -> None:
        """The hotline's call-back (回访): unsatisfied reopens to the same lead (重办)."""
        if rating not in RATINGS:
            raise IllegalTransition(f"rating must be one of {RATINGS}")
        if self.status != "resolved":
            raise IllegalTransition(f"only a resolved case can be rated; this one is "
                                    f"{self.status}")
        self.rating = rating
        lead = self.lead
        self._record("case.rated.v1", {"rating": rating, "comment": comment,
                                        "lead": lead.dept if lead else None})
        if rating != "unsatisfied":
            self.close(now, reason="rated")
            return
        self.reopens += 1
        self.status = "reopened"
        self._record("case.reopened.v1", {"reopens": self.reopens, "comment": comment,
                                           "lead": lead.dept if lead else None})
        if lead is not None:
            self._order(lead.dept, "lead", deadlines, now,
                        reason=f"群众不满意，重办: {comment or ''}")

    def close(self, now: datetime, *, reason: str) -> None:
        """Close a resolved case (after rating, or unrated after N days)."""
        if self.status != "resolved":
            raise IllegalTransition(f"only a resolved case can close; this one is {self.status}")
        self.status = "closed"
        self._record("case.closed.v1", {"reason": reason, "rating": self.rating})

    # -- internals -----------------------------------------------------------------------------

    def _order(self, dept: str, role: str, deadlines: Deadlines, now: datetime,
               reason: str | None = None) -> None:
        self.assignments.append(Assignment(dept, role, "ordered", now, deadlines.ack_by,
                                           deadlines.resolve_by))
        if dept not in self.tried:
            self.tried.append(dept)
        data = {"dept": dept, "role": role, "deadlines": deadlines.as_dict()}
        if reason:
            data["reason"] = reason
        self._record("case.dispatched.v1", data)
        self._record("dispatch.ordered.v1", data, dept=dept)

    def _returned(self, assignment: Assignment, reason: str, now: datetime,
                  candidates: tuple[str, ...], max_returns: int,
                  deadlines: Deadlines | None) -> None:
        if assignment.role != "lead":
            self._record("case.returned.v1", {"dept": assignment.dept, "role": assignment.role,
                                              "reason": reason, "next": None})
            return
        self.returns += 1
        candidate = next_candidate(candidates, set(self.tried))
        if candidate is None or self.returns >= max_returns or deadlines is None:
            self.status = "pending_assignment"
            self._record("case.returned.v1", {"dept": assignment.dept, "role": "lead",
                                              "reason": reason, "next": TRIAGE,
                                              "returns": self.returns})
            triage = Deadlines(now, assignment.resolve_by) if deadlines is None else deadlines
            self.assignments.append(Assignment(TRIAGE, "triage", "ordered", now, triage.ack_by,
                                               triage.resolve_by))
            self._record("dispatch.ordered.v1", {"dept": TRIAGE, "role": "triage",
                                                 "deadlines": triage.as_dict(),
                                                 "reason": f"退单: {reason}"}, dept=TRIAGE)
            return
        self._record("case.returned.v1", {"dept": assignment.dept, "role": "lead",
                                          "reason": reason, "next": candidate,
                                          "returns": self.returns})
        self.status = "dispatched"
        self._order(candidate, "lead", deadlines, now, reason=f"退单后转办: {reason}")

    def _maybe_resolve(self, now: datetime) -> None:
        lead = self.lead
        if lead is None or lead.status != "resolved":
            return
        open_co = [a for a in self.assignments if a.role == "co" and a.active]
        if self.resolution == "lead_and_co" and open_co:
            return
        for a in open_co:  # the lead rule: assisting departments are released
            a.status = "withdrawn"
            self._record("dispatch.withdrawn.v1", {"reason": "case resolved by the lead"},
                         dept=a.dept)
        self.status = "resolved"
        self.resolved_at = now
        resolved_by = [a.dept for a in self.assignments if a.status == "resolved"]
        self._record("case.resolved.v1", {"lead": lead.dept, "result": lead.result,
                                          "resolved_by": resolved_by,
                                          "on_time": now <= lead.resolve_by})

    def _record(self, type_: str, data: dict[str, Any], dept: str | None = None) -> None:
        self.pending.append(DomainEvent(type_, data, dept))

    def _record_timeline_only(self, type_: str, data: dict[str, Any]) -> None:
        self.pending.append(DomainEvent(type_, data, None))

    def take_events(self) -> list[DomainEvent]:
        """The events recorded since the last call."""
        events, self.pending = self.pending, []
        return events

    def to_dict(self) -> dict[str, Any]:
        """The case as plain dicts and lists (a deep copy: `state` for an encoder)."""
        state = asdict(self)
        state.pop("pending")
        return state

    def state(self) -> dict[str, Any]:
        """The fields `to_dict` copies, not copied: for an encoder that writes them at once
        (dataclasses.asdict copies every linked call's event, milliseconds a save for a case
        with a few callers)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pending"}


def case_from_dict(state: dict[str, Any]) -> Case:
    """Rebuild a case from `to_dict` output (after a JSON round trip)."""
    def when(value):
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    assignments = [
        Assignment(**{**a, **{k: when(a[k]) for k in ("ordered_at", "ack_by", "resolve_by",
                                                       "acknowledged_at", "resolved_at")}})
        for a in state["assignments"]]
    fields = {k: v for k, v in state.items()
              if k not in ("assignments", "created_at", "resolved_at")}
    return Case(**fields, created_at=when(state["created_at"]), assignments=assignments,
                resolved_at=when(state.get("resolved_at")))
