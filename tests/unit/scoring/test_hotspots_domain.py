"""The hotspot rules: baselines, the Poisson tail, spikes, sustained rises, recurrence, and a
simulated week of a city replayed through them (false alarms printed)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from whistle_scoring.domain.hotspots import (
    NO_BASELINE,
    Baseline,
    HotspotPolicy,
    baseline_from,
    detect,
    poisson_tail,
    recurring,
    window_start,
)

from .hotspot_week import HOURS, city, with_spike

POLICY = HotspotPolicy()
T = datetime(2026, 7, 14, 10, 0, tzinfo=UTC)


def test_poisson_tail_is_exact_at_both_ends():
    assert poisson_tail(0, 2.0) == 1.0
    assert poisson_tail(1, 1.0) == pytest.approx(1 - math.exp(-1))
    assert poisson_tail(10, 3.0) == pytest.approx(0.0011025, rel=1e-4)
    assert poisson_tail(60, 0.05) == pytest.approx(
        math.exp(-0.05 + 60 * math.log(0.05) - math.lgamma(61)), rel=1e-6)
    assert poisson_tail(3, 0.0) == 0.0


def test_windows_are_tumbling_from_the_epoch():
    assert window_start(T + timedelta(minutes=59), timedelta(hours=1)) == T
    assert window_start(T + timedelta(seconds=61), timedelta(minutes=1)) == T + timedelta(
        minutes=1)


def test_the_baseline_is_the_same_hour_on_past_days_else_the_last_day():
    days = {T - k * timedelta(days=1): c for k, c in zip(range(1, 29), [2, 4] * 14, strict=True)}
    assert baseline_from(days, T, T - timedelta(weeks=5), POLICY) == Baseline(3, 1, 28, "days")
    # counting began 3 days ago: the same hour on those 3 days, missing ones as zero
    since = T - timedelta(days=3)
    days = {T - timedelta(days=1): 3}
    assert baseline_from(days, T, since, POLICY) == Baseline(1, pytest.approx(1.414, abs=1e-3),
                                                             3, "days")
    # counting began 5 hours ago: the last day's windows
    found = baseline_from({T - timedelta(hours=1): 5}, T, T - timedelta(hours=5), POLICY)
    assert (found.method, found.samples, found.mean) == ("recent", 5, 1)
    # two hours: not enough to judge, nothing is raised
    assert baseline_from({}, T, T - timedelta(hours=2), POLICY) == NO_BASELINE
    assert baseline_from({}, T, None, POLICY) == NO_BASELINE


def test_a_spike_needs_an_improbable_count_and_the_minimum():
    quiet = [Baseline(0.2, 0.4, 4, "days")] * 3
    assert detect([0, 0, 4], quiet, POLICY) is None           # improbable, but under 5
    found = detect([0, 0, 6], quiet, POLICY)
    assert found is not None and found.kind == "spike" and found.p_value <= POLICY.alpha
    busy = [Baseline(6.0, 2.0, 4, "days")] * 3
    assert detect([7, 5, 12], busy, POLICY) is None           # a busy place's busy hour
    assert detect([7, 5, 25], busy, POLICY).kind == "spike"
    assert detect([0, 0, 60], [NO_BASELINE] * 3, POLICY) is None  # no history: no judgement


def test_a_sustained_rise_is_several_windows_above_the_usual():
    usual = [Baseline(2.0, 1.0, 4, "days")] * 3
    assert detect([7, 8, 8], usual, POLICY).kind == "sustained"
    assert detect([2, 8, 8], usual, POLICY) is None            # one window at the usual
    assert detect([8, 8], usual[:2], POLICY) is None           # not enough windows yet
    night = [Baseline(8.0, 2.0, 4, "days")] + usual[1:]       # each window its own baseline
    assert detect([8, 8, 8], night, POLICY) is None


def test_a_category_recurring_for_weeks_is_flagged():
    week = datetime(2026, 7, 13, tzinfo=UTC)
    weekly = {week - timedelta(weeks=k): n for k, n in ((1, 3), (2, 5), (3, 4))}
    assert recurring(weekly, week, POLICY)
    assert not recurring({**weekly, week - timedelta(weeks=2): 2}, week, POLICY)


def replay_week(counts, policy: HotspotPolicy) -> list[tuple[int, int, str]]:
    """Run the rules over the last week, each window judged on the 4 weeks before it."""
    from .hotspot_week import START

    raised = []
    first = HOURS - 24 * 7
    for key in range(counts.shape[0]):
        row = counts[key]
        week = row[first - 2:]
        if (week[:-2] + week[1:-1] + week[2:]).max() < policy.min_count:
            continue  # no window nor run of windows reaches min_count: nothing can be raised
        history = {START + timedelta(hours=h): int(row[h]) for h in range(HOURS) if row[h]}
        bases = {h: baseline_from(history, START + timedelta(hours=h), START, policy)
                 for h in range(first - 2, HOURS)}
        for h in range(first, HOURS):
            recent = [int(c) for c in row[h - 2:h + 1]]
            found = detect(recent, [bases[h - 2], bases[h - 1], bases[h]], policy)
            if found is not None:
                raised.append((key, h, found.kind))
    return raised


def test_simulated_weeks_of_normal_traffic_raise_almost_nothing(capsys):
    """Three seeded cities, a week each: 600 keys × 168 hourly windows judged per city."""
    lines, alarms = [], 0
    for seed in (5, 6, 7):
        week = city(seed=seed)
        raised = replay_week(week.counts, POLICY)
        alarms += len(raised)
        calls = int(week.counts[:, -24 * 7:].sum())
        lines.append(f"seed {seed}: {calls} calls, {week.counts.shape[0] * 24 * 7} key-windows, "
                     f"{len(raised)} false alarms ({sum(k == 'spike' for *_, k in raised)} "
                     f"spikes)")
    with capsys.disabled():
        print("\nhotspots over a normal week: " + "; ".join(lines))
    assert alarms <= 3


@pytest.mark.parametrize("minute", [0, 30, 50])
def test_a_burst_is_raised_within_one_window_of_its_start(minute):
    base = city()
    quiet = int(base.rates.argmin())
    busy = int(base.rates.argmax())
    hour = HOURS - 24 * 3 + 10  # a Friday, 10:00
    for key, calls in ((quiet, 30), (busy, 60)):
        spiked = with_spike(base, key, hour, calls, minute)
        raised = {(k, h) for k, h, _ in replay_week(spiked.counts[key:key + 1], POLICY)}
        assert (0, hour) in raised or (0, hour + 1) in raised, (key, minute, raised)
