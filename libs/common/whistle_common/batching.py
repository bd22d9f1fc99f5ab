"""Batches of whatever has arrived, with no timer: the consumers' take loop.

Faust's `Stream.take_events(n, within)` waits on its buffer with a timeout of `within`, so an
agent wakes every `within` seconds while nothing comes (20 times a second per agent at 50 ms:
most of a quiet service's CPU), and an event that comes alone waits out the rest of the window.
`batches` waits for the first event with no timeout at all, then takes whatever else has
already been fetched, up to `max_size` ("smart batching"): alone, an event is applied at once;
under load, events pile up while a batch is applied and the next batch is larger by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


class StreamEnded(RuntimeError):
    """The source ended (the stream was stopped) while a batch was awaited."""


async def batches(source: AsyncIterable[T], max_size: int) -> AsyncIterator[list[T]]:
    """Yield lists of 1..max_size items of `source`, each as soon as one item is there.

    A reader task moves items into a queue of `max_size` (it waits while the queue is full,
    which holds the stream back instead of buffering without bound). A failure of the source
    is raised here; the reader is cancelled when the generator is closed.
    """
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    pending: asyncio.Queue[T] = asyncio.Queue(maxsize=max_size)

    async def read() -> None:
        async for item in source:
            await pending.put(item)

    reader = asyncio.create_task(read(), name="batches-reader")
    try:
        while True:
            batch = [await _first(pending, reader)]
            while len(batch) < max_size:
                if pending.empty():
                    # one turn of the loop lets the reader hand over what it has fetched
                    await asyncio.sleep(0)
                    if pending.empty():
                        break
                batch.append(pending.get_nowait())
            yield batch
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def _first(pending: asyncio.Queue[T], reader: asyncio.Task) -> T:
    """The next item, waiting without a timeout; the reader's failure or end is raised."""
    if not pending.empty():
        return pending.get_nowait()
    if reader.done():
        reader.result()
        raise StreamEnded("the stream ended")
    getter = asyncio.ensure_future(pending.get())
    try:
        await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()
    if getter.done() and not getter.cancelled():
        return getter.result()
    reader.result()
    raise StreamEnded("the stream ended")
