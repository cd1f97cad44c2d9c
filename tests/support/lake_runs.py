"""Runs into Delta tables on the test S3 server, killed or not, and what landed: the shared
tools of the Delta crash tests (quick and slow).

    env = lake_run_env(emulator.url, bucket, tmp_path, window_size="2m")
    process = start_run(tmp_path, env, "--to", str(end))
    wait_for_commits(bucket, process, more_than=commits(bucket))
    assert truth(...) == landed_in_lake(bucket)     # a Counter: duplicates show
"""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from pathlib import Path

from pyarrow import fs

from ..slow.harness import Key, ingest_env
from .lake import keys, read_all, tables
from .s3 import S3Bucket

PREFIX = "lake"
_COMMIT = re.compile(r"/_delta_log/\d{20}\.json$")


def lake_run_env(endpoint: str, bucket: S3Bucket, home: Path, **settings: str) -> dict[str, str]:
    """`ingest_env` with OUTPUT_DIR on the bucket and its AWS variables."""
    env = ingest_env(endpoint, home / "unused", **settings)
    env.update(bucket.env())
    env["OUTPUT_DIR"] = bucket.uri(PREFIX)
    env["HOME"] = str(home)
    return env


def commits(bucket: S3Bucket) -> int:
    """Commit files of every table in the bucket (the probe's scratch tables excluded)."""
    store = bucket.filesystem()
    infos = store.get_file_info(
        fs.FileSelector(f"{bucket.name}/{PREFIX}", allow_not_found=True, recursive=True)
    )
    return sum(1 for info in infos if _COMMIT.search(info.path) and "/_probes/" not in info.path)


def wait_for_commits(
    bucket: S3Bucket, process: subprocess.Popen[bytes], more_than: int, timeout: float = 60
) -> bool:
    """Until more than `more_than` commits exist (True) or the process ended (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if commits(bucket) > more_than:
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    raise AssertionError(f"no commit past {more_than} within {timeout}s")


def landed_in_lake(bucket: S3Bucket) -> dict[str, Counter[Key]]:
    """Each reader's `(log_id, sequence_number)` of every table, counted over all tables."""
    found: dict[str, Counter[Key]] = {}
    for table in tables(bucket, PREFIX):
        for reader, rows in read_all(bucket.uri(PREFIX, table), bucket).items():
            found.setdefault(reader, Counter()).update(keys(rows))
    return found
