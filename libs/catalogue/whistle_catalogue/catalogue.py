"""Departments, categories, deadlines and place rules of the dispatch catalogue."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
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

    def category(self, code: str) -> Category | None:
        return self.categories.get(code)

    def as_dict(self) -> dict[str, Any]:
        """The catalogue as served by GET /v1/categories."""
        return {
            "version": self.version,
            "categories": [
                {"code": c.code, "name": c.name, "lead": c.lead, "co": list(c.co),
                 "priority": c.priority, "deadlines": c.deadlines, "whistle": c.whistle,
                 "default_kind": c.default_kind, "resolution": c.resolution}
                for c in self.categories.values()],
        }


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    """Build and check a catalogue from its JSON form."""
    departments = {d["code"]: Department(**d) for d in raw["departments"]}
    categories = {}
    for c in raw["categories"]:
        cat = Category(code=c["code"], name=c["name"], lead=c["lead"], co=tuple(c["co"]),
                       priority=c["priority"], deadlines=c["deadlines"], whistle=c["whistle"],
                       default_kind=c["default_kind"], resolution=c["resolution"])
        unknown = {cat.lead, *cat.co} - departments.keys()
        if unknown:
            raise ValueError(f"category {cat.code} names unknown departments {sorted(unknown)}")
        categories[cat.code] = cat
    if "general" not in categories:
        raise ValueError("the catalogue needs a `general` category for triage")
    rules = tuple(PlaceRule(**r) for r in raw.get("place_rules", []))
    returns = {k: tuple(v) for k, v in raw.get("return_candidates", {}).items()}
    return Catalogue(raw["version"], raw["timezone"], departments, categories, rules, returns)


@cache
def load_catalogue() -> Catalogue:
    """The catalogue shipped with this package."""
    text = (resources.files(__package__) / "data" / "catalogue.json").read_text("utf-8")
    return parse_catalogue(json.loads(text))
