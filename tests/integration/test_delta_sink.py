"""The Delta sink and checkpoint store on a real S3 server (SeaweedFS on loopback): a commit
replaces its window's rows and carries the checkpoint, which a fresh process finds again;
schemas widen without loss; racing writers land each row once."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink.delta import DeltaSink, Lake
from log_ingestion.sink.delta_maintenance import compact_lake_table, vacuum_lake_table
from log_ingestion.sink.lake_store import LakeOptions
from log_ingestion.sink.naming import table_dir_name
from log_ingestion.state import LogCheckpoint
from log_ingestion.state.delta_store import DeltaCheckpointStore
from log_ingestion.state.in_table import CARRIED_KEY, app_id

from ..support.lake import read_all, rows_polars
from ..support.s3 import S3Bucket, signed_request

HOUR = 3_600_000
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
FIRST = Window(START, START + HOUR)
SECOND = Window(START + HOUR, START + 2 * HOUR)
TABLE = table_dir_name("app", "L1")
LOG = LogCheckpoint("L1", "app", TABLE, HOUR)


def lake(bucket: S3Bucket | None, root: Path | None = None) -> Lake:
    """A fresh view of the root, as a new process would have."""
    if bucket is None:
        assert root is not None
        return Lake(LakeOptions(str(root)))
    aws = {name: value for name, value in bucket.env().items() if name != "AWS_ALLOW_HTTP"}
    return Lake(LakeOptions(bucket.uri("lake"), aws=aws, allow_http=True))


def batch(window: Window, count: int, first: int = 0, **parsed: Any) -> pa.Table:
    """Pipeline-shaped rows spread over `window`, sequence numbers from `first`."""
    step = (window.end_ms - window.start_ms) // count
    columns: dict[str, Any] = {
        "timestamp": pa.array(
            [window.start_ms + i * step for i in range(count)], pa.timestamp("ms", tz="UTC")
        ),
        "sequence_number": pa.array(range(first, first + count), pa.uint64()),
        "log_id": ["L1"] * count,
        "log_name": ["app"] * count,
        "labels": pa.array([[]] * count, pa.list_(pa.string())),
        "message": [f"m{first + i}" for i in range(count)],
        "_parse_error": pa.nulls(count, pa.string()),
        "_format": ["text"] * count,
    }
    columns.update(parsed)
    return pa.table(columns)


def commit(target: Lake, window: Window, rows: pa.Table | None, checkpoint: LogCheckpoint) -> Any:
    staged = DeltaSink(target).stage(TABLE)
    if rows is not None:
        staged.write(rows)
    return staged.commit(window, checkpoint.with_committed(window))


def started(target: Lake) -> DeltaCheckpointStore:
    store = DeltaCheckpointStore(target)
    store.save(LOG)
    return store


def expected_rows(*tables: pa.Table) -> list[tuple[str, int, str]]:
    return sorted(
        (row["log_id"], row["sequence_number"], row["message"])
        for table in tables
        for row in table.select(["log_id", "sequence_number", "message"]).to_pylist()
    )


def test_a_commit_lands_its_rows_for_every_reader(s3_bucket: S3Bucket) -> None:
    """deltalake, polars and DuckDB read back exactly the rows committed."""
    target = lake(s3_bucket)
    started(target)
    rows = batch(FIRST, 50)
    commit(target, FIRST, rows, LOG)
    found = read_all(target.table(TABLE).uri, s3_bucket)
    assert {name: expected_rows(rows) for name in found} == found


def test_a_fresh_process_finds_the_checkpoint_in_the_table(s3_bucket: S3Bucket) -> None:
    """Nothing is kept on local disk: a new store on the same root loads what was committed."""
    target = lake(s3_bucket)
    started(target)
    commit(target, FIRST, batch(FIRST, 5), LOG)
    loaded = DeltaCheckpointStore(lake(s3_bucket)).load("L1")
    assert ((FIRST.start_ms, FIRST.end_ms), TABLE, HOUR) == (
        *loaded.committed,
        loaded.table,
        loaded.window_ms,
    )


def test_committing_a_window_again_replaces_its_rows(s3_bucket: S3Bucket) -> None:
    """A re-run of a window leaves its new rows only, and the neighbour's untouched."""
    target = lake(s3_bucket)
    started(target)
    neighbour = batch(SECOND, 5, first=100)
    commit(target, SECOND, neighbour, LOG)
    commit(target, FIRST, batch(FIRST, 5), LOG)
    again = batch(FIRST, 7)
    commit(target, FIRST, again, LOG)
    assert expected_rows(again, neighbour) == rows_polars(target.table(TABLE).uri, s3_bucket)


def test_a_window_with_no_rows_still_commits_its_checkpoint(s3_bucket: S3Bucket) -> None:
    """Windows the API counts as empty: one commit, the range emptied, the window recorded."""
    target = lake(s3_bucket)
    started(target)
    commit(target, FIRST, batch(FIRST, 5), LOG)
    version = DeltaTable(target.table(TABLE).uri, storage_options=s3_bucket.env()).version()
    commit(target, FIRST, None, LOG)
    table = DeltaTable(target.table(TABLE).uri, storage_options=s3_bucket.env())
    loaded = DeltaCheckpointStore(lake(s3_bucket)).load("L1")
    assert (version + 1, [], ((FIRST.start_ms, FIRST.end_ms),)) == (
        table.version(),
        rows_polars(table.table_uri, s3_bucket),
        loaded.committed,
    )


def test_state_reset_is_a_commit_without_files(s3_bucket: S3Bucket) -> None:
    """A rewound checkpoint is saved by a commit that adds and removes nothing."""
    target = lake(s3_bucket)
    store = started(target)
    commit(target, FIRST, batch(FIRST, 5), LOG)
    store.rewind("L1", 0)
    table = DeltaTable(target.table(TABLE).uri, storage_options=s3_bucket.env())
    metrics = table.history(1)[0].get("operationMetrics", {})
    assert (
        DeltaCheckpointStore(lake(s3_bucket)).load("L1").committed,
        metrics.get("num_added_files", 0),
        metrics.get("num_removed_files", 0),
    ) == ((), 0, 0)


def test_compaction_does_not_lose_the_checkpoint(s3_bucket: S3Bucket) -> None:
    """A maintenance commit without our metadata is read past."""
    target = lake(s3_bucket)
    started(target)
    commit(target, FIRST, batch(FIRST, 5), LOG)
    commit(target, SECOND, batch(SECOND, 5, first=10), LOG.with_committed(FIRST))
    table = DeltaTable(target.table(TABLE).uri, storage_options=s3_bucket.env())
    table.optimize.compact()
    loaded = DeltaCheckpointStore(lake(s3_bucket)).load("L1")
    assert ("OPTIMIZE", ((FIRST.start_ms, SECOND.end_ms),)) == (
        table.history(1)[0]["operation"],
        loaded.committed,
    )


def test_a_compaction_drops_the_log_transaction_and_keeps_the_carried_mark(
    s3_bucket: S3Bucket,
) -> None:
    """What the racing rules rest on (ADR 0003): delta-rs' optimize commits without the
    application transaction it is given, but with the metadata marking its copy."""
    target = lake(s3_bucket)
    started(target)
    commit(target, FIRST, batch(FIRST, 5), LOG)
    commit(target, SECOND, batch(SECOND, 5, first=10), LOG.with_committed(FIRST))
    table = DeltaTable(target.table(TABLE).uri, storage_options=s3_bucket.env())
    before = table.transaction_version(app_id("L1"))
    compact_lake_table(target.table(TABLE), before_ms=None, target_bytes=2**20)
    table.update_incremental()
    optimize = next(entry for entry in table.history(3) if entry["operation"] == "OPTIMIZE")
    assert (table.transaction_version(app_id("L1")), optimize.get(CARRIED_KEY)) == (
        before,
        "true",
    )


def test_the_state_of_every_table_is_listed(s3_bucket: S3Bucket) -> None:
    """`state` lists each table's checkpoint from the tables alone."""
    target = lake(s3_bucket)
    started(target)
    other = LogCheckpoint("L2", "other", table_dir_name("other", "L2"), HOUR)
    DeltaCheckpointStore(target).save(other)
    listed = DeltaCheckpointStore(lake(s3_bucket)).list()
    assert [checkpoint.log_id for checkpoint in listed] == ["L1", "L2"]


def test_a_folder_of_parquet_files_is_not_made_a_delta_table(tmp_path: Path) -> None:
    """Files of TABLE_FORMAT=parquet would become invisible, and a vacuum would delete them."""
    (tmp_path / TABLE / "date=2026-01-01").mkdir(parents=True)
    (tmp_path / TABLE / "date=2026-01-01" / "part-1-2-abc-0.parquet").write_bytes(b"x")
    with pytest.raises(StorageError, match="not a Delta table"):
        DeltaCheckpointStore(lake(None, tmp_path)).save(LOG)


def test_a_local_folder_holds_delta_tables_too(tmp_path: Path) -> None:
    """TABLE_FORMAT=delta with a local OUTPUT_DIR: the same table, read by all three."""
    target = lake(None, tmp_path)
    target.ensure_root()
    started(target)
    rows = batch(FIRST, 20)
    commit(target, FIRST, rows, LOG)
    found = read_all(str(tmp_path / TABLE), None)
    assert {name: expected_rows(rows) for name in found} == found


# -- racing writers ---------------------------------------------------------------------


def race(*actions: Any) -> list[BaseException]:
    """Run the actions at once, in threads; the exceptions they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(actions))

    def run(action: Any) -> None:
        barrier.wait()
        try:
            action()
        except Exception as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_writers_of_the_same_window_land_it_once(s3_bucket: S3Bucket) -> None:
    """Ten rounds of two processes' sinks committing one window at once: its rows once."""
    started(lake(s3_bucket))
    rounds = []
    for number in range(10):
        rows = batch(FIRST, 30, first=number * 1000)
        errors = race(
            *(lambda rows=rows: commit(lake(s3_bucket), FIRST, rows, LOG) for _ in range(2))
        )
        rounds.append((errors, rows_polars(lake(s3_bucket).table(TABLE).uri, s3_bucket)))
    assert [([], expected_rows(batch(FIRST, 30, first=n * 1000))) for n in range(10)] == rounds


def test_two_writers_of_different_windows_keep_both_in_the_checkpoint(s3_bucket: S3Bucket) -> None:
    """Neither commit erases the other's window from the table's checkpoint."""
    started(lake(s3_bucket))
    errors = race(
        lambda: commit(lake(s3_bucket), FIRST, batch(FIRST, 10), LOG),
        lambda: commit(lake(s3_bucket), SECOND, batch(SECOND, 10, first=50), LOG),
    )
    loaded = DeltaCheckpointStore(lake(s3_bucket)).load("L1")
    assert ([], ((FIRST.start_ms, SECOND.end_ms),)) == (errors, loaded.committed)


def test_a_window_another_writer_left_open_is_not_taken_for_committed(
    s3_bucket: S3Bucket,
) -> None:
    """A writer losing the race to a commit of the same window still open (its rows so far,
    the window not committed) commits its whole window instead of skipping it."""
    started(lake(s3_bucket))
    behind = lake(s3_bucket)
    assert behind.table(TABLE).refresh()  # its snapshot is older than the other commit
    still_open = DeltaSink(lake(s3_bucket)).stage(TABLE)
    still_open.write(batch(FIRST, 3))
    still_open.commit(FIRST, LOG)
    whole = batch(FIRST, 10)

    commit(behind, FIRST, whole, LOG)

    loaded = DeltaCheckpointStore(lake(s3_bucket)).load("L1")
    assert (expected_rows(whole), True) == (
        rows_polars(lake(s3_bucket).table(TABLE).uri, s3_bucket),
        loaded.is_committed(FIRST),
    )


def test_a_start_after_another_workers_start_keeps_its_windows(s3_bucket: S3Bucket) -> None:
    """A worker that found no table, saving its start once another worker created the table
    and committed a window, takes that checkpoint instead of forgetting the window."""
    late = DeltaCheckpointStore(lake(s3_bucket))
    assert late.load("L1").table == ""
    target = lake(s3_bucket)
    started(target)
    commit(target, FIRST, batch(FIRST, 5), LOG)

    saved = late.save(LOG)

    loaded = DeltaCheckpointStore(lake(s3_bucket)).load("L1")
    assert (saved.is_committed(FIRST), loaded.is_committed(FIRST)) == (True, True)


def test_a_reset_that_loses_a_race_rewinds_the_winners_checkpoint(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window committed between the reset's read of the table and its commit stays
    committed when it lies before the reset's `--from`."""
    target = lake(s3_bucket)
    store = started(target)
    commit(target, SECOND, batch(SECOND, 5), LOG)
    resetting = lake(s3_bucket)
    table = resetting.table(TABLE)
    original_refresh = table.refresh

    def refresh_then_lose_a_race() -> bool:
        found = original_refresh()
        commit(lake(s3_bucket), FIRST, batch(FIRST, 5, first=10), store.load("L1"))
        monkeypatch.setattr(table, "refresh", original_refresh)
        return found

    monkeypatch.setattr(table, "refresh", refresh_then_lose_a_race)

    DeltaCheckpointStore(resetting).rewind("L1", SECOND.start_ms)

    loaded = DeltaCheckpointStore(lake(s3_bucket)).load("L1")
    assert ((FIRST.start_ms, FIRST.end_ms),) == loaded.committed


def test_two_first_runs_create_one_table(s3_bucket: S3Bucket) -> None:
    """Racing creators: one creates version 0, the other takes its checkpoint."""
    errors = race(*(lambda: DeltaCheckpointStore(lake(s3_bucket)).save(LOG) for _ in range(2)))
    table = DeltaTable(lake(s3_bucket).table(TABLE).uri, storage_options=s3_bucket.env())
    assert (errors, table.version()) == ([], 0)


def deleted(bucket: S3Bucket) -> None:
    """Every object of the bucket removed, then the bucket itself."""
    listing = signed_request(bucket, "GET", "").text
    for key in re.findall(r"<Key>([^<]+)</Key>", listing):
        assert signed_request(bucket, "DELETE", key).status_code == 204
    assert signed_request(bucket, "DELETE", "").status_code == 204


@pytest.mark.parametrize("action", ["commit", "reset", "compact", "vacuum"])
def test_a_bucket_deleted_while_running_is_one_line_without_the_stores_text(
    s3_bucket: S3Bucket, action: str
) -> None:
    """The table was open when its bucket went: a `StorageError` (exit 4) of one line
    naming the cause, and nothing of the store's XML body."""
    target = lake(s3_bucket)
    started(target)
    commit(target, FIRST, batch(FIRST, 5), LOG)
    commit(target, SECOND, batch(SECOND, 5, first=10), LOG.with_committed(FIRST))
    table = target.table(TABLE)
    assert table.refresh()
    deleted(s3_bucket)
    actions = {
        "commit": lambda: commit(target, FIRST, batch(FIRST, 5), LOG),
        "reset": lambda: table.save(lambda current: LOG),
        "compact": lambda: compact_lake_table(table, before_ms=None, target_bytes=2**20),
        "vacuum": lambda: vacuum_lake_table(table, retention_ms=0),
    }

    with pytest.raises(StorageError) as failed:
        actions[action]()

    message = str(failed.value)
    assert (len(message.splitlines()), "<" in message, "bucket" in message) == (
        1,
        False,
        True,
    ), message
