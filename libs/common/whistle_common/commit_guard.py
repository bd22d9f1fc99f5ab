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
acknowledged offsets start more than one past its commit offset (Faust then refuses to
commit), no message below them is still being processed, and that has not changed since the
previous look. It then seeks the partition back to its commit offset: the skipped messages
are fetched again, and so are those after them, which the consumers recognise (each event is
claimed by id, the hotspot counter remembers incident ids) and apply nothing twice.
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


def stuck(state: PartitionState) -> bool:
    """Faust will never commit this partition past its commit offset by itself."""
    if state.committed is None or state.first_acked is None:
        return False
    return state.first_acked - state.committed > 1 and state.in_flight_below == 0


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
    """Decides which partitions to rewind: stuck, and stuck the same way at the last look."""

    def __init__(self) -> None:
        self._seen: dict[Any, PartitionState] = {}

    def to_rewind(self, states: Mapping[Any, PartitionState]) -> list[tuple[Any, int]]:
        """(partition, offset to seek to) for every partition stuck at this look and the
        previous one with the same commit offset."""
        rewind = []
        seen = {}
        for tp, state in states.items():
            if not stuck(state):
                continue
            before = self._seen.get(tp)
            if before is not None and before.committed == state.committed:
                rewind.append((tp, state.committed))
            else:
                seen[tp] = state
        self._seen = seen
        return rewind


async def guard_commits(faust_app: Any, service: str, *, every: float = 5.0) -> None:
    """Run until cancelled: rewind the partitions of the app's consumer that are stuck."""
    guard = CommitGuard()
    while True:
        await asyncio.sleep(every)
        try:
            consumer = faust_app.consumer
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

