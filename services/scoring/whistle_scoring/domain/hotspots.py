"""Hotspots (主动治理、未诉先办): is this window's count of a category in a place unusual?

The platform counts incidents per category and place (community, street) in tumbling windows.
A window is compared with a baseline built from the same key's past windows: the same window
of the day on each of the last 28 days (the hour of the day, and the same window of the last
four weeks among them), or, while the platform has counted for less than `min_samples` days,
the windows of the last day. Before that there is no baseline and nothing is raised (a city's
first hours teach the baseline). The same window of past weeks alone was tried first: four
samples make a deviation too noisy (2–8 false alarms a simulated week against none).

* spike: the window's count is improbable under the baseline — the upper tail of a Poisson law
  whose rate is the baseline's mean plus one deviation (calls are overdispersed: a rainy day
  doubles every count), at most `alpha` — and at least `min_count`;
* sustained: the last `sustained_windows` windows are each above their mean plus one
  deviation, together at least `min_count`, and their sum is improbable (`sustained_alpha`)
  under the sum of their rates.

A category that recurs in one community week after week is *recurring*: the street may open a
proactive case for it. Pure rules: standard library only; nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean, pstdev

DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class HotspotPolicy:
    window: timedelta = timedelta(hours=1)
    min_count: int = 5                 # never raise below this many incidents in one window
    alpha: float = 1e-4                # the chance of the count under the baseline, at most
    floor_per_hour: float = 0.05       # the rate assumed for a place that never calls
    min_samples: int = 3               # past windows a baseline needs
    days: int = 28                     # the same window of the day on up to 28 past days …
    recent: timedelta = DAY            # … else the windows of the last day
    sustained_windows: int = 3
    sustained_alpha: float = 1e-4      # the chance of the windows' sum, at most
    recurring_weeks: int = 3           # weeks in a row …
    recurring_min: int = 3             # … with at least this many incidents each

    @property
    def floor(self) -> float:
        """The least rate per window a baseline is taken to have."""
        return self.floor_per_hour * self.window / timedelta(hours=1)


@dataclass(frozen=True)
class Baseline:
    mean: float
    std: float
    samples: int
    method: str  # days | recent | none

    def as_dict(self) -> dict:
        return {"mean": round(self.mean, 4), "std": round(self.std, 4),
                "samples": self.samples, "method": self.method}


NO_BASELINE = Baseline(0.0, 0.0, 0, "none")


@dataclass(frozen=True)
class Detection:
    kind: str  # spike | sustained
    count: int
    expected: float
    p_value: float | None
    baseline: Baseline


def window_start(at: datetime, window: timedelta) -> datetime:
    """The start of the tumbling window `at` falls in (windows start at the Unix epoch)."""
    seconds = window.total_seconds()
    stamp = at.timestamp()
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=at.tzinfo)


def sample_times(start: datetime, policy: HotspotPolicy) -> dict[str, list[datetime]]:
    """The past windows each baseline method looks at, for the window starting at `start`."""
    recent = int(policy.recent / policy.window)
    return {"days": [start - k * DAY for k in range(1, policy.days + 1)],
            "recent": [start - k * policy.window for k in range(1, recent + 1)]}


def baseline_from(counts: Mapping[datetime, int], start: datetime, counting_since: datetime | None,
                  policy: HotspotPolicy) -> Baseline:
    """The baseline of the window starting at `start` from the key's past counts (a window
    missing from `counts` had none, if the platform was counting then)."""
    if counting_since is None:
        return NO_BASELINE
    for method, times in sample_times(start, policy).items():
        known = [t for t in times if t >= counting_since]
        if len(known) >= policy.min_samples:
            values = [counts.get(t, 0) for t in known]
            return Baseline(fmean(values), pstdev(values), len(values), method)
    return NO_BASELINE


def poisson_tail(k: int, rate: float) -> float:
    """P(X ≥ k) for X ~ Poisson(rate): summed upwards from k above the mean (where 1 - P(X < k)
    would lose its digits), as 1 - P(X < k) below it."""
    if k <= 0:
        return 1.0
    if rate <= 0:
        return 0.0
    if k > rate:
        term = math.exp(-rate + k * math.log(rate) - math.lgamma(k + 1))
        total, i = 0.0, k
        while term > total * 1e-15 and term > 1e-300:
            total += term
            i += 1
            term *= rate / i
        return min(1.0, total)
    term = below = math.exp(-rate)
    for i in range(1, k):
        term *= rate / i
        below += term
    return max(0.0, 1.0 - below)


def expected_rate(baseline: Baseline, policy: HotspotPolicy) -> float:
    """The rate a window's count is tested against: mean plus one deviation, at least the
    floor."""
    return max(baseline.mean + baseline.std, policy.floor)


def detect(counts: Sequence[int], baselines: Sequence[Baseline],
           policy: HotspotPolicy) -> Detection | None:
    """Is the latest window a hotspot? `counts` and `baselines` are the key's last windows,
    oldest first, the latest last (each window has its own baseline: the hour of the day)."""
    if not counts or len(counts) != len(baselines) or baselines[-1].method == "none":
        return None
    current, baseline = counts[-1], baselines[-1]
    expected = expected_rate(baseline, policy)
    p_value = poisson_tail(current, expected)
    if current >= policy.min_count and p_value <= policy.alpha:
        return Detection("spike", current, expected, p_value, baseline)
    n = policy.sustained_windows
    if len(counts) < n or any(b.method == "none" for b in baselines[-n:]):
        return None
    last, bases = list(counts[-n:]), list(baselines[-n:])
    total = sum(last)
    rate = sum(expected_rate(b, policy) for b in bases)
    p_value = poisson_tail(total, rate)
    above = all(c > b.mean + b.std for c, b in zip(last, bases, strict=True))
    if above and total >= policy.min_count and p_value <= policy.sustained_alpha:
        return Detection("sustained", current, round(rate, 4), p_value, baseline)
    return None


def recurring(weekly: Mapping[datetime, int], this_week: datetime,
              policy: HotspotPolicy) -> bool:
    """Whether a category recurs in a place: at least `recurring_min` incidents in each of the
    last `recurring_weeks` full weeks before `this_week` (weekly counts by week start)."""
    weeks = [this_week - k * WEEK for k in range(1, policy.recurring_weeks + 1)]
    return all(weekly.get(w, 0) >= policy.recurring_min for w in weeks)
