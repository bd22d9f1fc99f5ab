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


async def batches(source: AsyncIterable[T], max_size: int,
                  within: float = 0.0) -> AsyncIterator[list[T]]:
    """Yield lists of 1..max_size items of `source`.

    A batch starts with the first item to arrive (waited for without a timeout) and takes
    what arrives in the `within` seconds after it, or less once `max_size` items are there.
    A reader task moves items into a queue of `max_size` (it waits while the queue is full,
    which holds the stream back instead of buffering without bound). When the source ends (a
    stopping service stops its streams) the batches end too, after the items already read; a
    failure of the source is raised after them. The reader is cancelled when the generator is
    closed.
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
            first = await _first(pending, reader)
            if first is _NOTHING:
                return
            batch = [first]
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


async def _first(pending: asyncio.Queue[T], reader: asyncio.Task) -> T | object:
    """The next item, waiting without a timeout; `_NOTHING` once the reader has ended and
    everything it read was taken, and the reader's failure raised then."""
    if pending.empty() and not reader.done():
        item = await _next_within(pending, reader, None)
        if item is not _NOTHING:
            return item
    if not pending.empty():
        return pending.get_nowait()
    reader.result()
    return _NOTHING


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
