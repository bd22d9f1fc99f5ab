"""Notify's HTTP client (SMS gateway, webhooks) imports nothing per request.

httpcore asks sniffio which event loop it runs on, with `import sniffio` inside the function,
on every request; without sniffio installed, each request was a failed import searching every
entry of sys.path (a tenth of notify's CPU at 20 incidents a second)."""

from __future__ import annotations

import sys

import httpcore._synchronization as httpcore_sync


class Finder:
    """A meta path finder that only counts the imports that reach the finders."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, name, path=None, target=None):
        self.asked.append(name)
        return None


async def test_asking_for_the_event_loop_imports_nothing(monkeypatch):
    finder = Finder()
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    for _ in range(3):
        assert httpcore_sync.current_async_library() == "asyncio"
    assert finder.asked == []


async def test_the_finder_sees_a_missing_module():
    finder = Finder()
    sys.meta_path.insert(0, finder)
    try:
        try:
            import whistle_no_such_module  # noqa: F401
        except ImportError:
            pass
    finally:
        sys.meta_path.remove(finder)
    assert finder.asked == ["whistle_no_such_module"]
