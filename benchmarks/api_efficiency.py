"""4. API efficiency: what the key's rate limit pays for, counted by the emulator.

- Dense: requests per 1,000,000 events at `per_page=500`, one log of a million events a
  day, one-hour windows, with `VERIFY_COUNTS` on and off (the emulator's default: one poll
  before a query is ready).
- Sparse backfill: 8 logs of 2,000 events each over 3 days, one-hour windows, counts
  verified, with polling on (a query is ready 0.3 s after it starts; both clients first
  poll after 0.25 s), against the plain client that asks once per log over the whole
  range (`naive_client`), in the same run: requests and wall time, as ratios.
- A month of quiet logs: 50 logs of 500 events a day over 30 days: requests and what a
  60-requests-per-minute key would take, with today's query planning, and with one query
  per window and log as before it (measured over 3 of the 30 days, times 10: that cost
  grows with the number of windows).
"""

from __future__ import annotations

from benchmarks import naive_client
from benchmarks.common import (
    DAY_MS,
    FIREWALL,
    HOUR_MS,
    EmulatorProcess,
    Row,
    Sizes,
    at_most,
    http_client,
    run_pipeline,
    scratch_dir,
)
from log_ingestion.emulator.dataset import DEFAULT_LOGSETS

TARGET_PER_MILLION = 2_100
TARGET_SPARSE_RATIO = 1.25
SPARSE_LOGS = (*DEFAULT_LOGSETS, "firewall-traffic-2", "app-kv-2")
POLLING = {"polls_before_ready": 1, "ready_after_seconds": 0.3}
POLL_INTERVAL = 0.25
LIMIT_PER_MINUTE = 60


def run(sizes: Sizes) -> list[Row]:
    return [*dense(sizes), *sparse(sizes), *month_of_quiet_logs(sizes)]


def dense(sizes: Sizes) -> list[Row]:
    events = sizes.pick(1_000_000, 200_000)
    span_ms = max(HOUR_MS, events * DAY_MS // 1_000_000)
    rows = []
    with EmulatorProcess(events_per_log=events, span_ms=span_ms) as emulator:
        log = emulator.log(FIREWALL)
        for verify in (True, False):
            emulator.reset()
            with scratch_dir("api") as scratch, http_client(emulator.url) as client:
                result = run_pipeline(
                    client,
                    [log],
                    emulator.start_ms,
                    emulator.end_ms,
                    out_dir=scratch,
                    verify_counts=verify,
                )
            stats = emulator.stats()
            row = Row(
                "api_efficiency",
                f"dense: requests per 1M events, VERIFY_COUNTS={'on' if verify else 'off'}",
                round(stats["requests_per_million_events"], 1),
                "requests",
                note=f"{result.summary.counts.rows:,} events; {_kinds(stats)}",
            )
            rows.append(at_most(row, TARGET_PER_MILLION))
    return rows


def sparse(sizes: Sizes) -> list[Row]:
    """The pipeline against the plain client on the same sparse backfill, side by side."""
    events = sizes.pick(2_000, 1_000)
    with EmulatorProcess(
        events_per_log=events, span_ms=3 * DAY_MS, logs=SPARSE_LOGS, faults=POLLING
    ) as emulator:
        logs = [emulator.log(name) for name in SPARSE_LOGS]
        emulator.reset()
        landed, naive_seconds = naive_client.backfill(
            emulator.url,
            [log.id for log in logs],
            emulator.start_ms,
            emulator.end_ms,
            poll_interval=POLL_INTERVAL,
        )
        naive = emulator.stats()
        emulator.reset()
        with (
            scratch_dir("sparse") as scratch,
            http_client(emulator.url, poll_interval=POLL_INTERVAL) as client,
        ):
            result = run_pipeline(client, logs, emulator.start_ms, emulator.end_ms, out_dir=scratch)
        ours = emulator.stats()
    if result.summary.counts.rows != landed:
        raise RuntimeError(
            f"landed {result.summary.counts.rows:,}, the plain client read {landed:,}"
        )
    note = (
        f"{landed:,} events, {result.summary.counts.committed} windows verified; "
        f"pipeline {ours['total_requests']} requests ({_kinds(ours)}) in "
        f"{result.seconds:.1f}s; plain client {naive['total_requests']} ({_kinds(naive)}) "
        f"in {naive_seconds:.1f}s"
    )
    requests = Row(
        "api_efficiency",
        "sparse backfill: requests vs plain client",
        round(ours["total_requests"] / naive["total_requests"], 3),
        "x",
        note=note,
    )
    seconds = Row(
        "api_efficiency",
        "sparse backfill: wall time vs plain client",
        round(result.seconds / naive_seconds, 3),
        "x",
    )
    return [at_most(requests, TARGET_SPARSE_RATIO), at_most(seconds, TARGET_SPARSE_RATIO)]


def month_of_quiet_logs(sizes: Sizes) -> list[Row]:
    """50 logs of 500 events a day: the month now, and 3 days of it as before, times 10."""
    count = sizes.pick(50, 10)
    names = [f"{kind}-{n}" for n in range(count) for kind in (list(DEFAULT_LOGSETS)[n % 6],)]
    rows = []
    for label, days, options in (
        ("now", 30, {}),
        ("one query per window and log, as before", 3, {"query_windows": 1, "query_logs": 1}),
    ):
        with (
            EmulatorProcess(
                events_per_log=500 * days, span_ms=days * DAY_MS, logs=names
            ) as emulator,
            scratch_dir("month") as scratch,
            http_client(emulator.url) as client,
        ):
            logs = [emulator.log(name) for name in names]
            run_pipeline(
                client, logs, emulator.start_ms, emulator.end_ms, out_dir=scratch, **options
            )
            requests = emulator.stats()["total_requests"] * (30 // days)
        hours = requests / LIMIT_PER_MINUTE / 60
        note = "measured" if days == 30 else f"measured over {days} days, times {30 // days}"
        rows.append(
            Row(
                "api_efficiency",
                f"{count} quiet logs, 30 days: requests ({label})",
                requests,
                "requests",
                note=f"{note}; {hours:,.1f} h at {LIMIT_PER_MINUTE} requests a minute",
            )
        )
    return rows


def _kinds(stats: dict[str, object]) -> str:
    by_kind = stats.get("by_kind") or stats.get("requests") or {}
    assert isinstance(by_kind, dict)
    return ", ".join(f"{kind}: {n:,}" for kind, n in by_kind.items())
