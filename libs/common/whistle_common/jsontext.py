"""Writing JSON on the hot paths with orjson (a compiled encoder: a tenth of the standard
library's time on a case document, and it writes dataclasses without copying them first), with
the standard library's answer where orjson refuses (an integer past 64 bits).

Reading stays with the standard library: on the services' documents (mostly Chinese text)
orjson.loads saved under a tenth, and it reads an integer past 64 bits as a float, silently.

Dataclasses, datetimes, dates, times and UUIDs are written as orjson writes them (fields in
order; RFC 3339 with the offset, as `isoformat()`); text is UTF-8 as is (`ensure_ascii=False`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    """What orjson does not know: anything with `isoformat` (as the old encoder did)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _stdlib_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return _default(value)


def dumps(value: Any) -> str:
    """JSON text of `value` (for a text or jsonb parameter)."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        # orjson refuses what the standard library writes (an integer past 64 bits): write it
        # as before rather than fail a save
        return json.dumps(value, ensure_ascii=False, default=_stdlib_default)
