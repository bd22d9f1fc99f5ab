import pytest
from whistle_common.problems import ProblemError
from whistle_common.ratelimit import TokenBuckets


def test_burst_then_steady_rate_per_client():
    buckets = TokenBuckets(rate=2, burst=3)
    assert [buckets.take("a", now=0) for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a", now=0) == pytest.approx(0.5)
    assert buckets.take("b", now=0) == 0  # clients are independent
    assert buckets.take("a", now=0.6) == 0  # refilled


def test_check_raises_429_with_retry_after():
    buckets = TokenBuckets(rate=0.5, burst=1)
    buckets.check("hotline")
    with pytest.raises(ProblemError) as err:
        buckets.check("hotline")
    assert err.value.status == 429 and err.value.headers["Retry-After"] == "2"
