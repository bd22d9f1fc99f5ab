"""Delivery policy: retries with exponential backoff and jitter, quiet hours, rate limits."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 2.0
    cap_seconds: float = 600.0

    def next_delay(self, attempts: int, rng: random.Random | None = None) -> float | None:
        """Seconds until the next try after `attempts` failures; None when giving up."""
        if attempts >= self.max_attempts:
            return None
        exp = min(self.cap_seconds, self.base_seconds * 2 ** (attempts - 1))
        return exp * (rng or random).uniform(0.5, 1.5)  # jitter spreads retry storms


@dataclass(frozen=True)
class QuietHours:
    """A daily local window (may cross midnight) in which non-urgent messages wait."""

    start: time
    end: time

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        return cls(time.fromisoformat(start), time.fromisoformat(end))

    def release_at(self, now: datetime) -> datetime | None:
        """When a message arriving at `now` may go out; None if not in the window."""
        local = now.astimezone(SHANGHAI)
        t = local.time()
        inside = (self.start <= t < self.end) if self.start < self.end else (
            t >= self.start or t < self.end)
        if not inside:
            return None
        release = local.replace(hour=self.end.hour, minute=self.end.minute,
                                second=self.end.second, microsecond=0)
        if release <= local:
            release += timedelta(days=1)
        return release


def rate_limited(sent_in_window: int, limit: int) -> bool:
    """Whether one more message would exceed the per-recipient limit."""
    return sent_in_window >= limit


class Attempt(NamedTuple):
    """One try at delivering a notification, as recorded."""

    notification_id: uuid.UUID
    at: datetime
    outcome: str            # sent | failed
    error: str | None
    seconds: float


class Sent(NamedTuple):
    """A notification delivered: its attempts so far and the body that went out."""

    notification_id: uuid.UUID
    attempts: int
    body: str
    at: datetime
