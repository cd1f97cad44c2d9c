"""7. Rate-limit efficiency: a multi-log backfill under a small server rate limit.

The emulator (in-process: at this pace it needs little CPU) allows R=40 requests per
2-second fixed window per key. Four logs are ingested at once (`CONCURRENCY=4`, six-hour
windows, `VERIFY_COUNTS` on, the default `POLL_INTERVAL=1s`). The least time the limit
allows for the Q requests answered is Q / (R / window); the burst bound (the first R
requests at once, then R at every window) is reported next to it.

Run 1: `RATE_LIMIT` equals the server's limit (1,200 per minute): no 429 expected.
Run 2: `RATE_LIMIT` is twice the server's: 429s are expected and must be recovered from
(`Retry-After`, `X-RateLimit-Remaining`), landing every event.
"""

from __future__ import annotations

import math
import time

from benchmarks.common import Row, Sizes, at_least, at_most, http_client, run_pipeline, scratch_dir
from log_ingestion.emulator import Dataset, Emulator, Faults
from log_ingestion.models import LogInfo

LIMIT = 40
WINDOW_SECONDS = 2.0
LOGS = ("firewall-traffic", "cdn-access-noheader", "vpn-sessions", "app-kv")
TARGET_OVERHEAD = 1.10
SIX_HOURS_MS = 6 * 3_600_000


def _backfill(events: int, client_per_minute: float) -> dict[str, float]:
    dataset = Dataset(events_per_log=events, logsets=dict.fromkeys(LOGS, "Benchmarks"))
    faults = Faults(rate_limit=LIMIT, rate_window_seconds=WINDOW_SECONDS)
    logs = [LogInfo(store.id, store.name) for store in dataset.logs.values()]
    with Emulator(dataset, faults=faults) as emulator, scratch_dir("ratelimit") as scratch:
        with http_client(
            emulator.url, rate_limit_per_minute=client_per_minute, poll_interval=1.0
        ) as client:
            began = time.perf_counter()
            result = run_pipeline(
                client,
                logs,
                dataset.start_ms,
                dataset.end_ms,
                out_dir=scratch,
                window_ms=SIX_HOURS_MS,
            )
            seconds = time.perf_counter() - began
        stats = emulator.stats
        answered = stats.total_requests - stats.rate_limited
        expected = sum(dataset.count(store.id) for store in dataset.logs.values())
        return {
            "seconds": seconds,
            "answered": answered,
            "rate_limited": stats.rate_limited,
            "rows": result.summary.counts.rows,
            "expected": expected,
            "minimum": answered * WINDOW_SECONDS / LIMIT,
            "burst_minimum": (math.ceil(answered / LIMIT) - 1) * WINDOW_SECONDS,
        }


def run(sizes: Sizes) -> list[Row]:
    events = sizes.pick(40_000, 16_000)
    per_minute = LIMIT * 60 / WINDOW_SECONDS
    rows = []
    for label, client_rate in (("matched", per_minute), ("client 2x server", per_minute * 2)):
        got = _backfill(events, client_rate)
        note = (
            f"{got['seconds']:.1f} s for {got['answered']:.0f} requests; least {got['minimum']:.1f} s"
            f" (burst bound {got['burst_minimum']:.0f} s); {got['rows']:.0f}/{got['expected']:.0f}"
            f" events landed"
        )
        overhead = got["seconds"] / got["minimum"]
        row = Row("rate_limit", f"{label}: time / least time", round(overhead, 3), "x", note=note)
        rows.append(at_most(row, TARGET_OVERHEAD) if label == "matched" else row)
        count = Row("rate_limit", f"{label}: 429 responses", got["rate_limited"], "responses")
        rows.append(at_most(count, 0) if label == "matched" else count)
        complete = Row(
            "rate_limit", f"{label}: events landed / events", got["rows"] / got["expected"], "x"
        )
        rows.append(at_least(complete, 1.0))
    return rows
