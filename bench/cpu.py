"""CPU seconds of every stack process, read from /proc/<pid>/stat (utime + stime).

A component is a set of processes: the Kafka JVM (all its threads are in one stat line), the
PostgreSQL postmaster with every backend, each service, the web console. Backends come and go:
an exited backend's time moves into the postmaster's cutime/cstime once it is reaped, so the
postmaster counts utime+stime+cutime+cstime and live backends their own utime+stime; a
backend that exits between two readings is then neither lost nor counted twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def parse_stat(line: str) -> tuple[int, int, int, int]:
    """(utime, stime, cutime, cstime) in clock ticks from one /proc/<pid>/stat line.

    The command name (field 2) is in parentheses and may hold spaces or parentheses itself,
    so fields are counted from the last ')'.
    """
    rest = line[line.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime is field 14 → rest[11]
    return int(rest[11]), int(rest[12]), int(rest[13]), int(rest[14])


def read_ticks(pid: int, *, with_children: bool = False,
               proc: Path = Path("/proc")) -> int:
    """CPU ticks of one process (plus its reaped children's when asked); 0 if it is gone."""
    try:
        utime, stime, cutime, cstime = parse_stat((proc / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return 0
    return utime + stime + (cutime + cstime if with_children else 0)


def children(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """Direct children of pid (PostgreSQL backends of a postmaster)."""
    out = []
    for task in (proc / str(pid) / "task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


@dataclass(frozen=True)
class Component:
    """One named part of the stack: a process, or a parent counted with its children."""

    name: str
    pid: Callable[[], int | None]
    with_children: bool = False


def component_seconds(comp: Component, proc: Path = Path("/proc")) -> float:
    """CPU seconds used so far by a component (0 when it is not running)."""
    pid = comp.pid()
    if not pid:
        return 0.0
    ticks = read_ticks(pid, with_children=comp.with_children, proc=proc)
    if comp.with_children:
        ticks += sum(read_ticks(c, proc=proc) for c in children(pid, proc))
    return ticks / TICKS


@dataclass(frozen=True)
class Reading:
    """CPU seconds per component at one wall-clock instant."""

    at: float
    seconds: dict[str, float]


def read(components: list[Component]) -> Reading:
    return Reading(time.monotonic(), {c.name: component_seconds(c) for c in components})


def delta(before: Reading, after: Reading) -> dict:
    """CPU seconds spent per component between two readings, with the wall time."""
    spent = {name: max(0.0, after.seconds.get(name, 0.0) - s)
             for name, s in before.seconds.items()}
    return {"wall_s": after.at - before.at, "cpu_s": spent}


def burn(spent: dict) -> dict[str, float]:
    """Cores used per component (CPU seconds / wall seconds), and their total."""
    wall = spent["wall_s"] or float("nan")
    cores = {name: s / wall for name, s in spent["cpu_s"].items()}
    return cores | {"total": sum(cores.values())}


def per_incident(spent: dict, incidents: int, idle_cores: Mapping[str, float]) -> dict:
    """CPU milliseconds per incident per component: the total, and the marginal cost (what
    the same wall time would have burnt idle subtracted first)."""
    if not incidents:
        return {"total_ms": {}, "marginal_ms": {}}
    wall = spent["wall_s"]
    total = {n: 1000 * s / incidents for n, s in spent["cpu_s"].items()}
    marginal = {n: 1000 * max(0.0, s - idle_cores.get(n, 0.0) * wall) / incidents
                for n, s in spent["cpu_s"].items()}
    return {"total_ms": total | {"total": sum(total.values())},
            "marginal_ms": marginal | {"total": sum(marginal.values())}}
