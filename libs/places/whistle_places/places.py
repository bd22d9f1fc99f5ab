"""One object that answers "where is this?" for a territory: from a code, a point in any of
the coordinate systems Chinese apps use, or address text."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from whistle_catalogue.territory import GridPath, Territory, load_territory, territory_source

from .addresses import AddressResolver, Resolution
from .coords import Crs, to_wgs84
from .geometry import GridIndex, Located

GAZETTEER_ENV = "WHISTLE_GAZETTEER"


@dataclass
class Places:
    territory: Territory
    grids: GridIndex
    addresses: AddressResolver

    @classmethod
    def build(cls, territory: Territory, gazetteer: dict[str, Any] | None) -> Places:
        pairs = [(code, path.community.code) for code, path in territory.grids.items()
                 if path.community is not None]
        return cls(territory, GridIndex(territory.grid_features()),
                   AddressResolver(territory.hierarchy(), gazetteer, pairs))

    def place(self, code: str) -> GridPath | None:
        return self.territory.place(code)

    def locate(self, lat: float, lon: float, crs: Crs = "wgs84") -> Located | None:
        """The grid at a point given in WGS-84, GCJ-02 or BD-09."""
        wgs_lat, wgs_lon = to_wgs84(lat, lon, crs)
        return self.grids.locate(wgs_lat, wgs_lon)

    def resolve(self, address: str) -> Resolution:
        return self.addresses.resolve(address)

    def point_of(self, code: str) -> tuple[float, float] | None:
        """A point inside a grid, community or street (WGS-84 lat, lon), to show it on a map."""
        return self._points.get(code)

    @cached_property
    def _points(self) -> dict[str, tuple[float, float]]:
        members: dict[str, list[Any]] = {}
        for feature in self.territory.grid_features():
            path = self.territory.grids[str(feature["properties"]["code"])]
            geometry = shape(feature["geometry"])
            for node in (path.grid, path.community, path.street):
                members.setdefault(node.code, []).append(geometry)
        points = {}
        for code, geometries in members.items():
            inside = shapely.union_all(geometries).representative_point()
            points[code] = (round(inside.y, 6), round(inside.x, 6))
        return points


def load_gazetteer() -> dict[str, Any] | None:
    """WHISTLE_GAZETTEER, else the sample's gazetteer when the sample territory is in use
    (a city's own map without a gazetteer resolves territory names only)."""
    configured = os.environ.get(GAZETTEER_ENV)
    if configured:
        return json.loads(Path(configured).read_text("utf-8"))
    if territory_source() is not None:
        return None
    text = (resources.files("whistle_catalogue") / "data" / "gazetteer.json").read_text("utf-8")
    return json.loads(text)


@cache
def load_places() -> Places:
    """The configured territory and gazetteer, indexed (built once per process)."""
    return Places.build(load_territory(), load_gazetteer())
