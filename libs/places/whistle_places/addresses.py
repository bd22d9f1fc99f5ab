"""Address text → the finest place it names: grid > community > street > district.

A caller says "渔阳北路12号", "鼓楼小区3号楼", "府君山社区第2网格" or just "文昌街道那边". The
resolver finds every name it knows in the text — districts, streets and communities with their
aliases (the territory), roads with house-number ranges, compounds and landmarks (the
gazetteer) — keeps the longest where names overlap, and lets each piece of evidence vote for
the communities it allows. Agreeing evidence narrows the place; evidence that contradicts
itself (a compound of one street named together with another street) resolves no finer than
what all of it agrees on, so a confused address goes to triage, never to a wrong department.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
             "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千]+(?=号|网格)")
HOUSE_NUMBER = re.compile(r"^[东西南北]?(?:段)?(\d{1,5})(?:-\d+)?号")
GRID_NUMBER = re.compile(r"^第?(\d{1,2})网格")
SUFFIXES = {"community": ("社区居委会", "社区", "居委会", "村委会", "村"),
            "street": ("街道办事处", "街道办", "街道", "镇", "乡"),
            "district": ("区", "县")}
LEVELS = ("grid", "community", "street", "district")
CONFIDENCE = {"grid-name": 0.95, "road-number": 0.9, "compound": 0.9, "community-name": 0.85,
              "landmark": 0.8, "road": 0.7, "street-name": 0.6, "district-name": 0.3}


@dataclass(frozen=True)
class Resolution:
    """Where an address points, as finely as the text allows, and how sure that is."""

    level: str  # grid | community | street | district | none
    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    method: str = "unresolved"
    confidence: float = 0.0
    matched: tuple[str, ...] = ()
    note: str = ""

    @property
    def code(self) -> str | None:
        """The code of the finest place found."""
        return self.grid or self.community or self.street or self.district

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "code": self.code, "district": self.district,
                "street": self.street, "community": self.community, "grid": self.grid,
                "method": self.method, "confidence": self.confidence,
                "matched": list(self.matched), "note": self.note}


@dataclass(frozen=True)
class _Name:
    text: str
    kind: str  # district | street | community | road | compound | landmark
    target: str  # a code, or a road's name


@dataclass
class _Evidence:
    """One name found in the text and the communities (or street, district) it allows."""

    name: _Name
    start: int
    end: int
    method: str
    communities: frozenset[str] = field(default_factory=frozenset)
    grid: str | None = None


def normalize(text: str) -> str:
    """Full-width to half-width, no spaces, Chinese house numbers as digits (十二号 → 12号)."""
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub(r"\s+", "", text)
    return CN_NUMBER.sub(lambda m: str(_cn_number(m.group())), text)


def _cn_number(text: str) -> int:
    """一百零五 → 105, 十二 → 12, 三五 → 35 (digit by digit when no unit is said)."""
    if not any(ch in CN_UNITS for ch in text):
        return int("".join(str(CN_DIGITS[ch]) for ch in text))
    total, digit = 0, 0
    for ch in text:
        if ch in CN_DIGITS:
            digit = CN_DIGITS[ch]
        else:
            total += (digit or 1) * CN_UNITS[ch]
            digit = 0
    return total + digit


class AddressResolver:
    """Resolves address text against one territory (its hierarchy) and its gazetteer."""

    def __init__(self, hierarchy: dict[str, Any], gazetteer: dict[str, Any] | None = None,
                 grids: Iterable[tuple[str, str]] = ()) -> None:
        """`hierarchy`: the territory's districts → streets → communities (with aliases);
        `gazetteer`: roads with number ranges, compounds and landmarks per community;
        `grids`: (grid code, community code) pairs."""
        self.street_of: dict[str, str] = {}
        self.district_of: dict[str, str] = {}
        self.communities_of: dict[str, set[str]] = {}
        self.grids = {code: community for code, community in grids}
        names: list[_Name] = []
        for d in hierarchy["districts"]:
            names += self._names(d, "district", d["code"])
            for s in d["streets"]:
                self.district_of[s["code"]] = d["code"]
                self.communities_of.setdefault(d["code"], set())
                names += self._names(s, "street", s["code"])
                for c in s["communities"]:
                    self.street_of[c["code"]] = s["code"]
                    self.communities_of.setdefault(s["code"], set()).add(c["code"])
                    self.communities_of[d["code"]].add(c["code"])
                    names += self._names(c, "community", c["code"])
        gazetteer = gazetteer or {"roads": [], "places": []}
        self.ranges: dict[str, list[tuple[int, int, str]]] = {}
        for road in gazetteer.get("roads", []):
            self.ranges[road["name"]] = [(r["from"], r["to"], r["community"])
                                         for r in road["ranges"]]
            names += [_Name(n, "road", road["name"]) for n in [road["name"],
                                                              *road.get("aliases", [])]]
        for place in gazetteer.get("places", []):
            names += [_Name(n, place["kind"], place["community"])
                      for n in [place["name"], *place.get("aliases", [])]]
        self.names = _unambiguous(names, self.street_of)
        self.version = gazetteer.get("version")

    @staticmethod
    def _names(node: dict[str, Any], kind: str, code: str) -> list[_Name]:
        """A place's name, its aliases, and its name without the level's suffix (鼓楼社区 →
        鼓楼) when two characters or more remain."""
        found = [node["name"], *node.get("aliases", [])]
        for suffix in SUFFIXES[kind]:
            if node["name"].endswith(suffix) and len(node["name"]) - len(suffix) >= 2:
                found.append(node["name"][: -len(suffix)])
                break
        return [_Name(n, kind, code) for n in dict.fromkeys(found)]

    def resolve(self, text: str) -> Resolution:
        """The finest place the text names without contradiction."""
        clean = normalize(text)
        evidence = [self._evidence(hit, clean) for hit in self._find(clean)]
        return self._decide([e for e in evidence if e is not None])

    def _find(self, text: str) -> list[tuple[_Name, int, int]]:
        """Every known name in the text; a name inside a longer one found there is dropped."""
        hits = []
        for name in self.names:
            start = text.find(name.text)
            while start >= 0:
                hits.append((name, start, start + len(name.text)))
                start = text.find(name.text, start + 1)
        hits.sort(key=lambda h: (-(h[2] - h[1]), h[1]))
        kept: list[tuple[_Name, int, int]] = []
        for hit in hits:
            if not any(k[1] <= hit[1] and hit[2] <= k[2] for k in kept):
                kept.append(hit)
        return sorted(kept, key=lambda h: h[1])

    def _evidence(self, hit: tuple[_Name, int, int], text: str) -> _Evidence | None:
        name, start, end = hit
        after = text[end:]
        if name.kind == "community":
            grid = None
            if m := GRID_NUMBER.match(after):
                code = f"{name.target}{int(m.group(1)):02d}"
                grid = code if self.grids.get(code) == name.target else None
            return _Evidence(name, start, end, "grid-name" if grid else "community-name",
                             frozenset({name.target}), grid)
        if name.kind in ("street", "district"):
            return _Evidence(name, start, end, f"{name.kind}-name",
                             frozenset(self.communities_of.get(name.target, ())))
        if name.kind == "road":
            ranges = self.ranges[name.target]
            if m := HOUSE_NUMBER.match(after):
                number = int(m.group(1))
                on = frozenset(c for lo, hi, c in ranges if lo <= number <= hi)
                if on:
                    return _Evidence(name, start, end, "road-number", on)
            return _Evidence(name, start, end, "road", frozenset(c for _, _, c in ranges))
        method = "compound" if name.kind == "compound" else "landmark"
        return _Evidence(name, start, end, method, frozenset({name.target}))

    def _decide(self, evidence: list[_Evidence]) -> Resolution:
        if not evidence:
            return Resolution("none", note="no known place named")
        matched = tuple(e.name.text for e in evidence)
        allowed = frozenset.intersection(*(e.communities for e in evidence))
        best = max(evidence, key=lambda e: CONFIDENCE[e.method])
        if not allowed:
            return self._common(evidence, matched)
        grids = {e.grid for e in evidence if e.grid}
        if len(allowed) == 1:
            community = next(iter(allowed))
            street = self.street_of[community]
            if len(grids) == 1:
                return Resolution("grid", self.district_of[street], street, community,
                                  next(iter(grids)), "grid-name", CONFIDENCE["grid-name"],
                                  matched)
            narrowing = [e for e in evidence if len(e.communities) == 1] or [best]
            top = max(narrowing, key=lambda e: CONFIDENCE[e.method])
            confidence = min(0.99, CONFIDENCE[top.method] + 0.05 * (len(evidence) - 1))
            return Resolution("community", self.district_of[street], street, community,
                              None, top.method, round(confidence, 2), matched)
        return self._common(evidence, matched, allowed, best)

    def _common(self, evidence: list[_Evidence], matched: tuple[str, ...],
                allowed: frozenset[str] = frozenset(),
                best: _Evidence | None = None) -> Resolution:
        """No single community: the street (or district) every allowed community shares."""
        pool = allowed or frozenset().union(*(e.communities for e in evidence))
        contradiction = not allowed
        streets = {self.street_of[c] for c in pool}
        districts = {self.district_of[s] for s in streets}
        note = "the address names places that do not fit together" if contradiction else \
            "" if len(evidence) == 1 else "the address names more than one community"
        method = "contradiction" if contradiction else (best.method if best else "street-name")
        if len(streets) == 1:
            street = next(iter(streets))
            return Resolution("street", self.district_of[street], street, method=method,
                              confidence=0.5 if contradiction else CONFIDENCE["street-name"],
                              matched=matched, note=note)
        if len(districts) == 1:
            return Resolution("district", next(iter(districts)), method=method,
                              confidence=CONFIDENCE["district-name"], matched=matched,
                              note=note)
        return Resolution("none", method=method, matched=matched, note=note)


def _unambiguous(names: list[_Name], street_of: dict[str, str]) -> list[_Name]:
    """Drop a name that stands for two different places: it cannot decide anything. The
    landmark 鼓楼 and the community 鼓楼社区 said short point at one community: kept, once;
    下仓 (下仓镇, or its village 下仓村) names at least the township: kept as the township."""
    places: dict[str, set[tuple[str, str]]] = {}
    for n in names:
        places.setdefault(n.text, set()).add(_place_of(n))
    kept: dict[str, _Name] = {}
    for n in names:
        found = places[n.text]
        if len(found) == 1:
            kept.setdefault(n.text, n)
        elif _place_of(n)[0] == "street" and all(
                kind == "street" or street_of.get(code) == n.target for kind, code in found):
            kept[n.text] = n
    return list(kept.values())


def _place_of(name: _Name) -> tuple[str, str]:
    if name.kind in ("street", "district", "road"):
        return name.kind, name.target
    return "community", name.target
