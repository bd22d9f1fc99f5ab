"""The official Chinese working-day calendar (with adjusted workdays), from chinese-calendar."""

from __future__ import annotations

from datetime import date

import chinese_calendar


def is_workday(day: date) -> bool:
    """True on working days, including adjusted Saturdays/Sundays (调休上班)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the package does not cover yet: weekdays
        return day.weekday() < 5
