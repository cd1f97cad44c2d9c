"""The emulator serves a benchmark client every event of a long query (slow: run by `make
test-slow`). How fast it does so is a figure of `make bench` (`benchmarks/emulator_rate.py`),
not a test: a loaded machine is no failure."""

from __future__ import annotations

import pytest

from log_ingestion.emulator.throughput import measure


@pytest.mark.slow
def test_serves_every_event_of_a_long_query_with_one_request_per_page() -> None:
    """One client following Next links at per_page=500 gets all 200,000 events in 401
    requests per 200,000 (a start, a poll, 399 Next)."""
    result, per_million = measure("firewall-traffic", 200_000)
    assert result.events == 200_000
    assert per_million == pytest.approx(401 * 1_000_000 / 200_000)
