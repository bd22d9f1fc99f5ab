"""A seeded city for the hotspot rules: five weeks of hourly counts per category and
community, the last one to test on, and spikes to hide in it.

Each key (category × community) has its own base rate — most are quiet, a few busy
(log-normal, 0.01–5 calls an hour) — shaped by the hour of the day (few calls at night, peaks
mid-morning and evening) and by the day (a day's weather or news multiplies every count of
that day by a gamma-distributed factor, mean 1, ±25%: calls are overdispersed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

START = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday, 00:00; windows of an hour
HOURS = 24 * 7 * 5
# calls per hour of the day relative to the day's mean (sums to 24)
SHAPE = np.array([0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.2, 1.6, 1.8, 1.7, 1.5,
                  1.3, 1.3, 1.4, 1.4, 1.4, 1.5, 1.7, 1.8, 1.6, 1.2, 0.8, 0.5])
SHAPE = SHAPE * 24 / SHAPE.sum()


@dataclass(frozen=True)
class City:
    counts: np.ndarray        # keys × hours
    rates: np.ndarray         # keys: mean calls an hour

    def hour(self, i: int) -> datetime:
        return START + timedelta(hours=i)


def city(seed: int = 5, keys: int = 600) -> City:
    rng = np.random.default_rng(seed)
    rates = np.clip(rng.lognormal(mean=np.log(0.08), sigma=1.3, size=keys), 0.01, 5.0)
    days = HOURS // 24
    daily = rng.gamma(shape=16.0, scale=1 / 16.0, size=(keys, days))  # mean 1, sd 0.25
    expected = rates[:, None] * np.tile(SHAPE, days)[None, :] * np.repeat(daily, 24, axis=1)
    return City(rng.poisson(expected), rates)


def with_spike(base: City, key: int, hour: int, calls: int, minute: int) -> City:
    """`calls` more in key's windows from `minute` past `hour` on, over 40 minutes."""
    counts = base.counts.copy()
    in_first = round(calls * max(0, 60 - minute) / 40) if minute > 20 else calls
    counts[key, hour] += min(calls, in_first)
    counts[key, hour + 1] += calls - min(calls, in_first)
    return City(counts, base.rates)
