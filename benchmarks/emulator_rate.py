"""11. Emulator rate: events per second one client pulls from the emulator at `per_page=500`,
following Next links from another process (`log_ingestion.emulator.throughput`).

The tests only check that every event arrives; the rate, which a loaded machine lowers, is
measured here.
"""

from __future__ import annotations

from benchmarks.common import FIREWALL, Row, Sizes, at_least
from log_ingestion.emulator.throughput import measure

TARGET_EVENTS_PER_SECOND = 100_000


def run(sizes: Sizes) -> list[Row]:
    events = sizes.pick(500_000, 100_000)
    result, per_million = measure(FIREWALL, events)
    row = Row(
        "emulator_rate",
        "events per second, one client",
        round(result.events_per_second),
        "events/s",
        note=f"{result.events:,} events in {result.requests:,} requests ({per_million:,.0f} per 1M)",
    )
    return [at_least(row, TARGET_EVENTS_PER_SECOND)]
