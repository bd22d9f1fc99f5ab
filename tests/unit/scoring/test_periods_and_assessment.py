from datetime import UTC, datetime

import pytest
from whistle_scoring.domain.assessment import Facts, assess
from whistle_scoring.domain.periods import SHANGHAI, Standing, month_of, parse_period, rank


def test_periods_in_shanghai_time():
    nov = parse_period("2026-11")
    assert (nov.kind, nov.start, nov.end) == ("month", datetime(2026, 11, 1, tzinfo=SHANGHAI),
                                              datetime(2026, 12, 1, tzinfo=SHANGHAI))
    q4 = parse_period("2026-Q4")
    assert (q4.start.month, q4.end.year, q4.end.month) == (10, 2027, 1)
    year = parse_period("2026")
    assert (year.kind, year.end.year) == ("year", 2027)
    # 16:30 UTC on 31 Oct is already 1 Nov in Shanghai
    assert month_of(datetime(2026, 10, 31, 16, 30, tzinfo=UTC)) == "2026-11"


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26-11", "", "2026-1"])
def test_bad_periods(text):
    with pytest.raises(ValueError):
        parse_period(text)


def test_ties_are_broken_deterministically():
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    t1 = datetime(2026, 11, 2, tzinfo=UTC)
    ranked = rank([Standing("b", "乙", 50, 5, t0), Standing("a", "甲", 50, 5, t0),
                   Standing("c", "丙", 50, 6, t1), Standing("d", "丁", 50, 5, t1),
                   Standing("e", "戊", 80, 1, t1)])
    assert [(n, s.volunteer_id) for n, s in ranked] == [(1, "e"), (2, "c"), (3, "a"), (4, "b"),
                                                       (5, "d")]


WEIGHTS = {"response": 0.30, "resolution": 0.35, "satisfaction": 0.35}


def test_three_rates_and_score_by_hand():
    facts = Facts(dispatched=10, acknowledged_on_time=8, resolved=9, resolved_on_time=7,
                  rated=5, satisfied=4, returns=1, reopens=1)
    result = assess(facts, WEIGHTS)
    assert (result.response_rate, result.resolution_rate, result.on_time_resolution_rate,
            result.satisfaction_rate) == (0.8, 0.9, 0.7, 0.8)
    assert result.score == 83.5  # 100 × (0.3×0.8 + 0.35×0.9 + 0.35×0.8)


def test_missing_ratings_renormalise_the_weights():
    result = assess(Facts(4, 2, 4, 4, 0, 0, 0, 0), WEIGHTS)
    assert result.satisfaction_rate is None
    assert result.score == round(100 * (0.3 * 0.5 + 0.35 * 1.0) / 0.65, 2)


def test_nothing_dispatched_has_no_score():
    assert assess(Facts(0, 0, 0, 0, 0, 0, 0, 0), WEIGHTS).score is None
