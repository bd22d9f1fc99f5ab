"""Hotline simulator: posts realistic incidents at a fixed rate (open arrival model).

Arrivals are scheduled on a clock, not on responses: when the platform slows down, requests
pile up in flight instead of the offered rate dropping. A cap on requests in flight protects
the simulator itself; arrivals beyond it are counted as `shed`, never silently delayed.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources

import aiohttp
import typer
from rich.console import Console
from rich.live import Live

SOURCES = (("hotline", 0.6), ("grid", 0.3), ("resident", 0.1))
app = typer.Typer(add_completion=False, help=__doc__)


def load_texts() -> list[dict]:
    """Hand-written incident texts with their category, shipped with the clients."""
    text = (resources.files("whistle_clients") / "data" / "incident_texts.jsonl").read_text(
        "utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def grid_codes() -> list[str]:
    from whistle_catalogue import load_territory

    return sorted(load_territory().grids)


def spoken_addresses() -> list[str]:
    """Addresses as callers say them, from the sample gazetteer: road and number, compound and
    building, landmark (the demo's hotline gives no grid codes, as real callers do not)."""
    gazetteer = json.loads((resources.files("whistle_catalogue") / "data" / "gazetteer.json")
                           .read_text("utf-8"))
    said = [f"{road['name']}{r['from'] + (r['to'] - r['from']) // 3}号"
            for road in gazetteer["roads"] for r in road["ranges"]]
    for place in gazetteer["places"]:
        said.append(f"{place['name']}{'3号楼' if place['kind'] == 'compound' else '附近'}")
    return said


def app_points() -> list[tuple[float, float]]:
    """Grid points as a resident app reports them: GCJ-02, as most Chinese map SDKs do."""
    from whistle_catalogue import load_territory
    from whistle_places.coords import from_wgs84

    return [from_wgs84(p.grid.lat, p.grid.lon, "gcj02")
            for p in load_territory().grids.values()]


@dataclass(frozen=True)
class Response:
    """What came back: enough for callers to read the status and the JSON body."""

    status_code: int
    content: bytes

    def json(self):
        return json.loads(self.content)


@dataclass
class Stats:
    """What happened to the offered load."""

    sent: int = 0
    shed: int = 0
    status: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def line(self, elapsed: float) -> str:
        lat = sorted(self.latencies[-2000:])
        p95 = lat[int(len(lat) * 0.95)] * 1000 if lat else 0.0
        codes = " ".join(f"{k}:{v}" for k, v in sorted(self.status.items()))
        return (f"hotline sim  {elapsed:6.0f}s  sent {self.sent}  shed {self.shed}  "
                f"[{codes}]  p95 {p95:.0f} ms")


class Generator:
    """Builds the next request: mostly valid incidents, some replays, some bad input."""

    def __init__(self, *, duplicate_ratio: float, bad_ratio: float, seed: int | None) -> None:
        self.rng = random.Random(seed)
        self.texts = load_texts()
        self.grids = grid_codes()
        self.addresses = spoken_addresses()
        self.points = app_points()
        self.duplicate_ratio, self.bad_ratio = duplicate_ratio, bad_ratio
        self.recent: list[dict] = []

    def next(self) -> tuple[str, dict]:
        """(expectation, body): expectation is created, replay or invalid."""
        roll = self.rng.random()
        if roll < self.duplicate_ratio and self.recent:
            return "replay", self.rng.choice(self.recent)
        if roll < self.duplicate_ratio + self.bad_ratio:
            return "invalid", self._bad()
        body = self._valid()
        self.recent = (self.recent + [body])[-50:]
        return "created", body

    def _valid(self) -> dict:
        item = self.rng.choice(self.texts)
        source = self.rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
        kind = "service_order" if item["category"] == "service_order" else "complaint"
        body = {"source": source, "external_id": f"sim-{uuid.uuid4().hex}", "kind": kind,
                "description": item["text"],
                "location": self._location(source),
                "reporter": {"phone": f"13{self.rng.randint(0, 9)}"
                                       f"{self.rng.randint(0, 99999999):08d}"},
                "priority": "urgent" if self.rng.random() < 0.1 else "normal"}
        if source == "grid":  # grid workers pick the category themselves
            body["category"] = item["category"]
        return body

    def _location(self, source: str) -> dict:
        """Grid workers know their grid; residents' apps send GCJ-02 points; hotline callers
        say an address."""
        if source == "grid":
            return {"grid_code": self.rng.choice(self.grids)}
        if source == "resident":
            lat, lon = self.rng.choice(self.points)
            return {"lat": lat, "lon": lon, "crs": "gcj02"}
        return {"address": self.rng.choice(self.addresses)}

    def _bad(self) -> dict:
        body = self._valid()
        flaw = self.rng.choice(["grid", "category", "phone", "description", "location"])
        if flaw == "grid":
            body["location"] = {"grid_code": "00000000000000"}
        elif flaw == "category":
            body["category"] = "alien_landing"
        elif flaw == "phone":
            body["reporter"] = {"phone": "12345"}
        elif flaw == "description":
            body["description"] = " "
        else:
            body["location"] = {"lat": 31.2304, "lon": 121.4737}  # Shanghai: not this city
        return body


async def run(*, url: str, token: str, rate: float, seconds: float, max_in_flight: int,
              duplicate_ratio: float = 0.03, bad_ratio: float = 0.03, seed: int | None = None,
              on_tick=None, on_result=None) -> Stats:
    """Offer `rate` requests per second for `seconds` (0 = until cancelled)."""
    gen = Generator(duplicate_ratio=duplicate_ratio, bad_ratio=bad_ratio, seed=seed)
    stats = Stats()
    headers = {"Authorization": f"Bearer {token}"}
    in_flight: set[asyncio.Task] = set()
    # aiohttp rather than httpx: httpx's pool degrades badly with hundreds in flight
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(base_url=url, headers=headers, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as client:

        async def one(body: dict) -> None:
            start, sent_at = time.perf_counter(), time.time()
            result = None
            try:
                async with client.post("/v1/incidents", json=body) as resp:
                    result = Response(resp.status, await resp.read())
                stats.status[resp.status] += 1
            except (TimeoutError, aiohttp.ClientError):
                stats.status["error"] += 1
            stats.latencies.append(time.perf_counter() - start)
            if on_result is not None:
                on_result(sent_at, result)

        start = time.monotonic()
        n = 0
        next_tick = start
        while seconds <= 0 or time.monotonic() - start < seconds:
            due = start + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            if len(in_flight) >= max_in_flight:
                stats.shed += 1
            else:
                _, body = gen.next()
                stats.sent += 1
                task = asyncio.create_task(one(body))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if on_tick and time.monotonic() >= next_tick:
                on_tick(stats, time.monotonic() - start)
                next_tick = time.monotonic() + 0.5
        if in_flight:
            await asyncio.wait(in_flight, timeout=30)
    return stats


@app.command()
def main(url: str = typer.Option("http://127.0.0.1:8001", help="intake base URL"),
         token: str = typer.Option("dev-hotline-token", envvar="WHISTLE_HOTLINE_TOKEN"),
         rate: float = typer.Option(5.0, help="incidents offered per second"),
         seconds: float = typer.Option(0, help="0 runs until interrupted"),
         max_in_flight: int = typer.Option(200),
         quiet: bool = typer.Option(False, help="no live display (for logs)")) -> None:
    """Post realistic incidents to intake at a fixed rate."""
    console = Console()
    if quiet:
        printed = {"at": -10.0}

        def tick(stats, elapsed):
            if elapsed - printed["at"] >= 10:
                printed["at"] = elapsed
                print(stats.line(elapsed), flush=True)
        asyncio.run(run(url=url, token=token, rate=rate, seconds=seconds,
                        max_in_flight=max_in_flight, on_tick=tick))
        return
    with Live(console=console, refresh_per_second=4) as live:
        stats = asyncio.run(run(url=url, token=token, rate=rate, seconds=seconds,
                                max_in_flight=max_in_flight,
                                on_tick=lambda s, e: live.update(s.line(e))))
    console.print(stats.line(seconds))


if __name__ == "__main__":
    app()
