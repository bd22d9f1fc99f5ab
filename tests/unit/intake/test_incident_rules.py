from datetime import UTC, datetime, timedelta

import pytest
from whistle_catalogue import load_catalogue, load_territory
from whistle_intake.adapters.phones import normalize_cn_phone
from whistle_intake.domain import incident as rules
from whistle_intake.domain.incident import IncidentInvalid
from whistle_places.coords import from_wgs84
from whistle_places.places import load_places

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


def where(**kwargs) -> rules.ResolvedLocation:
    args = {"grid_code": None, "address_id": None, "lat": None, "lon": None, "crs": "wgs84",
            "address": None, "text": "", "places": load_places(), **kwargs}
    return rules.resolve_location(**args)


@pytest.mark.parametrize("kwargs, slug", [
    ({"grid_code": "nope"}, "unknown-grid"),
    ({"grid_code": "120119001002"}, "unknown-grid"),  # a community is not a grid
    ({"address_id": "nope"}, "unknown-place"),
    ({"lat": 31.2, "lon": 121.5}, "location-outside-territory"),
    ({"lat": 40.05}, "incomplete-coordinates"),
])
def test_a_wrong_code_or_point_is_the_callers_error(kwargs, slug):
    assert slug_of(where, **kwargs) == slug


def test_words_that_place_nothing_are_accepted_for_triage_never_refused():
    for kwargs in ({}, {"address": "楼下那条街"}, {"text": "有人在路边烧垃圾"}):
        found = where(**kwargs)
        assert (found.level, found.grid_code, found.routable) == ("unresolved", None, False)


def test_location_from_coordinates_finds_the_containing_grid():
    grid = load_territory().path("12011900200302").grid
    found = where(lat=grid.lat, lon=grid.lon)
    assert (found.grid_code, found.level, found.resolved_by) == (
        "12011900200302", "grid", "coordinates:inside")


def test_gcj02_coordinates_are_converted_before_the_lookup():
    grid = load_territory().path("12011900200302").grid
    lat, lon = from_wgs84(grid.lat, grid.lon, "gcj02")
    assert where(lat=lat, lon=lon, crs="gcj02").grid_code == "12011900200302"
    assert where(lat=lat, lon=lon).grid_code != "12011900200302"  # read as GPS it is elsewhere


def test_an_address_places_the_incident_at_its_community_with_a_point():
    found = where(address="府君山社区")
    assert (found.level, found.place_code, found.grid_code) == ("community", "120119001001",
                                                                None)
    assert found.resolved_by == "address:community-name" and found.lat and found.lon


def test_a_place_code_places_at_that_level():
    assert where(address_id="120119002").level == "street"
    assert where(address_id="12011900100101").grid_code == "12011900100101"


def test_the_description_is_read_when_no_location_is_given():
    found = where(text="鼓楼社区门口有人占道经营")
    assert found.place_code == "120119001002" and found.resolved_by.startswith("description:")


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
