"""After a database crash the relay's LISTEN connection proxy raises on every call: the relay
must read that as "listener gone" (and listen again), not as a failed publish."""

import asyncpg
from whistle_common.kafka import Producer
from whistle_common.outbox import IDLE_POLL_SECONDS, OutboxRelay


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


def test_the_relay_polls_rarely_while_listening_alone_and_often_otherwise():
    relay = OutboxRelay(pool=None, producer=Producer("127.0.0.1:1", client_id="t"),
                        poll_seconds=0.5)
    assert relay.idle_timeout() == 0.5  # no LISTEN: polling is all there is
    relay._listener = OpenConnection()
    assert relay.idle_timeout() == IDLE_POLL_SECONDS
    relay._contended = True  # another relay holds the rows and may die holding them
    assert relay.idle_timeout() == 0.5
