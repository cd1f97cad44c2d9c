"""8. Cost per event, measured from outside: each program a fresh process, start-up included.

One log of CSV events (a million, a day of them) from the emulator in its own process;
in turn, timed from the parent: `log-ingestion run` over the day, the bare loop that only
downloads and decodes the pages (`bare_loop`), and the plain single-threaded client
(`plain_client`: urllib, json, csv, pyarrow). Wall time gives events/s; the children's
CPU (user + system, from `getrusage`) gives CPU per event.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

from benchmarks.common import (
    DAY_MS,
    FIREWALL,
    EmulatorProcess,
    Row,
    Sizes,
    at_least,
    at_most,
    scratch_dir,
)
from log_ingestion.emulator import DEFAULT_API_KEY

TARGET_OF_BARE = 0.5
TARGET_OF_PLAIN = 5.0
TARGET_CPU_OF_BARE = 2.0


def _timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False, timeout=1800)  # noqa: S603
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{args[2]} failed ({done.returncode}): {done.stderr[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def run(sizes: Sizes) -> list[Row]:
    events = sizes.pick(1_000_000, 200_000)
    span_ms = max(3_600_000, events * DAY_MS // 1_000_000)
    python = sys.executable
    with (
        EmulatorProcess(events_per_log=events, span_ms=span_ms) as emulator,
        scratch_dir("cost") as scratch,
    ):
        log = emulator.log(FIREWALL)
        span = [str(emulator.start_ms), str(emulator.end_ms)]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": scratch,
            "RAPID7_API_KEY": DEFAULT_API_KEY,
            "RAPID7_API_ENDPOINT": emulator.url,
            "OUTPUT_DIR": os.path.join(scratch, "run"),
            "POLL_INTERVAL": "0.01",
            "RATE_LIMIT": "1000000",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
        }
        ours = _timed(
            [python, "-m", "log_ingestion", "run", "--from", span[0], "--to", span[1]], env
        )
        bare = _timed(
            [python, "-m", "benchmarks.bare_loop", emulator.url, DEFAULT_API_KEY, log.id, *span]
        )
        os.makedirs(os.path.join(scratch, "plain"))
        plain = _timed(
            [
                python,
                "-m",
                "benchmarks.plain_client",
                emulator.url,
                DEFAULT_API_KEY,
                log.id,
                *span,
                os.path.join(scratch, "plain"),
            ]
        )
    rate = {
        name: events / wall
        for name, (wall, _, _) in (("run", ours), ("bare", bare), ("plain", plain))
    }
    cpu = {
        name: cpu * 1e6 / events
        for name, (_, cpu, _) in (("run", ours), ("bare", bare), ("plain", plain))
    }
    note = (
        f"{events:,} events; run {rate['run']:,.0f}/s, bare loop {rate['bare']:,.0f}/s, "
        f"plain client {rate['plain']:,.0f}/s (fresh processes, start-up included)"
    )
    return [
        at_least(
            Row(
                "cost",
                "run vs bare download loop",
                round(rate["run"] / rate["bare"], 3),
                "x",
                note=note,
            ),
            TARGET_OF_BARE,
        ),
        at_least(
            Row("cost", "run vs plain client", round(rate["run"] / rate["plain"], 2), "x"),
            TARGET_OF_PLAIN,
        ),
        at_most(
            Row(
                "cost",
                "CPU per event, run vs bare loop",
                round(cpu["run"] / cpu["bare"], 2),
                "x",
                note=f"run {cpu['run']:.2f} us, bare loop {cpu['bare']:.2f} us, plain {cpu['plain']:.2f} us per event",
            ),
            TARGET_CPU_OF_BARE,
        ),
    ]
