"""The five-level territory: city, district, street, community, grid."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Node:
    """One place at one level."""

    level: str
    code: str
    name: str
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class GridPath:
    """A grid with its ancestors, and the facts place rules match on."""

    city: Node
    district: Node
    street: Node
    community: Node
    grid: Node
    street_kind: str
    street_has_enforcement_team: bool

    def as_list(self) -> list[dict[str, str]]:
        """The path from city down to grid, as carried on events."""
        return [{"level": n.level, "code": n.code, "name": n.name}
                for n in (self.city, self.district, self.street, self.community, self.grid)]

    def facts(self) -> dict[str, Any]:
        return {"street_kind": self.street_kind,
                "street_has_enforcement_team": self.street_has_enforcement_team,
                "street": self.street.code, "district": self.district.code}


@dataclass(frozen=True)
class Territory:
    """All grids of the sample city, looked up by grid code."""

    version: str
    grids: dict[str, GridPath]
    streets: dict[str, Node]
    communities: dict[str, Node]

    def path(self, grid_code: str) -> GridPath | None:
        return self.grids.get(grid_code)

    def nearest(self, lat: float, lon: float, *, within_km: float = 3.0) -> GridPath | None:
        """The grid whose centre is closest to (lat, lon), if one lies within `within_km`."""
        best, best_km = None, within_km
        for path in self.grids.values():
            if path.grid.lat is None or path.grid.lon is None:
                continue
            km = _distance_km(lat, lon, path.grid.lat, path.grid.lon)
            if km <= best_km:
                best, best_km = path, km
        return best


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def parse_territory(raw: dict[str, Any]) -> Territory:
    """Flatten the nested JSON into grid paths."""
    city = Node("city", raw["city"]["code"], raw["city"]["name"])
    grids: dict[str, GridPath] = {}
    streets: dict[str, Node] = {}
    communities: dict[str, Node] = {}
    for d in raw["districts"]:
        district = Node("district", d["code"], d["name"])
        for s in d["streets"]:
            street = Node("street", s["code"], s["name"])
            streets[street.code] = street
            for c in s["communities"]:
                community = Node("community", c["code"], c["name"])
                communities[community.code] = community
                for g in c["grids"]:
                    if g["code"] in grids:
                        raise ValueError(f"grid code {g['code']} appears twice")
                    grids[g["code"]] = GridPath(
                        city, district, street, community,
                        Node("grid", g["code"], g["name"], g.get("lat"), g.get("lon")),
                        s["kind"], s["has_enforcement_team"])
    return Territory(raw["version"], grids, streets, communities)


@cache
def load_territory() -> Territory:
    """The territory shipped with this package."""
    text = (resources.files(__package__) / "data" / "territory.json").read_text("utf-8")
    return parse_territory(json.loads(text))
