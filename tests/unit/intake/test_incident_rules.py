from datetime import UTC, datetime, timedelta

import pytest
from whistle_catalogue import load_catalogue, load_territory
from whistle_intake.adapters.phones import normalize_cn_phone
from whistle_intake.domain import incident as rules
from whistle_intake.domain.incident import IncidentInvalid

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def slug_of(fn, *args, **kwargs) -> str:
    with pytest.raises(IncidentInvalid) as err:
        fn(*args, **kwargs)
    return err.value.slug


def test_description_limits():
    assert rules.check_description("  夜间噪音  ") == "夜间噪音"
    assert slug_of(rules.check_description, "   ") == "description-required"
    assert rules.check_description("字" * 4000)
    assert slug_of(rules.check_description, "字" * 4001) == "description-too-long"


def test_occurred_at_in_the_future_is_refused_beyond_skew():
    rules.check_occurred_at(NOW + timedelta(minutes=4), NOW)
    assert slug_of(rules.check_occurred_at, NOW + timedelta(hours=1), NOW) == "occurred-in-future"
    assert slug_of(rules.check_occurred_at, datetime(2026, 1, 1), NOW) == "timestamp-without-offset"


@pytest.mark.parametrize("kwargs, slug", [
    ({}, "missing-location"),
    ({"address": "文昌街道某小区"}, "location-unresolvable"),
    ({"grid_code": "nope"}, "unknown-grid"),
    ({"lat": 31.2, "lon": 121.5}, "location-outside-territory"),
])
def test_location_problems(kwargs, slug):
    args = {"grid_code": None, "lat": None, "lon": None, "address": None, **kwargs}
    assert slug_of(rules.resolve_location, territory=load_territory(), **args) == slug


def test_location_from_coordinates_finds_the_grid():
    terr = load_territory()
    grid = terr.path("12011900200302").grid
    where = rules.resolve_location(grid_code=None, lat=grid.lat, lon=grid.lon, address=None,
                                   territory=terr)
    assert (where.grid_code, where.resolved_by) == ("12011900200302", "coordinates")


def test_category_must_be_in_catalogue():
    assert rules.check_category("noise", load_catalogue()) == "noise"
    assert rules.check_category(None, load_catalogue()) is None
    assert slug_of(rules.check_category, "ufo", load_catalogue()) == "unknown-category"


def test_tracking_number_and_fingerprint():
    assert rules.tracking_number(datetime(2026, 11, 21), 42) == "WS20261121-00000042"
    assert rules.fingerprint({"a": 1, "b": "中"}) == rules.fingerprint({"b": "中", "a": 1})
    assert rules.fingerprint({"a": 1}) != rules.fingerprint({"a": 2})


@pytest.mark.parametrize("current, event, expected", [
    ("received", "case.created.v1", "accepted"),
    ("accepted", "case.dispatched.v1", "dispatched"),
    ("dispatched", "case.acknowledged.v1", "in_progress"),
    ("in_progress", "case.resolved.v1", "resolved"),
    ("resolved", "case.dispatched.v1", "resolved"),  # late event never moves back
    ("resolved", "case.reopened.v1", "reopened"),
    ("closed", "case.reopened.v1", "closed"),
    ("dispatched", "case.overdue.v1", "dispatched"),
])
def test_status_follows_case_events(current, event, expected):
    assert rules.status_after(current, event) == expected


@pytest.mark.parametrize("raw, expected", [
    ("13812341234", "13812341234"),
    ("+86 138 1234 1234", "13812341234"),
    ("022-29142345", "02229142345"),
    (None, None),
])
def test_phone_normalization(raw, expected):
    assert normalize_cn_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "1381234123", "not a phone", "10086123456"])
def test_invalid_phones(raw):
    assert slug_of(normalize_cn_phone, raw) == "invalid-phone"
