"""The bench's CPU accounting from /proc/<pid>/stat."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
import cpu  # noqa: E402


def stat(pid: int, name: str, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> str:
    fields = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0",
              str(utime), str(stime), str(cutime), str(cstime), "20", "0"]
    return f"{pid} ({name}) " + " ".join(fields) + "\n"


def fake_proc(tmp_path: Path, procs: dict[int, tuple[str, tuple, list[int]]]) -> Path:
    for pid, (name, times, kids) in procs.items():
        task = tmp_path / str(pid) / "task" / str(pid)
        task.mkdir(parents=True)
        (tmp_path / str(pid) / "stat").write_text(stat(pid, name, *times))
        (task / "children").write_text(" ".join(map(str, kids)))
    return tmp_path


def test_parse_survives_spaces_and_parentheses_in_the_command_name():
    assert cpu.parse_stat(stat(7, "postgres: a (b) c", 11, 22, 33, 44)) == (11, 22, 33, 44)


def test_a_parent_with_children_counts_reaped_and_live_backends(tmp_path):
    proc = fake_proc(tmp_path, {10: ("postgres", (100, 50, 30, 20), [11, 12]),
                                11: ("postgres: b1", (5, 5), []),
                                12: ("postgres: b2", (1, 1), [])})
    comp = cpu.Component("postgres", lambda: 10, with_children=True)
    assert cpu.component_seconds(comp, proc) == pytest.approx((200 + 10 + 2) / cpu.TICKS)
    alone = cpu.Component("postgres", lambda: 10)
    assert cpu.component_seconds(alone, proc) == pytest.approx(150 / cpu.TICKS)
    gone = cpu.Component("gone", lambda: 99)
    assert cpu.component_seconds(gone, proc) == 0.0


def test_burn_and_cost_per_incident():
    before = cpu.Reading(100.0, {"kafka": 1.0, "intake": 2.0})
    after = cpu.Reading(110.0, {"kafka": 2.0, "intake": 4.0})
    spent = cpu.delta(before, after)
    assert spent == {"wall_s": 10.0, "cpu_s": {"kafka": 1.0, "intake": 2.0}}
    assert cpu.burn(spent) == {"kafka": 0.1, "intake": 0.2, "total": pytest.approx(0.3)}
    cost = cpu.per_incident(spent, 100, {"kafka": 0.05, "intake": 0.0})
    assert cost["total_ms"] == {"kafka": 10.0, "intake": 20.0, "total": 30.0}
    assert cost["marginal_ms"]["kafka"] == pytest.approx(5.0)
    assert cost["marginal_ms"]["total"] == pytest.approx(25.0)
    assert cpu.per_incident(spent, 0, {}) == {"total_ms": {}, "marginal_ms": {}}
