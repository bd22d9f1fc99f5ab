"""Supervision (统一督办): what happens, stage by stage, when a deadline passes unanswered.

Stage 0 fires at the deadline (`case.overdue.v1`, a reminder to the department); the next
stages escalate (`case.escalated.v1`) to the street office, the district and the city, each
after its configured wait, like an on-call escalation policy. The relevant report stops the
chain: acknowledging stops the `ack` chain, resolving stops the `resolve` chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .case import Assignment

LEVELS = ("street", "district", "city")
KINDS = ("ack", "resolve")


@dataclass(frozen=True)
class Policy:
    """Seconds to wait after the previous stage before escalating to each level."""

    waits: dict[str, float]

    @classmethod
    def parse(cls, text: str) -> Policy:
        """`street=7200,district=14400,city=28800` → Policy."""
        waits = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            level, _, seconds = part.partition("=")
            if level not in LEVELS or not seconds:
                raise ValueError(f"escalation policy entry {part!r}: use level=seconds "
                                 f"with level in {LEVELS}")
            waits[level] = float(seconds)
        missing = set(LEVELS) - waits.keys()
        if missing:
            raise ValueError(f"escalation policy lacks {sorted(missing)}")
        return cls(waits)


def stage_name(stage: int) -> str:
    """0 → overdue, 1 → street, 2 → district, 3 → city."""
    return "overdue" if stage == 0 else LEVELS[stage - 1]


def next_due(stage: int, fired_at: datetime, policy: Policy) -> datetime | None:
    """When the stage after `stage` falls due, or None when the chain is finished."""
    if stage >= len(LEVELS):
        return None
    return fired_at + timedelta(seconds=policy.waits[LEVELS[stage]])


def still_pending(kind: str, assignment_status: str) -> bool:
    """Whether the department still owes what the deadline of `kind` asks for."""
    if kind == "ack":
        return assignment_status == "ordered"
    return assignment_status in ("ordered", "acknowledged", "arrived")


def watches(assignments: Sequence[Assignment],
            autoclose_at: datetime | None) -> list[tuple[int, str, datetime]]:
    """What supervision watches on a case, as (assignment index, kind, due): each deadline a
    lead or co-department still owes, and the auto-close (-1) of a resolved case not rated."""
    owed = [(seq, kind, due) for seq, a in enumerate(assignments) if a.role in ("lead", "co")
            for kind, due in (("ack", a.ack_by), ("resolve", a.resolve_by))
            if still_pending(kind, a.status)]
    if autoclose_at is not None:
        owed.append((-1, "autoclose", autoclose_at))
    return owed
