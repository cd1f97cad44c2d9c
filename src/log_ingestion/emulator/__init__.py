"""A faithful emulator of the Rapid7 Log Search REST API, with fault knobs.

with Emulator(Dataset(events_per_log=1_000)) as emulator:
    httpx.get(f"{emulator.url}/management/logs", headers={"x-api-key": DEFAULT_API_KEY})
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
