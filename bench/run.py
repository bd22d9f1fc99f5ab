"""`make bench`: the pipeline measured next to what the machine can do at all.

One run on one machine measures:
  1. the Kafka ceiling: produce→consume of the same envelopes with the same client settings
     (acks=all, idempotence on), events/s and latency percentiles;
  2. the HTTP ceiling: a bare FastAPI endpoint on the same uvicorn setup, at saturation;
  3. the pipeline: hotline POST → dispatch.ordered.v1 on the department topic, sustained
     events/s at saturation, and p50/p95/p99 end-to-end latency at fixed offered rates
     (timestamps taken at POST and at consume, in a separate consumer process);
  4. ratios pipeline/ceiling, and the resident memory of every process;
  5. cost: CPU seconds of every stack process (Kafka JVM, PostgreSQL with all its backends, the
     services, the console) from /proc/<pid>/stat — idle burn over 30 s without traffic (the
     stack alone, then with the bench's order sink attached, and again after the load), and
     CPU milliseconds per incident at each fixed offered rate (total, and marginal: the idle
     burn with the sink attached, over the same wall time, subtracted).
Each fixed-rate row shows the achieved throughput (ordered incidents over the time from the
first POST to the last arrival) beside the offered rate.
Results: bench/results/<date>-<sha>.json, .md, .png (latency) and -cost.png (cost by component).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import cpu
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary_ms(latencies_s: list[float]) -> dict:
    return {f"p{int(q * 100)}_ms": round(pct(latencies_s, q) * 1000, 1)
            for q in (0.5, 0.95, 0.99)} | {"count": len(latencies_s)}


def sample_bodies(n: int) -> list[dict]:
    from whistle_clients.hotline import Generator

    gen = Generator(duplicate_ratio=0, bad_ratio=0, seed=7)
    return [gen.next()[1] for _ in range(n)]


# -- 1. Kafka ceiling ---------------------------------------------------------------------------

async def kafka_ceiling(bootstrap: str, n: int) -> dict:
    from aiokafka import AIOKafkaConsumer
    from whistle_common.envelope import new_event
    from whistle_common.kafka import Producer
    from whistle_common.topics import ensure_topics

    topic = f"bench.ceiling.{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [topic], partitions=3, replication=1)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=None, fetch_max_wait_ms=5)
    await consumer.start()
    bodies = sample_bodies(200)
    latencies: list[float] = []
    done = asyncio.Event()

    async def consume():
        while len(latencies) < n:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.time()
            for records in batches.values():
                for rec in records:
                    latencies.append(now - json.loads(rec.value)["data"]["sent_at"])
        done.set()

    task = asyncio.create_task(consume())
    producer = Producer(bootstrap, client_id="bench")
    kafka = await producer.get()
    start = time.time()
    futures = []
    for i in range(n):
        data = {**bodies[i % len(bodies)], "sent_at": time.time()}
        event = new_event("incident.received.v1", source="/bench", subject=str(uuid.uuid4()),
                          data=data)
        futures.append(await kafka.send(topic, value=event.to_bytes(), key=event.key))
    await asyncio.gather(*futures)
    produced = time.time() - start
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.time() - start
    task.cancel()
    await consumer.stop()
    await producer.stop()
    return {"events": n, "events_per_s": round(n / elapsed), "produce_only_per_s":
            round(n / produced), "latency": summary_ms(latencies)}


# -- 2. HTTP ceiling and closed-loop saturation -------------------------------------------------

async def saturate(url: str, token: str | None, seconds: float, concurrency: int,
                   on_result=None) -> dict:
    """Closed loop: `concurrency` clients post back to back for `seconds`."""
    import aiohttp
    from whistle_clients.hotline import Response

    bodies = sample_bodies(5000)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies, codes = [], {}
    counter = {"i": 0}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=url, headers=headers, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as client:
        deadline = time.monotonic() + seconds

        async def worker():
            while time.monotonic() < deadline:
                counter["i"] += 1
                body = {**bodies[counter["i"] % len(bodies)],
                        "external_id": f"bench-{uuid.uuid4().hex}"}
                t0, sent_at = time.perf_counter(), time.time()
                async with client.post("/v1/incidents", json=body) as resp:
                    result = Response(resp.status, await resp.read())
                latencies.append(time.perf_counter() - t0)
                codes[resp.status] = codes.get(resp.status, 0) + 1
                if on_result:
                    on_result(sent_at, result)

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - start
    return {"requests_per_s": round(len(latencies) / elapsed), "status": codes,
            "latency": summary_ms(latencies), "concurrency": concurrency}


async def http_ceiling(seconds: float, concurrency: int) -> dict:
    port = 8099
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        return await saturate(f"http://127.0.0.1:{port}", None, seconds, concurrency)
    finally:
        proc.terminate()
        proc.wait(10)


# -- 3. the pipeline -----------------------------------------------------------------------------

class Sink:
    """The separate consumer process that timestamps lead orders on department topics."""

    def __init__(self, bootstrap: str) -> None:
        self.path = Path(tempfile.mkstemp(prefix="whistle-sink-", suffix=".tsv")[1])
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "order_sink.py"), bootstrap, str(self.path)],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"order sink did not start: {line!r}")

    def arrivals(self) -> dict[str, float]:
        out = {}
        for line in self.path.read_text().splitlines():
            incident, _, ts = line.partition("\t")
            out.setdefault(incident, float(ts))
        return out

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.path.unlink(missing_ok=True)


async def drain(sink: Sink, posted: dict[str, float], wait_s: float,
                quiet_s: float = 15.0) -> dict[str, float]:
    """Arrivals once every posted incident arrived, or none arrived for `quiet_s` (what is
    still missing then is reported as not ordered), or after `wait_s` at the most."""
    deadline = time.monotonic() + wait_s
    count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        arrived = sink.arrivals()
        if all(i in arrived for i in posted):
            return arrived
        if len(arrived) != count:
            count, last_change = len(arrived), time.monotonic()
        elif time.monotonic() - last_change > quiet_s:
            break
        await asyncio.sleep(0.5)
    return sink.arrivals()


def collector(posted: dict[str, float], triaged: list[str] | None = None):
    """Record accepted incidents; those intake sent to the triage queue get no order until a
    street office assigns them, so they are counted apart instead of awaited."""
    def on_result(sent_at: float, resp) -> None:
        if resp is not None and resp.status_code == 201:
            body = resp.json()
            if body.get("needs_triage") and triaged is not None:
                triaged.append(body["incident_id"])
            else:
                posted[body["incident_id"]] = sent_at
    return on_result


async def pipeline_saturation(sink: Sink, seconds: float, concurrency: int) -> dict:
    posted: dict[str, float] = {}
    triaged: list[str] = []
    http = await saturate("http://127.0.0.1:8001", "dev-hotline-token", seconds, concurrency,
                          on_result=collector(posted, triaged))
    arrived = await drain(sink, posted, 120)
    done = [arrived[i] for i in posted if i in arrived]
    first, last = min(posted.values()), max(done) if done else time.time()
    lat = [arrived[i] - t for i, t in posted.items() if i in arrived]
    return {"accepted": len(posted) + len(triaged), "triaged": len(triaged),
            "ordered": len(done),
            "events_per_s": round(len(done) / (last - first)) if done else 0,
            "intake_requests_per_s": http["requests_per_s"], "intake_status": http["status"],
            "concurrency": concurrency, "latency": summary_ms(lat)}


async def pipeline_at_rate(sink: Sink, rate: float, seconds: float,
                           components: list[cpu.Component], idle: dict[str, float]) -> dict:
    """Open arrivals at `rate` for `seconds`; latency, achieved rate and CPU per incident.

    CPU is read from the first POST until the last order arrived (or the drain gave up), so
    the work of a backlog is charged to the incidents that made it.
    """
    from whistle_clients.hotline import run

    posted: dict[str, float] = {}
    triaged: list[str] = []
    before = cpu.read(components)
    stats = await run(url="http://127.0.0.1:8001", token="dev-hotline-token", rate=rate,
                      seconds=seconds, max_in_flight=2000, duplicate_ratio=0, bad_ratio=0,
                      seed=int(rate), on_result=collector(posted, triaged))
    arrived = await drain(sink, posted, 60)
    spent = cpu.delta(before, cpu.read(components))
    lat = [arrived[i] - t for i, t in posted.items() if i in arrived]
    done = [arrived[i] for i in posted if i in arrived]
    span = (max(done) - min(posted.values())) if done else 0.0
    return {"offered_per_s": rate, "seconds": seconds,
            "accepted": len(posted) + len(triaged), "triaged": len(triaged),
            "ordered": len(lat), "shed": stats.shed,
            "achieved_per_s": round(len(done) / span, 1) if span > 0 else 0.0,
            "latency": summary_ms(lat), "cpu": spent,
            "cpu_per_incident": cpu.per_incident(spent, len(done) + len(triaged), idle)}


def stack_components(stack) -> list[cpu.Component]:
    """Every process of the stack, by component (pids looked up at each reading)."""
    def pg_pid() -> int | None:
        pidfile = stack.layout.pg_data / "postmaster.pid"
        try:
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    comps = [cpu.Component("kafka", lambda: stack.kafka.running_pid(1)),
             cpu.Component("postgres", pg_pid, with_children=True)]
    comps += [cpu.Component(name, lambda name=name: stack.services.running_pid(name))
              for name in ("intake", "dispatch", "scoring", "notify")]
    comps.append(cpu.Component("console", stack.console.running_pid))
    return comps


async def idle_burn(components: list[cpu.Component], seconds: float) -> dict:
    """Cores burnt per component over `seconds` with no traffic at all."""
    before = cpu.read(components)
    await asyncio.sleep(seconds)
    spent = cpu.delta(before, cpu.read(components))
    return {"seconds": round(spent["wall_s"], 1), "cpu": spent, "cores": cpu.burn(spent)}


# -- 4. memory, output ---------------------------------------------------------------------------

def rss_mb(pid: int | None) -> float | None:
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def memory(stack) -> dict:
    out = {"kafka": rss_mb(stack.kafka.running_pid(1))}
    for name in ("intake", "dispatch", "scoring", "notify"):
        out[name] = rss_mb(stack.services.running_pid(name))
    pg = stack.layout.pg_data / "postmaster.pid"
    if pg.exists():
        main = int(pg.read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True)
        pids = [main] + [int(p) for p in children.stdout.split()]
        out["postgres (all backends)"] = round(sum(rss_mb(p) or 0 for p in pids), 1)
    return out


def write(results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=ROOT).stdout.strip() or "nogit"
    stem = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-{sha}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    stem.with_suffix(".md").write_text(markdown(results))
    plot(results, stem.with_suffix(".png"))
    plot_cost(results, stem.with_name(stem.name + "-cost.png"))
    return stem


def markdown(r: dict) -> str:
    k, h = r["kafka_ceiling"], r["http_ceiling"]
    lines = [
        f"# Whistle benchmark {r['when']} ({r['git']})", "",
        f"Machine: {r['machine']}", "",
        "| measure | offered/s | achieved/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|",
        f"| Kafka ceiling (produce→consume, acks=all) | – | {k['events_per_s']} | "
        f"{k['latency']['p50_ms']} | {k['latency']['p95_ms']} | {k['latency']['p99_ms']} |",
        f"| HTTP ceiling (bare FastAPI, c={h['concurrency']}) | – | {h['requests_per_s']} | "
        f"{h['latency']['p50_ms']} | {h['latency']['p95_ms']} | {h['latency']['p99_ms']} |",
    ]
    if "pipeline_saturation" in r:
        s = r["pipeline_saturation"]
        lines.append(f"| Pipeline at saturation (POST → department topic, "
                     f"c={s.get('concurrency', '')}) | closed loop | {s['events_per_s']} | "
                     f"{s['latency']['p50_ms']} | "
                     f"{s['latency']['p95_ms']} | {s['latency']['p99_ms']} |")
    for label, p in rate_rows(r):
        lines.append(f"| {label}Pipeline at {p['offered_per_s']:.0f}/s offered "
                     f"({p['ordered']}/{p['accepted']} ordered, {p.get('triaged', 0)} "
                     f"to triage, {p['shed']} shed) | "
                     f"{p['offered_per_s']:.0f} | {p['achieved_per_s']} | "
                     f"{p['latency']['p50_ms']} | {p['latency']['p95_ms']} | "
                     f"{p['latency']['p99_ms']} |")
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {name} | {value:.1%} |" for name, value in r.get("ratios", {}).items()]
    lines += cost_tables(r)
    if "memory_mb" in r:
        lines += ["", "| process | RSS MB |", "|---|---|"]
        lines += [f"| {name} | {mb} |" for name, mb in r["memory_mb"].items()]
    return "\n".join(lines) + "\n"


def rate_rows(r: dict) -> list[tuple[str, dict]]:
    """The fixed-rate rows, the warm-up first and labelled as such."""
    warm = [("warm-up: ", r["warmup"])] if "warmup" in r else []
    return warm + [("", p) for p in r.get("pipeline_rates", [])]


def cost_tables(r: dict) -> list[str]:
    """Idle burn and CPU per incident, one column per component."""
    idle = r.get("idle", {})
    if not idle:
        return []
    names = [n for n in idle["fresh"]["cores"] if n != "total"]
    head = "| | " + " | ".join(names) + " | total |"
    rule = "|---" * (len(names) + 2) + "|"
    lines = ["", "Idle burn (cores, /proc utime+stime over the wall time, no traffic):", "",
             head, rule]
    for label, entry in idle.items():
        cores = entry["cores"]
        lines.append(f"| idle {label} ({entry['seconds']:.0f} s) | "
                     + " | ".join(f"{cores[n]:.3f}" for n in names)
                     + f" | **{cores['total']:.3f}** |")
    lines += ["", "CPU milliseconds per incident (ordered, or sent to triage; total, and "
              "marginal: the idle burn with the order sink attached, over the same wall time, "
              "subtracted):", "", head, rule]
    for label, p in rate_rows(r):
        for kind in ("total_ms", "marginal_ms"):
            ms = p["cpu_per_incident"].get(kind) or {}
            if not ms:
                continue
            lines.append(f"| {label}{p['offered_per_s']:.0f}/s {kind[:-3]} | "
                         + " | ".join(f"{ms[n]:.1f}" for n in names)
                         + f" | **{ms['total']:.1f}** |")
    return lines


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = [p["offered_per_s"] for p in r["pipeline_rates"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        ax.plot(rates, [p["latency"][key] for p in r["pipeline_rates"]], marker="o", label=label)
    ax.axhline(250, color="grey", linestyle="--", linewidth=1, label="p99 objective 250 ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered incidents/s (open arrival)")
    ax.set_ylabel("POST → department topic latency (ms)")
    ax.set_title(f"Whistle pipeline latency ({r['git']})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_cost(r: dict, path: Path) -> None:
    """Stacked bars: marginal CPU ms per incident by component at each offered rate, and the
    idle burn by component."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [p for p in r.get("pipeline_rates", []) if p["cpu_per_incident"]["marginal_ms"]]
    idle = r.get("idle", {}).get("fresh")
    if not rows or not idle:
        return
    names = [n for n in idle["cores"] if n != "total"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5),
                                      gridspec_kw={"width_ratios": [3, 1]})
    labels = [f"{p['offered_per_s']:.0f}/s" for p in rows]
    bottom = [0.0] * len(rows)
    for name in names:
        values = [p["cpu_per_incident"]["marginal_ms"][name] for p in rows]
        left.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    left.axhline(15, color="grey", linestyle="--", linewidth=1, label="target 15 ms")
    left.set_xlabel("offered incidents/s")
    left.set_ylabel("marginal CPU ms per incident")
    left.set_title("Cost per incident by component")
    left.legend(fontsize=8)
    base = 0.0
    for name in names:
        right.bar(["idle"], [idle["cores"][name]], bottom=[base], label=name)
        base += idle["cores"][name]
    right.axhline(0.05, color="grey", linestyle="--", linewidth=1)
    right.set_ylabel("cores")
    right.set_title(f"Idle burn {idle['cores']['total']:.3f} cores")
    fig.suptitle(f"Whistle cost ({r['git']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


async def quiet(components: list[cpu.Component], *, below: float = 0.25,
                every: float = 5.0, at_most: float = 300.0) -> float:
    """Wait until the stack burns less than `below` cores over `every` seconds (it has
    worked off what the last step left: notifications, outbox rows, lag); seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < at_most:
        before = cpu.read(components)
        await asyncio.sleep(every)
        if cpu.burn(cpu.delta(before, cpu.read(components)))["total"] < below:
            break
    return round(time.monotonic() - start, 1)


async def main(args) -> None:
    from whistle_stack.demo import DEMO_ENV, start_simulators, stop_simulators
    from whistle_stack.stack import Stack

    # every POST must still yield an order: no merging of duplicate incidents in the bench
    os.environ["DISPATCH_MERGE_CATEGORIES"] = "none"
    # notify delivers every SMS and e-mail to a gateway, as deployed (the local sinks stand in
    # for the operator's gateway and, like the order sink, are not counted); without one it
    # would dead-letter them, which is neither what a city runs nor what it costs
    os.environ.update({k: v for k, v in DEMO_ENV.items() if k.startswith("NOTIFY_")})
    stack = Stack()
    stop_simulators(stack)
    start_simulators(stack, names=("sinks",))
    await asyncio.to_thread(stack.up, timeout=120)
    components = stack_components(stack)
    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
               "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                     capture_output=True, text=True).stdout.strip(),
               "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
               "args": vars(args)}
    print(f"1/6 idle burn ({args.idle_seconds:.0f} s once the stack is quiet) …", flush=True)
    # a restarted stack first works off what an earlier run left (notifications, outbox rows)
    await asyncio.sleep(args.settle_seconds)
    waited = await quiet(components, below=0.15)
    results["idle"] = {"fresh": await idle_burn(components, args.idle_seconds)}
    results["idle"]["fresh"]["quiet_after_s"] = waited
    print(json.dumps(results["idle"]["fresh"]["cores"]), flush=True)
    if args.idle_only:
        stem = write_idle_only(results)
        print(f"written: {stem}")
        return
    print("2/6 Kafka ceiling …", flush=True)
    results["kafka_ceiling"] = await kafka_ceiling(stack.bootstrap, args.kafka_events)
    print(json.dumps(results["kafka_ceiling"]), flush=True)
    print("3/6 HTTP ceiling …", flush=True)
    results["http_ceiling"] = await http_ceiling(args.seconds, args.concurrency)
    print(json.dumps(results["http_ceiling"]), flush=True)
    sink = Sink(stack.bootstrap)
    try:
        # the order sink is a Kafka client like a department's: its idle polling is part of
        # what the rows below measure, so the marginal cost subtracts the idle burn with it
        print(f"4/6 idle burn with the order sink attached ({args.idle_seconds:.0f} s) …",
              flush=True)
        await quiet(components, below=0.15)
        results["idle"]["with order sink"] = await idle_burn(components, args.idle_seconds)
        print(json.dumps(results["idle"]["with order sink"]["cores"]), flush=True)
        idle_cores = results["idle"]["with order sink"]["cores"]
        # the first traffic after a start pays one-off costs (Kafka's JIT compiles the
        # pipeline's request paths: 6-7 CPU-ms an incident in the first 20 s, under 1 ms from
        # the second minute on); a city's stack runs for weeks, so the rows measure it warm
        print(f"5/6 warm-up at {args.warmup_rate}/s ({args.rate_seconds:.0f} s, reported "
              "apart) …", flush=True)
        results["warmup"] = await pipeline_at_rate(sink, args.warmup_rate, args.rate_seconds,
                                                   components, idle_cores)
        print(json.dumps({k: v for k, v in results["warmup"].items() if k != "cpu"}),
              flush=True)
        await quiet(components)
        results["pipeline_rates"] = []
        for rate in args.rates:
            print(f"5/6 pipeline at {rate}/s offered …", flush=True)
            outcome = await pipeline_at_rate(sink, rate, args.rate_seconds, components,
                                             idle_cores)
            results["pipeline_rates"].append(outcome)
            print(json.dumps({k: v for k, v in outcome.items() if k != "cpu"}), flush=True)
            outcome["quiet_after_s"] = await quiet(components)
        print("5/6 pipeline at saturation …", flush=True)
        results["pipeline_saturation"] = await pipeline_saturation(sink, args.seconds * 2,
                                                                   args.concurrency)
        print(json.dumps(results["pipeline_saturation"]), flush=True)
    finally:
        sink.close()
    print(f"6/6 idle burn after load ({args.idle_seconds:.0f} s, once the backlog is "
          "worked off) …", flush=True)
    waited = await quiet(components, below=0.15)
    results["idle"]["after load"] = await idle_burn(components, args.idle_seconds)
    results["idle"]["after load"]["quiet_after_s"] = waited
    print(json.dumps(results["idle"]["after load"]["cores"]), flush=True)
    if args.settled_minutes > 0:
        # what a city's stack burns at night: Kafka's JIT has compiled the paths traffic takes
        # and PostgreSQL's autovacuum has finished with the tables the load wrote
        print(f"6/6 idle burn settled ({args.settled_minutes:g} min more with no traffic) …",
              flush=True)
        await asyncio.sleep(args.settled_minutes * 60)
        results["idle"]["settled"] = await idle_burn(components, args.idle_seconds)
        results["idle"]["settled"]["idle_before_min"] = args.settled_minutes
        print(json.dumps(results["idle"]["settled"]["cores"]), flush=True)
    sat = results["pipeline_saturation"]["events_per_s"]
    results["ratios"] = {
        "pipeline / Kafka ceiling": sat / results["kafka_ceiling"]["events_per_s"],
        "intake HTTP / HTTP ceiling": results["pipeline_saturation"]["intake_requests_per_s"]
        / results["http_ceiling"]["requests_per_s"],
    }
    results["memory_mb"] = memory(stack)
    stem = write(results)
    print((stem.with_suffix(".md")).read_text())
    print(f"written: {stem}.json .md .png -cost.png")


def write_idle_only(results: dict) -> Path:
    """--idle-only: the idle burn alone, as <date>-<sha>-idle.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-{results['git'] or 'nogit'}-idle.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="per ceiling measurement (saturation runs twice as long)")
    parser.add_argument("--rate-seconds", type=float, default=20.0,
                        help="per fixed-rate row")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--kafka-events", type=int, default=20000)
    parser.add_argument("--rates", type=float, nargs="+", default=[20, 50, 200, 500])
    parser.add_argument("--warmup-rate", type=float, default=20.0,
                        help="offered rate of the unmeasured first traffic (reported apart)")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--settle-seconds", type=float, default=10.0,
                        help="quiet time before each idle or rate measurement")
    parser.add_argument("--settled-minutes", type=float, default=3.0,
                        help="after the load, this long without traffic before the last idle "
                             "measurement (0: skip it)")
    parser.add_argument("--idle-only", action="store_true",
                        help="measure the idle burn only (for before/after comparisons)")
    asyncio.run(main(parser.parse_args()))
