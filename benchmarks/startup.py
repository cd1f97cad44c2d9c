"""10. Start-up: how long a fresh process takes to answer `--help` and `--version`, and how long
`run` takes from its start to its first request to the API (the emulator here). Each is a
new `python -m log_ingestion` process, as systemd or a shell starts it; the median of
several is reported.

`--help` and `--version` import only the command line library (targets 0.3 s); `run` loads
its configuration, logging, the client and Arrow before it asks the API for the logs.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time

from benchmarks.common import Row, Sizes, at_most, scratch_dir
from log_ingestion.emulator import DEFAULT_API_KEY, Dataset, Emulator

TARGET_HELP_SECONDS = 0.3
COMMAND = (sys.executable, "-m", "log_ingestion")


def _answer_seconds(*args: str) -> float:
    began = time.perf_counter()
    subprocess.run([*COMMAND, *args], check=True, capture_output=True)  # noqa: S603
    return time.perf_counter() - began


def _first_request_seconds(emulator: Emulator, output: str) -> float:
    """From the start of `run` to the emulator's first request from it; then a stop."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": output,
        "RAPID7_API_KEY": DEFAULT_API_KEY,
        "RAPID7_API_ENDPOINT": emulator.url,
        "OUTPUT_DIR": output,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
    }
    emulator.stats.reset()
    began = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603
        [*COMMAND, "run"], env=env, cwd=output, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while not emulator.stats.total_requests and process.poll() is None:
            time.sleep(0.001)
        seconds = time.perf_counter() - began
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return seconds


def run(sizes: Sizes) -> list[Row]:
    repeats = sizes.pick(9, 5)
    rows = []
    for args, name in ((("--help",), "--help"), (("--version",), "--version")):
        times = [_answer_seconds(*args) for _ in range(repeats)]
        row = Row(
            "startup",
            f"{name}, fresh process (median of {repeats})",
            round(statistics.median(times), 3),
            "s",
            note=f"min {min(times):.3f} s, max {max(times):.3f} s",
        )
        rows.append(at_most(row, TARGET_HELP_SECONDS))
    with Emulator(Dataset(events_per_log=1_000)) as emulator, scratch_dir("startup") as output:
        times = [_first_request_seconds(emulator, output) for _ in range(repeats)]
    rows.append(
        Row(
            "startup",
            f"run to its first API request (median of {repeats})",
            round(statistics.median(times), 3),
            "s",
            note=f"min {min(times):.3f} s, max {max(times):.3f} s",
        )
    )
    return rows
