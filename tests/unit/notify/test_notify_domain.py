import random
from datetime import UTC, datetime, time
from importlib import resources

import pytest
from whistle_catalogue import load_catalogue
from whistle_notify.domain.delivery import QuietHours, RetryPolicy, rate_limited
from whistle_notify.domain.rules import RULES, targets
from whistle_notify.render import Renderer

CASE = {"case_id": "c-1", "incident_id": "i-1", "tracking_no": "WS20261121-00000042",
        "street": "120119001", "district": "120119",
        "deadlines": {"ack_by": "2026-11-23T10:00:00+00:00",
                      "resolve_by": "2026-11-25T10:00:00+00:00"}}


def test_resident_hears_once_per_step_and_departments_get_orders():
    lead = targets("case.dispatched.v1", {**CASE, "dept": "gongan", "role": "lead"})
    co = targets("case.dispatched.v1", {**CASE, "dept": "chengguan", "role": "co"})
    assert {(t.recipient, t.channel) for t in lead} == {
        ("resident:i-1", "sms"), ("dept:gongan", "webhook"), ("dept:gongan", "inbox")}
    assert {t.recipient for t in co} == {"dept:chengguan"}


def test_escalations_reach_the_level_and_are_urgent():
    found = targets("case.escalated.v1", {**CASE, "dept": "gongan", "level": "district"})
    assert {(t.recipient, t.channel) for t in found} == {("district:120119", "email"),
                                                         ("district:120119", "inbox")}
    assert all(t.urgent for t in found)


def test_overdue_reminders_are_digested_per_department():
    found = targets("case.overdue.v1", {**CASE, "dept": "gongan", "deadline": "ack"})
    assert {t.digest_key for t in found} == {"dept:gongan:department_overdue"}


def test_volunteers_and_unrelated_events():
    assert {t.recipient for t in targets("points.awarded.v1", {"volunteer_id": "v9"})} == {
        "volunteer:v9"}
    assert targets("case.arrived.v1", CASE) == []


def test_backoff_grows_exponentially_with_jitter_and_gives_up():
    policy = RetryPolicy(max_attempts=4, base_seconds=2, cap_seconds=100)
    rng = random.Random(1)
    delays = [policy.next_delay(n, rng) for n in (1, 2, 3)]
    for n, d in zip((1, 2, 3), delays, strict=True):
        assert 2 * 2 ** (n - 1) * 0.5 <= d <= 2 * 2 ** (n - 1) * 1.5
    assert policy.next_delay(4) is None
    assert RetryPolicy(10, 2, 5).next_delay(9, rng) <= 7.5  # capped


@pytest.mark.parametrize("start, end, now, released", [
    ("22:00", "07:00", datetime(2026, 11, 21, 15, 0, tzinfo=UTC), "07:00"),   # 23:00 local
    ("22:00", "07:00", datetime(2026, 11, 21, 20, 0, tzinfo=UTC), "07:00"),   # 04:00 local
    ("22:00", "07:00", datetime(2026, 11, 21, 4, 0, tzinfo=UTC), None),       # 12:00 local
    ("12:00", "13:30", datetime(2026, 11, 21, 4, 30, tzinfo=UTC), "13:30"),   # 12:30 local
])
def test_quiet_hours(start, end, now, released):
    result = QuietHours.parse(start, end).release_at(now)
    if released is None:
        assert result is None
    else:
        assert result.time() == time.fromisoformat(released) and result > now


def test_rate_limit():
    assert not rate_limited(4, 5) and rate_limited(5, 5)


def test_every_rule_template_exists_and_renders_in_chinese():
    renderer = Renderer(load_catalogue().departments)
    names = {r.template for rules in RULES.values() for r in rules}
    folder = resources.files("whistle_notify") / "templates"
    assert names == {p.name[:-3] for p in folder.iterdir() if p.name.endswith(".j2")}
    data = {**CASE, "dept": "gongan", "role": "lead", "result": "已处理", "level": "street",
            "deadline": "ack", "due": "2026-11-23T10:00:00+00:00", "points": 30, "hours": 2,
            "item": "大米", "balance": 70, "callers": 3, "kind": "spike", "count": 9,
            "place_name": "府君山社区", "category_name": "供水", "baseline": {"mean": 0.3},
            "sample_cases": ["c-1"]}
    for name in names:
        items = [data, {**data, "tracking_no": "WS20261121-00000043"}]
        subject, body = renderer.render(name, data, items if "overdue" in name else None)
        assert body and "{{" not in body and any("\u4e00" <= ch <= "\u9fff" for ch in body)


def test_rendered_content():
    renderer = Renderer(load_catalogue().departments)
    _, order = renderer.render("department_new_order", {**CASE, "dept": "gongan", "role": "lead"})
    assert "公安派出所" in order and "主办" in order and "11月23日18:00" in order
    items = [{**CASE, "dept": "gongan", "deadline": "ack", "due": "2026-11-23T10:00:00+00:00"},
             {**CASE, "dept": "gongan", "deadline": "ack", "tracking_no": "WS2",
              "due": "2026-11-23T11:00:00+00:00"}]
    _, digest = renderer.render("department_overdue", items[0], items)
    assert "2件" in digest and "WS2" in digest and "WS20261121-00000042" in digest
