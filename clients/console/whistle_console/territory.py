"""The territory for names and the street map: the GeoJSON that whistle-catalogue ships as
package data (or the city's own file named by WHISTLE_TERRITORY, as the services read it).

Data only: no service code is imported. The map is SVG drawn here from the grid polygons
(an equirectangular projection around the street's centre is exact enough at street scale);
no tile server is needed.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Place:
    level: str
    code: str
    name: str
    street: str | None = None  # the street a community or grid lies in
    community: str | None = None


@dataclass
class TerritoryIndex:
    version: str
    places: dict[str, Place]
    streets: list[Place]
    communities: dict[str, list[Place]]  # street → its communities
    grids: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # street → features

    def name(self, code: str | None) -> str:
        if not code:
            return ""
        found = self.places.get(code)
        return found.name if found else code

    def street_of(self, code: str | None) -> str | None:
        found = self.places.get(code or "")
        if found is None:
            return None
        return found.code if found.level == "street" else found.street


def _raw() -> dict[str, Any]:
    configured = os.environ.get("WHISTLE_TERRITORY")
    if configured:
        return json.loads(Path(configured).read_text("utf-8"))
    data = resources.files("whistle_catalogue") / "data" / "territory.geojson"
    return json.loads(data.read_text("utf-8"))


def parse(raw: dict[str, Any]) -> TerritoryIndex:
    meta = raw["whistle"]
    places: dict[str, Place] = {}
    streets: list[Place] = []
    communities: dict[str, list[Place]] = {}
    for d in meta.get("districts", []):
        places[str(d["code"])] = Place("district", str(d["code"]), d["name"])
        for s in d.get("streets", []):
            street = Place("street", str(s["code"]), s["name"])
            places[street.code] = street
            streets.append(street)
            communities[street.code] = []
            for c in s.get("communities", []):
                community = Place("community", str(c["code"]), c["name"], street.code)
                places[community.code] = community
                communities[street.code].append(community)
    grids: dict[str, list[dict[str, Any]]] = {}
    for feature in raw.get("features", []):
        props = feature.get("properties") or {}
        parent = places.get(str(props.get("community")))
        if parent is None or parent.street is None:
            continue
        code = str(props.get("code"))
        places[code] = Place("grid", code, str(props.get("name") or code), parent.street,
                             parent.code)
        grids.setdefault(parent.street, []).append(feature)
    return TerritoryIndex(str(meta.get("version", "")), places, streets, communities, grids)


@cache
def load() -> TerritoryIndex:
    return parse(_raw())


# -- the SVG map ---------------------------------------------------------------------------------

WIDTH = 760.0
PAD = 12.0
# open cases per grid → fill (light to dark); text on each is chosen for AA contrast
SHADES = ((0, "#f1f5f9", "#1e293b"), (1, "#fde68a", "#1e293b"), (3, "#f59e0b", "#1e293b"),
          (6, "#b45309", "#ffffff"), (10, "#7c2d12", "#ffffff"))


def _shade(count: int) -> tuple[str, str]:
    fill, ink = SHADES[0][1], SHADES[0][2]
    for least, f, i in SHADES:
        if count >= least:
            fill, ink = f, i
    return fill, ink


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry.get("type") == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def street_map(index: TerritoryIndex, street: str, open_by_grid: dict[str, int]) -> dict:
    """Everything the template draws: the viewBox and one shape per grid with its count."""
    features = index.grids.get(street, [])
    points = [pt for f in features for ring in _rings(f["geometry"]) for pt in ring]
    if not points:
        return {"width": WIDTH, "height": 200, "shapes": [], "legend": SHADES}
    lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
    lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    span_x, span_y = max((lon1 - lon0) * kx, 1e-9), max(lat1 - lat0, 1e-9)
    scale = (WIDTH - 2 * PAD) / span_x
    height = span_y * scale + 2 * PAD
    if height > 560:  # a tall street: fit the height instead
        scale = (560 - 2 * PAD) / span_y
        height = 560.0

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return PAD + (lon - lon0) * kx * scale, PAD + (lat1 - lat) * scale

    shapes = []
    for f in features:
        props = f.get("properties") or {}
        code = str(props.get("code"))
        count = open_by_grid.get(code, 0)
        fill, ink = _shade(count)
        paths = []
        for ring in _rings(f["geometry"]):
            pts = [xy(pt[0], pt[1]) for pt in ring[:-1]]
            paths.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + " Z")
        if props.get("lon") is not None and props.get("lat") is not None:
            cx, cy = xy(float(props["lon"]), float(props["lat"]))
        else:
            ring = _rings(f["geometry"])[0]
            cx, cy = xy(sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))
        place = index.places.get(code)
        shapes.append({"code": code, "name": place.name if place else code,
                       "community": index.name(place.community if place else None),
                       "d": " ".join(paths), "count": count, "fill": fill, "ink": ink,
                       "cx": round(cx, 1), "cy": round(cy, 1)})
    return {"width": WIDTH, "height": round(height, 1), "shapes": shapes, "legend": SHADES}
