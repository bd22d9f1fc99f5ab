"""Deadlines (限时办结): hours for urgent cases, working days for the others.

Working days follow the official calendar with adjusted workdays; the calendar is passed in
as `is_workday(date) -> bool`, and `now` is passed in: nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE_CLOSE = time(18, 0)  # a working-day deadline falls due at the end of office hours
IsWorkday = Callable[[date], bool]


@dataclass(frozen=True)
class Deadlines:
    ack_by: datetime
    resolve_by: datetime

    def as_dict(self) -> dict[str, str]:
        return {"ack_by": self.ack_by.isoformat(), "resolve_by": self.resolve_by.isoformat()}


def add_workdays(start: datetime, days: int, is_workday: IsWorkday) -> datetime:
    """End of office hours on the `days`-th working day after the local day of `start`."""
    if days < 1:
        raise ValueError("days must be at least 1")
    day = start.astimezone(SHANGHAI).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return datetime.combine(day, OFFICE_CLOSE, tzinfo=SHANGHAI)


def compute(spec: dict[str, dict[str, int]], priority: str, now: datetime,
            is_workday: IsWorkday) -> Deadlines:
    """Deadlines for a catalogue entry's `deadlines` spec at `priority`, from `now`."""
    if now.tzinfo is None:
        raise ValueError("now must carry a UTC offset")
    local = now.astimezone(SHANGHAI)
    if priority == "urgent":
        rule = spec["urgent"]
        return Deadlines(local + timedelta(hours=rule["ack_hours"]),
                         local + timedelta(hours=rule["resolve_hours"]))
    rule = spec["normal"]
    return Deadlines(add_workdays(local, rule["ack_workdays"], is_workday),
                     add_workdays(local, rule["resolve_workdays"], is_workday))


def scaled(deadlines: Deadlines, now: datetime, factor: float) -> Deadlines:
    """Deadlines brought closer by `factor` (a fast clock for demos and tests; 1 = real)."""
    if factor == 1:
        return deadlines
    return Deadlines(now + (deadlines.ack_by - now) * factor,
                     now + (deadlines.resolve_by - now) * factor)


def extend(deadline: datetime, hours: int) -> datetime:
    """A deadline moved by an approved extension."""
    return deadline + timedelta(hours=hours)


def weekdays_only(day: date) -> bool:
    """A calendar without holidays, for tests and as a fallback."""
    return day.weekday() < 5
