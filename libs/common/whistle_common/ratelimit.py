"""Per-client token buckets: 429 with Retry-After instead of overload."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from .problems import ProblemError


@dataclass
class TokenBuckets:
    """`rate` requests per second per client, with bursts up to `burst` (per process)."""

    rate: float
    burst: float
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, client: str, now: float | None = None) -> float:
        """0 when allowed; otherwise seconds until a token is available."""
        now = time.monotonic() if now is None else now
        tokens, last = self._state.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._state[client] = (tokens - 1, now)
            return 0.0
        self._state[client] = (tokens, now)
        return (1 - tokens) / self.rate

    def check(self, client: str) -> None:
        """Raise a 429 problem when the client is over its rate."""
        wait = self.take(client)
        if wait > 0:
            raise ProblemError(429, "too-many-requests", "Too many requests",
                               f"client {client} is over {self.rate:g} requests/s",
                               headers={"Retry-After": str(max(1, math.ceil(wait)))})
