"""A follow service meets an API outage: it keeps going with a backoff, says so in its logs
and metrics, lands every event exactly once when the API is back, and exits 0 on SIGTERM;
errors no later cycle can fix (a rejected key) still end it with their exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from log_ingestion.emulator import CALL_KINDS, Dataset, Emulator
from log_ingestion.state import JsonCheckpointStore

from ..slow.harness import compare, ingest_env, landed, leftovers, start_run, truth

EmulatorFactory = Callable[..., Emulator]
HOUR_MS = 3_600_000
DEADLINE_S = 60


def two_closed_hours() -> Dataset:
    """Events over the two whole hours before the current one: both closed for any lag."""
    start = (int(time.time() * 1000) - 2 * HOUR_MS) // HOUR_MS * HOUR_MS
    return Dataset(seed=41, events_per_log=300, start_ms=start, span_ms=2 * HOUR_MS)


def lines(stderr: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.read_text().splitlines()] if stderr.exists() else []


def failed_cycles(stderr: Path) -> list[dict[str, Any]]:
    return [line for line in lines(stderr) if line["event"] == "follow.cycle_failed"]


def logs_of(cycles: list[dict[str, Any]]) -> list[list[str]]:
    return [cycle["failed_logs"] for cycle in cycles]


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert process.poll() is None, "the service ended"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_follow_service_rides_out_an_api_outage_and_lands_every_event_once(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """Every request answers 5xx at start, then only the queries, then none: the service logs
    each failed listing and cycle and keeps going; after a SIGTERM it exits 0, each event once."""
    data = two_closed_hours()
    emulator = make_emulator(data)
    log_id = data.log_id("app-kv")
    output = tmp_path / "out"
    env = ingest_env(emulator.url, output, window_size="1h", follow_lag="1s", retry_attempts="1")
    env["RAPID7_LOG_IDS"] = log_id
    emulator.faults.error_rates = dict.fromkeys(CALL_KINDS, 1.0)  # the API is down
    store = JsonCheckpointStore(output / "_state")
    stderr = tmp_path / "run-000.err"

    process = start_run(tmp_path, env, "--follow", "--from", str(data.start_ms))
    try:
        wait_until(lambda: len(failed_cycles(stderr)) >= 1, process)  # listing the logs
        emulator.faults.error_rates = dict.fromkeys(("start", "poll", "next"), 1.0)
        wait_until(lambda: ["app-kv"] in logs_of(failed_cycles(stderr)), process)  # a cycle
        emulator.faults.error_rates = {}  # the API is back
        everything = ((data.start_ms, data.end_ms),)
        wait_until(lambda: store.load(log_id).committed == everything, process)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()

    cycles = failed_cycles(stderr)
    assert code == 0
    assert logs_of(cycles)[0] == ["(listing the logs)"]
    assert [(e["consecutive"], e["retry_in_s"]) for e in cycles][:1] == [(1, 1.0)]
    expected = truth(data, [log_id], data.start_ms, data.end_ms)
    assert compare(expected, landed(output)) == {"missing": 0, "duplicated": 0, "unexpected": 0}
    assert leftovers(output) == []
    assert [e["outcome"] for e in lines(stderr) if e["event"] == "run.done"] == ["interrupted"]


def test_a_follow_service_whose_key_is_rejected_exits_3(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """A 401 is no outage: the service ends at once with exit 3 and one error line."""
    emulator = make_emulator(two_closed_hours(), api_keys={"another-key": None})
    env = ingest_env(emulator.url, tmp_path / "out", window_size="1h", follow_lag="1s")

    process = start_run(tmp_path, env, "--follow")
    code = process.wait(timeout=DEADLINE_S)

    said = lines(tmp_path / "run-000.err")
    assert code == 3
    assert [e for e in said if e["event"] == "follow.cycle_failed"] == []
    assert len([e for e in said if e["event"] == "error" and "401" in e["error"]]) == 1
