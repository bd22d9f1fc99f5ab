"""Batches for the consumers, with no timer while nothing comes.

Faust's `Stream.take_events(n, within)` waits on its buffer with a timeout of `within`
whether or not anything is in it, so an idle agent wakes every `within` seconds (20 times a
second per agent at 50 ms; notify has four agents, dispatch two). `batches` waits for the first
event with no timeout at all and only then starts the window: it takes what else arrives within
`within` seconds of the first, up to `max_size`. Under load it batches like take_events (one
transaction, one commit for many events); idle, an agent sleeps until a message comes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


class StreamEnded(RuntimeError):
    """The source ended (the stream was stopped) while a batch was awaited."""


async def batches(source: AsyncIterable[T], max_size: int,
                  within: float = 0.0) -> AsyncIterator[list[T]]:
    """Yield lists of 1..max_size items of `source`.

    A batch starts with the first item to arrive (waited for without a timeout) and takes
    what arrives in the `within` seconds after it, or less once `max_size` items are there.
    A reader task moves items into a queue of `max_size` (it waits while the queue is full,
    which holds the stream back instead of buffering without bound). A failure of the source
    is raised after the items that came before it; the reader is cancelled when the generator
    is closed.
    """
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    if within < 0:
        raise ValueError("within must not be negative")
    pending: asyncio.Queue[T] = asyncio.Queue(maxsize=max_size)

    async def read() -> None:
        async for item in source:
            await pending.put(item)

    loop = asyncio.get_running_loop()
    reader = asyncio.create_task(read(), name="batches-reader")
    try:
        while True:
            batch = [await _first(pending, reader)]
            deadline = loop.time() + within
            while len(batch) < max_size:
                if pending.empty():
                    # one turn of the loop lets the reader hand over what it has fetched
                    await asyncio.sleep(0)
                if not pending.empty():
                    batch.append(pending.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0 or reader.done():
                    break
                item = await _next_within(pending, reader, remaining)
                if item is _NOTHING:
                    break
                batch.append(item)
            yield batch
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


_NOTHING: object = object()


async def _first(pending: asyncio.Queue[T], reader: asyncio.Task) -> T:
    """The next item, waiting without a timeout; the reader's failure or end is raised."""
    if not pending.empty():
        return pending.get_nowait()
    if reader.done():
        reader.result()
        raise StreamEnded("the stream ended")
    item = await _next_within(pending, reader, None)
    if item is not _NOTHING:
        return item
    reader.result()
    raise StreamEnded("the stream ended")


async def _next_within(pending: asyncio.Queue[T], reader: asyncio.Task,
                       timeout: float | None) -> T | object:
    """The next item if one comes within `timeout` seconds (None: no limit) and the reader
    is still running, else `_NOTHING`. An item the getter took is never dropped: Queue.get
    only removes an item once it returns, and a getter that returned is read, not cancelled."""
    getter = asyncio.ensure_future(pending.get())
    try:
        await asyncio.wait({getter, reader}, timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()
            await asyncio.gather(getter, return_exceptions=True)
    if getter.done() and not getter.cancelled() and getter.exception() is None:
        return getter.result()
    return _NOTHING
