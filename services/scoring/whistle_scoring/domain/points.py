"""Volunteer points (积分制): quantified by hours × difficulty × category weight, kept in a
double-entry ledger whose balances can never go negative."""

from __future__ import annotations

from dataclasses import dataclass, field

ISSUED = "platform:issued"      # where awarded points come from
REDEEMED = "platform:redeemed"  # where redeemed points go


class InsufficientBalance(ValueError):
    """A redemption larger than the balance; carries the balance."""

    def __init__(self, balance: int) -> None:
        super().__init__(f"balance is {balance}")
        self.balance = balance


class DuplicateRedemption(Exception):
    """A redemption reference (its request id) that is already in the ledger."""


@dataclass(frozen=True)
class PointsRules:
    per_hour: float
    difficulty: dict[str, float]
    category_weight: dict[str, float]
    max_hours_per_task: float

    def award(self, *, hours: float, difficulty: str, category: str) -> int:
        """Whole points for `hours` of service of a kind of task."""
        if not 0 < hours <= self.max_hours_per_task:
            raise ValueError(f"hours must be in (0, {self.max_hours_per_task}]")
        if difficulty not in self.difficulty:
            raise ValueError(f"difficulty must be one of {sorted(self.difficulty)}")
        weight = self.category_weight.get(category, self.category_weight.get("default", 1.0))
        return round(hours * self.per_hour * self.difficulty[difficulty] * weight)


def volunteer_account(volunteer_id: str) -> str:
    return f"volunteer:{volunteer_id}"


@dataclass(frozen=True)
class Entry:
    account: str
    amount: int  # + credit, − debit; the entries of one transaction sum to zero


def award_entries(volunteer_id: str, points: int) -> list[Entry]:
    if points <= 0:
        raise ValueError("an award is positive")
    return [Entry(ISSUED, -points), Entry(volunteer_account(volunteer_id), points)]


def redemption_entries(volunteer_id: str, points: int) -> list[Entry]:
    if points <= 0:
        raise ValueError("a redemption is positive")
    return [Entry(volunteer_account(volunteer_id), -points), Entry(REDEEMED, points)]


@dataclass
class Ledger:
    """In-memory model of the ledger rules (the database enforces the same)."""

    entries: list[Entry] = field(default_factory=list)

    def balance(self, account: str) -> int:
        return sum(e.amount for e in self.entries if e.account == account)

    def award(self, volunteer_id: str, points: int) -> None:
        self.entries += award_entries(volunteer_id, points)

    def redeem(self, volunteer_id: str, points: int) -> None:
        balance = self.balance(volunteer_account(volunteer_id))
        if points > balance:
            raise InsufficientBalance(balance)
        self.entries += redemption_entries(volunteer_id, points)
