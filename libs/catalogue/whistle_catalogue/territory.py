"""The five-level territory: city, district, street, community, grid.

Stored as GeoJSON (RFC 7946): one Polygon feature per grid, and the hierarchy above the grids
— with the names and aliases people say — in the foreign member `whistle`. This module reads
the hierarchy and the grids' codes and representative points with the standard library alone;
the polygons themselves are indexed by `whistle_places.geometry`.

A place may be known at any level: a grid, or only its community or street (an address that
names no finer place). `Territory.place(code)` answers a path for any of these codes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

ENV = "WHISTLE_TERRITORY"
SHIPPED = "territory.geojson"


@dataclass(frozen=True)
class Node:
    """One place at one level."""

    level: str
    code: str
    name: str
    lat: float | None = None
    lon: float | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class GridPath:
    """A place with its ancestors, down to the grid when it is known, and the facts place
    rules match on. `community` and `grid` are None for a place known only as coarsely."""

    city: Node
    district: Node
    street: Node
    community: Node | None
    grid: Node | None
    street_kind: str
    street_has_enforcement_team: bool

    @property
    def code(self) -> str:
        return (self.grid or self.community or self.street).code

    @property
    def level(self) -> str:
        return (self.grid or self.community or self.street).level

    def as_list(self) -> list[dict[str, str]]:
        """The path from the city down to the finest level known, as carried on events."""
        return [{"level": n.level, "code": n.code, "name": n.name}
                for n in (self.city, self.district, self.street, self.community, self.grid)
                if n is not None]

    def facts(self) -> dict[str, Any]:
        return {"street_kind": self.street_kind,
                "street_has_enforcement_team": self.street_has_enforcement_team,
                "street": self.street.code, "district": self.district.code}


@dataclass(frozen=True)
class Territory:
    """A city's territory, looked up by the code of a grid, community or street."""

    version: str
    grids: dict[str, GridPath]
    streets: dict[str, Node]
    communities: dict[str, Node]
    districts: dict[str, Node]
    places: dict[str, GridPath]  # street and community codes → their (coarser) paths
    raw: dict[str, Any]

    def path(self, grid_code: str) -> GridPath | None:
        """The path of a grid."""
        return self.grids.get(grid_code)

    def place(self, code: str) -> GridPath | None:
        """The path of a grid, a community or a street."""
        return self.grids.get(code) or self.places.get(code)

    def hierarchy(self) -> dict[str, Any]:
        """Districts → streets → communities with names and aliases (for address lookup)."""
        return self.raw["whistle"]

    def grid_features(self) -> list[dict[str, Any]]:
        return self.raw["features"]


class TerritoryError(ValueError):
    """A territory file that cannot be used; the message says where and why."""


def parse_territory(raw: dict[str, Any]) -> Territory:
    """Read a territory GeoJSON: the hierarchy from `whistle`, grids from the features."""
    if raw.get("type") != "FeatureCollection" or "whistle" not in raw:
        raise TerritoryError("a territory is a GeoJSON FeatureCollection with a `whistle` "
                             "member holding districts → streets → communities")
    meta = raw["whistle"]
    city = Node("city", meta["city"]["code"], meta["city"]["name"])
    streets: dict[str, Node] = {}
    communities: dict[str, Node] = {}
    districts: dict[str, Node] = {}
    places: dict[str, GridPath] = {}
    for d in meta["districts"]:
        district = _node("district", d)
        districts[district.code] = district
        for s in d["streets"]:
            street = _node("street", s)
            streets[street.code] = street
            kind, team = s["kind"], bool(s["has_enforcement_team"])
            places[street.code] = GridPath(city, district, street, None, None, kind, team)
            for c in s["communities"]:
                community = _node("community", c)
                communities[community.code] = community
                places[community.code] = GridPath(city, district, street, community, None,
                                                  kind, team)
    grids: dict[str, GridPath] = {}
    for number, feature in enumerate(raw.get("features", []), start=1):
        props = feature.get("properties") or {}
        code, parent = str(props.get("code", "")), places.get(str(props.get("community")))
        if not code or parent is None or parent.community is None:
            raise TerritoryError(f"feature {number} ({code or 'no code'}): its `community` "
                                 f"{props.get('community')!r} is not in the hierarchy")
        if code in grids or code in places:
            raise TerritoryError(f"feature {number}: code {code} appears twice")
        grid = Node("grid", code, str(props.get("name") or code), props.get("lat"),
                    props.get("lon"))
        grids[code] = GridPath(parent.city, parent.district, parent.street, parent.community,
                               grid, parent.street_kind, parent.street_has_enforcement_team)
    return Territory(str(meta["version"]), grids, streets, communities, districts, places, raw)


def _node(level: str, data: dict[str, Any]) -> Node:
    return Node(level, str(data["code"]), str(data["name"]),
                aliases=tuple(data.get("aliases", ())))


def territory_source() -> Path | None:
    """The configured territory file (WHISTLE_TERRITORY), or None for the shipped sample."""
    configured = os.environ.get(ENV)
    return Path(configured) if configured else None


@cache
def load_territory() -> Territory:
    """The configured territory (WHISTLE_TERRITORY), else the sample shipped here."""
    source = territory_source()
    if source is not None:
        text = source.read_text("utf-8")
    else:
        text = (resources.files(__package__) / "data" / SHIPPED).read_text("utf-8")
    return parse_territory(json.loads(text))
