"""4. API efficiency: requests per 1,000,000 events at `per_page=500`, emulator defaults.

Counted by the emulator (every request it answered: starts, polls, Next pages, count
queries) while the in-process Pipeline ingests one log with one-hour windows (the default
`WINDOW_SIZE`), once with `VERIFY_COUNTS` on (the default) and once off. The emulator's
default is one poll before a query is ready (`polls_before_ready=1`), so every query
costs a start and a poll before its first page, and the data is one million events a day,
so a window holds about 41,700 events (84 pages, the last one partial).
"""

from __future__ import annotations

from benchmarks.common import (
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

TARGET_PER_MILLION = 2_100


def run(sizes: Sizes) -> list[Row]:
    events = sizes.pick(1_000_000, 200_000)
    span_ms = max(HOUR_MS, events * 86_400_000 // 1_000_000)
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
            kinds = ", ".join(f"{kind}: {n:,}" for kind, n in stats["requests"].items())
            row = Row(
                "api_efficiency",
                f"requests per 1M events, VERIFY_COUNTS={'on' if verify else 'off'}",
                round(stats["requests_per_million_events"], 1),
                "requests",
                note=(
                    f"{result.summary.counts.rows:,} events, {result.summary.logs[0].windows} windows"
                    f" of 1 h; {kinds}"
                ),
            )
            rows.append(at_most(row, TARGET_PER_MILLION))
    return rows
