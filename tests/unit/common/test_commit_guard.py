"""The commit guard rewinds a partition whose commit Faust stopped advancing, and only that."""

from __future__ import annotations

import asyncio
from collections import namedtuple

from whistle_common.commit_guard import (
    CommitGuard,
    PartitionState,
    guard_commits,
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


def test_progressing_idle_and_busy_partitions_are_not_stuck():
    assert not stuck(PartitionState(42029, 42029, 0))     # acks continue the commit
    assert not stuck(PartitionState(42029, 42030, 0))     # Faust commits past one itself
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


class FakeConsumer:
    """The parts of a Faust consumer the guard reads, and a seek that records."""

    def __init__(self, committed, acked, unacked):
        self._committed_offset, self._acked = committed, acked
        self._unacked_messages = set(unacked)
        self.seeks: list[tuple[TP, int]] = []
        self.sought = asyncio.Event()

    def assignment(self):
        return set(self._committed_offset)

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
