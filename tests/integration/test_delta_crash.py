"""Crash safety of the Delta output, quickly: SIGKILL a real run into Delta tables on S3 at
random moments, resume, and compare with the emulator's ground truth through three readers;
the store going away in the middle of a run loses nothing either."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

from log_ingestion.emulator import Dataset, Emulator

from ..slow.harness import compare, run_to_end, start_run, truth
from ..support.lake_runs import commits, lake_run_env, landed_in_lake, wait_for_commits
from ..support.proxy import TcpProxy
from ..support.s3 import S3Bucket
from .conftest import error_lines as stderr_errors

EmulatorFactory = Callable[..., Emulator]
LOGS = ("firewall-traffic", "app-kv")
CLEAN = {"missing": 0, "duplicated": 0, "unexpected": 0}


def backfill(make_emulator: EmulatorFactory) -> tuple[Dataset, Emulator, list[str]]:
    data = Dataset(seed=7, events_per_log=10_000, span_ms=3_600_000)
    return data, make_emulator(data), [data.log_id(name) for name in LOGS]


def small_commits(data: Dataset, log_ids: list[str]) -> dict[str, str]:
    """One-minute windows and units of a thousand rows: a run commits as it goes."""
    return {
        "window_size": "1m",
        "start_time": str(data.start_ms),
        "rapid7_log_ids": ",".join(log_ids),
        "query_events": "1000",
        "per_page": "100",
        "row_group_rows": "1000",
    }


def test_sigkill_at_random_moments_then_resume_lands_every_event_once(
    make_emulator: EmulatorFactory, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """Three SIGKILLs mid-backfill, then a resume: every event once, for every reader."""
    data, emulator, log_ids = backfill(make_emulator)
    env = lake_run_env(emulator.url, s3_bucket, tmp_path, **small_commits(data, log_ids))
    moments = random.Random(20260102)
    killed_running = 0
    for _ in range(3):
        process = start_run(tmp_path, env, "--to", str(data.end_ms))
        wait_for_commits(s3_bucket, process, more_than=commits(s3_bucket))
        time.sleep(moments.uniform(0.0, 0.4))
        killed_running += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    final = run_to_end(tmp_path, env, "--to", str(data.end_ms))
    assert final.returncode == 0, final.stderr[-2000:]
    expected = truth(data, log_ids, data.start_ms, data.end_ms)
    found = landed_in_lake(s3_bucket)
    assert dict.fromkeys(found, CLEAN) == {
        reader: compare(expected, landed) for reader, landed in found.items()
    }
    assert killed_running == 3, "every kill should land while the run works"


def test_the_store_going_away_mid_run_exits_4_and_the_next_run_completes(
    make_emulator: EmulatorFactory, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """The endpoint stops answering after some commits: exit 4 in bounded time with one
    line; the next run, the store back, lands every event once."""
    data, emulator, log_ids = backfill(make_emulator)
    settings = {**small_commits(data, log_ids), "request_timeout": "1", "retry_attempts": "1"}
    with TcpProxy(s3_bucket.endpoint_url) as proxy:
        env = lake_run_env(emulator.url, s3_bucket, tmp_path, **settings)
        env["AWS_ENDPOINT_URL"] = proxy.url
        process = start_run(tmp_path, env, "--to", str(data.end_ms))
        wait_for_commits(s3_bucket, process, more_than=3)
        proxy.cut()
        began = time.monotonic()
        code = process.wait(timeout=60)
        stopped_s = time.monotonic() - began
    errors = stderr_errors((tmp_path / "run-000.err").read_text())
    env["AWS_ENDPOINT_URL"] = s3_bucket.endpoint_url
    final = run_to_end(tmp_path, env, "--to", str(data.end_ms))
    assert (4, final.returncode) == (code, 0), final.stderr[-2000:]
    assert errors, "the failure is named on stderr"
    assert all("cannot be reached" in line or "did not answer" in line for line in errors)
    assert stopped_s < 30
    expected = truth(data, log_ids, data.start_ms, data.end_ms)
    found = landed_in_lake(s3_bucket)
    assert dict.fromkeys(found, CLEAN) == {
        reader: compare(expected, landed) for reader, landed in found.items()
    }
