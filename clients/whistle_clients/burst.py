"""A burst water main among normal traffic (一件事多人打): the merge scenario (并单), live.

`calls` residents report one burst main in one grid within `minutes`, in varied words, while
the hotline simulator's normal traffic goes on elsewhere; at the same time a neighbour in the
same grid smells gas — another problem, which must get a case of its own. Afterwards it reads
back, through intake's public API, which case each call ended on.

    python -m whistle_clients.burst --grid 12011900200101 --calls 60 --minutes 20
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field

import aiohttp
import typer

from .hotline import Generator, grid_codes

app = typer.Typer(add_completion=False, help=__doc__)

WORDS = [
    "小区停水了，路边水管爆了", "水管爆了路面都是水", "楼下自来水管爆裂，水往外冒",
    "突然停水，路口水管破了在喷水", "路边水管破了喷水，很大的水", "自来水管道爆了，家里没水",
    "马路上水管爆了好大的水", "供水管爆裂，小区没水", "水管漏水很严重，路上积水",
    "爆管了，整栋楼停水", "门口的供水管爆了，水流了一地", "自来水总管破了，赶紧派人来修",
]
OPENERS = ["", "", "您好，", "喂，", "我是附近居民，", "麻烦问一下，"]
CLOSERS = ["", "", "，麻烦快来修", "，请尽快处理", "，老人孩子都没水用", "，已经半小时了"]
GAS = "楼道里有很浓的煤气味，怕是燃气泄漏了"


@dataclass
class Burst:
    """What was posted: the burst's calls, the gas call next door, the normal traffic."""

    grid: str
    burst: list[str] = field(default_factory=list)      # incident ids
    gas: str | None = None
    normal: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def burst_call(rng: random.Random, grid: str, n: int) -> dict:
    """One resident's report of the burst main: a 12345 operator's ticket (category chosen by
    the operator, the caller's words, the grid the address was placed in)."""
    text = rng.choice(OPENERS) + rng.choice(WORDS) + rng.choice(CLOSERS)
    return {"source": "hotline", "external_id": f"burst-{uuid.uuid4().hex}", "kind": "complaint",
            "category": "water", "description": text,
            "location": {"grid_code": grid, "address": f"{rng.randint(1, 12)}号楼附近"},
            "reporter": {"phone": f"139{n:08d}"}, "priority": "urgent"}


def gas_call(grid: str) -> dict:
    return {"source": "hotline", "external_id": f"gas-{uuid.uuid4().hex}", "kind": "complaint",
            "category": "gas_leak", "description": GAS, "location": {"grid_code": grid},
            "reporter": {"phone": "13700000001"}, "priority": "urgent"}


async def run(*, url: str, token: str, grid: str, calls: int = 60, minutes: float = 20,
              normal_per_call: int = 2, seed: int = 7) -> Burst:
    """Post the burst's calls spread over `minutes`, `normal_per_call` normal incidents between
    two of them, and the gas call halfway. Normal traffic is placed by grid code in other
    communities: a call that only says an address could be placed in the burst's grid, and a
    water complaint there would rightly join the burst."""
    rng = random.Random(seed)
    normal = Generator(duplicate_ratio=0, bad_ratio=0, seed=seed)
    elsewhere = [g for g in grid_codes() if g[:12] != grid[:12]]
    out = Burst(grid)
    gap = minutes * 60 / max(1, calls)
    async with aiohttp.ClientSession(base_url=url, headers={
            "Authorization": f"Bearer {token}"}) as client:

        async def post(body: dict) -> str | None:
            async with client.post("/v1/incidents", json=body) as resp:
                answer = await resp.json()
                if resp.status != 201:
                    out.refused.append((resp.status, str(answer)[:200]))
                    return None
                return answer["incident_id"]

        for n in range(calls):
            if (found := await post(burst_call(rng, grid, n))) is not None:
                out.burst.append(found)
            if n == calls // 2:
                out.gas = await post(gas_call(grid))
            for _ in range(normal_per_call):
                _, body = normal.next()
                body["location"] = {"grid_code": rng.choice(elsewhere)}
                if (found := await post(body)) is not None:
                    out.normal.append(found)
            await asyncio.sleep(gap)
    return out


async def cases_of(url: str, token: str, incident_ids: list[str]) -> dict[str, str | None]:
    """The case each incident is on now, as intake's public API tells the hotline."""
    async with aiohttp.ClientSession(base_url=url, headers={
            "Authorization": f"Bearer {token}"}) as client:

        async def one(incident_id: str) -> tuple[str, str | None]:
            async with client.get(f"/v1/incidents/{incident_id}") as resp:
                return incident_id, (await resp.json()).get("case_id")

        return dict(await asyncio.gather(*(one(i) for i in incident_ids)))


@app.command()
def main(url: str = typer.Option("http://127.0.0.1:8001", help="intake base URL"),
         token: str = typer.Option("dev-hotline-token", envvar="WHISTLE_HOTLINE_TOKEN"),
         grid: str = typer.Option("12011900200101", help="the grid of the burst main"),
         calls: int = typer.Option(60), minutes: float = typer.Option(20.0),
         settle: float = typer.Option(10.0, help="seconds to wait before reading cases")) -> None:
    """Run the scenario and print how the calls were merged."""
    async def go() -> None:
        burst = await run(url=url, token=token, grid=grid, calls=calls, minutes=minutes)
        await asyncio.sleep(settle)
        cases = await cases_of(url, token, burst.burst + [burst.gas or ""])
        burst_cases = {cases[i] for i in burst.burst}
        print(f"{len(burst.burst)} burst calls on {len(burst_cases)} case(s): "
              f"{sorted(c or '-' for c in burst_cases)}")
        print(f"gas call next door on case {cases.get(burst.gas or '')} "
              f"({'apart' if cases.get(burst.gas or '') not in burst_cases else 'MERGED'})")
        print(f"{len(burst.normal)} normal incidents posted, {len(burst.refused)} refused")

    asyncio.run(go())


if __name__ == "__main__":
    app()
