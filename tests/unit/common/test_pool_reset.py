"""A connection goes back to the pool without a transaction, in one round trip at most."""

from __future__ import annotations

from whistle_common.db import reset_on_release


class FakeConnection:
    def __init__(self, in_transaction: bool) -> None:
        self.in_transaction, self.sent = in_transaction, []

    def is_in_transaction(self) -> bool:
        return self.in_transaction

    async def execute(self, sql: str) -> None:
        self.sent.append(sql)
        self.in_transaction = False


async def test_an_idle_connection_is_returned_without_a_round_trip():
    conn = FakeConnection(in_transaction=False)
    await reset_on_release(conn)
    assert conn.sent == []


async def test_a_transaction_left_open_is_rolled_back_before_reuse():
    conn = FakeConnection(in_transaction=True)
    await reset_on_release(conn)
    assert conn.sent == ["ROLLBACK"]
    assert not conn.is_in_transaction()
