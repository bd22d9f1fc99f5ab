"""A city brings its own map and catalogue: check them, say exactly what is wrong (which
feature or row, and why), and write a new version the services load at start.

Territory: the GeoJSON documented in docs/onboarding.md — valid, non-overlapping grid
polygons, each grid touching the rest of its community, codes unique and nested.
Catalogue: YAML (everything) or CSV (the category tree; departments from a second CSV).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml
from shapely.geometry import shape
from shapely.strtree import STRtree
from shapely.validation import explain_validity
from whistle_catalogue.catalogue import parse_catalogue
from whistle_catalogue.territory import TerritoryError, parse_territory

OVERLAP = 1e-10  # square degrees (~1 m²): shared borders touch, they do not overlap
KINDS = ("street", "township")


class Invalid(ValueError):
    """The file cannot be used; `problems` lists every reason found, one per line."""

    def __init__(self, what: str, problems: list[str]) -> None:
        super().__init__(f"{what} refused:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


# -- territory ------------------------------------------------------------------------------------

def check_territory(collection: dict[str, Any]) -> list[str]:
    """Every problem of a territory GeoJSON (empty: it can be used)."""
    problems = _check_hierarchy(collection)
    if problems:
        return problems
    meta = collection["whistle"]
    communities = {c["code"]: c for d in meta["districts"] for s in d["streets"]
                   for c in s["communities"]}
    codes = set(_all_codes(meta))
    polygons: list[tuple[str, str, Any]] = []
    for number, feature in enumerate(collection.get("features") or [], start=1):
        props = feature.get("properties") or {}
        code, community = str(props.get("code") or ""), str(props.get("community") or "")
        where = f"feature {number} ({code or 'no code'})"
        if not code:
            problems.append(f"{where}: properties.code is missing")
            continue
        if code in codes:
            problems.append(f"{where}: code {code} is used twice")
        codes.add(code)
        if community not in communities:
            problems.append(f"{where}: community {community!r} is not in the hierarchy")
            continue
        if not code.startswith(community):
            problems.append(f"{where}: a grid code extends its community's code ({community})")
        try:
            geometry = shape(feature.get("geometry") or {})
        except (ValueError, AttributeError, TypeError) as exc:
            problems.append(f"{where}: geometry is not GeoJSON: {exc}")
            continue
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
            problems.append(f"{where}: a grid is a Polygon, not {geometry.geom_type}")
            continue
        if not geometry.is_valid:
            problems.append(f"{where}: invalid polygon: {explain_validity(geometry)}")
            continue
        if not (-180 <= geometry.bounds[0] and geometry.bounds[2] <= 180
                and -90 <= geometry.bounds[1] and geometry.bounds[3] <= 90):
            problems.append(f"{where}: coordinates are not lon/lat degrees (RFC 7946)")
            continue
        polygons.append((code, community, geometry))
    problems += _overlaps(polygons)
    problems += _detached(polygons)
    empty = sorted(set(communities) - {c for _, c, _ in polygons})
    if empty and not problems:
        problems.append(f"communities without any grid: {', '.join(empty)}")
    return problems


def _check_hierarchy(collection: dict[str, Any]) -> list[str]:
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        return ["the file is not a GeoJSON FeatureCollection"]
    meta = collection.get("whistle")
    if not isinstance(meta, dict):
        return ["the FeatureCollection has no `whistle` member (version, city, districts → "
                "streets → communities)"]
    problems = [f"whistle.{key} is missing" for key in ("version", "city", "districts")
                if not meta.get(key)]
    if problems:
        return problems
    seen: set[str] = set()
    for d in meta["districts"]:
        for s in d.get("streets") or []:
            where = f"street {s.get('code')} ({s.get('name')})"
            if s.get("kind") not in KINDS:
                problems.append(f"{where}: kind must be one of {KINDS}")
            if not isinstance(s.get("has_enforcement_team"), bool):
                problems.append(f"{where}: has_enforcement_team must be true or false")
            if not str(s.get("code", "")).startswith(str(d.get("code"))):
                problems.append(f"{where}: a street code extends its district's code")
            for c in s.get("communities") or []:
                if not str(c.get("code", "")).startswith(str(s.get("code"))):
                    problems.append(f"community {c.get('code')}: extends its street's code")
    for code in _all_codes(meta):
        if code in seen:
            problems.append(f"code {code} is used twice in the hierarchy")
        seen.add(code)
    return problems


def _all_codes(meta: dict[str, Any]) -> list[str]:
    codes = []
    for d in meta["districts"]:
        codes.append(str(d.get("code")))
        for s in d.get("streets") or []:
            codes.append(str(s.get("code")))
            codes += [str(c.get("code")) for c in s.get("communities") or []]
    return codes


def _overlaps(polygons: list[tuple[str, str, Any]]) -> list[str]:
    """Pairs of grids sharing area (an STRtree finds the candidates)."""
    if not polygons:
        return []
    geometries = [g for _, _, g in polygons]
    tree = STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    problems = []
    for i, j in zip(left, right, strict=True):
        if i < j and geometries[i].intersection(geometries[j]).area > OVERLAP:
            problems.append(f"grids {polygons[i][0]} and {polygons[j][0]} overlap")
    return problems


def _detached(polygons: list[tuple[str, str, Any]]) -> list[str]:
    """A community is the union of its grids, one connected piece: its largest group of
    grids touching each other (the first listed, on a tie). A grid outside that group lies
    outside its community."""
    problems = []
    by_community: dict[str, list[tuple[str, Any]]] = {}
    for code, community, geometry in polygons:
        by_community.setdefault(community, []).append((code, geometry))
    for community, grids in by_community.items():
        groups = _touching_groups([g for _, g in grids])
        main = max(groups, key=lambda group: (len(group), -min(group)))
        for index, (code, _) in enumerate(grids):
            if index not in main:
                problems.append(f"grid {code} lies outside community {community}: it does "
                                "not touch the community's other grids")
    return problems


def _touching_groups(geometries: list[Any]) -> list[set[int]]:
    """Indices of geometries grouped by touching (connected components)."""
    groups: list[set[int]] = []
    for i, geometry in enumerate(geometries):
        joined = [g for g in groups if any(geometry.intersects(geometries[j]) for j in g)]
        merged = {i}.union(*joined)
        groups = [g for g in groups if g not in joined] + [merged]
    return groups


def import_territory(source: Path, out_dir: Path) -> Path:
    """Check a territory file and write it as `territory-<version>.geojson` in out_dir."""
    collection = _read_json(source, "territory")
    problems = check_territory(collection)
    if problems:
        raise Invalid(f"territory {source}", problems)
    try:
        territory = parse_territory(collection)
    except (TerritoryError, KeyError) as exc:
        raise Invalid(f"territory {source}", [str(exc)]) from exc
    return _write(out_dir / f"territory-{territory.version}.geojson", collection)


# -- catalogue ------------------------------------------------------------------------------------

CSV_COLUMNS = ("area", "class", "code", "name", "description", "lead", "co", "priority",
               "urgent_ack_hours", "urgent_resolve_hours", "normal_ack_workdays",
               "normal_resolve_workdays", "whistle", "default_kind", "resolution")


def read_catalogue(source: Path, departments: Path | None = None,
                   version: str | None = None) -> dict[str, Any]:
    """A catalogue file (YAML, or CSV plus a departments CSV) in the JSON form services load."""
    text = source.read_text("utf-8")
    if source.suffix.lower() in (".yaml", ".yml", ".json"):
        raw = yaml.safe_load(text)
        if not isinstance(raw, dict):
            raise Invalid(f"catalogue {source}", ["the file is not a mapping"])
        return raw
    if source.suffix.lower() != ".csv":
        raise Invalid(f"catalogue {source}", ["use a .yaml, .yml, .json or .csv file"])
    if departments is None:
        raise Invalid(f"catalogue {source}", ["a CSV catalogue needs --departments FILE.csv "
                                              "(code,name,level,duty)"])
    return {"version": version or source.stem, "timezone": "Asia/Shanghai",
            "departments": _csv_rows(departments, ("code", "name", "level", "duty")),
            "categories": [_category(row) for row in _csv_rows(source, CSV_COLUMNS)]}


def _csv_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(path.read_text("utf-8-sig")))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid(f"{path}", [f"columns missing: {', '.join(missing)}"])
    return [{**row, "_row": n} for n, row in enumerate(reader, start=2)]


def _category(row: dict[str, Any]) -> dict[str, Any]:
    def number(name: str) -> float | None:
        text = (row.get(name) or "").strip()
        return float(text) if text else None

    deadlines = {"urgent": {"ack_hours": number("urgent_ack_hours"),
                            "resolve_hours": number("urgent_resolve_hours")},
                 "normal": {"ack_workdays": number("normal_ack_workdays"),
                            "resolve_workdays": number("normal_resolve_workdays")}}
    return {"code": row["code"], "name": row["name"], "area": row["area"],
            "class": row["class"], "description": row["description"], "lead": row["lead"],
            "co": [c for c in (row["co"] or "").replace(";", " ").split() if c],
            "priority": row["priority"] or "normal", "deadlines": deadlines,
            "whistle": (row["whistle"] or "").strip().lower() in ("1", "true", "yes", "是"),
            "default_kind": row["default_kind"] or "complaint",
            "resolution": row["resolution"] or "lead", "_row": row["_row"]}


def check_catalogue(raw: dict[str, Any]) -> list[str]:
    """Every problem of a catalogue in its JSON form (empty: it can be used)."""
    problems = [f"`{key}` is missing" for key in ("version", "departments", "categories")
                if not raw.get(key)]
    if problems:
        return problems
    departments: set[str] = set()
    for d in raw["departments"]:
        where = _where(d, "department")
        if not d.get("code") or not d.get("name"):
            problems.append(f"{where}: a department needs a code and a name")
        if d.get("code") in departments:
            problems.append(f"{where}: department code {d.get('code')} is used twice")
        departments.add(d.get("code"))
    codes: set[str] = set()
    for c in raw["categories"]:
        where = _where(c, "category")
        if c.get("code") in codes:
            problems.append(f"{where}: category code {c.get('code')} is used twice")
        codes.add(c.get("code"))
        for dept in [c.get("lead"), *(c.get("co") or [])]:
            if dept not in departments:
                problems.append(f"{where}: unknown department {dept!r}")
        problems += [f"{where}: {p}" for p in _deadline_problems(c.get("deadlines"))]
        if not c.get("area") or not c.get("class"):
            problems.append(f"{where}: area and class (the first two levels) are required")
    if "general" not in codes:
        problems.append("a `general` category is required: it is where triage starts")
    problems += _cycles(raw.get("place_rules") or [], "place rule replacements")
    problems += _cycles([{"replace": raw.get("aliases") or {}}], "aliases")
    return problems


def _where(item: dict[str, Any], kind: str) -> str:
    row = item.get("_row")
    return f"{kind} {item.get('code') or '?'}" + (f" (row {row})" if row else "")


def _deadline_problems(deadlines: Any) -> list[str]:
    if not isinstance(deadlines, dict):
        return ["deadlines are missing"]
    wanted = {"urgent": ("ack_hours", "resolve_hours"),
              "normal": ("ack_workdays", "resolve_workdays")}
    problems = []
    for priority, keys in wanted.items():
        given = deadlines.get(priority) or {}
        for key in keys:
            value = given.get(key)
            if value is None:
                problems.append(f"missing deadline {priority}.{key}")
            elif not isinstance(value, int | float) or value <= 0:
                problems.append(f"deadline {priority}.{key} must be a positive number")
    return problems


def _cycles(rules: list[dict[str, Any]], what: str) -> list[str]:
    """A replacement that leads back to where it started never settles."""
    edges: dict[str, str] = {}
    for rule in rules:
        edges.update(rule.get("replace") or {})
    problems = []
    for start in edges:
        seen, node = [start], edges[start]
        while node in edges and node not in seen:
            seen.append(node)
            node = edges[node]
        if node == start:
            problems.append(f"{what} form a cycle: {' → '.join([*seen, start])}")
    return sorted(set(problems))


def import_catalogue(source: Path, out_dir: Path, *, departments: Path | None = None,
                     version: str | None = None) -> Path:
    """Check a catalogue and write it as `catalogue-<version>.json` in out_dir."""
    raw = read_catalogue(source, departments, version)
    problems = check_catalogue(raw)
    if problems:
        raise Invalid(f"catalogue {source}", problems)
    clean = _without_rows(raw)
    clean.setdefault("timezone", "Asia/Shanghai")
    for category in clean["categories"]:
        for priority in category["deadlines"].values():
            for key, value in priority.items():
                priority[key] = int(value) if float(value).is_integer() else value
    try:
        parse_catalogue(clean)
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid(f"catalogue {source}", [str(exc)]) from exc
    return _write(out_dir / f"catalogue-{clean['version']}.json", clean)


def _without_rows(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_rows(v) for k, v in value.items() if k != "_row"}
    if isinstance(value, list):
        return [_without_rows(v) for v in value]
    return value


# -- files ----------------------------------------------------------------------------------------

def _read_json(source: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(source.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise Invalid(f"{what} {source}", [f"cannot read JSON: {exc}"]) from exc


def _write(target: Path, content: dict[str, Any]) -> Path:
    """Write a version once: the same version with other content is refused."""
    text = json.dumps(content, ensure_ascii=False, indent=1) + "\n"
    if target.exists() and target.read_text("utf-8") != text:
        raise Invalid(str(target), [f"version {target.stem} exists with other content: "
                                    "give the new data a new version"])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, "utf-8")
    return target


def sizes(territory_file: Path) -> dict[str, int]:
    """How many places of each level a territory file holds (for the import's summary)."""
    territory = parse_territory(json.loads(territory_file.read_text("utf-8")))
    return {"version": territory.version, "districts": len(territory.districts),
            "streets": len(territory.streets), "communities": len(territory.communities),
            "grids": len(territory.grids)}
