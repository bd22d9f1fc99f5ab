"""Who is told what: a rule table from event type to audiences, templates and channels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    audience: str       # resident (every caller) | caller (the one who just called) |
                        # department | supervisor | volunteer | street
    template: str       # templates/<name>.j2
    channels: tuple[str, ...]
    urgent: bool = False
    digest: bool = False  # combine with other pending messages of the same kind


RULES: dict[str, tuple[Rule, ...]] = {
    "case.created.v1": (Rule("resident", "resident_received", ("sms",)),),
    "case.merged.v1": (Rule("caller", "resident_merged", ("sms",)),),
    "case.dispatched.v1": (Rule("resident", "resident_dispatched", ("sms",)),
                           Rule("department", "department_new_order", ("webhook", "inbox"))),
    "case.resolved.v1": (Rule("resident", "resident_resolved", ("sms",)),),
    "case.overdue.v1": (Rule("department", "department_overdue", ("webhook", "inbox"),
                             digest=True),),
    "case.escalated.v1": (Rule("supervisor", "supervisor_escalated", ("email", "inbox"),
                               urgent=True),),
    "case.reopened.v1": (Rule("department", "department_reopened", ("webhook", "inbox")),),
    "hotspot.detected.v1": (Rule("street", "street_hotspot", ("inbox", "email"),
                                 urgent=True),),
    "points.awarded.v1": (Rule("volunteer", "volunteer_points", ("inbox", "sms")),),
    "points.redeemed.v1": (Rule("volunteer", "volunteer_redeemed", ("inbox", "sms")),),
}


@dataclass(frozen=True)
class Target:
    """One message to send: who, on which channel, rendered from which template."""

    recipient: str
    channel: str
    template: str
    urgent: bool
    digest_key: str | None


def targets(event_type: str, data: dict[str, Any]) -> list[Target]:
    """The recipients and channels an event calls for (before preferences apply)."""
    out = []
    for rule in RULES.get(event_type, ()):
        for recipient in recipients_for(rule.audience, event_type, data):
            digest = f"{recipient}:{rule.template}" if rule.digest else None
            out += [Target(recipient, ch, rule.template, rule.urgent, digest)
                    for ch in rule.channels]
    return out


def recipients_for(audience: str, event_type: str, data: dict[str, Any]) -> list[str]:
    """The recipients an audience stands for in this event: every caller of a case merged
    from several calls (并单), once each."""
    if audience == "resident":
        if event_type == "case.dispatched.v1" and data.get("role") != "lead":
            return []  # tell the resident once, not once per department
        ids = [data.get("incident_id"), *(data.get("linked_incidents") or [])]
        return [f"resident:{i}" for i in dict.fromkeys(i for i in ids if i)]
    if audience == "caller":
        merged = data.get("merged_incident_id")
        return [f"resident:{merged}"] if merged else []
    recipient = recipient_for(audience, event_type, data)
    return [recipient] if recipient else []


def recipient_for(audience: str, event_type: str, data: dict[str, Any]) -> str | None:
    """Map a department, supervisor or volunteer audience to a recipient id; None when the
    event does not concern it."""
    if audience == "department":
        dept = data.get("dept") or data.get("lead")
        return f"dept:{dept}" if dept else None
    if audience == "supervisor":
        level = data.get("level")
        code = {"street": data.get("street"), "district": data.get("district"),
                "city": "city"}.get(level or "")
        return f"{level}:{code}" if code else None
    if audience == "volunteer":
        return f"volunteer:{data['volunteer_id']}" if data.get("volunteer_id") else None
    if audience == "street":  # the street office (街道综合指挥中心)
        return f"street:{data['street']}" if data.get("street") else None
    return None
