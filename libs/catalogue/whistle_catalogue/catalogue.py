"""Departments, categories, deadlines and place rules of the dispatch catalogue."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Department:
    """A functional department (or the street office / community) that receives orders."""

    code: str
    name: str
    level: str
    duty: str


@dataclass(frozen=True)
class Category:
    """One line of the catalogue: who leads, who assists, how fast."""

    code: str
    name: str
    lead: str
    co: tuple[str, ...]
    priority: str
    deadlines: dict[str, dict[str, int]]
    whistle: bool
    default_kind: str
    resolution: str
    area: str = "其他"
    klass: str = "其他"
    description: str = ""


@dataclass(frozen=True)
class PlaceRule:
    """Replace departments when the place matches (e.g. a township without its own team)."""

    description: str
    match: dict[str, Any]
    replace: dict[str, str]


@dataclass(frozen=True)
class Catalogue:
    """The whole catalogue, looked up by code."""

    version: str
    timezone: str
    departments: dict[str, Department]
    categories: dict[str, Category]
    place_rules: tuple[PlaceRule, ...]
    return_candidates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def category(self, code: str) -> Category | None:
        """The leaf of a code, following an alias of an older catalogue version."""
        return self.categories.get(self.aliases.get(code, code))

    def canonical(self, code: str) -> str | None:
        """The leaf code a code stands for (itself, or the leaf an alias points to)."""
        found = self.category(code)
        return found.code if found is not None else None

    def tree(self) -> list[dict[str, Any]]:
        """The three-level tree (area → class → matter) in catalogue order."""
        areas: dict[str, dict[str, list[str]]] = {}
        for cat in self.categories.values():
            areas.setdefault(cat.area, {}).setdefault(cat.klass, []).append(cat.code)
        return [{"area": area, "classes": [{"class": k, "categories": codes}
                                           for k, codes in classes.items()]}
                for area, classes in areas.items()]

    def as_dict(self) -> dict[str, Any]:
        """The catalogue as served by GET /v1/categories."""
        return {
            "version": self.version,
            "categories": [
                {"code": c.code, "name": c.name, "lead": c.lead, "co": list(c.co),
                 "priority": c.priority, "deadlines": c.deadlines, "whistle": c.whistle,
                 "default_kind": c.default_kind, "resolution": c.resolution,
                 "area": c.area, "class": c.klass, "description": c.description,
                 "lead_name": self.departments[c.lead].name}
                for c in self.categories.values()],
            "aliases": dict(self.aliases),
            "tree": self.tree(),
            "departments": [{"code": d.code, "name": d.name, "level": d.level, "duty": d.duty}
                            for d in self.departments.values()],
        }


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    """Build and check a catalogue from its JSON form."""
    departments = {d["code"]: Department(**d) for d in raw["departments"]}
    categories = {}
    for c in raw["categories"]:
        cat = Category(code=c["code"], name=c["name"], lead=c["lead"], co=tuple(c["co"]),
                       priority=c["priority"], deadlines=c["deadlines"], whistle=c["whistle"],
                       default_kind=c["default_kind"], resolution=c["resolution"],
                       area=c.get("area", "其他"), klass=c.get("class", "其他"),
                       description=c.get("description", ""))
        unknown = {cat.lead, *cat.co} - departments.keys()
        if unknown:
            raise ValueError(f"category {cat.code} names unknown departments {sorted(unknown)}")
        categories[cat.code] = cat
    if "general" not in categories:
        raise ValueError("the catalogue needs a `general` category for triage")
    rules = tuple(PlaceRule(**r) for r in raw.get("place_rules", []))
    returns = {k: tuple(v) for k, v in raw.get("return_candidates", {}).items()}
    aliases = dict(raw.get("aliases", {}))
    broken = {a: t for a, t in aliases.items() if t not in categories or a in categories}
    if broken:
        raise ValueError(f"aliases must point from a retired code to a leaf: {broken}")
    return Catalogue(raw["version"], raw["timezone"], departments, categories, rules, returns,
                     aliases)


@cache
def load_catalogue() -> Catalogue:
    """The configured catalogue (WHISTLE_CATALOGUE, a file `whistle-catalogue
    import-catalogue` wrote), else the one shipped with this package."""
    configured = os.environ.get("WHISTLE_CATALOGUE")
    if configured:
        text = Path(configured).read_text("utf-8")
    else:
        text = (resources.files(__package__) / "data" / "catalogue.json").read_text("utf-8")
    return parse_catalogue(json.loads(text))
