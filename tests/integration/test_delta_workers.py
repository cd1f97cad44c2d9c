"""Workers that share nothing but the object store: shards 1/3, 2/3, 3/3 and a second 2/3
(a wrong setting, a rolling restart) started at once on one S3 prefix, each on an empty
disk. The Delta commit protocol, not a lock of ours, keeps every event exactly once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from log_ingestion.shard import shard_of

from ..support.lake import keys, read_all, tables
from ..support.s3 import S3Bucket
from .conftest import SAMPLE_LOGS, Harness, HarnessFactory, small

SHARDS = ("1/3", "2/3", "3/3", "2/3")


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    return make_harness(small(events_per_log=3_000))


def test_four_workers_on_one_prefix_land_every_event_once_for_every_reader(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    """All four exit 0; each of the six logs' tables holds its ground truth once, for
    deltalake, polars and DuckDB alike; each worker's summary lists only its shard's logs."""
    outputs = four_workers(harness, s3_bucket, "lake")

    names = {name: harness.table_dir(name).name for name in SAMPLE_LOGS}
    assert tables(s3_bucket, "lake") == sorted(names.values())
    for name, table in names.items():
        truth = keys(harness.truth(name))
        found = read_all(s3_bucket.uri("lake", table), s3_bucket)
        assert {reader: keys(rows) == truth for reader, rows in found.items()} == dict.fromkeys(
            found, True
        ), name
    for stdout, shard in zip(outputs, SHARDS, strict=True):
        index = int(shard.split("/")[0])
        mine = {name for name in SAMPLE_LOGS if shard_of(harness.dataset.log_id(name), 3) == index}
        assert {name for name in SAMPLE_LOGS if f"│ {name} " in stdout} == mine, shard


@pytest.mark.slow
def test_four_workers_twenty_rounds_each_on_a_new_prefix(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    """The first commits of a table race hardest (two 2/3 workers creating it at once): twenty
    rounds on fresh prefixes, every one exact."""
    exact = []
    for round_ in range(20):
        prefix = f"lake-{round_}"
        four_workers(harness, s3_bucket, prefix)
        exact.append(
            all(
                keys(harness.truth(name))
                == keys(
                    read_all(s3_bucket.uri(prefix, harness.table_dir(name).name), s3_bucket)[
                        "polars"
                    ]
                )
                for name in SAMPLE_LOGS
            )
        )
    assert exact == [True] * 20


def four_workers(harness: Harness, bucket: S3Bucket, prefix: str) -> list[str]:
    """The four workers of SHARDS started at once into `s3://bucket/prefix`, to their end; all
    must exit 0. Their stdout."""
    workers = [
        start_worker(harness, bucket, prefix, shard, index) for index, shard in enumerate(SHARDS)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * 4, [err[-2000:] for _, err in outputs]
    return [stdout for stdout, _ in outputs]


def start_worker(
    harness: Harness, bucket: S3Bucket, prefix: str, shard: str, index: int
) -> subprocess.Popen[str]:
    """`run --shard` in its own process and its own empty HOME (no local state to share)."""
    home = harness.tmp_path / f"{prefix}-worker-{index}"
    home.mkdir()
    env = harness.env(
        OUTPUT_DIR=bucket.uri(prefix), HOME=str(home), WINDOW_SIZE="5m", **bucket.env()
    )
    command = [sys.executable, "-m", "log_ingestion", "run", "--shard", shard]
    span = ["--from", str(harness.start_ms), "--to", str(harness.end_ms)]
    return subprocess.Popen(
        [*command, *span],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
