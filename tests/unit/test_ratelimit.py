from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.ratelimit import TokenBucket, parse_rate


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# (rate, burst, [(advance clock by, bytes asked)], expected waits)
BUCKET_CASES = [
    pytest.param(100, 50, [(0, 50)], [0.0], id="burst-available"),
    pytest.param(100, 50, [(0, 50), (0, 10)], [0.0, 0.1], id="empty-bucket-waits"),
    pytest.param(100, 50, [(0, 250)], [2.0], id="chunk-larger-than-burst-goes-into-debt"),
    pytest.param(100, 50, [(0, 250), (1, 0)], [2.0, 1.0], id="debt-is-repaid-over-time"),
    pytest.param(100, 50, [(0, 50), (0.5, 50)], [0.0, 0.0], id="refill-after-pause"),
    pytest.param(100, 50, [(10, 60)], [0.1], id="refill-is-capped-at-burst"),
    pytest.param(100, 0, [(0, 100), (0, 100)], [1.0, 2.0], id="zero-burst-paces-every-byte"),
    pytest.param(100, 50, [(0, 0)], [0.0], id="zero-bytes-is-free"),
    pytest.param(1000, 100, [(0, 100), (-5, 100)], [0.0, 0.1], id="clock-stepping-back"),
]


@pytest.mark.parametrize(("rate", "burst", "steps", "waits"), BUCKET_CASES)
def test_bucket_waits(
    rate: float, burst: float, steps: list[tuple[float, int]], waits: list[float]
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock)
    got = []
    for advance, n in steps:
        clock.now += advance
        got.append(bucket.take(n))
    assert got == pytest.approx(waits)


@pytest.mark.parametrize(
    ("rate", "burst"), [(0, 10), (-1, 10), (float("inf"), 10), (10, -1), (10, float("nan"))]
)
def test_bucket_rejects_bad_parameters(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst, FakeClock())


def test_bucket_rejects_negative_request() -> None:
    with pytest.raises(ValueError):
        TokenBucket(10, 10, FakeClock()).take(-1)


requests = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=5, allow_nan=False),  # idle time before asking
        st.integers(min_value=0, max_value=10_000),  # bytes asked
    ),
    max_size=60,
)


@given(
    rate=st.floats(min_value=1, max_value=1e6, allow_nan=False),
    burst=st.floats(min_value=0, max_value=1e5, allow_nan=False),
    steps=requests,
)
def test_bytes_sent_never_exceed_rate_times_time_plus_burst(
    rate: float, burst: float, steps: list[tuple[float, int]]
) -> None:
    # A well-behaved sender: it asks, waits as told, sends, then maybe idles and asks again.
    clock = FakeClock(0.0)
    bucket = TokenBucket(rate, burst, clock)
    sent = 0
    for idle, n in steps:
        clock.now += idle
        clock.now += bucket.take(n)
        sent += n
        assert sent <= rate * clock.now + burst + 1e-6 * (sent + 1)


@given(
    rate=st.floats(min_value=1, max_value=1e6, allow_nan=False),
    burst=st.floats(min_value=0, max_value=1e5, allow_nan=False),
    asks=st.lists(
        st.tuples(st.floats(min_value=0, max_value=2), st.integers(0, 10_000)), max_size=60
    ),
)
def test_bound_holds_for_interleaved_senders(
    rate: float, burst: float, asks: list[tuple[float, int]]
) -> None:
    # Several senders share one bucket and ask before earlier ones have sent: each send
    # happens at its own ask time plus wait, and the bound must hold at every send time.
    clock = FakeClock(0.0)
    bucket = TokenBucket(rate, burst, clock)
    sends: list[tuple[float, int]] = []
    for gap, n in asks:
        clock.now += gap
        sends.append((clock.now + bucket.take(n), n))
    for when, _ in sends:
        total = sum(n for at, n in sends if at <= when)
        assert total <= rate * when + burst + 1e-6 * (total + 1)


PARSE_OK = [
    ("1000", 1000),
    ("500K", 500 * 1024),
    ("500k", 500 * 1024),
    ("20M", 20 * 1024**2),
    ("1.5G", 3 * 1024**3 // 2),
    (" 2 M ", 2 * 1024**2),
    ("0.5K", 512),
    ("1", 1),
]


@pytest.mark.parametrize(("text", "value"), PARSE_OK)
def test_parse_rate_accepts(text: str, value: int) -> None:
    assert parse_rate(text) == value


@pytest.mark.parametrize(
    "text", ["0", "0K", "0.0001", "-5", "-1M", "banana", "", "M", "1T", "1e6", "nan", "inf"]
)
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid rate"):
        parse_rate(text)
