"""9. Workers: the same 9 logs by one worker, then by three (`--shard 1/3`..`3/3`) at once.

Each worker is `log-ingestion run` in a fresh process with its own output, against one
emulator in its own process. Without a rate limit the figure is the wall time of the
three against the one. With a rate limit on the key (shared by the three), it is the wall
time against the least the budget allows (requests made / budget per window, in windows),
and the windows that failed (none may).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks.common import DAY_MS, EmulatorProcess, Row, Sizes, at_most, scratch_dir
from log_ingestion.emulator import DEFAULT_API_KEY
from log_ingestion.emulator.dataset import DEFAULT_LOGSETS

NINE = (*DEFAULT_LOGSETS, "firewall-traffic-2", "app-kv-2", "idr-auth-json-2")
TARGET_SPREAD = 0.5
TARGET_OVER_LIMIT = 1.15
BUDGET, BUDGET_SECONDS = 100, 2.0


def _env(url: str, output: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": output,
        "RAPID7_API_KEY": DEFAULT_API_KEY,
        "RAPID7_API_ENDPOINT": url,
        "OUTPUT_DIR": output,
        "POLL_INTERVAL": "0.02",
        "RATE_LIMIT": "1000000",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def _workers(
    url: str, span: list[str], scratch: str, shards: int, **extra: str
) -> tuple[float, list[int]]:
    """Wall seconds for `shards` workers started at once, and their exit codes."""
    began = time.perf_counter()
    processes = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "log_ingestion",
                "run",
                "--from",
                span[0],
                "--to",
                span[1],
                *(["--shard", f"{k}/{shards}"] if shards > 1 else []),
            ],
            env=_env(url, os.path.join(scratch, f"{shards}-{k}"), **extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for k in range(1, shards + 1)
    ]
    codes = [process.wait(timeout=1800) for process in processes]
    return time.perf_counter() - began, codes


def run(sizes: Sizes) -> list[Row]:
    events = sizes.pick(100_000, 20_000)
    with (
        EmulatorProcess(events_per_log=events, span_ms=DAY_MS, logs=NINE) as emulator,
        scratch_dir("workers") as scratch,
    ):
        span = [str(emulator.start_ms), str(emulator.end_ms)]
        one, one_codes = _workers(emulator.url, span, scratch, 1)
        three, three_codes = _workers(emulator.url, span, scratch, 3)
    spread = Row(
        "workers",
        "3 workers vs 1, wall time, no rate limit",
        round(three / one, 3),
        "x",
        note=f"9 logs of {events:,} events: one worker {one:.1f}s (exit {one_codes}), three {three:.1f}s (exit {three_codes})",
    )
    return [at_most(spread, TARGET_SPREAD), _limited(sizes)]


def _limited(sizes: Sizes) -> Row:
    """Three workers on one key whose budget is BUDGET requests per BUDGET_SECONDS."""
    events = sizes.pick(20_000, 5_000)
    faults = {"rate_limit": BUDGET, "rate_window_seconds": BUDGET_SECONDS}
    with (
        EmulatorProcess(
            events_per_log=events, span_ms=DAY_MS, logs=NINE, faults=faults
        ) as emulator,
        scratch_dir("limited") as scratch,
    ):
        span = [str(emulator.start_ms), str(emulator.end_ms)]
        seconds, codes = _workers(
            emulator.url, span, scratch, 3, PER_PAGE="100", RETRY_ATTEMPTS="8", RETRY_WAIT_MAX="2"
        )
        stats = emulator.stats()
    answered = stats["total_requests"] - stats["rate_limited"]
    least = answered / BUDGET * BUDGET_SECONDS  # the budget, spent as fast as it refills
    row = Row(
        "workers",
        "3 workers on one rate-limited key: wall time vs the least the budget allows",
        round(seconds / least, 3) if least else 0.0,
        "x",
        note=f"exit codes {codes}; {answered} requests answered, {stats['rate_limited']} 429s; "
        f"{seconds:.1f}s against {least:.0f}s for {BUDGET} requests per {BUDGET_SECONDS:g}s",
    )
    return at_most(row, TARGET_OVER_LIMIT)
