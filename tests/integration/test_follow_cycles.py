"""Follow mode cycle by cycle, in this process against the emulator, on a clock set back
to the dataset's time so that its windows close as real time passes: what one cycle
carries into the next (a rescan, the list of logs, a stop)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from log_ingestion.emulator import ANCHOR_MS
from log_ingestion.errors import StopRequestedError
from log_ingestion.ingest import follow, resolve_logs
from log_ingestion.models import LogInfo
from log_ingestion.pipeline import RunSummary
from log_ingestion.schedule import Request
from log_ingestion.state import JsonCheckpointStore
from log_ingestion.wiring import assemble

from .conftest import Harness, HarnessFactory, small

WINDOW_MS, LAG_MS, SPAN_MS = 2_000, 1_000, 20_000
SAFETY_S = 20.0  # a follow that never reaches the step a test waits for is stopped


def live(make_harness: HarnessFactory) -> Harness:
    """200 events of each sample log over 20 s from ANCHOR_MS."""
    return make_harness(small(span_ms=SPAN_MS))


def follow_with(
    harness: Harness,
    logs: Callable[[list[LogInfo]], list[LogInfo]],
    relist: Callable[[threading.Event, list[LogInfo]], list[LogInfo]],
    **request: object,
) -> RunSummary:
    """Follow `logs(all logs)` from ANCHOR_MS on a clock whose now is the dataset's end plus
    the lag, `relist(stop, all logs)` before every cycle after the first."""
    settings = harness.settings(window_size="2s", follow_lag="1s", follow_rescan=0)
    offset = time.time() - (ANCHOR_MS + SPAN_MS + LAG_MS + 500) / 1000
    stop = threading.Event()
    timer = threading.Timer(SAFETY_S, stop.set)
    timer.start()
    try:
        with assemble(settings, stop, clock=lambda: time.time() - offset) as pieces:
            every = resolve_logs(pieces.client, [])
            return follow(
                pieces,
                logs(every),
                Request(
                    end_ms=0,
                    start_ms=ANCHOR_MS,
                    default_start_ms=ANCHOR_MS,
                    lag_ms=LAG_MS,
                    **request,
                ),  # type: ignore[arg-type]
                relist=lambda: relist(stop, every),
            )
    finally:
        timer.cancel()


def app_kv(logs: list[LogInfo]) -> list[LogInfo]:
    return [log for log in logs if log.name == "app-kv"]


def test_rescan_applies_to_the_first_cycle_only(make_harness: HarnessFactory) -> None:
    """`--follow --rescan` reads from its start again once; the next cycle reads only the
    windows that closed since, not the whole history once more."""
    harness = live(make_harness)
    store = JsonCheckpointStore(harness.output / "_state")
    cycles: list[int] = []

    def relist(stop: threading.Event, every: list[LogInfo]) -> list[LogInfo]:
        (log,) = app_kv(every)
        cycles.append(store.load(log.id).committed[0][1])
        if len(cycles) == 2:
            stop.set()
        return [log]

    summary = follow_with(harness, app_kv, relist, rescan=True)

    first_cycle = (cycles[0] - ANCHOR_MS) // WINDOW_MS
    second_cycle = (cycles[1] - cycles[0]) // WINDOW_MS
    assert summary.logs[0].counts.windows == first_cycle + second_cycle
    assert first_cycle >= SPAN_MS // WINDOW_MS


def test_a_follow_that_listed_no_log_lists_them_again(make_harness: HarnessFactory) -> None:
    """When the first listing shows no log, the next cycle lists them again and follows
    the log that appeared."""
    harness = live(make_harness)
    calls: list[int] = []

    def relist(stop: threading.Event, every: list[LogInfo]) -> list[LogInfo]:
        calls.append(1)
        if len(calls) == 2:
            stop.set()
        return app_kv(every)

    summary = follow_with(harness, lambda every: [], relist)

    assert len(calls) == 2
    assert [log.log.name for log in summary.logs] == ["app-kv"]
    assert summary.logs[0].counts.committed >= SPAN_MS // WINDOW_MS


def test_a_stop_while_listing_the_logs_keeps_the_cycles_done(
    make_harness: HarnessFactory,
) -> None:
    """A stop that ends the listing before a cycle returns what the cycles before it did."""
    harness = live(make_harness)

    def relist(stop: threading.Event, every: list[LogInfo]) -> list[LogInfo]:
        stop.set()
        raise StopRequestedError("stopped while waiting for a query")

    summary = follow_with(harness, app_kv, relist)

    assert summary.interrupted
    assert [log.log.name for log in summary.logs] == ["app-kv"]
    assert summary.logs[0].counts.rows == len(harness.truth("app-kv")) > 0
