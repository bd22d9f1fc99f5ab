"""Property-based tests of the points ledger rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from whistle_scoring.domain.points import (
    ISSUED,
    InsufficientBalance,
    Ledger,
    PointsRules,
    volunteer_account,
)

VOLUNTEERS = ["v1", "v2", "v3"]
operations = st.lists(st.tuples(st.sampled_from(["award", "redeem"]),
                                st.sampled_from(VOLUNTEERS), st.integers(1, 500)),
                      max_size=200)


@given(operations)
def test_balances_equal_their_entries_and_never_go_negative(ops):
    ledger = Ledger()
    expected = dict.fromkeys(VOLUNTEERS, 0)
    for op, who, points in ops:
        if op == "award":
            ledger.award(who, points)
            expected[who] += points
        else:
            try:
                ledger.redeem(who, points)
                expected[who] -= points
            except InsufficientBalance as exc:
                assert exc.balance == expected[who] < points
        for v in VOLUNTEERS:
            balance = ledger.balance(volunteer_account(v))
            assert balance == expected[v] >= 0
    assert sum(e.amount for e in ledger.entries) == 0  # double entry: everything balances
    assert -ledger.balance(ISSUED) == sum(p for op, _, p in ops if op == "award")


@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_every_transaction_has_two_balanced_entries(award, redeem):
    ledger = Ledger()
    ledger.award("v", award)
    if redeem <= award:
        ledger.redeem("v", redeem)
    assert len(ledger.entries) in (2, 4)
    assert sum(e.amount for e in ledger.entries[:2]) == 0


RULES = PointsRules(per_hour=10, difficulty={"easy": 1.0, "normal": 1.5, "hard": 2.0},
                    category_weight={"elderly_care": 1.2, "default": 1.0},
                    max_hours_per_task=12)


@pytest.mark.parametrize("hours, difficulty, category, points", [
    (2, "normal", "service_order", 30),
    (1.5, "hard", "elderly_care", 36),
    (0.5, "easy", "unknown", 5),
])
def test_points_from_hours_difficulty_and_category(hours, difficulty, category, points):
    assert RULES.award(hours=hours, difficulty=difficulty, category=category) == points


@pytest.mark.parametrize("hours, difficulty", [(0, "easy"), (13, "easy"), (1, "epic")])
def test_invalid_awards_are_refused(hours, difficulty):
    with pytest.raises(ValueError):
        RULES.award(hours=hours, difficulty=difficulty, category="x")
