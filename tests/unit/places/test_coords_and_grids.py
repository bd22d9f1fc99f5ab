"""Points to grids: WGS-84, GCJ-02 and BD-09 conversion checked against an implementation
nobody here wrote (coord-convert), and the containing polygon on borders, in holes and just
outside the map."""

from __future__ import annotations

import coord_convert.transform as oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whistle_places.coords import from_wgs84, to_wgs84
from whistle_places.geometry import GridIndex

# Tiananmen Square flagpole: WGS-84 (GPS) and the same spot as Chinese map SDKs report it
TIANANMEN_WGS = (39.906217, 116.3912757)


def square(code: str, x0: float, y0: float, x1: float, y1: float, hole=None) -> dict:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    rings = [ring] + ([hole] if hole else [])
    return {"type": "Feature", "properties": {"code": code},
            "geometry": {"type": "Polygon", "coordinates": rings}}


HOLE = [[117.402, 40.042], [117.404, 40.042], [117.404, 40.044], [117.402, 40.044],
        [117.402, 40.042]]
GRIDS = GridIndex([square("A", 117.40, 40.04, 117.41, 40.05, HOLE),
                   square("B", 117.41, 40.04, 117.42, 40.05),
                   square("C", 117.40, 40.05, 117.42, 40.06)], tolerance_m=300)


@pytest.mark.parametrize("crs, convert", [("gcj02", oracle.wgs2gcj), ("bd09", oracle.wgs2bd)])
def test_the_chinese_systems_match_an_independent_implementation(crs, convert):
    lat, lon = TIANANMEN_WGS
    shifted = from_wgs84(lat, lon, crs)
    expected_lon, expected_lat = convert(lon, lat)
    assert shifted == pytest.approx((expected_lat, expected_lon), abs=1e-9)
    # the shift is the well-known few hundred metres (GCJ-02: ~+0.0014 lat, ~+0.0062 lon)
    assert 0.001 < shifted[0] - lat < 0.008 and 0.005 < shifted[1] - lon < 0.014
    assert to_wgs84(*shifted, crs) == pytest.approx(TIANANMEN_WGS, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.floats(18.5, 53.0), st.floats(74.0, 134.0), st.sampled_from(["gcj02", "bd09"]))
def test_back_and_forth_lands_within_a_centimetre(lat, lon, crs):
    there = from_wgs84(lat, lon, crs)
    back = to_wgs84(*there, crs)
    assert back == pytest.approx((lat, lon), abs=1e-6)  # 1e-6 degree is ~0.1 m
    expected_lon, expected_lat = oracle.gcj2wgs(*reversed(there)) if crs == "gcj02" else \
        oracle.bd2wgs(*reversed(there))
    assert back == pytest.approx((expected_lat, expected_lon), abs=2e-5)  # its inverse is rougher


def test_outside_china_gcj02_is_wgs84():
    assert to_wgs84(48.8584, 2.2945, "gcj02") == (48.8584, 2.2945)


def test_an_unknown_system_is_refused():
    with pytest.raises(ValueError):
        to_wgs84(40.0, 117.0, "mars")


def test_a_point_inside_a_grid_is_that_grid():
    assert GRIDS.locate(40.045, 117.415).grid_code == "B"
    assert GRIDS.locate(40.055, 117.405).grid_code == "C"


def test_a_point_on_a_shared_border_has_one_answer_whatever_the_order():
    on_border = GRIDS.locate(40.045, 117.41)
    assert (on_border.grid_code, on_border.method) == ("A", "inside")
    reversed_index = GridIndex([square("B", 117.41, 40.04, 117.42, 40.05),
                                square("A", 117.40, 40.04, 117.41, 40.05)])
    assert reversed_index.locate(40.045, 117.41).grid_code == "A"
    assert GRIDS.locate(40.05, 117.41).grid_code == "A"  # the corner of three grids


def test_a_point_in_a_hole_is_not_in_the_grid_around_it():
    found = GRIDS.locate(40.043, 117.403)
    assert found.method == "nearest" and found.grid_code == "A" and found.distance_m > 50


def test_just_off_the_map_is_the_nearest_grid_far_off_is_nothing():
    near = GRIDS.locate(40.0385, 117.415)  # ~170 m south of B
    assert (near.grid_code, near.method) == ("B", "nearest")
    assert 100 < near.distance_m < 300
    assert GRIDS.locate(40.03, 117.415) is None  # ~1 km off
    assert GRIDS.locate(31.23, 121.47) is None  # Shanghai
    assert GRIDS.locate(-90.0, -180.0) is None and GRIDS.locate(float("nan"), 117.4) is None


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09"])
@pytest.mark.parametrize("lat, lon", [(-90, -180), (90, 180), (0, 0), (-90, 180)])
def test_any_point_on_earth_has_an_answer_never_an_error(crs, lat, lon):
    found = GRIDS.locate(*to_wgs84(lat, lon, crs))
    assert found is None
