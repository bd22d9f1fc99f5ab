"""A seeded, labelled day of hotline incidents for the merge rules (并单).

Built from the real sample territory and catalogue: one district, one day. Every incident
carries `event_key`: incidents about the same real-world problem share it.

* a burst water main: 60 calls within 20 minutes around one grid, varied wording, most
  classified `water`, some `drainage` (a sibling) as intake would;
* next door at the same time: a gas smell (gas_leak, a sibling class member) and a party
  (noise, another class) in the burst's grid;
* a noisy construction site (8 calls in the evening), a broken street light (5 reports);
* normal traffic: varied categories and places, one event each.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from whistle_catalogue import load_catalogue, load_territory

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 7, 14, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Incident:
    incident_id: str
    event_key: str
    category: str
    area: str
    klass: str
    lat: float
    lon: float
    grid: str
    text: str
    opened_at: datetime


BURST_TEXTS = [
    "小区停水了", "水管爆了路面都是水", "家里没水", "楼下自来水管爆裂，水往外冒",
    "突然停水，什么时候来水", "路边水管破了喷水", "我们这片全停水了", "自来水管道爆了",
    "家里水龙头没水了", "马路上水管爆了好大的水", "停水了也没通知", "供水管爆裂，小区没水",
    "水管漏水很严重，路上积水", "今天早上突然没水了", "爆管了，整栋楼停水",
]
BURST_DRAINAGE_TEXTS = ["路面都是水，过不去", "路上积水很深，好像是水管爆了",
                        "小区门口积水严重"]
BURST_PREFIX = ["", "", "您好，", "喂，", "我是附近居民，"]
BURST_SUFFIX = ["", "", "，麻烦快来修", "，请尽快处理", "，老人孩子都没水用", "，3号楼"]
GAS_TEXTS = ["楼道里一股煤气味", "闻到很大的燃气味，怕是漏气了", "燃气味很重，担心泄漏"]
PARTY_TEXTS = ["楼上开派对音乐声太大", "楼上聚会吵得睡不着"]
SITE_TEXTS = [
    "工地晚上还在施工，噪音太大", "夜间施工噪音扰民", "工地打桩声音吵得睡不着",
    "这么晚了工地还在干活", "施工机器轰隆隆的响个不停", "工地夜里施工，吵死了",
    "晚上十点多了还在浇筑混凝土", "建筑工地噪声扰民，请查处",
]
LIGHT_TEXTS = ["路灯不亮了", "这条路的路灯坏了，晚上很黑", "路灯好几天都不亮",
               "门口路灯坏了", "路灯灭了，走路不安全"]
NORMAL_DETAILS = ["，请处理", "，已经好几天了", "，希望尽快解决", "，反映过一次没人管",
                  "，影响居民生活", ""]
# categories of everyday traffic (the burst's siblings and the clusters' categories left out
# so that normal traffic adds no unlabelled duplicates of them)
NORMAL = ["illegal_parking", "sanitation", "street_vending", "property", "elevator",
          "road_facility", "manhole", "greening", "cooking_fumes", "pollution", "dogs",
          "neighbour_dispute", "consumer_rights", "food_safety", "wage_arrears", "bus",
          "shared_bikes", "traffic_signal", "telecom", "social_insurance", "pension",
          "education_fees", "public_security", "illegal_construction", "outdoor_ads",
          "group_rental", "fire_hazard", "water_pollution", "parking_lot", "price"]


def _m(lat: float, lon: float, rng: random.Random, radius_m: float) -> tuple[float, float]:
    """A point uniformly in a disc around (lat, lon)."""
    r, a = radius_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    return (lat + r * math.cos(a) / 111_320,
            lon + r * math.sin(a) / (111_320 * math.cos(math.radians(lat))))


def generate(seed: int = 7, normal: int = 140) -> list[Incident]:
    rng = random.Random(seed)
    catalogue, territory = load_catalogue(), load_territory()
    grids = sorted((g for g in territory.grids.values() if g.district.name == "蓟州区"),
                   key=lambda g: g.grid.code)
    points = [(g.grid.code, g.grid.lat, g.grid.lon) for g in grids]

    def nearest(lat: float, lon: float) -> str:
        return min(points, key=lambda p: (p[1] - lat) ** 2 + ((p[2] - lon) * 0.77) ** 2)[0]

    out: list[Incident] = []

    def add(key: str, code: str, lat: float, lon: float, text: str, at: datetime) -> None:
        cat = catalogue.categories[code]
        out.append(Incident(f"i{len(out) + 1:04d}", key, code, cat.area, cat.klass, lat, lon,
                            nearest(lat, lon), text, at))

    burst = next(g for g in grids if g.community.name == "府君山社区")
    b_lat, b_lon = burst.grid.lat, burst.grid.lon
    start = DAY.replace(hour=7, minute=40)
    for _ in range(60):
        lat, lon = _m(b_lat, b_lon, rng, 600)
        at = start + timedelta(seconds=rng.uniform(0, 20 * 60))
        if rng.random() < 0.12:
            code, body = "drainage", rng.choice(BURST_DRAINAGE_TEXTS)
        else:
            code, body = "water", rng.choice(BURST_TEXTS)
        add("burst-water-main", code, lat, lon,
            rng.choice(BURST_PREFIX) + body + rng.choice(BURST_SUFFIX), at)
    for i, text in enumerate(GAS_TEXTS):
        lat, lon = _m(b_lat, b_lon, rng, 80)
        add("gas-smell", "gas_leak", lat, lon, text, start + timedelta(minutes=5 + 4 * i))
    for i, text in enumerate(PARTY_TEXTS):
        lat, lon = _m(b_lat, b_lon, rng, 80)
        add("party-noise", "noise", lat, lon, text, start + timedelta(minutes=8 + 6 * i))

    site = next(g for g in grids if g.community.name == "南关社区")
    for i, text in enumerate(SITE_TEXTS):
        lat, lon = _m(site.grid.lat, site.grid.lon, rng, 200)
        at = DAY.replace(hour=22) + timedelta(minutes=12 * i + rng.uniform(0, 8))
        add("construction-site", "construction_noise", lat, lon, text, at)

    light = next(g for g in grids if g.community.name == "东风里社区")
    for i, text in enumerate(LIGHT_TEXTS):
        lat, lon = _m(light.grid.lat, light.grid.lon, rng, 100)
        at = DAY.replace(hour=19) + timedelta(minutes=37 * i + rng.uniform(0, 20))
        add("street-light", "streetlight", lat, lon, text, at)

    for n in range(normal):
        code = rng.choice(NORMAL)
        place = rng.choice(grids)
        lat, lon = _m(place.grid.lat, place.grid.lon, rng, 300)
        at = DAY + timedelta(seconds=rng.uniform(6 * 3600, 23.5 * 3600))
        text = f"{place.community.name}{catalogue.categories[code].name}问题" + \
            rng.choice(NORMAL_DETAILS)
        add(f"normal-{n:03d}", code, lat, lon, text, at)

    return sorted(out, key=lambda i: (i.opened_at, i.incident_id))
