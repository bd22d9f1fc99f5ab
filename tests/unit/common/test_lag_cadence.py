"""The consumer-lag export slows down while the group keeps up and speeds up on any lag."""

from aiokafka import TopicPartition
from whistle_common.lag import MAX_IDLE_EVERY, lag_per_topic, next_delay


class Committed:
    def __init__(self, offset: int) -> None:
        self.offset = offset


def test_lag_is_end_minus_commit_per_topic_and_no_commit_counts_from_zero():
    a0, a1, b0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)
    lag = lag_per_topic(["a", "b"], [a0, a1, b0], {a0: Committed(5), a1: Committed(-1)},
                        {a0: 7, a1: 3, b0: 4})
    assert lag == {"a": 2 + 3, "b": 4}


def test_the_cadence_doubles_while_caught_up_and_resets_on_lag():
    delays, delay = [], None
    for _ in range(6):
        delay = next_delay(10, delay, {"t": 0})
        delays.append(delay)
    assert delays == [10, 20, 40, MAX_IDLE_EVERY, MAX_IDLE_EVERY, MAX_IDLE_EVERY]
    assert next_delay(10, MAX_IDLE_EVERY, {"t": 3}) == 10
    assert next_delay(10, MAX_IDLE_EVERY, None) == 10  # not measured: try again soon
