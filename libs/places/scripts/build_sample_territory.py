"""Build the sample territory of 蓟州区 as grid polygons, and its gazetteer.

Reads `sample_seed.json` (the former sample: streets, communities and grids as centre points)
for the codes and names that tests, the training corpus and other data already use, keeps
every one of them, adds grids (5–7 per community) and one township in the mountains north of
the town, and draws them as a map around the real 蓟州 (lat 40.00–40.20, lon 117.33–117.55):

* the map is made of small "atoms" — Voronoi cells of random points, denser in the town —
  so that borders run irregularly, the way administrative borders do;
* streets, then communities inside each street, then grids inside each community grow from
  seed points over the atoms' adjacency (a shortest-path race with noisy edge costs), so every
  region is connected and the levels nest exactly; grid seeds come from a k-means over the
  community's atoms, so a grid holds about as many atoms — people — as its neighbours;
* the grids are simplified as one coverage (shared borders stay shared) and rounded to
  6 decimals; every check below runs on the rounded polygons.

The gazetteer (roads with house-number ranges, compounds and landmarks per community) is the
Python data below; it is checked against the territory and written beside it.

Checks (the script writes nothing unless all pass): every grid a valid Polygon, its ring
counterclockwise (RFC 7946); no two grids share area; each grid inside its community,
community inside its street, street inside the district; the grids of a community — and the
communities of a street, the streets of the district — one connected region without holes;
5–7 grids per community, ≥ 60 in all; every former code and name kept; the grid
12011900100101 holds lat 40.045, lon 117.4; a grid's lat/lon lie inside it; a name or alias of
the territory or the gazetteer names one place; gazetteer communities exist, each has 2+
compounds and 1–2 landmarks, house-number ranges of a road do not overlap and run through
communities that touch; a gazetteer name containing a territory name lies in that place.

Run from the repository root (rerunning writes the same files):

    .venv/bin/python libs/places/scripts/build_sample_territory.py
    .venv/bin/python libs/places/scripts/build_sample_territory.py --check   # files up to date?
    .venv/bin/python libs/places/scripts/build_sample_territory.py --svg /tmp/jizhou.svg
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, Polygon, box, mapping
from shapely.strtree import STRtree

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "libs" / "catalogue" / "whistle_catalogue" / "data"
SOURCE = Path(__file__).with_name("sample_seed.json")
TERRITORY = DATA / "territory.geojson"
GAZETTEER = DATA / "gazetteer.json"

VERSION = "2026.12.1"
SEED = 20261201
PRECISION = 1e-6  # degrees: coordinates are written with 6 decimals
SIMPLIFY = 0.00012  # degrees (~10 m): smooths the atoms' zigzag, borders stay shared
OVERLAP = 1e-12  # square degrees (~0.01 m²): more than this shared is an overlap
KX = math.cos(math.radians(40.07))  # a degree of longitude is this much of one of latitude

PIN_GRID = "12011900100101"
PIN = (117.4, 40.045)  # lon, lat: tests place incidents at this point of 府君山社区第1网格

BOUNDS = (117.325, 39.995, 117.555, 40.205)
# the district's outline (lon, lat); atoms whose seed lies inside belong to the district
OUTLINE = [(117.336, 40.022), (117.352, 40.006), (117.383, 40.001), (117.412, 40.009),
           (117.446, 40.002), (117.482, 40.004), (117.521, 40.011), (117.546, 40.029),
           (117.549, 40.062), (117.537, 40.094), (117.545, 40.128), (117.538, 40.161),
           (117.514, 40.193), (117.478, 40.186), (117.446, 40.199), (117.409, 40.193),
           (117.377, 40.184), (117.351, 40.163), (117.338, 40.133), (117.344, 40.101),
           (117.331, 40.067), (117.339, 40.044)]
TOWN = (117.408, 40.047)  # the town centre: atoms are densest here

# -- the hierarchy ------------------------------------------------------------------------------

DISTRICT_ALIASES = {"120119": ["蓟州", "蓟县"]}  # 蓟县 until 2016
ALIASES = {  # what people call a place besides its name (the name minus 社区/村/镇/街道 too)
    "120119001": ["文昌"],
    "120119002": ["渔阳"],
    "120119003": [],  # 下仓 would be 下仓村 as much as 下仓镇
    "120119004": [],  # 柴村 would be 柴村社区 as much as 柴村街道
    "120119005": ["许家台"],
    "120119001001": ["府君山"],
    "120119001002": ["鼓楼"],
    "120119001003": ["东风里"],
    "120119002001": ["西北隅"],
    "120119002002": ["城关"],
    "120119002003": ["南关"],
    "120119003001": ["大李各庄", "大李庄"],
    "120119003002": [],
    "120119003003": ["小赵各庄", "小赵庄"],
    "120119004001": [],
    "120119004002": ["光社"],
    "120119004003": ["新城"],
    "120119005001": ["团山子"],
    "120119005002": ["孟各庄"],
    "120119005003": ["龙泉峪"],
}
NEW_STREETS = [  # the mountains north of the town
    {"code": "120119005", "name": "许家台镇", "kind": "township", "has_enforcement_team": False,
     "communities": [{"code": "120119005001", "name": "团山子村"},
                     {"code": "120119005002", "name": "孟各庄村"},
                     {"code": "120119005003", "name": "龙泉峪村"}]},
]
GRIDS_PER_COMMUNITY = {
    "120119001001": 7, "120119001002": 7, "120119001003": 6,
    "120119002001": 5, "120119002002": 7, "120119002003": 6,
    "120119003001": 5, "120119003002": 6, "120119003003": 5,
    "120119004001": 6, "120119004002": 6, "120119004003": 7,
    "120119005001": 5, "120119005002": 5, "120119005003": 6,
}

# where each street and community grows from (lon, lat); several seeds shape a region
STREET_SEEDS = {
    "120119001": [(117.400, 40.046), (117.405, 40.051), (117.411, 40.055), (117.409, 40.044)],
    "120119002": [(117.389, 40.044), (117.398, 40.033), (117.382, 40.062), (117.366, 40.075),
                  (117.354, 40.047), (117.345, 40.030)],
    "120119003": [(117.425, 40.016), (117.452, 40.012), (117.474, 40.026), (117.503, 40.021),
                  (117.520, 40.045), (117.533, 40.070), (117.395, 40.014), (117.365, 40.012)],
    "120119004": [(117.423, 40.048), (117.437, 40.059), (117.435, 40.036), (117.455, 40.048),
                  (117.468, 40.060)],
    "120119005": [(117.400, 40.095), (117.432, 40.083), (117.470, 40.108), (117.398, 40.158),
                  (117.500, 40.168), (117.360, 40.122), (117.520, 40.103), (117.445, 40.175)],
}
COMMUNITY_SEEDS = {
    "120119001001": [PIN, (117.398, 40.054), (117.400, 40.065)],
    "120119001002": [(117.402, 40.039), (117.410, 40.042)],
    "120119001003": [(117.414, 40.052), (117.411, 40.064)],
    "120119002001": [(117.370, 40.070), (117.352, 40.052), (117.384, 40.062)],
    "120119002002": [(117.389, 40.044)],
    "120119002003": [(117.399, 40.032)],
    "120119003001": [(117.420, 40.016), (117.390, 40.013)],
    "120119003002": [(117.465, 40.018)],
    "120119003003": [(117.515, 40.040), (117.532, 40.068)],
    "120119004001": [(117.436, 40.035)],
    "120119004002": [(117.424, 40.049)],
    "120119004003": [(117.445, 40.060), (117.466, 40.060)],
    "120119005001": [(117.402, 40.092), (117.432, 40.083)],
    "120119005002": [(117.478, 40.110), (117.520, 40.105)],
    "120119005003": [(117.398, 40.158), (117.480, 40.170)],
}

# -- the gazetteer: the places a local knows ---------------------------------------------------

ROADS: list[dict[str, Any]] = [
    {"name": "渔阳北路", "aliases": ["渔阳北大街"],
     "ranges": [(1, 88, "120119002002"), (89, 200, "120119002001")]},
    {"name": "渔阳南路", "aliases": ["渔阳南大街"],
     "ranges": [(1, 96, "120119002002"), (97, 230, "120119002003")]},
    {"name": "人民大街", "aliases": ["人民街"],
     "ranges": [(1, 80, "120119002002"), (81, 168, "120119001002"),
                (169, 300, "120119004002")]},
    {"name": "武定街", "aliases": [],
     "ranges": [(1, 60, "120119001002"), (61, 140, "120119001001")]},
    {"name": "文昌街", "aliases": ["文昌大街"],
     "ranges": [(1, 76, "120119001002"), (77, 180, "120119001003")]},
    {"name": "中昌北路", "aliases": ["中昌路"],
     "ranges": [(1, 90, "120119001001"), (91, 200, "120119002001")]},
    {"name": "兴华大街", "aliases": ["兴华街"],
     "ranges": [(1, 110, "120119001003"), (111, 196, "120119004002"),
                (197, 330, "120119004003")]},
    {"name": "迎宾路", "aliases": [],
     "ranges": [(1, 120, "120119004002"), (121, 240, "120119004001")]},
    {"name": "南环路", "aliases": [],
     "ranges": [(1, 150, "120119002003"), (151, 320, "120119003001")]},
    {"name": "北环路", "aliases": [],
     "ranges": [(1, 120, "120119002001"), (121, 260, "120119005001")]},
    {"name": "京哈公路", "aliases": ["102国道", "京哈线"],
     "ranges": [(1, 400, "120119004001"), (401, 900, "120119003002"),
                (901, 1500, "120119003003")]},
    {"name": "津围公路", "aliases": ["津围线"],
     "ranges": [(1, 500, "120119003001"), (501, 880, "120119002003")]},
    {"name": "邦喜公路", "aliases": ["邦喜线"],
     "ranges": [(1, 600, "120119005001"), (601, 1400, "120119005003")]},
    {"name": "穿芳峪路", "aliases": [],
     "ranges": [(1, 300, "120119004003"), (301, 800, "120119005002")]},
]

COMPOUND, LANDMARK = "compound", "landmark"
PLACES: list[tuple[str, str, str, list[str]]] = [  # name, kind, community, aliases
    # 文昌街道 · 府君山社区
    ("府君花园", COMPOUND, "120119001001", ["府君山花园"]),
    ("山景家园", COMPOUND, "120119001001", []),
    ("府君山公园", LANDMARK, "120119001001", ["府君山森林公园"]),
    ("蓟州区第一中学", LANDMARK, "120119001001", ["蓟州一中", "蓟县一中"]),
    # 文昌街道 · 鼓楼社区
    ("鼓楼小区", COMPOUND, "120119001002", ["鼓楼小区一期"]),
    ("武定里", COMPOUND, "120119001002", ["武定里小区"]),
    ("独乐寺", LANDMARK, "120119001002", ["独乐寺景区", "大佛寺"]),
    ("蓟州鼓楼", LANDMARK, "120119001002", ["鼓楼广场"]),
    # 文昌街道 · 东风里社区
    ("文昌花园", COMPOUND, "120119001003", []),
    ("东风里北区", COMPOUND, "120119001003", ["东风里北院"]),
    ("蓟州区人民医院", LANDMARK, "120119001003", ["区人民医院", "人民医院", "蓟县医院"]),
    ("文昌小学", LANDMARK, "120119001003", []),
    # 渔阳镇 · 西北隅村
    ("西北隅村前街", COMPOUND, "120119002001", ["西北隅前街"]),
    ("西北隅村后街", COMPOUND, "120119002001", ["西北隅后街"]),
    ("西北隅小学", LANDMARK, "120119002001", []),
    # 渔阳镇 · 城关社区
    ("渔阳花园", COMPOUND, "120119002002", ["渔阳花园小区"]),
    ("北门里", COMPOUND, "120119002002", ["北门里小区"]),
    ("渔阳古街", LANDMARK, "120119002002", ["蓟州古街"]),
    ("观音寺白塔", LANDMARK, "120119002002", ["白塔寺", "白塔"]),
    # 渔阳镇 · 南关社区
    ("南关小区", COMPOUND, "120119002003", []),
    ("康宁家园", COMPOUND, "120119002003", []),
    ("蓟州区中医医院", LANDMARK, "120119002003", ["中医医院", "中医院"]),
    ("南关菜市场", LANDMARK, "120119002003", ["南关市场", "南关农贸市场"]),
    # 下仓镇 · 大李各庄村
    ("大李各庄村一组", COMPOUND, "120119003001", ["大李各庄一组"]),
    ("大李各庄村二组", COMPOUND, "120119003001", ["大李各庄二组"]),
    ("大李各庄集市", LANDMARK, "120119003001", ["大李各庄大集"]),
    # 下仓镇 · 下仓村
    ("下仓村东街", COMPOUND, "120119003002", []),
    ("下仓村西街", COMPOUND, "120119003002", []),
    ("下仓镇中心小学", LANDMARK, "120119003002", ["下仓小学"]),
    ("下仓镇卫生院", LANDMARK, "120119003002", ["下仓卫生院"]),
    # 下仓镇 · 小赵各庄村
    ("小赵各庄村一组", COMPOUND, "120119003003", ["小赵各庄一组"]),
    ("小赵各庄村二组", COMPOUND, "120119003003", ["小赵各庄二组"]),
    ("于桥水库", LANDMARK, "120119003003", ["翠屏湖"]),
    # 柴村街道 · 柴村社区
    ("柴村花园", COMPOUND, "120119004001", []),
    ("福泽家园", COMPOUND, "120119004001", []),
    ("蓟州汽车站", LANDMARK, "120119004001", ["蓟州客运站"]),
    # 柴村街道 · 光社社区
    ("光社小区", COMPOUND, "120119004002", []),
    ("星河家园", COMPOUND, "120119004002", []),
    ("光社农贸市场", LANDMARK, "120119004002", ["光社市场"]),
    ("蓟州区实验小学", LANDMARK, "120119004002", ["蓟州实验小学"]),
    # 柴村街道 · 新城社区
    ("新城花园", COMPOUND, "120119004003", ["新城花园小区"]),
    ("丽景公寓", COMPOUND, "120119004003", []),
    ("蓟州站", LANDMARK, "120119004003", ["蓟州火车站", "蓟州高铁站"]),
    ("新城广场", LANDMARK, "120119004003", []),
    # 许家台镇 · 团山子村
    ("团山子村一组", COMPOUND, "120119005001", ["团山子一组"]),
    ("团山子村二组", COMPOUND, "120119005001", ["团山子二组"]),
    ("许家台镇人民政府", LANDMARK, "120119005001", ["许家台镇政府"]),
    # 许家台镇 · 孟各庄村
    ("孟各庄村前街", COMPOUND, "120119005002", ["孟各庄前街"]),
    ("孟各庄村后街", COMPOUND, "120119005002", ["孟各庄后街"]),
    ("许家台中学", LANDMARK, "120119005002", []),
    # 许家台镇 · 龙泉峪村
    ("龙泉峪村一组", COMPOUND, "120119005003", ["龙泉峪一组"]),
    ("龙泉峪村二组", COMPOUND, "120119005003", ["龙泉峪二组"]),
    ("龙泉寺", LANDMARK, "120119005003", []),
]

# the suffixes the address resolver drops from a name (whistle_places.addresses.SUFFIXES)
SUFFIXES = {"community": ("社区居委会", "社区", "居委会", "村委会", "村"),
            "street": ("街道办事处", "街道办", "街道", "镇", "乡"),
            "district": ("区", "县")}
# short forms the former names make ambiguous by themselves: known, left to the resolver
INHERENT = {"下仓", "柴村"}


class Failed(Exception):
    """The built data breaks a check; the message lists every problem."""


# -- the hierarchy ------------------------------------------------------------------------------

def hierarchy(source: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[tuple[str, str]]]]:
    """The `whistle` member and, per community, its grids (code, name) — the former first."""
    (district,) = source["districts"]
    grids: dict[str, list[tuple[str, str]]] = {}
    streets = []
    for s in [*district["streets"], *NEW_STREETS]:
        communities = []
        for c in s["communities"]:
            former = [(g["code"], g["name"]) for g in c.get("grids", [])]
            wanted = GRIDS_PER_COMMUNITY[c["code"]]
            grids[c["code"]] = former + [(f"{c['code']}{n:02d}", f"{c['name']}第{n}网格")
                                         for n in range(len(former) + 1, wanted + 1)]
            communities.append({"code": c["code"], "name": c["name"],
                                "aliases": ALIASES[c["code"]]})
        streets.append({"code": s["code"], "name": s["name"], "kind": s["kind"],
                        "has_enforcement_team": s["has_enforcement_team"],
                        "aliases": ALIASES[s["code"]], "communities": communities})
    meta = {"version": VERSION, "city": source["city"],
            "districts": [{"code": district["code"], "name": district["name"],
                           "aliases": DISTRICT_ALIASES[district["code"]], "streets": streets}]}
    return meta, grids


# -- the atoms ------------------------------------------------------------------------------------

class Atoms:
    """Voronoi cells of random points over the district, and which cells share a border."""

    def __init__(self, rng: np.random.Generator) -> None:
        x0, y0, x1, y1 = BOUNDS
        spread = rng.uniform((x0, y0), (x1, y1), size=(2600, 2))
        town = rng.normal(TOWN, (0.016, 0.012), size=(2200, 2))
        rim = Polygon(OUTLINE).buffer(0.002).exterior  # outside, to close the edge cells
        ghosts = [rim.interpolate(d).coords[0] for d in np.arange(0, rim.length, 0.003)]
        points = np.vstack([[PIN], spread, town, ghosts])
        points = points[_apart(points, 0.0012)]
        cells = shapely.voronoi_polygons(MultiPoint(points), extend_to=box(*BOUNDS),
                                         ordered=True)
        # the cells of the points outside the outline bound those inside, then go
        inside = shapely.contains_xy(Polygon(OUTLINE), points[:, 0], points[:, 1])
        self.points = points[inside]
        self.cells = [c for c, keep in zip(shapely.get_parts(cells), inside, strict=True)
                      if keep]
        self.neighbours = self._neighbours()

    def _neighbours(self) -> list[list[tuple[int, float]]]:
        tree = STRtree(self.cells)
        left, right = tree.query(self.cells, predicate="intersects")
        found: list[list[tuple[int, float]]] = [[] for _ in self.cells]
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i < j and self.cells[i].intersection(self.cells[j]).length > 0:
                d = self.distance(i, j)
                found[i].append((j, d))
                found[j].append((i, d))
        return found

    def distance(self, i: int, j: int) -> float:
        (xi, yi), (xj, yj) = self.points[i], self.points[j]
        return math.hypot((xi - xj) * KX, yi - yj)

    def nearest(self, among: list[int], lon: float, lat: float) -> int:
        return min(among, key=lambda i: math.hypot((self.points[i][0] - lon) * KX,
                                                    self.points[i][1] - lat))


def _apart(points: np.ndarray, gap: float) -> np.ndarray:
    """Drop a point closer than `gap` (scaled degrees) to one kept before it (the first, the
    pin, is always kept): no sliver cells."""
    keep: list[int] = []
    tree: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (x, y) in enumerate(points):
        cx, cy = int(x * KX / gap), int(y / gap)
        near = [k for dx in (-1, 0, 1) for dy in (-1, 0, 1) for k in tree[(cx + dx, cy + dy)]]
        if all(math.hypot((x - points[k][0]) * KX, y - points[k][1]) >= gap for k in near):
            keep.append(i)
            tree[(cx, cy)].append(i)
    mask = np.zeros(len(points), dtype=bool)
    mask[keep] = True
    return mask


def grow(atoms: Atoms, members: list[int], sources: dict[str, list[int]],
         rng: np.random.Generator, noise: float) -> dict[str, list[int]]:
    """Split `members` among the labels of `sources`: each atom goes to the label whose
    seeds reach it first over shared borders (edge costs jittered by ±noise)."""
    allowed = set(members)
    jitter: dict[tuple[int, int], float] = {}
    for i in sorted(allowed):
        for j, _ in atoms.neighbours[i]:
            if i < j and j in allowed:
                jitter[(i, j)] = float(rng.uniform(1 - noise, 1 + noise))
    owner: dict[int, str] = {}
    queue = [(0.0, n, atom, label) for n, (label, seeds) in enumerate(sorted(sources.items()))
             for atom in seeds]
    heapq.heapify(queue)
    while queue:
        cost, n, atom, label = heapq.heappop(queue)
        if atom in owner:
            continue
        owner[atom] = label
        for j, d in atoms.neighbours[atom]:
            if j in allowed and j not in owner:
                heapq.heappush(queue, (cost + d * jitter[(min(atom, j), max(atom, j))], n, j,
                                       label))
    regions: dict[str, list[int]] = {label: [] for label in sources}
    for atom in members:
        regions[owner[atom]].append(atom)
    return regions


def grid_seeds(atoms: Atoms, members: list[int], k: int, pinned: int | None,
               rng: np.random.Generator) -> list[int]:
    """k atoms spread over a community, one per part of about equal size (k-means)."""
    xy = atoms.points[members] * (KX, 1.0)
    centres = xy[rng.choice(len(members), size=k, replace=False)]
    for _ in range(40):
        label = np.argmin(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(-1), axis=1)
        centres = np.array([xy[label == c].mean(0) if (label == c).any() else centres[c]
                            for c in range(k)])
    seeds = [members[int(np.argmin(((xy - c) ** 2).sum(-1)))] for c in centres]
    if pinned is not None:
        closest = min(range(k), key=lambda c: atoms.distance(seeds[c], pinned))
        seeds[closest] = pinned
    # numbered clockwise from the north, seen from the community's middle; the pin first
    mx, my = xy.mean(0)
    seeds.sort(key=lambda a: (a != pinned, math.atan2(atoms.points[a][0] * KX - mx,
                                                      atoms.points[a][1] - my) % math.tau))
    if len(set(seeds)) != k:
        raise Failed(f"two grids of a community share a seed atom ({members[0]})")
    return seeds


# -- building -----------------------------------------------------------------------------------

def build(source: dict[str, Any]) -> dict[str, Any]:
    """The territory GeoJSON (checked)."""
    meta, grid_names = hierarchy(source)
    rng = np.random.default_rng(SEED)
    atoms = Atoms(rng)
    pinned = int(np.flatnonzero((atoms.points == PIN).all(axis=1))[0])
    everyone = list(range(len(atoms.points)))
    (district,) = meta["districts"]

    def seeds_of(table: dict[str, list[tuple[float, float]]], among: list[int],
                 must: dict[str, int]) -> dict[str, list[int]]:
        found = {code: sorted({atoms.nearest(among, *p) for p in points})
                 for code, points in table.items()}
        for code, atom in must.items():
            found[code] = sorted({*found[code], atom})
        return found

    streets = grow(atoms, everyone, seeds_of(
        {s["code"]: STREET_SEEDS[s["code"]] for s in district["streets"]}, everyone,
        {"120119001": pinned}), rng, noise=0.35)
    grid_atoms: dict[str, list[int]] = {}
    for s in district["streets"]:
        members = streets[s["code"]]
        communities = grow(atoms, members, seeds_of(
            {c["code"]: COMMUNITY_SEEDS[c["code"]] for c in s["communities"]}, members,
            {"120119001001": pinned} if s["code"] == "120119001" else {}), rng, noise=0.35)
        for c in s["communities"]:
            inside = communities[c["code"]]
            names = grid_names[c["code"]]
            pin = pinned if names[0][0] == PIN_GRID else None
            seeds = grid_seeds(atoms, inside, len(names), pin, rng)
            grids = grow(atoms, inside, {code: [seed] for (code, _), seed
                                         in zip(names, seeds, strict=True)}, rng, noise=0.3)
            grid_atoms.update(grids)
    codes = [code for names in grid_names.values() for code, _ in names]
    raw = [shapely.union_all([atoms.cells[a] for a in grid_atoms[code]]) for code in codes]
    simplified = shapely.coverage_simplify(raw, SIMPLIFY)
    # RFC 7946: exterior rings counterclockwise
    polygons = [shapely.orient_polygons(shapely.set_precision(p, PRECISION))
                for p in simplified]
    community_of = {code: c for c, names in grid_names.items() for code, _ in names}
    features = []
    for (code, polygon) in zip(codes, polygons, strict=True):
        name = dict(grid_names[community_of[code]])[code]
        inside = polygon.representative_point()
        geometry = mapping(polygon)
        features.append({"type": "Feature", "id": code,
                         "properties": {"code": code, "name": name,
                                        "community": community_of[code],
                                        "lat": round(inside.y, 6), "lon": round(inside.x, 6)},
                         "geometry": {"type": "Polygon",
                                      "coordinates": [[[round(x, 6), round(y, 6)]
                                                       for x, y in ring]
                                                      for ring in geometry["coordinates"]]}})
    return {"type": "FeatureCollection", "whistle": meta, "features": features}


# -- checks -------------------------------------------------------------------------------------

def check_territory(collection: dict[str, Any], source: dict[str, Any]) -> list[str]:
    """Every problem of the built territory (see the module's docstring)."""
    problems: list[str] = []
    meta = collection["whistle"]
    (district,) = meta["districts"]
    shapes: dict[str, Any] = {}
    members: dict[str, list[str]] = defaultdict(list)  # parent code → child codes
    for f in collection["features"]:
        code, props = f["id"], f["properties"]
        polygon = shapely.geometry.shape(f["geometry"])
        if f["geometry"]["type"] != "Polygon" or not polygon.is_valid or polygon.is_empty:
            problems.append(f"grid {code}: not a valid Polygon "
                            f"({shapely.is_valid_reason(polygon)})")
        if polygon.interiors:
            problems.append(f"grid {code}: has a hole")
        if not polygon.exterior.is_ccw:
            problems.append(f"grid {code}: its ring runs clockwise (RFC 7946: counterclockwise)")
        if not polygon.contains(Point(props["lon"], props["lat"])):
            problems.append(f"grid {code}: its lat/lon lie outside it")
        if not code.startswith(props["community"]) or len(code) != 14:
            problems.append(f"grid {code}: the code does not extend {props['community']}")
        shapes[code] = polygon
        members[props["community"]].append(code)
    problems += _overlaps(shapes)

    # the levels nest: a parent is the union of its children, one piece without holes
    outline = Polygon(OUTLINE).buffer(0.008)
    for s in district["streets"]:
        for c in s["communities"]:
            n = len(members[c["code"]])
            if not 5 <= n <= 7:
                problems.append(f"community {c['code']}: {n} grids, not 5–7")
            shapes[c["code"]] = _one_piece(c["code"], [shapes[g] for g in members[c["code"]]],
                                           problems)
            for g in members[c["code"]]:
                if not shapes[c["code"]].buffer(PRECISION).contains(shapes[g]):
                    problems.append(f"grid {g} is not inside community {c['code']}")
        shapes[s["code"]] = _one_piece(s["code"], [shapes[c["code"]] for c in s["communities"]],
                                       problems)
        for c in s["communities"]:
            if not shapes[s["code"]].buffer(PRECISION).contains(shapes[c["code"]]):
                problems.append(f"community {c['code']} is not inside street {s['code']}")
        if not outline.contains(shapes[s["code"]]):
            problems.append(f"street {s['code']} reaches outside the district's outline")
    _one_piece(district["code"], [shapes[s["code"]] for s in district["streets"]], problems)
    if len(collection["features"]) < 60:
        problems.append(f"only {len(collection['features'])} grids, not 60 or more")
    if not shapes[PIN_GRID].contains(Point(PIN)):
        problems.append(f"grid {PIN_GRID} does not hold lat {PIN[1]}, lon {PIN[0]}")
    problems += _former_kept(collection, source)
    problems += _names_unique(meta)
    return problems


def _overlaps(shapes: dict[str, Any]) -> list[str]:
    codes, geometries = list(shapes), list(shapes.values())
    tree = STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    return [f"grids {codes[i]} and {codes[j]} overlap"
            for i, j in zip(left.tolist(), right.tolist(), strict=True)
            if i < j and geometries[i].intersection(geometries[j]).area > OVERLAP]


def _one_piece(code: str, parts: list[Any], problems: list[str]) -> Any:
    union = shapely.union_all(parts, grid_size=PRECISION)
    if union.geom_type != "Polygon":
        problems.append(f"{code}: its parts make {union.geom_type}, not one connected region")
    elif union.interiors:
        problems.append(f"{code}: has {len(union.interiors)} hole(s)")
    return union


def _former_kept(collection: dict[str, Any], source: dict[str, Any]) -> list[str]:
    """Every street, community and grid of sample_seed.json, with its name and facts."""
    problems = []
    new = {s["code"]: s for d in collection["whistle"]["districts"] for s in d["streets"]}
    newc = {c["code"]: c for s in new.values() for c in s["communities"]}
    grids = {f["id"]: f["properties"] for f in collection["features"]}
    for d in source["districts"]:
        for s in d["streets"]:
            mine = new.get(s["code"])
            if mine is None or any(mine[k] != s[k] for k in
                                   ("name", "kind", "has_enforcement_team")):
                problems.append(f"street {s['code']} {s['name']}: changed or missing")
            for c in s["communities"]:
                if newc.get(c["code"], {}).get("name") != c["name"] or \
                        not c["code"].startswith(s["code"]):
                    problems.append(f"community {c['code']} {c['name']}: changed or missing")
                for g in c["grids"]:
                    props = grids.get(g["code"], {})
                    if props.get("name") != g["name"] or props.get("community") != c["code"]:
                        problems.append(f"grid {g['code']} {g['name']}: changed or missing")
    return problems


def territory_names(meta: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """Each name the resolver derives from the hierarchy (name, aliases, name minus its
    level's suffix) → the places, as (level, code), it stands for."""
    names: dict[str, set[tuple[str, str]]] = defaultdict(set)

    def add(node: dict[str, Any], level: str) -> None:
        for text in [node["name"], *node.get("aliases", [])]:
            names[text].add((level, node["code"]))
        for suffix in SUFFIXES[level]:
            if node["name"].endswith(suffix) and len(node["name"]) - len(suffix) >= 2:
                names[node["name"][: -len(suffix)]].add((level, node["code"]))
                break

    for d in meta["districts"]:
        add(d, "district")
        for s in d["streets"]:
            add(s, "street")
            for c in s["communities"]:
                add(c, "community")
    return names


def _names_unique(meta: dict[str, Any]) -> list[str]:
    return [f"the name {text!r} stands for {sorted(places)}"
            for text, places in sorted(territory_names(meta).items())
            if len(places) > 1 and text not in INHERENT]


def gazetteer() -> dict[str, Any]:
    roads = [{"name": r["name"], "aliases": r["aliases"],
              "ranges": [{"from": a, "to": b, "community": c} for a, b, c in r["ranges"]]}
             for r in ROADS]
    places = [{"name": name, "kind": kind, "community": community, "aliases": aliases}
              for name, kind, community, aliases in PLACES]
    return {"version": VERSION, "roads": roads, "places": places}


def check_gazetteer(gaz: dict[str, Any], collection: dict[str, Any]) -> list[str]:
    """Every problem of the gazetteer against the territory it describes."""
    problems: list[str] = []
    meta = collection["whistle"]
    street_of = {c["code"]: s["code"] for d in meta["districts"] for s in d["streets"]
                 for c in s["communities"]}
    shapes: dict[str, list[Any]] = defaultdict(list)
    for f in collection["features"]:
        shapes[f["properties"]["community"]].append(shapely.geometry.shape(f["geometry"]))
    area = {c: shapely.union_all(g, grid_size=PRECISION) for c, g in shapes.items()}

    entries: list[tuple[str, str, set[str]]] = []  # (what, name, communities)
    for road in gaz["roads"]:
        ranges = sorted((r["from"], r["to"], r["community"]) for r in road["ranges"])
        where = f"road {road['name']}"
        communities = {c for _, _, c in ranges}
        if not 1 <= len(communities) <= 3:
            problems.append(f"{where}: crosses {len(communities)} communities, not 1–3")
        for (a, b, c), nxt in zip(ranges, [*ranges[1:], None], strict=True):
            if c not in street_of:
                problems.append(f"{where}: community {c} does not exist")
                continue
            if not 1 <= a <= b:
                problems.append(f"{where}: the range {a}–{b} is empty")
            if nxt is not None and nxt[0] <= b:
                problems.append(f"{where}: the ranges {a}–{b} and {nxt[0]}–{nxt[1]} overlap")
            if nxt is not None and nxt[2] in area and c != nxt[2] and \
                    not area[c].intersects(area[nxt[2]]):
                problems.append(f"{where}: runs from {c} to {nxt[2]}, which do not touch")
        entries += [(where, n, communities) for n in [road["name"], *road["aliases"]]]
    per_community: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for place in gaz["places"]:
        where = f"{place['kind']} {place['name']}"
        if place["kind"] not in (COMPOUND, LANDMARK):
            problems.append(f"{where}: kind is {COMPOUND} or {LANDMARK}")
        if place["community"] not in street_of:
            problems.append(f"{where}: community {place['community']} does not exist")
        per_community[place["community"]][place["kind"]] += 1
        entries += [(where, n, {place["community"]})
                    for n in [place["name"], *place["aliases"]]]
    for code in street_of:
        count = per_community[code]
        if count[COMPOUND] < 2 or not 1 <= count[LANDMARK] <= 2:
            problems.append(f"community {code}: {count[COMPOUND]} compounds and "
                            f"{count[LANDMARK]} landmarks (2+ and 1–2 wanted)")

    # a name names one place; a name containing another lies where that one is
    owners: dict[str, set[str]] = defaultdict(set)
    for what, name, _ in entries:
        owners[name].add(what)
    problems += [f"the name {n!r} is given to {sorted(w)}" for n, w in owners.items()
                 if len(w) > 1]
    known = territory_names(meta)
    for what, name, communities in entries:
        for text, places in known.items():
            if text not in name:
                continue
            fits = any(_within(level, code, communities, street_of) for level, code in places)
            if text == name and any(level != "district" for level, _ in places):
                problems.append(f"{what}: {name!r} is already the name of {sorted(places)}")
            elif not fits:
                problems.append(f"{what}: {name!r} says {text!r} but lies elsewhere")
        for other, inner, theirs in entries:
            if inner != name and inner in name and not communities & theirs:
                problems.append(f"{what}: {name!r} contains {inner!r} ({other}) but they share "
                                "no community")
    return problems


def _within(level: str, code: str, communities: set[str], street_of: dict[str, str]) -> bool:
    if level == "district":
        return True
    if level == "street":
        return any(street_of[c] == code for c in communities)
    return code in communities


# -- output -------------------------------------------------------------------------------------

def territory_text(collection: dict[str, Any]) -> str:
    """One line for the hierarchy, one per grid."""
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    features = ",\n".join(dump(f) for f in collection["features"])
    return (f'{{"type": "FeatureCollection",\n"whistle": {dump(collection["whistle"])},\n'
            f'"features": [\n{features}\n]}}\n')


def gazetteer_text(gaz: dict[str, Any]) -> str:
    """One line per road and per place."""
    def block(key: str) -> str:
        return ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in gaz[key])

    return (f'{{"version": "{gaz["version"]}",\n"roads": [\n{block("roads")}\n],\n'
            f'"places": [\n{block("places")}\n]}}\n')


def svg(collection: dict[str, Any], path: Path) -> None:
    """A preview map: streets coloured, community borders thick, grid borders thin."""
    x0, y0, x1, y1 = BOUNDS
    scale = 4000

    def points(ring: list[list[float]]) -> str:
        return " ".join(f"{(x - x0) * scale * KX:.1f},{(y1 - y) * scale:.1f}" for x, y in ring)

    colours = ["#f4cccc", "#d9ead3", "#cfe2f3", "#fff2cc", "#ead1dc", "#d0e0e3"]
    streets = [s["code"] for d in collection["whistle"]["districts"] for s in d["streets"]]
    shapes: dict[str, list[Any]] = defaultdict(list)
    body = []
    for f in collection["features"]:
        props = f["properties"]
        colour = colours[streets.index(props["community"][:9]) % len(colours)]
        body.append(f'<polygon points="{points(f["geometry"]["coordinates"][0])}" '
                    f'fill="{colour}" stroke="#888" stroke-width="0.6"/>')
        shapes[props["community"]].append(shapely.geometry.shape(f["geometry"]))
    for code, parts in shapes.items():
        union = shapely.union_all(parts, grid_size=PRECISION)
        body.append(f'<polygon points="{points(union.exterior.coords)}" fill="none" '
                    f'stroke="#000" stroke-width="2"/>')
        where = union.representative_point()
        body.append(f'<text x="{(where.x - x0) * scale * KX:.1f}" '
                    f'y="{(y1 - where.y) * scale:.1f}" font-size="14">{code[6:]}</text>')
    body.append(f'<circle cx="{(PIN[0] - x0) * scale * KX:.1f}" '
                f'cy="{(y1 - PIN[1]) * scale:.1f}" r="3" fill="red"/>')
    width, height = (x1 - x0) * scale * KX, (y1 - y0) * scale
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
                    f'height="{height:.0f}"><rect width="100%" height="100%" fill="white"/>'
                    + "".join(body) + "</svg>\n", "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="build and compare with the files on disk; write nothing")
    parser.add_argument("--svg", type=Path, help="also draw the map to this SVG file")
    args = parser.parse_args(argv)
    source = json.loads(SOURCE.read_text("utf-8"))
    collection = build(source)
    gaz = gazetteer()
    problems = check_territory(collection, source) + check_gazetteer(gaz, collection)
    if problems:
        print("the sample territory fails its checks:", *problems, sep="\n  - ", file=sys.stderr)
        return 1
    texts = {TERRITORY: territory_text(collection), GAZETTEER: gazetteer_text(gaz)}
    if args.svg:
        svg(collection, args.svg)
    if args.check:
        stale = [p.name for p, t in texts.items()
                 if not p.exists() or p.read_text("utf-8") != t]
        print("out of date: " + ", ".join(stale) if stale else "up to date")
        return 1 if stale else 0
    for path, text in texts.items():
        path.write_text(text, "utf-8")
    meta = collection["whistle"]["districts"][0]
    print(f"wrote {TERRITORY.name}: {len(meta['streets'])} streets, "
          f"{sum(len(s['communities']) for s in meta['streets'])} communities, "
          f"{len(collection['features'])} grids; {GAZETTEER.name}: {len(gaz['roads'])} roads, "
          f"{len(gaz['places'])} places")
    return 0


if __name__ == "__main__":
    sys.exit(main())
