"""Locks between processes: one writer per output folder, one publish (or audit) per table."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink import ParquetSink, open_dataset

TABLE = "app-0123456789"
WINDOW = Window(1_704_103_200_000, 1_704_106_800_000)  # 2024-01-01T10:00Z, one hour
ROUNDS = 20


def rows(prefix: str, count: int = 50) -> pa.Table:
    step = (WINDOW.end_ms - WINDOW.start_ms) // count
    stamps = [WINDOW.start_ms + i * step for i in range(count)]
    return pa.table(
        {
            "timestamp": pa.array(stamps, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "sequence_number": pa.array(range(count), pa.uint64()),
            "message": pa.array([f"{prefix}{i}" for i in range(count)], pa.string()),
        }
    )


def test_a_second_process_on_the_output_is_refused(tmp_path: Path) -> None:
    """While one process holds the output folder another is refused at once, with a fix."""
    script = (
        "import sys\n"
        "from log_ingestion.sink import ParquetSink\n"
        "from log_ingestion.errors import StorageError\n"
        "try:\n"
        "    with ParquetSink(sys.argv[1]).exclusive():\n"
        "        print('acquired')\n"
        "except StorageError as exc:\n"
        "    print(exc)\n"
    )
    sink = ParquetSink(str(tmp_path))
    with sink.exclusive():
        other = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    again = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert "another log-ingestion process is writing OUTPUT_DIR" in other.stdout
    assert "Stop it first, or give this run its own OUTPUT_DIR" in other.stdout
    assert again.stdout == "acquired\n"  # released with the block


def test_two_publishers_of_one_window_keep_one_set_of_files(tmp_path: Path) -> None:
    """Two sinks (each its own lock file handle, as two processes have) publish the same
    window at the same moment, twenty times: one set of rows remains each time."""
    first, second = ParquetSink(str(tmp_path)), ParquetSink(str(tmp_path))
    kept = []
    for number in range(ROUNDS):
        writers = [sink.stage(TABLE) for sink in (first, second)]
        for side, writer in zip("ab", writers, strict=True):
            writer.write(rows(f"{side}{number}-"))
        start = threading.Barrier(2)

        def commit(writer: object, start: threading.Barrier = start) -> None:
            start.wait()
            writer.commit(WINDOW)  # type: ignore[attr-defined]

        threads = [threading.Thread(target=commit, args=(writer,)) for writer in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        messages = open_dataset(str(tmp_path / TABLE)).to_table().column("message").to_pylist()
        kept.append((len(messages), len({message.split("-")[0] for message in messages})))

    expected = [(50, 1)] * ROUNDS  # each round: its 50 rows, of one publisher
    assert expected == kept


def test_a_table_lock_waits_for_the_other_holder(tmp_path: Path) -> None:
    """A second holder of a table's lock waits until the first lets go."""
    first, second = ParquetSink(str(tmp_path)), ParquetSink(str(tmp_path))
    order: list[str] = []
    entered = threading.Event()

    def other() -> None:
        entered.wait()
        with second.lock(TABLE):
            order.append("second")

    thread = threading.Thread(target=other)
    thread.start()
    with first.lock(TABLE):
        entered.set()
        thread.join(timeout=0.3)  # it cannot get in while the first holds the table
        order.append("first")
    thread.join(timeout=10)

    expected = ["first", "second"]
    assert expected == order


def test_a_file_standing_where_the_output_is_refuses_the_lock(tmp_path: Path) -> None:
    """OUTPUT_DIR pointing at a file: a storage error that names it, not a lock error."""
    (tmp_path / "out").write_text("a file")

    with (
        pytest.raises(StorageError, match="is a file"),
        ParquetSink(str(tmp_path / "out")).exclusive(),
    ):
        pass
