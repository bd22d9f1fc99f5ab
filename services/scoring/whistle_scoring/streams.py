"""Hotspot counting on Faust (未诉先办): incidents per category and place in tumbling windows.

Two agents beside scoring's cases.events consumer:

* `rekey` reads cases.events and, for each incident (case.created.v1, case.merged.v1), sends
  one record to the internal topic `whistle-scoring-hotspot-keys`, keyed by the widest place
  it counts for — `street|<code>|<category>` — and naming the narrower ones in it
  (`community|<code>|<category>`), stamped with the event's time. A street holds its
  communities, so the key's partition holds theirs too: one record an incident, not one a place;
* `count` keeps, per key, a windowed table `hotspot_counts` (tumbling windows of
  `HotspotPolicy.window`, a few kept): each window's count, its last `RECENT` incident ids (so
  a redelivered record counts once) and a few sample cases, for the street and, under
  `places`, for each of its communities. Every change goes to the table's changelog topic —
  one record an incident, written once all its places are counted — which Faust reads back
  when a worker starts or takes the partition over: a restart mid-window loses no counts.
  After each new incident every place's window is judged against its baseline (computed from
  scoring's database, cached per window) and a hotspot raised through the use case, which
  records it once and announces it on insights.hotspots.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from whistle_common.envelope import TYPE_HEADER

from .domain.hotspots import Baseline, Detection, HotspotPolicy, detect, window_start
from .handlers import COUNTED, counted_incident, hotspot_keys

log = logging.getLogger(__name__)
SAMPLES = 5
# Incident ids a window remembers to recognise a redelivery. A redelivery is the uncommitted
# tail replayed after a crash — Faust commits every second or every 100 events, and each event
# makes two records — so it is always among the last few hundred. Bounded, so that a busy
# key's changelog records stay small (the whole id list made each record grow with the window
# and a burst of a thousand calls wrote megabytes).
RECENT = 512


def keyed_records(value: bytes | None,
                  headers: dict[str, bytes] | None = None) -> list[tuple[bytes, bytes, float]]:
    """The (key, value, timestamp) records one cases.events message makes: none for an event
    that is not a new incident (or not JSON at all: the consumer dead-letters those). A record
    whose `whistle-type` header names another type is skipped without decoding it."""
    named = (headers or {}).get(TYPE_HEADER)
    if named is not None and named.decode(errors="replace") not in COUNTED:
        return []
    try:
        event = json.loads(value or b"")
        data, event_type = event.get("data") or {}, event.get("type")
        at = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    except (ValueError, TypeError, KeyError, AttributeError):
        return []
    incident = counted_incident(event_type, data) if event_type in COUNTED else None
    keys = ["|".join(key) for key in hotspot_keys(data)] if incident else []
    if not keys:
        return []
    # the widest place keys the record (hotspot_keys lists the community before its street)
    key, places = keys[-1], keys[:-1]
    payload = {"incident_id": incident, "case_id": event.get("subject"), "at": at.isoformat()}
    if places:
        payload["places"] = places
    return [(key.encode(), json.dumps(payload).encode(), at.timestamp())]


class Windows(Protocol):
    """One key's windows in the table: `get(back)` the value `back` windows ago (0: the
    event's own window), `set(value)` the event's window."""

    def get(self, back: int) -> dict: ...

    def set(self, value: dict) -> None: ...


class RecordWindows:
    """A record key's windows holding what is set until `flush`, which writes it once."""

    def __init__(self, windows: Windows) -> None:
        self._windows, self._pending = windows, None

    def get(self, back: int) -> dict:
        if back == 0 and self._pending is not None:
            return self._pending
        return self._windows.get(back)

    def set(self, value: dict) -> None:
        self._pending = value

    def flush(self) -> None:
        if self._pending is not None:
            self._windows.set(self._pending)
            self._pending = None


class PlaceWindows:
    """A narrower place's windows, kept under `places` in its record key's windows."""

    def __init__(self, record: RecordWindows, place: str) -> None:
        self._record, self._place = record, place

    def get(self, back: int) -> dict:
        return ((self._record.get(back) or {}).get("places") or {}).get(self._place) or {}

    def set(self, value: dict) -> None:
        current = dict(self._record.get(0) or {})
        current["places"] = {**(current.get("places") or {}), self._place: value}
        self._record.set(current)


LoadBaselines = Callable[[tuple[str, str, str], tuple[datetime, ...]], Awaitable[list[Baseline]]]
Raise = Callable[[tuple[str, str, str], datetime, Detection, tuple[str, ...]], Awaitable[Any]]


class HotspotCounter:
    """Counts one incident into its key's window and judges the window."""

    def __init__(self, policy: HotspotPolicy, load_baselines: LoadBaselines,
                 raise_hotspot: Raise, cache_size: int = 50_000) -> None:
        self.policy = policy
        self._load, self._raise = load_baselines, raise_hotspot
        self._cache: dict[tuple[tuple[str, str, str], datetime], Baseline] = {}
        self._cache_size = cache_size

    async def observe_record(self, key_text: str, payload: dict[str, Any],
                             windows: Windows) -> list[str]:
        """Count one re-keyed record for its key and the places it names, writing the key's
        window once; answers the kinds of hotspot raised."""
        record = RecordWindows(windows)
        raised = [await self.observe(key_text, payload, record)]
        for place in payload.get("places") or ():
            raised.append(await self.observe(place, payload, PlaceWindows(record, place)))
        record.flush()
        return [kind for kind in raised if kind]

    async def observe(self, key_text: str, payload: dict[str, Any], windows: Windows) -> str | None:
        """Count the incident (once); answers the kind of hotspot raised, if one was."""
        key = tuple(key_text.split("|", 2))
        if len(key) != 3:
            return None
        value = dict(windows.get(0) or {})
        ids = list(value.get("ids") or [])
        if payload["incident_id"] in ids:
            return None  # a redelivered record
        ids = [*ids, payload["incident_id"]][-RECENT:]
        count = _count(value) + 1
        cases = list(value.get("cases") or [])
        if payload.get("case_id") and payload["case_id"] not in cases and len(cases) < SAMPLES:
            cases.append(payload["case_id"])
        value.update(n=count, ids=ids, cases=cases)
        windows.set(value)
        n = self.policy.sustained_windows
        counts = [_count(windows.get(back) or {}) for back in range(n - 1, 0, -1)]
        counts.append(count)
        if count < self.policy.min_count and sum(counts) < self.policy.min_count:
            return None  # nothing can be raised below the minimum: no baseline needed
        start = window_start(datetime.fromisoformat(payload["at"]), self.policy.window)
        starts = tuple(start - back * self.policy.window for back in range(n - 1, -1, -1))
        try:
            baselines = await self._baselines(key, starts)
        except Exception:  # noqa: BLE001 - the database is away: judge on a later incident
            log.warning("hotspot baselines unavailable", exc_info=True)
            return None
        found = detect(counts, baselines, self.policy)
        if found is None or found.kind in (value.get("raised") or []):
            return None
        try:
            announced = await self._raise(key, start, found, tuple(cases))
        except Exception:  # noqa: BLE001 - raised again on the window's next incident
            log.warning("hotspot not recorded", exc_info=True)
            return None
        value["raised"] = [*(value.get("raised") or []), found.kind]
        windows.set(value)  # raised here or, before, by another worker: judged once
        return found.kind if announced is not None else None

    async def _baselines(self, key: tuple[str, str, str],
                         starts: tuple[datetime, ...]) -> list[Baseline]:
        missing = tuple(s for s in starts if (key, s) not in self._cache)
        if missing:
            if len(self._cache) > self._cache_size:
                self._cache.clear()
            for start, found in zip(missing, await self._load(key, missing), strict=True):
                self._cache[key, start] = found
        return [self._cache[key, s] for s in starts]


def _count(value: dict) -> int:
    return int(value.get("n", len(value.get("ids") or [])))


class _TableWindows:
    """A key's windows of a Faust windowed table, relative to the current event."""

    def __init__(self, table: Any, key: str, size: float) -> None:
        self._table, self._key, self._size = table, key, size

    def get(self, back: int) -> dict:
        windows = self._table[self._key]
        return windows.current() if back == 0 else windows.delta(back * self._size)

    def set(self, value: dict) -> None:
        self._table[self._key] = value


def attach_hotspots(faust_app: Any, counter: HotspotCounter) -> Any:
    """Declare the topics, the windowed table and the two agents on the service's Faust app;
    answers the table."""
    from whistle_common.topics import CASES_EVENTS, HOTSPOT_KEYS

    policy = counter.policy
    size = policy.window.total_seconds()
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
           "value_serializer": "raw"}
    cases = faust_app.topic(CASES_EVENTS, allow_empty=True, **raw)
    keyed = faust_app.topic(HOTSPOT_KEYS, **raw)
    table = faust_app.Table(
        "hotspot_counts", default=dict,
        help="incident ids and sample cases per category × place × window",
    ).tumbling(size, expires=timedelta(seconds=size * (policy.sustained_windows + 1)))

    async def rekey(stream):
        async for event in stream.events():
            headers = {k: v or b"" for k, v in (event.message.headers or [])}
            for key, payload, at in keyed_records(event.value, headers):
                await keyed.send(key=key, value=payload, timestamp=at)

    async def count(stream):
        async for event in stream.events():
            try:
                payload = json.loads(event.value)
                key = event.key.decode()
            except (ValueError, AttributeError):
                continue
            await counter.observe_record(key, payload, _TableWindows(table, key, size))

    faust_app.agent(cases, name="scoring.hotspot-keys")(rekey)
    faust_app.agent(keyed, name="scoring.hotspot-counts")(count)
    return table
