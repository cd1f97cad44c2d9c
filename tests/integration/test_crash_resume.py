"""Crash safety, quickly: SIGKILL a real run at random moments, resume, and compare with the
emulator's ground truth; the same or overlapping ranges run again never duplicate."""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

from log_ingestion.emulator import Dataset, Emulator
from log_ingestion.state import JsonCheckpointStore

from ..slow.harness import (
    compare,
    ingest_env,
    landed,
    leftovers,
    published_files,
    run_to_end,
    start_run,
    truth,
    wait_for_files,
)

EmulatorFactory = Callable[..., Emulator]
SPAN_MS = 3_600_000
LOGS = ("firewall-traffic", "idr-auth-json", "app-kv", "syslog-text")


def dataset(events_per_log: int) -> Dataset:
    return Dataset(seed=7, events_per_log=events_per_log, span_ms=SPAN_MS)


def log_ids(data: Dataset) -> list[str]:
    return [data.log_id(name) for name in LOGS]


def test_sigkill_at_random_moments_then_resume_lands_every_event_once(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """Three SIGKILLs mid-backfill, then a resume: every event of the range exactly once."""
    data = dataset(4_000)
    emulator = make_emulator(data)
    output = tmp_path / "out"
    env = ingest_env(
        emulator.url,
        output,
        window_size="1m",
        start_time=str(data.start_ms),
        rapid7_log_ids=",".join(log_ids(data)),
        # small queries, pages and commits: the backfill takes a while and lands as it goes
        query_events="1000",
        per_page="100",
        row_group_rows="1000",
    )
    moments = random.Random(20260101)
    killed_running = 0
    for _ in range(3):
        process = start_run(tmp_path, env, "--to", str(data.end_ms))
        wait_for_files(output, process, more_than=len(published_files(output)))
        time.sleep(moments.uniform(0.0, 0.5))  # then a random moment of the work
        killed_running += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    partial = landed(output)

    final = run_to_end(tmp_path, env, "--to", str(data.end_ms))

    assert final.returncode == 0, final.stderr[-2000:]
    expected = truth(data, log_ids(data), data.start_ms, data.end_ms)
    assert compare(expected, landed(output)) == {"missing": 0, "duplicated": 0, "unexpected": 0}
    assert leftovers(output) == []
    assert killed_running == 3, "every kill should land while the run works"
    assert 0 < sum(partial.values()) < len(expected), "the kills should interrupt the backfill"


def test_same_and_overlapping_ranges_and_a_rescan_never_duplicate(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A range run twice changes no file; ranges overlapping off the grid and `--rescan`
    of everything still land each event once."""
    data = emulator.dataset
    output = tmp_path / "out"
    env = ingest_env(emulator.url, output, window_size="10m")
    start, end, minute = data.start_ms, data.end_ms, 60_000
    first = ("--from", str(start), "--to", str(start + 25 * minute))

    runs = [run_to_end(tmp_path, env, *first)]
    files = published_files(output)
    runs.append(run_to_end(tmp_path, env, *first))
    unchanged = files == published_files(output)
    later = [
        ("--from", str(start + 13 * minute), "--to", str(end)),
        ("--from", str(start), "--to", str(end), "--rescan"),
    ]
    runs.extend(run_to_end(tmp_path, env, *arguments) for arguments in later)

    assert [run.returncode for run in runs] == [0, 0, 0, 0], [run.stderr[-1500:] for run in runs]
    assert unchanged
    expected = truth(data, data.logs, start, end)
    assert compare(expected, landed(output)) == {"missing": 0, "duplicated": 0, "unexpected": 0}


def test_retries_exhausted_stop_the_log_then_the_next_run_continues(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """An outage longer than the retries fails the run (exit 1) with a clear error; the
    checkpoint keeps what was committed, and the next run completes the range once."""
    data = dataset(600)
    emulator = make_emulator(data)
    log_id = data.log_id("app-kv")
    output = tmp_path / "out"
    env = ingest_env(
        emulator.url, output, window_size="10m", retry_attempts="2", rapid7_log_ids=log_id
    )
    span = ("--from", str(data.start_ms), "--to", str(data.end_ms))
    run_to_end(tmp_path, env, "--from", str(data.start_ms), "--to", str(data.start_ms + 1))
    emulator.faults.fail_next("next", 1_000, 503)  # every Next fails: windows of 2+ pages
    env["PER_PAGE"] = "50"

    failed = run_to_end(tmp_path, env, *span)
    checkpoint = JsonCheckpointStore(output / "_state").load(log_id)
    emulator.faults.clear_scheduled()
    resumed = run_to_end(tmp_path, env, *span)

    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "failed" in failed.stdout
    errors = [
        json.loads(line)
        for line in failed.stderr.splitlines()
        if line.startswith("{") and '"log.failed"' in line
    ]
    assert errors, failed.stderr[-2000:]
    assert ((data.start_ms, data.start_ms + 600_000),) == checkpoint.committed
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = truth(data, [log_id], data.start_ms, data.end_ms)
    assert compare(expected, landed(output)) == {"missing": 0, "duplicated": 0, "unexpected": 0}
