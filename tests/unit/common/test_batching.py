"""The consumers' take loop: no timer while idle, a window from a batch's first event."""

from __future__ import annotations

import asyncio

import pytest
from whistle_common.batching import batches


class Feed:
    """An async source fed by the test: items pushed later arrive later."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.pulled = 0

    def push(self, *items) -> None:
        for item in items:
            self.queue.put_nowait(item)

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self.queue.get()
        if isinstance(item, BaseException):
            raise item
        if item is StopAsyncIteration:
            raise StopAsyncIteration
        self.pulled += 1
        return item


async def test_a_lone_event_comes_at_once_and_what_has_piled_up_comes_together():
    feed = Feed()
    taken = batches(feed, 10)
    feed.push(1)
    assert await asyncio.wait_for(anext(taken), 1) == [1]
    feed.push(2, 3, 4)
    assert await asyncio.wait_for(anext(taken), 1) == [2, 3, 4]
    await taken.aclose()


async def test_a_batch_never_exceeds_its_size_and_nothing_is_dropped():
    feed = Feed()
    taken = batches(feed, 3)
    feed.push(*range(8))
    got = [await asyncio.wait_for(anext(taken), 1) for _ in range(3)]
    assert [len(b) for b in got] == [3, 3, 2]
    assert [x for b in got for x in b] == list(range(8))
    await taken.aclose()


async def test_the_reader_holds_the_source_back_while_the_queue_is_full():
    feed = Feed()
    taken = batches(feed, 2)
    feed.push(*range(10))
    first = await asyncio.wait_for(anext(taken), 1)
    await rounds(5)
    # one batch out, one queue of two waiting, one item held by the blocked put
    assert first == [0, 1]
    assert feed.pulled <= 5
    await taken.aclose()


async def until(condition, rounds: int = 1000) -> None:
    """Let the loop run until `condition()` holds (rounds of the loop, not wall time)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def rounds(n: int = 10) -> None:
    """Let the loop run `n` rounds: what is ready runs, no wall time passes."""
    for _ in range(n):
        await asyncio.sleep(0)


async def waiting_batch(feed: Feed):
    """A consumer waiting for its first batch of `feed`."""
    taken = batches(feed, 5)
    waiting = asyncio.ensure_future(anext(taken))
    await rounds()
    return taken, waiting


@pytest.mark.parametrize("within", [0.0, 0.3])
async def test_an_idle_consumer_sets_no_timer(within):
    feed = Feed()
    taken = batches(feed, 5, within=within)
    feed.push("a")
    assert await asyncio.wait_for(anext(taken), 2) == ["a"]  # a batch has come and gone
    waiting = asyncio.ensure_future(anext(taken))
    await rounds()
    loop = asyncio.get_running_loop()
    # nothing scheduled to wake the idle consumer: no timer handles on the loop
    assert not waiting.done()
    assert not any(not h.cancelled() for h in loop._scheduled)  # noqa: SLF001
    feed.push("b")
    assert await asyncio.wait_for(waiting, 2) == ["b"]
    await taken.aclose()


async def test_a_failing_source_is_raised_to_the_consumer_even_while_it_waits():
    feed = Feed()
    _, waiting = await waiting_batch(feed)
    feed.push(RuntimeError("broker gone"))
    with pytest.raises(RuntimeError, match="broker gone"):
        await asyncio.wait_for(waiting, 1)


async def test_items_before_a_failure_are_delivered_first():
    feed = Feed()
    taken = batches(feed, 5)
    feed.push(1, 2, RuntimeError("late"))
    assert await asyncio.wait_for(anext(taken), 1) == [1, 2]
    with pytest.raises(RuntimeError, match="late"):
        await asyncio.wait_for(anext(taken), 1)


async def test_an_ended_source_ends_the_batches_after_what_was_read():
    feed = Feed()
    taken = batches(feed, 5, within=5)
    feed.push(1, 2, StopAsyncIteration)
    assert await asyncio.wait_for(anext(taken), 1) == [1, 2]
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(taken), 1)


async def test_a_source_ending_while_the_consumer_waits_ends_the_batches():
    feed = Feed()
    _, waiting = await waiting_batch(feed)
    feed.push(StopAsyncIteration)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 1)


async def test_closing_cancels_the_reader():
    feed = Feed()
    taken = batches(feed, 5)
    feed.push(1)
    await anext(taken)
    before = {t for t in asyncio.all_tasks() if t.get_name() == "batches-reader"}
    assert before
    await taken.aclose()
    assert all(t.done() for t in before)


async def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError):
        await anext(batches(Feed(), 0))


async def test_the_window_takes_what_comes_after_the_first_event():
    feed = Feed()
    taken = batches(feed, 10, within=0.5)
    waiting = asyncio.ensure_future(anext(taken))
    feed.push(1)
    await until(lambda: feed.pulled == 1)
    await rounds()
    assert not waiting.done()  # the window is open
    feed.push(2, 3)
    assert await asyncio.wait_for(waiting, 1) == [1, 2, 3]
    await taken.aclose()


async def test_the_window_closes_and_later_events_start_the_next_batch():
    feed = Feed()
    taken = batches(feed, 10, within=0.05)
    feed.push(1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await asyncio.wait_for(anext(taken), 1) == [1]
    assert loop.time() - started >= 0.04
    feed.push(2)
    assert await asyncio.wait_for(anext(taken), 1) == [2]
    await taken.aclose()


async def test_a_full_batch_does_not_wait_out_the_window():
    feed = Feed()
    taken = batches(feed, 3, within=30)
    feed.push(1, 2, 3, 4)
    assert await asyncio.wait_for(anext(taken), 1) == [1, 2, 3]
    await taken.aclose()


async def test_a_failure_inside_the_window_delivers_the_batch_then_raises():
    feed = Feed()
    taken = batches(feed, 10, within=5)
    feed.push(1, 2)
    waiting = asyncio.ensure_future(anext(taken))
    await until(lambda: feed.pulled == 2)
    await rounds()
    assert not waiting.done()  # the batch is open, its window running
    feed.push(RuntimeError("broker gone"))
    assert await asyncio.wait_for(waiting, 1) == [1, 2]
    with pytest.raises(RuntimeError, match="broker gone"):
        await asyncio.wait_for(anext(taken), 1)


async def test_nothing_is_lost_or_repeated_across_many_windows():
    feed = Feed()
    taken = batches(feed, 7, within=0.002)
    sent = list(range(300))

    async def produce():
        for i in sent:
            feed.push(i)
            if i % 13 == 0:
                await asyncio.sleep(0)  # the consumer takes what has come so far

    producer = asyncio.ensure_future(produce())
    got: list[int] = []
    while len(got) < len(sent):
        batch = await asyncio.wait_for(anext(taken), 2)
        assert 1 <= len(batch) <= 7
        got.extend(batch)
    await producer
    assert got == sent
    await taken.aclose()


async def test_a_negative_window_is_refused():
    with pytest.raises(ValueError):
        await anext(batches(Feed(), 5, within=-1))
