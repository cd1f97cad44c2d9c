"""`log-ingestion compact`: a table of many small files becomes few, with the same rows,
read alike by every reader, also while an ingest publishes into it."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pyarrow as pa
import pytest
from tests.integration.conftest import Harness, HarnessFactory, small

from log_ingestion.models import Window
from log_ingestion.sink import ParquetSink
from log_ingestion.sink.compact import compact_table
from log_ingestion.sink.naming import DAY_MS, table_dir_name
from log_ingestion.state import LogCheckpoint
from log_ingestion.wiring import build_sink

from ..slow.harness import landed, published_files

LOG = "app-kv"
HOUR = 3_600_000


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    """1,200 events per 10-minute window: past a row group of 1,000 rows, each window is a
    commit (and a file) of its own."""
    return make_harness(small(events_per_log=7_200))


def ten_minute_windows(harness: Harness) -> None:
    """An hour of the log in 10-minute windows, each its own commit and file."""
    summary = harness.ingest(
        rapid7_log_ids=[LOG], window_size="10m", query_events=500, row_group_rows=1000
    )
    assert summary.failed == []


def test_compact_makes_at_least_five_times_fewer_files_with_the_same_rows(harness: Harness) -> None:
    """Six files of 10-minute windows become one; pyarrow and DuckDB read the same rows."""
    ten_minute_windows(harness)
    before = published_files(harness.output)
    rows_before = landed(harness.output)

    result = harness.cli("compact", "--log", LOG)

    assert result.returncode == 0, result.stderr
    after = published_files(harness.output)
    assert len(before) >= 5 * len(after)
    assert landed(harness.output) == rows_before
    assert harness.landed(LOG) == harness.truth(LOG) == harness.landed_duckdb(LOG)


def test_a_window_ingested_again_after_compaction_replaces_only_its_rows(harness: Harness) -> None:
    """A rescan of one window inside a merged file: its rows replaced, the others kept."""
    ten_minute_windows(harness)
    assert harness.cli("compact").returncode == 0
    second = harness.start_ms + 600_000
    harness.ingest(second, second + 600_000, rescan=True, rapid7_log_ids=[LOG], window_size="10m")
    assert harness.landed(LOG) == harness.truth(LOG)


def test_compaction_beside_an_ingest_loses_nothing(harness: Harness) -> None:
    """Compaction of the first half while the second half is ingested: every event once."""
    half = harness.start_ms + 1_800_000
    harness.ingest(
        harness.start_ms,
        half,
        rapid7_log_ids=[LOG],
        window_size="10m",
        query_events=500,
        row_group_rows=1000,
    )
    sink = ParquetSink(str(harness.output))
    table = table_dir_name(LOG, harness.dataset.log_id(LOG))
    compacting = threading.Thread(target=lambda: [compact_table(sink, table) for _ in range(5)])
    compacting.start()
    harness.ingest(
        half,
        harness.end_ms,
        rapid7_log_ids=[LOG],
        window_size="10m",
        query_events=500,
        row_group_rows=1000,
    )
    compacting.join(timeout=60)
    assert harness.landed(LOG) == harness.truth(LOG)


def test_a_retention_below_a_day_needs_force(harness: Harness) -> None:
    """`--vacuum --retention 1h` is refused: a long query may still read those files."""
    result = harness.cli("compact", "--vacuum", "--retention", "1h")
    assert (result.returncode, "--retention: less than 1d" in result.stderr) == (2, True)


def test_a_retention_that_is_no_duration_is_one_line(harness: Harness) -> None:
    """`--retention banana`: exit 2 and one line naming the option, no traceback."""
    result = harness.cli("compact", "--vacuum", "--retention", "banana")
    assert (result.returncode, "--retention: 'banana' not a duration" in result.stderr) == (2, True)
    assert "Traceback" not in result.stderr


def test_compact_leaves_todays_partition_alone_by_default(harness: Harness) -> None:
    """Without `--before`, the partitions before today's UTC date are merged and today's,
    which a follow service is still writing, keeps its files."""
    sink, store = build_sink(harness.settings())
    assert isinstance(sink, ParquetSink)
    table = table_dir_name(LOG, "L1")
    today = time.time_ns() // 1_000_000 // DAY_MS * DAY_MS
    for start in (today - 2 * HOUR, today - HOUR, today, today + HOUR):
        writer = sink.stage(table)
        writer.write(event_rows(start))
        writer.commit(Window(start, start + HOUR))
    store.save(LogCheckpoint("L1", LOG, table, HOUR))

    result = harness.cli("compact")

    assert result.returncode == 0, result.stderr
    partitions = Counter(path.parent.name for path in published_files(harness.output))
    assert partitions == {f"date={iso_date(today - DAY_MS)}": 1, f"date={iso_date(today)}": 2}


def event_rows(start_ms: int) -> pa.Table:
    """Two pipeline-shaped events at the start of an hour."""
    return pa.table(
        {
            "timestamp": pa.array([start_ms, start_ms + 1], pa.timestamp("ms", tz="UTC")),
            "sequence_number": pa.array([start_ms, start_ms + 1], pa.uint64()),
            "log_id": ["L1", "L1"],
            "log_name": [LOG, LOG],
            "labels": pa.array([[], []], pa.list_(pa.string())),
            "message": ["a", "b"],
            "_parse_error": pa.nulls(2, pa.string()),
            "_format": ["text", "text"],
        }
    )


def iso_date(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).date().isoformat()
