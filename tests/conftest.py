"""Test fixtures. Unit tests need nothing; integration and e2e tests start the real stack
(Kafka KRaft + PostgreSQL + the four services) when it is not already running, and stop
at the end only what they started."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


MERGED_IN_TESTS = "water,drainage,power,gas_supply,gas_leak,heating"
HOTSPOT_WINDOW_SECONDS = 120  # short hotspot windows, so that tests see a few of them


@pytest.fixture(scope="session")
def live():
    """The running stack; started here if needed."""
    from whistle_stack.stack import Stack

    from tests.support.stack import Live

    # Merging calls (并单) is on for every category by default. The suite's fixtures repeat one
    # noise complaint at one grid hundreds of times, each meant as a case of its own, so the
    # test stack merges the utilities only (tests/e2e/test_merging.py uses them).
    os.environ.setdefault("DISPATCH_MERGE_CATEGORIES", MERGED_IN_TESTS)
    os.environ.setdefault("SCORING_HOTSPOT_WINDOW_SECONDS", str(HOTSPOT_WINDOW_SECONDS))
    stack = Stack()
    started = stack.up(timeout=120)
    if started.ready_seconds:
        print(f"\nstarted services, seconds to ready: {started.ready_seconds}")
    yield Live(stack)
    if os.environ.get("WHISTLE_KEEP_STACK") != "1":
        stack.down(started)
