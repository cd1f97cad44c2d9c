"""A faithful emulator of the Rapid7 Log Search REST API, with fault knobs.

    dataset = Dataset(seed=0, events_per_log=1_000)          # lazy: any size is free
    with Emulator(dataset, faults=Faults(polls_before_ready=2)) as emulator:
        emulator.url                                          # http://127.0.0.1:PORT
        emulator.faults.fail_next("poll", 2, 503)             # exact, for precise tests
        emulator.append(dataset.log_id("app-kv"), ["level=INFO msg=live"])
        list(dataset.events(dataset.log_id("app-kv"), from_ms, to_ms))  # ground truth
        emulator.stats.requests_per_million_events()

Served under `/` and `/log_search`; accepted keys default to `{DEFAULT_API_KEY: None}`.
`python -m log_ingestion.emulator.throughput` measures events per second.
"""

from log_ingestion.emulator.dataset import ANCHOR_MS, DAY_MS, Dataset
from log_ingestion.emulator.faults import CALL_KINDS, FAULT_NAMES, Faults
from log_ingestion.emulator.server import DEFAULT_API_KEY, Emulator
from log_ingestion.emulator.stats import Stats

__all__ = [
    "ANCHOR_MS",
    "CALL_KINDS",
    "DAY_MS",
    "DEFAULT_API_KEY",
    "FAULT_NAMES",
    "Dataset",
    "Emulator",
    "Faults",
    "Stats",
]
