"""Delta soak (`make test-slow`): a backfill into Delta tables on the S3 server is SIGKILLed at
random moments many times and resumed; two processes race on the same windows many rounds.
Every table is then read by deltalake, polars and DuckDB and compared with the emulator's
ground truth: zero missing, zero duplicated. The seed and the numbers are printed (`-s`)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from log_ingestion.emulator import Dataset, Emulator

from ..support.lake_runs import commits, lake_run_env, landed_in_lake, wait_for_commits
from ..support.s3 import S3Bucket
from .harness import compare, run_to_end, start_run, truth

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # minutes of runs each

SEED = int(os.environ.get("KILL_SOAK_SEED", "0")) or random.SystemRandom().randrange(1, 10**6)
CLEAN = {"missing": 0, "duplicated": 0, "unexpected": 0}
LOGS = ("firewall-traffic", "idr-auth-json", "app-kv")


def backfill(
    tmp_path: Path, bucket: S3Bucket, events: int
) -> tuple[Dataset, Emulator, dict[str, str]]:
    data = Dataset(seed=11, events_per_log=events, span_ms=3_600_000)
    emulator = Emulator(data).start()
    env = lake_run_env(
        emulator.url,
        bucket,
        tmp_path,
        window_size="1m",
        start_time=str(data.start_ms),
        rapid7_log_ids=",".join(data.log_id(name) for name in LOGS),
        query_events="5000",
        row_group_rows="1000",
    )
    return data, emulator, env


def check_complete(data: Dataset, bucket: S3Bucket) -> int:
    expected = truth(data, [data.log_id(name) for name in LOGS], data.start_ms, data.end_ms)
    found = landed_in_lake(bucket)
    assert dict.fromkeys(("deltalake", "polars", "duckdb"), CLEAN) == {
        reader: compare(expected, landed) for reader, landed in found.items()
    }
    return len(expected)


def test_twenty_five_sigkills_on_s3_lose_and_duplicate_nothing(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    """25 SIGKILLs, each 0-0.6 s after a restarted run makes its first new commit (a commit
    per one-minute window and log, some 180 in all, of 2,000 events each: enough work that
    the backfill outlasts the kills)."""
    moments = random.Random(SEED)
    data, emulator, env = backfill(tmp_path, s3_bucket, 120_000)
    try:
        began, kills, finished_early = time.monotonic(), 0, 0
        for _ in range(25):
            process = start_run(tmp_path, env, "--to", str(data.end_ms))
            wait_for_commits(s3_bucket, process, more_than=commits(s3_bucket), timeout=90)
            time.sleep(moments.uniform(0.0, 0.6))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            else:
                finished_early += 1
            process.wait(timeout=30)
        final = run_to_end(tmp_path, env, "--to", str(data.end_ms), timeout=600)
        assert final.returncode == 0, final.stderr[-2000:]
        events = check_complete(data, s3_bucket)
        print(
            f"\nseed {SEED}: {kills} SIGKILLs on S3 ({finished_early} runs ended first), "
            f"{events} events compared by three readers, 0 missing, 0 duplicated, "
            f"{commits(s3_bucket)} commits, {time.monotonic() - began:.1f}s"
        )
        assert kills >= 20
    finally:
        emulator.stop()


def test_two_processes_racing_thirty_rounds_land_every_event_once(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    """30 rounds of two rescans of the same range at once, all exit 0, every event once."""
    data, emulator, env = backfill(tmp_path, s3_bucket, 6_000)
    env["LOG_LEVEL"] = "INFO"
    command = [sys.executable, "-m", "log_ingestion", "run", "--from", str(data.start_ms)]
    command += ["--to", str(data.end_ms), "--rescan"]
    try:
        codes, conflicts = [], 0
        for _ in range(30):
            pair = [
                subprocess.Popen(
                    command,
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            outputs = [process.communicate(timeout=120)[1] for process in pair]
            conflicts += sum(err.count('"commit.conflict"') for err in outputs)
            codes.append([process.returncode for process in pair])
        events = check_complete(data, s3_bucket)
        print(
            f"\n30 rounds of two racing runs: {conflicts} conflicts resolved, {events} events exact"
        )
        assert codes == [[0, 0]] * 30
    finally:
        emulator.stop()
