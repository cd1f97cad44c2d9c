"""Checkpoints: committed intervals, gaps, verification, and atomic files."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.parse import MessageParser
from log_ingestion.state import JsonCheckpointStore, LogCheckpoint, merge_intervals

HOUR = 3_600_000


def windows(*hours: int) -> list[Window]:
    return [Window(hour * HOUR, (hour + 1) * HOUR) for hour in hours]


def committed(*hours: int) -> LogCheckpoint:
    checkpoint = LogCheckpoint(log_id="L")
    for window in windows(*hours):
        checkpoint = checkpoint.with_committed(window)
    return checkpoint


def test_touching_windows_merge_into_one_interval():
    """Hours 1, 2 and 3 are one interval; 5 stands apart."""
    assert committed(3, 1, 5, 2).committed == ((HOUR, 4 * HOUR), (5 * HOUR, 6 * HOUR))


def test_committing_twice_changes_nothing():
    """Re-committing a window (a rescan) keeps the intervals as they were."""
    assert committed(1, 2).with_committed(windows(1)[0]) == committed(1, 2)


def test_is_committed_needs_the_whole_window():
    """A window half inside an interval is not committed."""
    checkpoint = committed(1, 2)
    assert checkpoint.is_committed(Window(HOUR, 3 * HOUR))
    assert not checkpoint.is_committed(Window(2 * HOUR, 4 * HOUR))


def test_missing_lists_the_gaps_in_order():
    """Gaps before, between and after the committed intervals."""
    gaps = committed(1, 3).missing(0, 5 * HOUR)
    assert gaps == [Window(0, HOUR), Window(2 * HOUR, 3 * HOUR), Window(4 * HOUR, 5 * HOUR)]


def test_missing_of_a_covered_range_is_empty():
    """Nothing to do when everything is committed."""
    assert committed(1, 2, 3).missing(HOUR + 5, 4 * HOUR) == []


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(1, 10))),
    st.integers(0, 60),
    st.integers(1, 60),
)
def test_missing_and_committed_partition_the_range(
    spans: list[tuple[int, int]], start: int, length: int
):
    """Every millisecond of the range is either committed or in exactly one gap."""
    checkpoint = LogCheckpoint(log_id="L")
    for begin, size in spans:
        checkpoint = checkpoint.with_committed(Window(begin, begin + size))
    gaps = checkpoint.missing(start, start + length)
    for point in range(start, start + length):
        in_gaps = sum(gap.contains(point) for gap in gaps)
        is_committed = any(a <= point < b for a, b in checkpoint.committed)
        assert in_gaps + is_committed == 1


def test_merge_drops_empty_intervals():
    """An empty interval adds nothing."""
    assert merge_intervals([(5, 5), (1, 2)]) == ((1, 2),)


def test_without_forgets_those_windows_alone():
    """A repair's windows leave the committed intervals; what lies around them stays."""
    checkpoint = LogCheckpoint(log_id="L", committed=((0, 4 * HOUR), (5 * HOUR, 6 * HOUR)))

    kept = checkpoint.without([Window(HOUR, 2 * HOUR), Window(5 * HOUR, 6 * HOUR)])

    assert kept.committed == ((0, HOUR), (2 * HOUR, 4 * HOUR))
    assert checkpoint.without([]).committed == checkpoint.committed


def test_rewound_forgets_from_a_time_on():
    """Rewinding into an interval cuts it; later intervals go; table and grid stay."""
    checkpoint = committed(1, 2, 3, 5)
    checkpoint = LogCheckpoint(**{**_fields(checkpoint), "table": "t-1", "window_ms": HOUR})
    rewound = checkpoint.rewound(2 * HOUR + 10)
    assert rewound.committed == ((HOUR, 2 * HOUR + 10),)
    assert (rewound.table, rewound.window_ms) == ("t-1", HOUR)
    assert checkpoint.rewound(0).committed == ()


def _fields(checkpoint: LogCheckpoint) -> dict[str, object]:
    return {name: getattr(checkpoint, name) for name in LogCheckpoint.__dataclass_fields__}


def test_verification_keeps_totals_and_replaces_a_rechecked_window():
    """A rescan that fixes a mismatch clears it from the totals."""
    window = windows(1)[0]
    checkpoint = LogCheckpoint(log_id="L").with_verification(window, rows=9, api_count=10)
    assert (checkpoint.verification["windows"], checkpoint.verification["mismatches"]) == (1, 1)
    checkpoint = checkpoint.with_verification(window, rows=10, api_count=10)
    assert (checkpoint.verification["windows"], checkpoint.verification["mismatches"]) == (1, 0)
    assert checkpoint.verification["recent"][0]["ok"] is True


def test_verification_is_bounded():
    """Only the last 1000 windows are kept."""
    checkpoint = LogCheckpoint(log_id="L")
    for window in windows(*range(1005)):
        checkpoint = checkpoint.with_verification(window, rows=1, api_count=1)
    assert checkpoint.verification["windows"] == 1000
    assert checkpoint.verification["recent"][0]["start_ms"] == 5 * HOUR


def test_load_of_an_unknown_log_is_empty(tmp_path: Path):
    """A log never ingested has an empty checkpoint."""
    assert JsonCheckpointStore(tmp_path / "state").load("new") == LogCheckpoint(log_id="new")


def test_save_then_load_round_trips(tmp_path: Path):
    """Everything saved is loaded back, with the time it was saved."""
    store = JsonCheckpointStore(tmp_path / "state", clock=lambda: 0.5)
    parser = MessageParser()
    parser.parse(["a,b", "1,x"])
    checkpoint = committed(1, 2).with_parser_state(parser.state())
    checkpoint = checkpoint.with_verification(windows(1)[0], rows=1, api_count=2)
    saved = store.save(checkpoint)
    assert saved.updated_at == "1970-01-01T00:00:00.500+00:00"
    assert store.load("L") == saved


def test_list_returns_every_log_and_ignores_temps(tmp_path: Path):
    """Checkpoints are listed by log name; a stale temp file is not a checkpoint."""
    store = JsonCheckpointStore(tmp_path)
    store.save(LogCheckpoint(log_id="2", log_name="b"))
    store.save(LogCheckpoint(log_id="1", log_name="a"))
    (tmp_path / "junk.json.tmp").write_text("{")
    assert [checkpoint.log_name for checkpoint in store.list()] == ["a", "b"]


def test_file_names_are_safe_for_any_log_id(tmp_path: Path):
    """A hostile log id still names a file inside the state directory."""
    store = JsonCheckpointStore(tmp_path)
    store.save(LogCheckpoint(log_id="../../etc/passwd"))
    assert [path.parent for path in tmp_path.rglob("*.json")] == [tmp_path]
    assert store.load("../../etc/passwd").log_id == "../../etc/passwd"


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A crash before the rename leaves the previous checkpoint whole."""
    store = JsonCheckpointStore(tmp_path)
    store.save(committed(1))

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(StorageError, match="disk is full"):
        store.save(committed(1, 2))
    assert store.load("L").committed == committed(1).committed
    assert [path.name for path in tmp_path.iterdir()] == [store.path("L").name]


def test_state_root_that_is_a_file_is_a_storage_error(tmp_path: Path):
    """A file where the state directory should be is reported, not a traceback."""
    (tmp_path / "state").write_text("x")
    with pytest.raises(StorageError, match="state"):
        JsonCheckpointStore(tmp_path / "state").save(committed(1))


def test_files_are_not_world_readable(tmp_path: Path):
    """The state directory and files carry no bits for others."""
    previous = os.umask(0o002)
    try:
        store = JsonCheckpointStore(tmp_path / "state")
        store.save(committed(1))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o750
    assert stat.S_IMODE(store.path("L").stat().st_mode) == 0o640


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{",
        "[]",
        '{"format": 99}',
        '{"format": 1, "log_id": "L"}',
        '{"format": 1, "log_id": 5, "log_name": "", "table": "", "window_ms": 0, "committed": [], '
        '"parser_state": {}, "verification": {}, "updated_at": ""}',
        '{"format": 1, "log_id": "L", "log_name": "", "table": "", "window_ms": true, "committed": [], '
        '"parser_state": {}, "verification": {}, "updated_at": ""}',
        '{"format": 1, "log_id": "L", "log_name": "", "table": "", "window_ms": 0, "committed": [[1]], '
        '"parser_state": {}, "verification": {}, "updated_at": ""}',
        '{"format": 1, "log_id": "L", "log_name": "", "table": "../../etc", "window_ms": 0, '
        '"committed": [], "parser_state": {}, "verification": {}, "updated_at": ""}',
        '{"format": 1, "log_id": "L", "log_name": "", "table": "", "window_ms": 0, "committed": [], '
        '"parser_state": {"version": 99}, "verification": {}, "updated_at": ""}',
        '{"format": 1, "log_id": "L", "log_name": "", "table": "", "window_ms": 0, "committed": [], '
        '"parser_state": {"garbage": true}, "verification": {}, "updated_at": ""}',
    ],
    ids=[
        "empty",
        "cut-short",
        "a-list",
        "unknown-format",
        "fields-missing",
        "log-id-not-text",
        "window-a-bool",
        "interval-of-one",
        "table-outside-output",
        "parser-state-of-another-version",
        "parser-state-garbage",
    ],
)
def test_corrupt_file_is_a_clear_storage_error(tmp_path: Path, content: str):
    """A damaged checkpoint names its file and what to do."""
    store = JsonCheckpointStore(tmp_path)
    store.path("L").write_text(content)
    with pytest.raises(StorageError, match=r"checkpoint .* is unreadable .* move it away"):
        store.load("L")


def test_checkpoint_of_another_log_is_refused(tmp_path: Path):
    """A file renamed by hand to another log's name is not trusted."""
    store = JsonCheckpointStore(tmp_path)
    store.save(LogCheckpoint(log_id="A"))
    store.path("A").rename(store.path("B"))
    with pytest.raises(StorageError, match="belongs to log 'A'"):
        store.load("B")


def test_file_is_plain_json(tmp_path: Path):
    """People and tools can read the file."""
    store = JsonCheckpointStore(tmp_path)
    store.save(committed(1))
    document = json.loads(store.path("L").read_text())
    assert document["committed"] == [[HOUR, 2 * HOUR]]


def test_a_second_holder_of_the_state_lock_is_refused(tmp_path):
    """Two processes on one output would undo each other's work: the second is told so."""
    store = JsonCheckpointStore(str(tmp_path / "_state"))
    script = (
        "import sys\n"
        "from log_ingestion.state import JsonCheckpointStore\n"
        "from log_ingestion.errors import StorageError\n"
        "try:\n"
        "    with JsonCheckpointStore(sys.argv[1]).exclusive():\n"
        "        print('acquired')\n"
        "except StorageError as exc:\n"
        "    print(exc)\n"
    )
    with store.exclusive():
        other = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "_state")],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    assert "another log-ingestion process is using" in other.stdout
    with store.exclusive():
        pass  # released: the same store can take it again
