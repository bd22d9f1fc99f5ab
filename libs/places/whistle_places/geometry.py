"""Grids as polygons: which grid contains a point (shapely STRtree), the nearest one within a
tolerance when the point lies just outside every grid (a GPS fix off the edge of the map)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.strtree import STRtree

METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Located:
    """The grid a point falls in, how it was found and how far outside it lay (metres)."""

    grid_code: str
    method: str  # "inside" | "nearest"
    distance_m: float


class GridIndex:
    """The grids of a territory, indexed for point lookups."""

    def __init__(self, features: list[dict[str, Any]], *, tolerance_m: float = 300.0) -> None:
        self.codes = [str(f["properties"]["code"]) for f in features]
        self.polygons = [shape(f["geometry"]) for f in features]
        self.tolerance_m = tolerance_m
        self._tree = STRtree(self.polygons)

    @classmethod
    def from_geojson(cls, collection: dict[str, Any], **kwargs: Any) -> GridIndex:
        return cls(list(collection.get("features", [])), **kwargs)

    def locate(self, lat: float, lon: float) -> Located | None:
        """The grid that covers the point (on a shared border: the lowest code, so the answer
        never depends on order); else the nearest within the tolerance; else None."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None  # e.g. a BD-09 pole converted: no place on this map
        point = Point(lon, lat)
        hits = self._tree.query(point, predicate="covered_by")
        if len(hits):
            return Located(min(self.codes[i] for i in hits), "inside", 0.0)
        nearest = self._tree.query_nearest(point, max_distance=self._degrees(lat),
                                           return_distance=True, all_matches=True)
        indices, distances = nearest
        if not len(indices):
            return None
        best = min(zip(distances, (self.codes[i] for i in indices), strict=True))
        metres = best[0] * METRES_PER_DEGREE * _stretch(lat)
        return Located(best[1], "nearest", round(metres, 1))

    def _degrees(self, lat: float) -> float:
        """The tolerance as a distance in degrees (generous: longitude degrees are shorter)."""
        return self.tolerance_m / (METRES_PER_DEGREE * max(0.01, math.cos(math.radians(lat))))

    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(shapely.total_bounds(self.polygons))  # type: ignore[return-value]


def _stretch(lat: float) -> float:
    """A degree-distance's metres lie between a latitude and a longitude degree; this takes
    their mean, close enough to say how far off the map a point was."""
    return (1 + math.cos(math.radians(lat))) / 2
