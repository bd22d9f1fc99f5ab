"""After a database crash the relay's LISTEN connection proxy raises on every call: the relay
must read that as "listener gone" (and listen again), not as a failed publish."""

import asyncpg
from whistle_common.kafka import Producer
from whistle_common.outbox import OutboxRelay


class ReleasedProxy:
    def is_closed(self) -> bool:
        raise asyncpg.InterfaceError("cannot call Connection.is_closed(): connection has been "
                                     "released back to the pool")


class OpenConnection:
    def is_closed(self) -> bool:
        return False


def test_a_released_listener_counts_as_gone_not_as_an_error():
    relay = OutboxRelay(pool=None, producer=Producer("127.0.0.1:1", client_id="t"))
    assert relay.listening() is False
    relay._listener = OpenConnection()
    assert relay.listening() is True
    relay._listener = ReleasedProxy()
    assert relay.listening() is False and relay._listener is None
