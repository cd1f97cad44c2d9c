"""The emulator keeps up with a benchmark client (slow: run by `make test-slow`)."""

from __future__ import annotations

import pytest

from log_ingestion.emulator.throughput import measure


@pytest.mark.slow
def test_serves_well_over_100k_events_per_second() -> None:
    """One client following Next links at per_page=500 gets >100k events/s (target 200k)."""
    result, per_million = measure("firewall-traffic", 200_000)
    assert result.events == 200_000
    assert result.events_per_second > 100_000
    assert per_million == pytest.approx(401 * 1_000_000 / 200_000)  # start, poll, 399 Next
