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


KIB, MIB, GIB = 1024, 1024**2, 1024**3
# Bare letters and binary units are powers of 1024 (what the tool prints); kB/KB, MB, GB
# are powers of 1000; /s may follow any of them.
PARSE_OK = [
    ("1000", 1000),
    ("1", 1),
    ("1000/s", 1000),
    ("64B", 64),
    ("64 B/s", 64),
    ("500K", 500 * KIB),
    ("500k", 500 * KIB),
    ("0.5K", 512),
    ("20M", 20 * MIB),
    ("20m", 20 * MIB),
    (" 2 M ", 2 * MIB),
    ("1.5G", 3 * GIB // 2),
    ("20Mi", 20 * MIB),
    ("20MiB", 20 * MIB),
    ("20MiB/s", 20 * MIB),
    ("20 MiB/s", 20 * MIB),
    ("20MIB", 20 * MIB),
    ("500KiB", 500 * KIB),
    ("1.5GiB/s", 3 * GIB // 2),
    ("20MB", 20_000_000),
    ("20MB/s", 20_000_000),
    ("20 MB/S", 20_000_000),
    ("500kB", 500_000),
    ("500KB", 500_000),
    ("500KB/s", 500_000),
    ("1.5GB", 1_500_000_000),
    ("4.35MB", 4_350_000),
    ("0.001MB", 1000),
]


@pytest.mark.parametrize(("text", "value"), PARSE_OK)
def test_parse_rate_accepts(text: str, value: int) -> None:
    assert parse_rate(text) == value


@pytest.mark.parametrize(
    "text",
    [
        *("0", "0K", "0MB", "0.0001", "0.1B", "-5", "-1M", "banana", "", "M", "MB", "/s"),
        *("1T", "1TB", "1e6", "nan", "inf", "20iB", "20 M B", "20MBps", "20M/h", "20KiBB"),
        "9" * 40,
    ],
)
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid rate") as raised:
        parse_rate(text)
    assert "20MB/s" in str(raised.value) and "powers of 1000" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "advice"), [("20Mb", "20MB or 20MiB"), ("20mb/s", "20MB or 20MiB"), ("64b", "64B")]
)
def test_a_lowercase_b_is_bits_and_refused(text: str, advice: str) -> None:
    with pytest.raises(ValueError, match="bits") as raised:
        parse_rate(text)
    assert f"write {advice}" in str(raised.value)
