from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from whistle_dispatch.adapters.calendar import is_workday
from whistle_dispatch.domain import deadlines as dl

SH = ZoneInfo("Asia/Shanghai")
SPEC = {"urgent": {"ack_hours": 1, "resolve_hours": 12},
        "normal": {"ack_workdays": 1, "resolve_workdays": 3}}


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_the_calendar_knows_holidays_and_adjusted_workdays():
    assert is_workday(date(2026, 10, 1)) is False     # National Day
    assert is_workday(date(2026, 10, 10)) is True     # adjusted working Saturday
    assert is_workday(date(2026, 11, 21)) is False    # an ordinary Saturday


def test_across_a_weekend():
    d = dl.compute(SPEC, "normal", local(2026, 11, 20, 10, 0), is_workday)  # a Friday
    assert d.ack_by == local(2026, 11, 23, 18, 0)       # Monday, end of office hours
    assert d.resolve_by == local(2026, 11, 25, 18, 0)   # Wednesday


def test_across_national_day_and_its_adjusted_saturday():
    d = dl.compute(SPEC, "normal", local(2026, 9, 30, 10, 0), is_workday)
    assert d.ack_by == local(2026, 10, 8, 18, 0)        # 1–7 Oct are holidays
    assert d.resolve_by == local(2026, 10, 10, 18, 0)   # 8, 9, then Saturday the 10th works


def test_an_adjusted_saturday_counts_as_a_working_day():
    d = dl.compute(SPEC, "normal", local(2026, 10, 9, 15, 0), is_workday)
    assert d.ack_by == local(2026, 10, 10, 18, 0)


def test_without_the_official_calendar_the_holiday_would_be_missed():
    d = dl.compute(SPEC, "normal", local(2026, 9, 30, 10, 0), dl.weekdays_only)
    assert d.ack_by == local(2026, 10, 1, 18, 0)


def test_urgent_deadlines_are_in_hours_even_on_holidays():
    d = dl.compute(SPEC, "urgent", local(2026, 10, 1, 23, 30), is_workday)
    assert d.ack_by == local(2026, 10, 2, 0, 30)
    assert d.resolve_by == local(2026, 10, 2, 11, 30)


def test_utc_input_is_read_in_shanghai_time():
    utc = datetime(2026, 11, 20, 17, 0, tzinfo=ZoneInfo("UTC"))  # Saturday 01:00 in Shanghai
    assert dl.compute(SPEC, "normal", utc, is_workday).ack_by == local(2026, 11, 23, 18, 0)


def test_extension_moves_the_deadline():
    assert dl.extend(local(2026, 11, 23, 18, 0), 48) == local(2026, 11, 25, 18, 0)


def test_naive_now_and_zero_days_are_refused():
    with pytest.raises(ValueError):
        dl.compute(SPEC, "normal", datetime(2026, 1, 5), is_workday)
    with pytest.raises(ValueError):
        dl.add_workdays(local(2026, 1, 5), 0, is_workday)
