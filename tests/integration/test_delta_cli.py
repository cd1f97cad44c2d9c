"""`log-ingestion` into Delta tables on a real S3 server, run as a user runs it (a process with
only its environment), compared with the emulator's ground truth through three readers."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from ..support.careless_store import careless_store
from ..support.lake import keys, objects, read_all, rows_polars
from ..support.proxy import FaultyEndpoint
from ..support.s3 import S3Bucket, free_ports
from .conftest import SAMPLE_LOGS, Harness, HarnessFactory, small
from .conftest import error_lines as stderr_errors

MINUTE = 60_000


def lake_env(harness: Harness, bucket: S3Bucket, **extra: str) -> dict[str, str]:
    """The harness's environment with OUTPUT_DIR on the bucket and its AWS variables."""
    return harness.env(OUTPUT_DIR=bucket.uri("lake"), **bucket.env(), **extra)


def run(harness: Harness, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return harness.cli("run", *args, env=env)


def span(harness: Harness, start_ms: int | None = None, end_ms: int | None = None) -> list[str]:
    start = harness.start_ms if start_ms is None else start_ms
    end = harness.end_ms if end_ms is None else end_ms
    return ["--from", str(start), "--to", str(end)]


def table_uri(harness: Harness, bucket: S3Bucket, name: str) -> str:
    return bucket.uri("lake", harness.table_dir(name).name)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The `error:` lines a person reads (stderr is JSON lines, as LOG_FORMAT=json asks)."""
    return stderr_errors(result.stderr)


def test_every_sample_log_lands_once_for_every_reader(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    """Six logs into Delta on S3: deltalake, polars and DuckDB each read the ground truth."""
    result = run(harness, lake_env(harness, s3_bucket), *span(harness))
    assert result.returncode == 0, result.stderr[-2000:]
    found = {name: read_all(table_uri(harness, s3_bucket, name), s3_bucket) for name in SAMPLE_LOGS}
    expected = {
        name: dict.fromkeys(("deltalake", "polars", "duckdb"), harness.truth(name))
        for name in SAMPLE_LOGS
    }
    assert expected == found


def test_reruns_rescans_and_older_backfills_land_every_event_once(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    """The second half, then a backfill of all (older than the checkpoint), the same run
    again, and a rescan: after each, every event once."""
    env = lake_env(harness, s3_bucket, RAPID7_LOG_IDS="app-kv")
    middle = harness.start_ms + 30 * MINUTE
    runs = [
        span(harness, middle),
        span(harness),
        span(harness),
        [*span(harness), "--rescan"],
    ]
    seen = []
    for arguments in runs:
        result = run(harness, env, *arguments)
        assert result.returncode == 0, result.stderr[-2000:]
        seen.append(keys(rows_polars(table_uri(harness, s3_bucket, "app-kv"), s3_bucket)))
    first = keys(harness.truth("app-kv", middle))
    whole = keys(harness.truth("app-kv"))
    assert [first, whole, whole, whole] == seen


def test_a_fresh_machine_resumes_from_the_table(
    harness: Harness, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """A process with only the S3 settings, in an empty folder, continues where the last
    one stopped: it ingests only the windows after the table's checkpoint."""
    env = lake_env(harness, s3_bucket, RAPID7_LOG_IDS="vpn-sessions", LOG_LEVEL="INFO")
    middle = harness.start_ms + 30 * MINUTE
    first = run(harness, env, *span(harness, end_ms=middle))
    elsewhere = tmp_path / "another-machine"
    elsewhere.mkdir()
    resumed = subprocess.run(
        [*first.args[:3], "run", "--to", str(harness.end_ms)],
        env={**env, "HOME": str(elsewhere)},
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    done = [json.loads(line) for line in resumed.stderr.splitlines() if '"run.done"' in line]
    assert (first.returncode, resumed.returncode) == (0, 0), resumed.stderr[-2000:]
    assert (done[0]["committed"], list(elsewhere.iterdir())) == (2, [])
    assert keys(harness.truth("vpn-sessions")) == keys(
        rows_polars(table_uri(harness, s3_bucket, "vpn-sessions"), s3_bucket)
    )


def test_state_and_state_reset_work_on_the_tables(harness: Harness, s3_bucket: S3Bucket) -> None:
    """`state` reads each table's checkpoint; `state reset` rewinds it; the next run
    re-ingests the forgotten range without a duplicate."""
    env = lake_env(harness, s3_bucket, RAPID7_LOG_IDS="app-kv,syslog-text")
    middle = harness.start_ms + 30 * MINUTE
    runs = [run(harness, env, *span(harness))]
    before = harness.cli("state", env=env)
    runs.append(harness.cli("state", "reset", "--log", "app-kv", "--from", str(middle), env=env))
    after = harness.cli("state", env=env)
    runs.append(run(harness, env, "--to", str(harness.end_ms)))
    assert [result.returncode for result in runs] == [0, 0, 0], runs[-1].stderr[-2000:]
    assert [
        committed_of("app-kv", before),
        committed_of("app-kv", after),
    ] == [WHOLE_HOUR, HALF_HOUR]
    assert keys(harness.truth("app-kv")) == keys(
        rows_polars(table_uri(harness, s3_bucket, "app-kv"), s3_bucket)
    )


WHOLE_HOUR = "2026-01-01T00:00:00Z..2026-01-01T01:00:00Z"
HALF_HOUR = "2026-01-01T00:00:00Z..2026-01-01T00:30:00Z"


def committed_of(name: str, state: subprocess.CompletedProcess[str]) -> str:
    """The committed ranges `state` prints for a log."""
    line = next(line for line in state.stdout.splitlines() if f" {name} " in line)
    return line.split("│")[3].strip()


FAULTS = {  # the fault, and the cause its one line names
    "endpoint down": "the store cannot be reached",
    "silent endpoint": "the store did not answer in time",
    "5xx": "the store kept failing (5xx)",
    "wrong secret": "the store refused the credentials",
    "missing bucket": "the bucket does not exist",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_storage_faults_exit_4_in_one_line_and_the_next_run_completes(
    harness: Harness, s3_bucket: S3Bucket, fault: str
) -> None:
    """Each fault: exit 4 within seconds, one `error:` line naming the fix and no secret;
    then, with the fault gone, a run lands every event once."""
    good = lake_env(harness, s3_bucket, RAPID7_LOG_IDS="app-kv", REQUEST_TIMEOUT="1")
    with FaultyEndpoint("unwell" if fault == "5xx" else "silent") as faulty_endpoint:
        faulty = {
            "endpoint down": {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_ports(1)[0]}"},
            "silent endpoint": {"AWS_ENDPOINT_URL": faulty_endpoint.url},
            "5xx": {"AWS_ENDPOINT_URL": faulty_endpoint.url},
            "wrong secret": {"AWS_SECRET_ACCESS_KEY": "not-the-secret-4f2a"},
            "missing bucket": {"OUTPUT_DIR": "s3://no-such-bucket-7c1e/lake"},
        }[fault]
        began = time.monotonic()
        failed = run(harness, {**good, **faulty}, *span(harness))
        seconds = time.monotonic() - began
    then = run(harness, good, *span(harness))
    lines = error_lines(failed)
    assert (failed.returncode, len(lines)) == (4, 1), failed.stderr[-2000:]
    assert seconds < 20
    assert "not-the-secret-4f2a" not in failed.stdout + failed.stderr
    assert "<Error>" not in failed.stdout + failed.stderr
    assert s3_bucket.secret_key not in failed.stdout + failed.stderr
    assert then.returncode == 0, then.stderr[-2000:]
    assert keys(harness.truth("app-kv")) == keys(
        rows_polars(table_uri(harness, s3_bucket, "app-kv"), s3_bucket)
    )


def careless_env(harness: Harness, endpoint: str) -> dict[str, str]:
    """The harness's environment with OUTPUT_DIR on a store that ignores conditional writes."""
    return harness.env(
        OUTPUT_DIR="s3://careless/lake",
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="careless-key",
        AWS_SECRET_ACCESS_KEY="careless-secret",
        AWS_ALLOW_HTTP="true",
    )


def test_a_store_that_ignores_conditional_writes_is_refused(harness: Harness) -> None:
    """The start-up probe finds commits lost to a racing writer: exit 4, nothing ingested."""
    with careless_store() as endpoint:
        env = careless_env(harness, endpoint)
        result = run(harness, env, *span(harness))
    assert (
        result.returncode,
        "ignores conditional writes (If-None-Match: *)" in "".join(error_lines(result)),
    ) == (4, True), result.stderr[-3000:]


def test_compact_refuses_a_store_that_ignores_conditional_writes(harness: Harness) -> None:
    """`compact` commits too: the start-up probe refuses the store before any table, exit 4."""
    with careless_store() as endpoint:
        env = careless_env(harness, endpoint)
        result = harness.cli("compact", env=env)
    assert (
        result.returncode,
        "ignores conditional writes (If-None-Match: *)" in "".join(error_lines(result)),
    ) == (4, True), result.stderr[-3000:]


def test_no_secret_reaches_output_metrics_or_table_metadata(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    """The secret key is in no line of stdout or stderr (at DEBUG), not in the metrics file,
    and in no object of the bucket."""
    env = lake_env(harness, s3_bucket, RAPID7_LOG_IDS="idr-auth-json", LOG_LEVEL="DEBUG")
    metrics = harness.tmp_path / "metrics.prom"
    result = run(harness, env, *span(harness), "--metrics-file", str(metrics))
    store = s3_bucket.filesystem()
    stored = b"".join(store.open_input_stream(path).read() for path in objects(s3_bucket))
    assert result.returncode == 0, result.stderr[-2000:]
    assert s3_bucket.secret_key not in result.stdout + result.stderr + metrics.read_text()
    assert s3_bucket.secret_key.encode() not in stored


def test_help_shows_no_secret(harness: Harness, s3_bucket: S3Bucket) -> None:
    """`--help` of every command with the AWS secret set does not show it."""
    env = lake_env(harness, s3_bucket)
    shown = "".join(harness.cli(*command, "--help", env=env).stdout for command in HELPS)
    assert s3_bucket.secret_key not in shown


HELPS = [(), ("run",), ("check",), ("state",), ("demo",)]


def test_two_processes_racing_on_the_same_windows_land_each_event_once(
    make_harness: HarnessFactory, s3_bucket: S3Bucket
) -> None:
    """Ten rounds of two runs of the same range at once, each committing a few units (the
    first round creating the table): both exit 0, and every event is in the table once
    after each round."""
    harness = make_harness(small(events_per_log=3_000))
    env = lake_env(
        harness,
        s3_bucket,
        RAPID7_LOG_IDS="firewall-traffic",
        LOG_LEVEL="INFO",
        WINDOW_SIZE="5m",
        ROW_GROUP_ROWS="1000",
    )
    command = [*run(harness, env, "--help").args[:3], "run", *span(harness), "--rescan"]
    truth = keys(harness.truth("firewall-traffic"))
    rounds, conflicts = [], 0
    for _ in range(10):
        pair = [
            subprocess.Popen(
                command,
                env=env,
                cwd=harness.tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=60) for process in pair]
        conflicts += sum(err.count('"commit.conflict"') for _, err in outputs)
        landed = keys(rows_polars(table_uri(harness, s3_bucket, "firewall-traffic"), s3_bucket))
        rounds.append(([process.returncode for process in pair], landed == truth))
    print(f"\n10 rounds of two racing runs: {conflicts} commit conflicts resolved")
    assert rounds == [([0, 0], True)] * 10


def test_the_lake_demo_runs_the_whole_path_with_one_command(harness: Harness) -> None:
    """`demo --lake` starts the emulator and an S3 server, ingests into Delta tables on it,
    shows rows read back, and stops both."""
    env = {"PATH": harness.env()["PATH"], "HOME": str(harness.tmp_path), "LANG": "C.UTF-8"}
    result = harness.cli("demo", "--lake", "--events-per-log", "300", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "first rows read back from s3://lake/demo/firewall_traffic-" in result.stdout
    assert "6 logs, 1,800 events" in result.stdout


def test_check_probes_the_delta_output(harness: Harness, s3_bucket: S3Bucket) -> None:
    """`check` reaches the bucket and finds conditional writes honoured."""
    result = harness.cli("check", env=lake_env(harness, s3_bucket))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"conditional writes honoured: {s3_bucket.uri('lake')}" in result.stdout
