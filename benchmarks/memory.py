"""5. Memory: peak RSS of a fresh process ingesting 500,000 and 5,000,000 events.

Each size runs `Pipeline.run` in its own child process (`python -m benchmarks.memory`)
against one emulator process holding 5,000,000 firewall events at one million a day
(one-hour windows of ~41,700 events). The small run takes the first half day, the large
one all five days, so only the volume differs. The child reports its own peak
(`VmHWM` of /proc/self/status, the high-water mark of its own address space; `ru_maxrss`
would carry the forking parent's peak across `exec`), which the emulator does not touch.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

from benchmarks.common import (
    DAY_MS,
    FIREWALL,
    EmulatorProcess,
    Row,
    Sizes,
    at_most,
    http_client,
    run_pipeline,
    scratch_dir,
)
from log_ingestion.models import LogInfo

TARGET_MIB = 300
TARGET_GROWTH = 1.3


def peak_kib() -> int:
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(url: str, log_id: str, start_ms: int, end_ms: int) -> None:
    from log_ingestion.logging import configure_logging

    configure_logging("WARNING", "json")
    baseline_kib = peak_kib()
    with scratch_dir("memory") as scratch, http_client(url) as client:
        result = run_pipeline(
            client, [LogInfo(log_id, FIREWALL)], start_ms, end_ms, out_dir=scratch
        )
    report = {
        "rows": result.summary.counts.rows,
        "seconds": result.seconds,
        "peak_kib": peak_kib(),
        "after_imports_kib": baseline_kib,
    }
    print(json.dumps(report))


def _measure(emulator: EmulatorProcess, end_ms: int) -> dict[str, float]:
    args = [
        sys.executable,
        "-m",
        "benchmarks.memory",
        emulator.url,
        emulator.log_ids[FIREWALL],
        str(emulator.start_ms),
        str(end_ms),
    ]
    done = subprocess.run(args, check=True, capture_output=True, text=True, timeout=600)  # noqa: S603
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def run(sizes: Sizes) -> list[Row]:
    large = sizes.pick(5_000_000, 1_000_000)
    span_ms = large * DAY_MS // 1_000_000
    with EmulatorProcess(events_per_log=large, span_ms=span_ms) as emulator:
        small_end = emulator.start_ms + span_ms // 10
        low = _measure(emulator, small_end)
        high = _measure(emulator, emulator.end_ms)
    low_mib, high_mib = low["peak_kib"] / 1024, high["peak_kib"] / 1024
    imports_mib = high["after_imports_kib"] / 1024
    rows = [
        Row(
            "memory",
            f"peak RSS, {int(low['rows']):,} events",
            round(low_mib, 1),
            "MiB",
            note=f"{low['rows'] / low['seconds']:,.0f} events/s",
        ),
        at_most(
            Row(
                "memory",
                f"peak RSS, {int(high['rows']):,} events",
                round(high_mib, 1),
                "MiB",
                note=(
                    f"{high['rows'] / high['seconds']:,.0f} events/s; "
                    f"{imports_mib:.0f} MiB after imports"
                ),
            ),
            TARGET_MIB,
        ),
        at_most(
            Row("memory", "peak RSS growth, 10x the events", round(high_mib / low_mib, 3), "x"),
            TARGET_GROWTH,
        ),
    ]
    return rows


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
