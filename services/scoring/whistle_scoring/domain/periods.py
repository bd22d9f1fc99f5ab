"""Leaderboard and assessment periods in Asia/Shanghai: `2026-11`, `2026-Q4`, `2026`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
PATTERN = re.compile(r"^(\d{4})(?:-(\d{2})|-Q([1-4]))?$")


@dataclass(frozen=True)
class Period:
    label: str
    kind: str  # month | quarter | year
    start: datetime
    end: datetime


def parse_period(text: str) -> Period:
    """Parse a period label into [start, end) in Shanghai time."""
    match = PATTERN.match(text or "")
    if not match:
        raise ValueError("period must look like 2026-11, 2026-Q4 or 2026")
    year, month, quarter = int(match[1]), match[2], match[3]
    if month:
        m = int(month)
        if not 1 <= m <= 12:
            raise ValueError("month must be 01–12")
        start, end, kind = (year, m), (year + (m == 12), m % 12 + 1), "month"
    elif quarter:
        q = int(quarter)
        start, end, kind = (year, 3 * q - 2), (year + (q == 4), (3 * q) % 12 + 1), "quarter"
    else:
        start, end, kind = (year, 1), (year + 1, 1), "year"
    return Period(text, kind, datetime(*start, 1, tzinfo=SHANGHAI),
                  datetime(*end, 1, tzinfo=SHANGHAI))


def month_of(when: datetime) -> str:
    """The month label an instant falls in, in Shanghai time."""
    return when.astimezone(SHANGHAI).strftime("%Y-%m")


@dataclass(frozen=True)
class Standing:
    volunteer_id: str
    name: str
    points: int
    hours: float
    first_earned: datetime


def rank(standings: list[Standing]) -> list[tuple[int, Standing]]:
    """Rank by points, then hours, then who got there first, then id: never a coin toss."""
    ordered = sorted(standings, key=lambda s: (-s.points, -s.hours, s.first_earned,
                                               s.volunteer_id))
    return [(i + 1, s) for i, s in enumerate(ordered)]
