"""`log-ingestion compact` on Delta tables on the real S3 server: a table of 10-minute
windows becomes few files with the same rows for every reader, `--vacuum` removes what no
version references, and an ingest racing the compaction loses nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from log_ingestion.maintenance import compact
from log_ingestion.sink.compact import TARGET_BYTES
from log_ingestion.sink.delta_maintenance import vacuum_lake_table
from log_ingestion.wiring import build_store

from ..slow.harness import compare, start_run
from ..support.lake import keys, objects, read_all
from ..support.s3 import S3Bucket
from .conftest import Harness, HarnessFactory, small
from .test_delta_sink import FIRST, TABLE, batch, commit, lake, started

LOG = "app-kv"
TEN_MINUTES = 600_000
WINDOWS = {"WINDOW_SIZE": "10m", "QUERY_EVENTS": "500", "ROW_GROUP_ROWS": "1000"}


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    """1,200 events per 10-minute window: each window is a commit and a file of its own."""
    return make_harness(small(events_per_log=7_200))


def lake_env(harness: Harness, bucket: S3Bucket) -> dict[str, str]:
    return harness.env(OUTPUT_DIR=bucket.uri("lake"), **bucket.env(), **WINDOWS)


def cli(harness: Harness, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return harness.cli(*args, env=env)


def ingest(harness: Harness, env: dict[str, str], start_ms: int, end_ms: int) -> None:
    result = cli(harness, env, "run", "--logs", LOG, "--from", str(start_ms), "--to", str(end_ms))
    assert result.returncode == 0, result.stderr[-2000:]


def table_uri(harness: Harness, bucket: S3Bucket) -> str:
    return bucket.uri("lake", harness.table_dir(LOG).name)


def data_files(harness: Harness, bucket: S3Bucket) -> list[str]:
    """The Parquet files the table's current version references."""
    return DeltaTable(
        table_uri(harness, bucket), storage_options=bucket.storage_options()
    ).file_uris()


def data_objects(bucket: S3Bucket) -> list[str]:
    """Every Parquet file of rows in the bucket, referenced or not (not Delta checkpoints)."""
    return [
        key for key in objects(bucket) if key.endswith(".parquet") and "/_delta_log/" not in key
    ]


def test_compact_makes_at_least_five_times_fewer_files_for_every_reader(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    """Six 10-minute windows, six files; compacted, one; deltalake, polars and DuckDB agree."""
    env = lake_env(harness, s3_bucket)
    ingest(harness, env, harness.start_ms, harness.end_ms)
    before = data_files(harness, s3_bucket)

    result = cli(harness, env, "compact", "--log", LOG)

    assert result.returncode == 0, result.stderr[-2000:]
    after = data_files(harness, s3_bucket)
    assert (len(before), len(after)) == (6, 1)
    assert f"{LOG}: 6 files in 1 partitions merged into 1" in result.stdout
    expected = dict.fromkeys(("deltalake", "polars", "duckdb"), harness.truth(LOG))
    assert read_all(table_uri(harness, s3_bucket), s3_bucket) == expected


def test_vacuum_removes_the_replaced_files_and_keeps_the_rows(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    """After compaction, `--vacuum --retention 0h --force` deletes the six replaced files."""
    env = lake_env(harness, s3_bucket)
    ingest(harness, env, harness.start_ms, harness.end_ms)
    assert cli(harness, env, "compact").returncode == 0
    parquet_before = data_objects(s3_bucket)

    result = cli(harness, env, "compact", "--vacuum", "--retention", "0h", "--force")

    assert result.returncode == 0, result.stderr[-2000:]
    parquet_after = data_objects(s3_bucket)
    assert (len(parquet_before), len(parquet_after)) == (7, 1)
    assert "6 unreferenced files removed" in result.stdout
    expected = dict.fromkeys(("deltalake", "polars", "duckdb"), harness.truth(LOG))
    assert read_all(table_uri(harness, s3_bucket), s3_bucket) == expected


def test_compaction_racing_an_ingest_loses_nothing(
    harness: Harness, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """Compactions one after another while the second half of the hour is ingested: every
    event once for every reader, and the checkpoint covers the whole hour."""
    env = lake_env(harness, s3_bucket)
    half = harness.start_ms + 3 * TEN_MINUTES
    ingest(harness, env, harness.start_ms, half)
    aws = {name.lower(): value for name, value in s3_bucket.env().items()}
    settings = harness.settings(output_dir=s3_bucket.uri("lake"), **aws)
    running = start_run(
        tmp_path, env, "--logs", LOG, "--from", str(half), "--to", str(harness.end_ms)
    )
    compactions = 0
    while running.poll() is None:
        compact(settings, LOG, before_ms=None, target_bytes=TARGET_BYTES)
        compactions += 1
    assert (running.wait(), compactions > 3) == (0, True)
    expected = keys(harness.truth(LOG))
    clean = {"missing": 0, "duplicated": 0, "unexpected": 0}
    found = read_all(table_uri(harness, s3_bucket), s3_bucket)
    assert {
        reader: compare(expected, keys(rows)) for reader, rows in found.items()
    } == dict.fromkeys(found, clean)
    checkpoint = build_store(settings).load(harness.dataset.log_id(LOG))
    assert checkpoint.missing(harness.start_ms, harness.end_ms) == []


def test_vacuum_removes_files_no_commit_named_once_past_the_floor(tmp_path: Path) -> None:
    """A crashed writer's file, in no commit, is removed once an hour old; a younger one may
    be a running writer's next commit and is kept, even at `--retention 0h`."""
    root = tmp_path / "lake"
    target = lake(None, root)
    target.ensure_root()
    commit(target, FIRST, batch(FIRST, 10), started(target).load("L1"))
    partition = next((root / TABLE).glob("date=*"))
    crashed, writing = partition / "part-crashed.parquet", partition / "part-writing.parquet"
    for orphan in (crashed, writing):
        shutil.copy(next(partition.glob("part-*.parquet")), orphan)
    two_hours_ago = time.time() - 2 * 3600
    os.utime(crashed, (two_hours_ago, two_hours_ago))

    removed = vacuum_lake_table(target.table(TABLE), retention_ms=0)

    assert (removed, crashed.exists(), writing.exists()) == (1, False, True)
    assert len(DeltaTable(str(root / TABLE)).to_pyarrow_table()) == 10
