"""Compaction of the Parquet folder: a partition's files merged, with every row once."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink import ParquetSink, open_dataset
from log_ingestion.sink.compact import compact_table
from log_ingestion.sink.storage import Storage

from .test_sink import (
    ACROSS_MIDNIGHT,
    TABLE,
    WINDOW,
    FullDisk,
    batch,
    crash_after_first_rename,
    messages,
    publish,
    published,
    spread,
    staged,
)


@pytest.fixture
def sink(tmp_path: Path) -> ParquetSink:
    return ParquetSink(str(tmp_path), row_group_rows=4)


def halves(window: Window) -> tuple[Window, Window]:
    middle = (window.start_ms + window.end_ms) // 2
    return Window(window.start_ms, middle), Window(middle, window.end_ms)


def test_compaction_finishes_an_interrupted_publish_before_merging(
    tmp_path: Path, sink: ParquetSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal left by a crashed publisher is carried out first: the old rows it replaces
    are not merged into the new file beside the new ones."""
    publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 2), prefix="old"))
    crash_after_first_rename(sink, monkeypatch)

    compact_table(ParquetSink(str(tmp_path)), TABLE)

    assert [name[:3] for name in messages(tmp_path)] == ["new"] * 8
    assert staged(tmp_path) == []


def test_integers_a_double_would_round_stay_exact_when_merged_with_floats(
    tmp_path: Path, sink: ParquetSink
) -> None:
    """A file's 2^53+1 merged with another file's floats becomes exact text, not a double."""
    first, second = halves(WINDOW)
    publish(sink, first, batch([first.start_ms], x=pa.array([2**53 + 1], pa.int64())))
    publish(sink, second, batch([second.start_ms], x=pa.array([1.5], pa.float64())))

    compact_table(sink, TABLE)

    merged = open_dataset(str(tmp_path / TABLE)).to_table().sort_by("timestamp")
    assert (pa.string(), ["9007199254740993", "1.5"]) == (
        merged.schema.field("x").type,
        merged.column("x").to_pylist(),
    )
    assert len(published(tmp_path)) == 1


def test_a_merge_that_fails_leaves_no_temp_and_no_file_open(
    tmp_path: Path, sink: ParquetSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk full while the merged file is written: a storage error, the temps removed,
    the merged file's stream closed, and the partition's files and rows as they were."""
    first, second = halves(WINDOW)
    publish(sink, first, batch(spread(first, 3), prefix="a"))
    publish(sink, second, batch(spread(second, 3), prefix="b"))
    before = published(tmp_path)
    opened: list[FullDisk] = []
    original_open = Storage.open_output

    def open_on_full_disk(storage: Storage, path: str) -> pa.NativeFile:
        original_open(storage, path).close()
        opened.append(FullDisk())
        return pa.PythonFile(opened[-1], mode="w")

    monkeypatch.setattr(Storage, "open_output", open_on_full_disk)
    with pytest.raises(StorageError, match="disk is full"):
        compact_table(sink, TABLE)

    assert (staged(tmp_path), [disk.closed for disk in opened]) == ([], [True])
    assert (published(tmp_path), len(messages(tmp_path))) == (before, 6)
