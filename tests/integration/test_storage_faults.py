"""Storage faults end to end: the run fails with exit 4 and a clear message, the checkpoint
does not move past what is published, nothing half-written is visible, and the next run
after the fault is gone completes the range exactly once.

Tests run as root, so permissions cannot fail a write: faults are injected in-process
(ENOSPC from a Parquet write, a checkpoint save or a publish rename) or staged (an
`OUTPUT_DIR` that is a file).
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from log_ingestion.cli import app
from log_ingestion.emulator import Dataset, Emulator
from log_ingestion.sink import files, parquet_dir
from log_ingestion.sink.storage import Storage, storage_error
from log_ingestion.state import JsonCheckpointStore, LogCheckpoint, json_files

from ..slow.harness import compare, ingest_env, landed, leftovers, run_to_end, truth

EmulatorFactory = Callable[..., Emulator]


def dataset() -> Dataset:
    """An hour of 2,000 events per 5-minute window: with row groups of 1,000 rows each
    window is a commit of its own (a unit closes past a row group), so a fault can strike
    in the middle of a backfill."""
    return Dataset(seed=5, events_per_log=24_000, span_ms=3_600_000)


def disk_full() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


def fail_once_after(calls: int, error: Exception) -> Callable[[Callable[..., Any]], Any]:
    """Wrap a function so its call number `calls + 1` raises `error`, once."""
    seen = {"calls": 0}

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            seen["calls"] += 1
            if seen["calls"] == calls + 1:
                raise error
            return function(*args, **kwargs)

        return wrapped

    return wrap


@pytest.fixture
def cli_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[dict[str, str], tuple[str, ...]], tuple[int, str]]:
    """`log-ingestion run ARGS` in this process (so faults can be patched in): (code, output)."""
    monkeypatch.chdir(tmp_path)

    def invoke(env: dict[str, str], args: tuple[str, ...]) -> tuple[int, str]:
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            result = CliRunner().invoke(app, ["run", *args])
        return result.exit_code, f"{result.output}\n{result.exception!r}"

    return invoke


@pytest.mark.parametrize(
    ("target", "name", "after", "error", "message"),
    [
        (files._ParquetTemp, "write", 5, disk_full(), "disk is full"),
        (json_files, "_write_synced", 5, disk_full(), "disk is full"),
        # Storage.move translates OSError itself; the wrapper stands for a failed rename.
        (
            Storage,
            "move",
            5,
            storage_error(OSError(errno.EIO, "I/O error"), "rename", "x"),
            "rolled back",
        ),
    ],
    ids=["parquet-write-enospc", "checkpoint-save-enospc", "publish-rename-fails"],
)
def test_a_storage_fault_exits_4_keeps_the_checkpoint_and_the_next_run_completes(
    make_emulator: EmulatorFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli_run: Callable[[dict[str, str], tuple[str, ...]], tuple[int, str]],
    target: object,
    name: str,
    after: int,
    error: Exception,
    message: str,
) -> None:
    """Fault in the middle of a backfill of one log, then a clean run: exactly once."""
    data = dataset()
    emulator = make_emulator(data)
    log_id = data.log_id("app-kv")
    output = tmp_path / "out"
    env = ingest_env(
        emulator.url, output, window_size="5m", rapid7_log_ids=log_id, row_group_rows="1000"
    )
    span = ("--from", str(data.start_ms), "--to", str(data.end_ms))
    store = JsonCheckpointStore(output / "_state")
    original = getattr(target, name)
    monkeypatch.setattr(target, name, fail_once_after(after, error)(original))

    code, text = cli_run(env, span)
    committed = store.load(log_id).committed
    seen = landed(output)
    visible_leftovers = [path for path in leftovers(output) if "_staging" not in path.parts]
    monkeypatch.setattr(target, name, original)
    resumed = run_to_end(tmp_path, env, *span)

    assert code == 4, text
    assert message in text
    assert len(committed) == 1
    assert committed[0][0] == data.start_ms
    assert committed[0][1] < data.end_ms
    assert set(truth(data, [log_id], *committed[0])) <= set(seen)  # committed means published
    assert visible_leftovers == []
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = truth(data, [log_id], data.start_ms, data.end_ms)
    assert compare(expected, landed(output)) == {"missing": 0, "duplicated": 0, "unexpected": 0}
    assert leftovers(output) == []


def test_an_output_dir_that_is_a_file_exits_4_and_touches_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    """OUTPUT_DIR naming a file: exit 4 with the fix in the message; the file is intact."""
    output = tmp_path / "out"
    output.write_bytes(b"not a folder")
    env = ingest_env(emulator.url, output, window_size="15m")
    data = emulator.dataset

    result = run_to_end(tmp_path, env, "--from", str(data.start_ms), "--to", str(data.end_ms))

    assert result.returncode == 4, result.stderr[-2000:]
    assert "is a file" in result.stderr
    assert "Traceback" not in result.stderr
    assert output.read_bytes() == b"not a folder"
    output.unlink()
    fixed = run_to_end(tmp_path, env, "--from", str(data.start_ms), "--to", str(data.end_ms))
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    expected = truth(data, data.logs, data.start_ms, data.end_ms)
    assert compare(expected, landed(output)) == {"missing": 0, "duplicated": 0, "unexpected": 0}


def save_after(
    barrier: threading.Barrier, store: JsonCheckpointStore, log_id: str, errors: list[BaseException]
) -> None:
    barrier.wait(timeout=5)
    try:
        store.save(LogCheckpoint(log_id=log_id))
    except BaseException as exc:
        errors.append(exc)


def test_logs_saving_their_first_checkpoints_at_once_all_succeed(tmp_path: Path) -> None:
    """Threads creating a missing state directory together: none fails with "File exists"."""
    for attempt in range(20):
        store = JsonCheckpointStore(tmp_path / f"state-{attempt}" / "nested")
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=save_after, args=(barrier, store, f"log-{n}", errors))
            for n in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

        assert errors == []
        assert len(store.list()) == 8


def test_a_failed_publish_leaves_the_window_downloaded_behind_it_unpublished(
    make_emulator: EmulatorFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli_run: Callable[[dict[str, str], tuple[str, ...]], tuple[int, str]],
) -> None:
    """Window 2's publish fails while window 3 is downloaded: window 1 stays committed,
    window 3's temp files are removed, nothing of 2 or 3 is visible, and a rerun lands
    the range exactly once."""
    # 2,000 events a window and row groups of 1,000: windows write temp files as they
    # download, before their publish
    data = Dataset(seed=5, events_per_log=8_000, span_ms=1_200_000)
    emulator = make_emulator(data)
    log_id = data.log_id("app-kv")
    output = tmp_path / "out"
    env = ingest_env(
        emulator.url, output, window_size="5m", rapid7_log_ids=log_id, row_group_rows="1000"
    )
    span = ("--from", str(data.start_ms), "--to", str(data.end_ms))
    first_window = (data.start_ms, data.start_ms + 300_000)
    original = parquet_dir.WindowWriter.commit
    fault = storage_error(disk_full(), "publish", "x")
    monkeypatch.setattr(parquet_dir.WindowWriter, "commit", fail_once_after(1, fault)(original))

    code, text = cli_run(env, span)
    committed = JsonCheckpointStore(output / "_state").load(log_id).committed
    seen = landed(output)
    temps = leftovers(output)
    monkeypatch.setattr(parquet_dir.WindowWriter, "commit", original)
    resumed = run_to_end(tmp_path, env, *span)

    assert code == 4, text
    assert "disk is full" in text
    assert list(committed) == [first_window]
    assert seen == truth(data, [log_id], *first_window)
    assert temps == []
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = truth(data, [log_id], data.start_ms, data.end_ms)
    assert compare(expected, landed(output)) == {"missing": 0, "duplicated": 0, "unexpected": 0}
