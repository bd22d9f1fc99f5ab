"""Coordinates as Chinese apps report them: GCJ-02 (国测局, most map SDKs) and BD-09 (Baidu)
become WGS-84, which the territory's polygons are drawn in.

The conversions are PRCoords' (public domain, the reference most implementations follow);
the inverse ones iterate to ~0.1 mm, far below any phone's accuracy.
"""

from __future__ import annotations

import warnings
from typing import Literal

import prcoords

Crs = Literal["wgs84", "gcj02", "bd09"]
CRS: tuple[Crs, ...] = ("wgs84", "gcj02", "bd09")


def to_wgs84(lat: float, lon: float, crs: Crs = "wgs84") -> tuple[float, float]:
    """(lat, lon) in WGS-84. Outside China GCJ-02 is WGS-84, and so it is returned as is."""
    if crs == "wgs84":
        return lat, lon
    if crs not in CRS:
        raise ValueError(f"unknown crs {crs!r}: use one of {', '.join(CRS)}")
    if crs == "gcj02" and not prcoords.sanity_in_china_p(prcoords.Coords(lat, lon)):
        return lat, lon  # GCJ-02 shifts only inside China
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "non-Chinese coords, returned as is" is what we want
        if crs == "gcj02":
            point = prcoords.gcj_wgs_bored((lat, lon))
        else:
            point = prcoords.bd_wgs_bored((lat, lon))
    return round(point.lat, 7), round(point.lon, 7)


def from_wgs84(lat: float, lon: float, crs: Crs) -> tuple[float, float]:
    """The other way (for tests and for showing a point on a Chinese map)."""
    if crs == "wgs84":
        return lat, lon
    convert = {"gcj02": prcoords.wgs_gcj, "bd09": prcoords.wgs_bd}.get(crs)
    if convert is None:
        raise ValueError(f"unknown crs {crs!r}: use one of {', '.join(CRS)}")
    point = convert((lat, lon), True)
    return point.lat, point.lon
