"""The commit guard rewinds a partition whose commit Faust stopped advancing, and only that."""

from __future__ import annotations

import asyncio
from collections import namedtuple

from whistle_common.commit_guard import (
    MAX_REWINDS,
    CommitGuard,
    PartitionState,
    guard_commits,
    hold_single_holes,
    partition_states,
    stuck,
)

TP = namedtuple("TP", "topic partition")
Message = namedtuple("Message", "tp offset")
KEYS = TP("whistle-scoring-hotspot-keys", 1)
CASES = TP("cases.events", 0)


def test_a_partition_whose_acks_start_past_a_hole_is_stuck():
    # what the kill test left: committed 42029, acknowledged from 42059 on, nothing in flight
    assert stuck(PartitionState(committed=42029, first_acked=42059, in_flight_below=0))


def test_one_skipped_message_is_a_stuck_partition_too():
    # Faust would commit past it: the hold makes it wait, the guard fetches it again
    assert stuck(PartitionState(committed=42029, first_acked=42030, in_flight_below=0))


def test_progressing_idle_and_busy_partitions_are_not_stuck():
    assert not stuck(PartitionState(42029, 42029, 0))     # acks continue the commit
    assert not stuck(PartitionState(42029, None, 0))      # nothing acknowledged yet
    assert not stuck(PartitionState(None, 42059, 0))      # no commit known yet
    assert not stuck(PartitionState(42029, 42059, 3))     # a slow batch is still at work


def test_rewinds_only_what_stayed_stuck_at_the_same_offset_over_two_looks():
    guard = CommitGuard()
    first = {KEYS: PartitionState(42029, 42059, 0), CASES: PartitionState(10, 10, 0)}
    assert guard.to_rewind(first) == []  # once could be a passing moment
    assert guard.to_rewind({KEYS: PartitionState(42029, 42071, 0),
                            CASES: PartitionState(12, 12, 0)}) == [(KEYS, 42029)]


def test_a_partition_that_moved_between_looks_is_not_rewound():
    guard = CommitGuard()
    assert guard.to_rewind({KEYS: PartitionState(42029, 42059, 0)}) == []
    assert guard.to_rewind({KEYS: PartitionState(42100, 42130, 0)}) == []  # committed moved
    assert guard.to_rewind({KEYS: PartitionState(42100, 42100, 0)}) == []  # and recovered
    assert guard.to_rewind({KEYS: PartitionState(42100, 42140, 0)}) == []  # a new hole: new
    assert guard.to_rewind({KEYS: PartitionState(42100, 42141, 0)}) == [(KEYS, 42100)]


def test_a_hole_of_one_that_rewinds_do_not_fill_is_passed_at_last():
    guard, state = CommitGuard(), {KEYS: PartitionState(500, 501, 0)}
    rewinds = 0
    for _ in range(2 * (MAX_REWINDS + 2)):
        rewinds += len(guard.to_rewind(state))
    assert rewinds == MAX_REWINDS and guard.passed == {KEYS: 500}


def test_a_wider_hole_is_never_passed():
    guard, state = CommitGuard(), {KEYS: PartitionState(500, 510, 0)}
    rewinds = sum(len(guard.to_rewind(state)) for _ in range(2 * (MAX_REWINDS + 2)))
    assert rewinds == MAX_REWINDS + 2 and guard.passed == {}


class FaustState:
    """The state Faust's consumer keeps for one partition, with the installed Faust's own
    `_new_offset` (its commit rule) running on it."""

    def __init__(self, committed, acked, gap=None):
        from collections import defaultdict

        from intervaltree import IntervalTree

        self._acked = defaultdict(list, {KEYS: list(acked)})
        self._acked_index = defaultdict(set, {KEYS: set(acked)})
        self._committed_offset = defaultdict(lambda: None, {KEYS: committed})
        self._gap = defaultdict(IntervalTree)
        for begin, end in gap or ():
            self._gap[KEYS].addi(begin, end)

    def _new_offset(self, tp):
        from faust.transport.consumer import Consumer

        return Consumer._new_offset(self, tp)

    def ack(self, offset):
        self._acked[KEYS].append(offset)
        self._acked_index[KEYS].add(offset)


def test_faust_itself_commits_past_a_hole_of_one_and_the_hold_stops_it():
    assert FaustState(500, [501, 502])._new_offset(KEYS) == 503  # 500 never acknowledged
    held = FaustState(500, [501, 502])
    hold_single_holes(held, {})
    assert held._new_offset(KEYS) is None
    held.ack(500)  # fetched again and acknowledged
    assert held._new_offset(KEYS) == 503


def test_the_hold_lets_a_passed_hole_and_a_tracked_gap_through():
    passed: dict = {}
    consumer = FaustState(500, [501, 502])
    hold_single_holes(consumer, passed)
    passed[KEYS] = 500
    assert consumer._new_offset(KEYS) == 503
    tracked = FaustState(500, [501, 502], gap=[(498, 501)])
    hold_single_holes(tracked, {})
    assert tracked._new_offset(KEYS) is not None


class FakeConsumer:
    """The parts of a Faust consumer the guard reads, and a seek that records."""

    def __init__(self, committed, acked, unacked):
        self._committed_offset, self._acked, self._gap = committed, acked, {}
        self._unacked_messages = set(unacked)
        self.seeks: list[tuple[TP, int]] = []
        self.sought = asyncio.Event()

    def assignment(self):
        return set(self._committed_offset)

    def _new_offset(self, tp):
        return None

    async def seek(self, tp, offset):
        self.seeks.append((tp, offset))
        self.sought.set()


def test_partition_states_read_commit_acks_and_messages_in_flight():
    consumer = FakeConsumer({KEYS: 42029, CASES: 7},
                            {KEYS: [42061, 42059, 42060]},
                            [Message(KEYS, 42070), Message(CASES, 7), Message(CASES, 8)])
    assert partition_states(consumer) == {
        KEYS: PartitionState(42029, 42059, 0),  # 42070 is above the first ack: not a hole
        CASES: PartitionState(7, None, 2),
    }


async def test_the_guard_seeks_a_stuck_partition_back_to_its_commit():
    consumer = FakeConsumer({KEYS: 42029, CASES: 7}, {KEYS: [42059, 42060]}, [])

    class App:
        rebalancing = False

    App.consumer = consumer
    task = asyncio.ensure_future(guard_commits(App, "scoring", every=0.001))
    try:
        await asyncio.wait_for(consumer.sought.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert consumer.seeks[0] == (KEYS, 42029)
    assert {tp for tp, _ in consumer.seeks} == {KEYS}

