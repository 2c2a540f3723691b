"""How much one worker's connections may hold in read buffers: 1 MiB each while there are
few, less when there are many, so their sum stays within the worker's budget."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evio_fetch.engine.model import Options
from evio_fetch.engine.transport import (
    MIN_READ_BUFFER,
    READ_BUFFER,
    WORKER_BUFFERS,
    read_buffer_size,
)


@pytest.mark.parametrize(
    ("segments", "concurrency", "workers", "expected"),
    [
        pytest.param(4, 3, 2, READ_BUFFER, id="few-connections-keep-1-mib"),
        pytest.param(16, 3, 2, 384 * 1024, id="32-connections-in-one-worker-share"),
        pytest.param(64, 256, 1, MIN_READ_BUFFER, id="never-below-the-floor"),
    ],
)
def test_read_buffer_size(segments: int, concurrency: int, workers: int, expected: int) -> None:
    options = Options(segments=segments, concurrency=concurrency, workers=workers)
    assert read_buffer_size(options) == expected


@given(st.integers(1, 64), st.integers(1, 256), st.integers(1, 64))
def test_a_workers_buffers_stay_within_its_budget(
    segments: int, concurrency: int, workers: int
) -> None:
    options = Options(segments=segments, concurrency=concurrency, workers=workers)
    size = read_buffer_size(options)
    busiest = segments * -(-concurrency // min(workers, concurrency))
    # The HTTP client holds up to twice its read buffer per connection.
    assert size == MIN_READ_BUFFER or 2 * size * busiest <= WORKER_BUFFERS
    assert MIN_READ_BUFFER <= size <= READ_BUFFER
