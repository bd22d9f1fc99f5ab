"""The living demo: simulators in the background and a one-line live summary."""

from __future__ import annotations

import sys
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .procs import read_pid, spawn, stop_pid

# A demo clock for dispatch: an hour of deadline lasts 7.2 s, so overdue cases and
# escalations show up within minutes. Variables already set in the environment win.
DEMO_ENV = {
    "DISPATCH_TIME_SCALE": "0.002",
    "DISPATCH_ESCALATION_POLICY": "street=30,district=60,city=120",
    # hotspot windows of 5 minutes: a baseline after a quarter of an hour, hotspots in the demo
    "SCORING_HOTSPOT_WINDOW_SECONDS": "300",
    # notify delivers to the local sinks instead of dead-lettering every SMS and e-mail
    "NOTIFY_SMS_URL": "http://127.0.0.1:8025/sms",
    "NOTIFY_SMTP_HOST": "127.0.0.1",
    "NOTIFY_SMTP_PORT": "2525",
}
SIMULATORS = {
    "sinks": ["-m", "whistle_stack.sinks"],
    "sim-hotline": ["-m", "whistle_clients.hotline", "--quiet", "--rate", "5"],
    "sim-departments": ["-m", "whistle_clients.departments"],
}


def start_simulators(stack, names: tuple[str, ...] | None = None) -> list[str]:
    """Start the delivery sinks and the hotline and department simulators (or only `names`)
    unless they run already."""
    started = []
    for name, args in SIMULATORS.items():
        if names is not None and name not in names:
            continue
        if read_pid(stack.layout.pidfile(name), args[1]):
            continue
        spawn([sys.executable, *args], pidfile=stack.layout.pidfile(name),
              logfile=stack.layout.logfile(name), cwd=stack.layout.root,
              env={**stack.services.env("intake"), "PYTHONUNBUFFERED": "1"})
        started.append(name)
    return started


def stop_simulators(stack) -> None:
    for name, args in SIMULATORS.items():
        pid = read_pid(stack.layout.pidfile(name), args[1])
        if pid:
            stop_pid(pid, timeout=10)
        stack.layout.pidfile(name).unlink(missing_ok=True)


def _sum(text: str, name: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name)


def summary(stack) -> str:
    """received, dispatched, overdue now, escalations, resolved — from the services' metrics."""
    try:
        intake = httpx.get(f"{stack.services.url('intake')}/metrics", timeout=2).text
        dispatch = httpx.get(f"{stack.services.url('dispatch')}/metrics", timeout=2).text
    except httpx.HTTPError as exc:
        return f"(metrics unavailable: {exc})"
    return (f"received {_sum(intake, 'whistle_incidents_received_total'):.0f} | "
            f"dispatched {_sum(dispatch, 'whistle_dispatch_latency_seconds_count'):.0f} | "
            f"overdue now {_sum(dispatch, 'whistle_cases_overdue'):.0f} | "
            f"escalations {_sum(dispatch, 'whistle_escalations_total'):.0f} | "
            f"resolved {_sum(dispatch, 'whistle_cases_resolved_total'):.0f}")


def watch(stack, console, seconds: float) -> None:
    """Print the summary every 2 s (until Ctrl-C, or for `seconds` when > 0)."""
    start = time.monotonic()
    try:
        while seconds <= 0 or time.monotonic() - start < seconds:
            console.print(f"[{time.strftime('%H:%M:%S')}] {summary(stack)}")
            time.sleep(2)
    except KeyboardInterrupt:
        console.print("summary stopped; the system keeps running (make stop ends it)")
