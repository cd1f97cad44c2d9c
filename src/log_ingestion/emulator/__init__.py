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

The names below are imported when first used: the `emulator` command is registered with
every `log-ingestion` start, and `--help` must not load the server to show its options.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from log_ingestion.emulator.defaults import ANCHOR_MS, DAY_MS, DEFAULT_API_KEY

if TYPE_CHECKING:
    from log_ingestion.emulator.dataset import Dataset
    from log_ingestion.emulator.faults import CALL_KINDS, FAULT_NAMES, Faults
    from log_ingestion.emulator.server import Emulator
    from log_ingestion.emulator.stats import Stats

_LAZY = {
    "CALL_KINDS": "faults",
    "FAULT_NAMES": "faults",
    "Dataset": "dataset",
    "Emulator": "server",
    "Faults": "faults",
    "Stats": "stats",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
