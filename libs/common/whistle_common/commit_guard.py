"""Un-sticking a partition whose commit offset Faust stopped advancing.

Faust (faust-streaming 0.15.3) commits a partition only up to its first message that was
delivered and never acknowledged. A broker outage makes the consumer rejoin its group; around
that rebalance Faust can leave a few messages of a partition behind without ever handing them
to a stream (its read offset, reset to the committed offset by the seek of the rebalance, is
set again to the offset that was in flight before it, and the re-fetched messages below that
are dropped as already read). Everything after them is applied and acknowledged, but the
commit offset stays where it was for good: the group's lag grows, and a restart replays
everything since. Seen in the kill test on scoring (cases.events and the hotspot keys).

The guard looks at each assigned partition every few seconds. A partition is stuck when its
acknowledged offsets start past its commit offset (the message there was never acknowledged),
no message below them is still being processed, and that has not changed since the previous
look. It then seeks the partition back to its commit offset: the skipped messages
are fetched again, and so are those after them, which the consumers recognise (each event is
claimed by id, the hotspot counter remembers incident ids) and apply nothing twice.

One skipped message is the dangerous case: Faust tolerates a hole of one at the head (a
missing offset right after a seek, which its gap tracking misses by one) and commits past it,
so the message would be lost to the group. `hold_single_holes` makes the consumer wait for
it instead, and the guard fetches it again like any other hole; only if two rewinds at the
same offset did not bring it (the offset does not exist: a compacted or transaction-marker
offset — Whistle's topics have neither) is the hole passed, as Faust would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from .metrics import PARTITION_REWINDS

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PartitionState:
    """What Faust knows of one partition's progress."""

    committed: int | None       # the next offset the group's commit points at
    first_acked: int | None     # the lowest acknowledged offset not yet committed
    in_flight_below: int        # messages delivered, not acknowledged, below first_acked


MAX_REWINDS = 2  # rewinds at one offset before a hole of one is taken as no message at all


def stuck(state: PartitionState) -> bool:
    """The partition's commit cannot advance: the message at its commit offset was never
    acknowledged, and nothing is at work on it."""
    if state.committed is None or state.first_acked is None:
        return False
    return state.first_acked > state.committed and state.in_flight_below == 0


def hold_single_holes(consumer: Any, passed: dict[Any, int]) -> None:
    """Make a Faust consumer wait for the message at a partition's commit offset when its
    acknowledged offsets start one past it, instead of committing past (see the module's
    text); `passed` holds the offsets the guard has given up on."""
    original = consumer._new_offset

    def new_offset(tp: Any) -> int | None:
        acked, committed = consumer._acked.get(tp), consumer._committed_offset.get(tp)
        if (acked and committed is not None and min(acked) == committed + 1
                and not consumer._gap.get(tp) and passed.get(tp) != committed):
            return None
        return original(tp)

    consumer._new_offset = new_offset


def partition_states(consumer: Any) -> dict[Any, PartitionState]:
    """Read each assigned partition's state out of a Faust consumer."""
    unacked_by_tp: dict[Any, list[int]] = {}
    for message in list(consumer._unacked_messages):
        unacked_by_tp.setdefault(message.tp, []).append(message.offset)
    states = {}
    for tp in consumer.assignment():
        acked = consumer._acked.get(tp) or ()
        first = min(acked) if acked else None
        below = sum(1 for o in unacked_by_tp.get(tp, ()) if first is None or o < first)
        states[tp] = PartitionState(consumer._committed_offset.get(tp), first, below)
    return states


class CommitGuard:
    """Decides which partitions to rewind: stuck, and stuck the same way at the last look.
    `passed` (shared with `hold_single_holes`) gets a hole of one that rewinds did not fill."""

    def __init__(self) -> None:
        self._seen: dict[Any, PartitionState] = {}
        self._rewinds: dict[Any, tuple[int, int]] = {}  # tp -> (offset, rewinds there)
        self.passed: dict[Any, int] = {}

    def to_rewind(self, states: Mapping[Any, PartitionState]) -> list[tuple[Any, int]]:
        """(partition, offset to seek to) for every partition stuck at this look and the
        previous one with the same commit offset."""
        rewind = []
        seen = {}
        for tp, state in states.items():
            if not stuck(state) or self.passed.get(tp) == state.committed:
                continue
            before = self._seen.get(tp)
            if before is None or before.committed != state.committed:
                seen[tp] = state
                continue
            offset, times = self._rewinds.get(tp, (state.committed, 0))
            times = times + 1 if offset == state.committed else 1
            if times > MAX_REWINDS and state.first_acked == state.committed + 1:
                log.warning("offset never came after rewinds; passing it", topic=tp.topic,
                            partition=tp.partition, offset=state.committed)
                self.passed[tp] = state.committed
                continue
            self._rewinds[tp] = (state.committed, times)
            rewind.append((tp, state.committed))
        self._seen = seen
        return rewind


async def guard_commits(faust_app: Any, service: str, *, every: float = 5.0) -> None:
    """Run until cancelled: rewind the partitions of the app's consumer that are stuck."""
    guard, consumer = CommitGuard(), faust_app.consumer
    hold_single_holes(consumer, guard.passed)
    while True:
        await asyncio.sleep(every)
        try:
            if faust_app.rebalancing:
                continue
            for tp, offset in guard.to_rewind(partition_states(consumer)):
                log.warning("partition commit stuck; fetching again from its commit offset",
                            topic=tp.topic, partition=tp.partition, offset=offset)
                PARTITION_REWINDS.labels(tp.topic).inc()
                await consumer.seek(tp, offset)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the guard must outlive a consumer mid-rebalance
            log.warning("commit guard check failed", service=service, exc_info=True)

