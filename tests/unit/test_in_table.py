"""A checkpoint kept in a Delta table's commit metadata: carried, found again, merged."""

from __future__ import annotations

import json

import pytest

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.state import LogCheckpoint
from log_ingestion.state.in_table import (
    CHECKPOINT_KEY,
    RECENT_IN_TABLE,
    WINDOW_KEY,
    covers,
    from_entry,
    merged,
    newest,
    to_metadata,
)

HOUR = 3_600_000
BASE = LogCheckpoint("L1", "app", "app-0123456789", HOUR)


def windows(*hours: int) -> tuple[tuple[int, int], ...]:
    return tuple((hour * HOUR, (hour + 1) * HOUR) for hour in hours)


def with_windows(checkpoint: LogCheckpoint, *hours: int) -> LogCheckpoint:
    for hour in hours:
        checkpoint = checkpoint.with_committed(Window(hour * HOUR, (hour + 1) * HOUR))
    return checkpoint


def test_the_metadata_carries_the_checkpoint_and_the_window():
    """Both keys are strings (what delta-rs takes) and read back as they were."""
    checkpoint = with_windows(BASE, 0, 1)
    entry = to_metadata(checkpoint, Window(HOUR, 2 * HOUR))
    assert ("3600000-7200000", checkpoint) == (entry[WINDOW_KEY], from_entry(entry, "t"))


def test_the_metadata_keeps_only_the_newest_verifications():
    """Each commit stays a few KiB: RECENT_IN_TABLE verifications, totals over them."""
    checkpoint = BASE
    for hour in range(RECENT_IN_TABLE + 5):
        checkpoint = checkpoint.with_verification(Window(hour * HOUR, (hour + 1) * HOUR), 1, 1)
    found = from_entry(to_metadata(checkpoint), "t")
    assert found is not None
    assert found.verification["windows"] == RECENT_IN_TABLE


def test_a_commit_without_our_keys_carries_no_checkpoint():
    """Another writer's compaction and vacuum commits are passed over."""
    assert from_entry({"operation": "OPTIMIZE"}, "t") is None


def test_the_newest_entry_with_a_checkpoint_wins():
    """History entries come newest first; maintenance commits in between are skipped."""
    older, newer = with_windows(BASE, 0), with_windows(BASE, 0, 1)
    entries = [{"operation": "OPTIMIZE"}, to_metadata(newer), to_metadata(older)]
    assert newer == newest(entries, "t")


def test_a_maintenance_copy_counts_only_when_no_other_checkpoint_is_left():
    """A compaction that read the table before a window's commit landed after it: its copy
    misses that window, so the window's own commit below it wins. After the Delta log's
    cleanup left only copies, the newest copy is the checkpoint."""
    before, after = with_windows(BASE, 0), with_windows(BASE, 0, 1)
    stale_copy = to_metadata(before, carried=True)
    assert after == newest([stale_copy, to_metadata(after, Window(HOUR, 2 * HOUR))], "t")
    assert newest([stale_copy], "t") is None
    assert before == newest([{"operation": "OPTIMIZE"}, stale_copy], "t", copies=True)


def test_damaged_metadata_is_a_storage_error():
    """A checkpoint that is not JSON is reported, not taken for none."""
    with pytest.raises(StorageError, match="unreadable"):
        from_entry({CHECKPOINT_KEY: "{not json"}, "t")


def test_a_commit_covers_the_committed_windows_inside_its_range():
    """A window inside the range a commit of ours replaced, and committed by it, is covered."""
    entry = to_metadata(with_windows(BASE, 0, 1, 2, 3), Window(0, 4 * HOUR))
    assert [
        covers(entry, Window(HOUR, 2 * HOUR), "t"),
        covers(entry, Window(0, 5 * HOUR), "t"),
    ] == [
        True,
        False,
    ]


def test_a_commit_of_a_window_still_open_does_not_cover_it():
    """A unit's commit of the rows of a window so far, not committed, covers nothing."""
    entry = to_metadata(with_windows(BASE, 0), Window(HOUR, 2 * HOUR))
    assert covers(entry, Window(HOUR, 2 * HOUR), "t") is False


def test_merged_without_another_writer_is_ours():
    """The usual case: the table's checkpoint is ours minus this commit's window."""
    table = with_windows(BASE, 0)
    ours = with_windows(table, 1).with_verification(Window(HOUR, 2 * HOUR), 5, 5)
    assert ours == merged(table, ours, Window(HOUR, 2 * HOUR))


def test_merged_keeps_windows_another_writer_committed():
    """A worker that did not see hour 2 committed does not erase it."""
    table = with_windows(BASE, 0, 2)
    ours = with_windows(BASE, 0, 1)
    assert merged(table, ours, Window(HOUR, 2 * HOUR)).committed == ((0, 3 * HOUR),)


def test_merged_takes_nothing_of_ours_outside_the_window():
    """Windows a `state reset` forgot meanwhile stay forgotten unless this commit lands them."""
    table = with_windows(BASE, 1)  # hour 0 was reset
    ours = with_windows(BASE, 0, 1)
    assert windows(1) == merged(table, ours, Window(HOUR, 2 * HOUR)).committed


def test_merged_keeps_the_newer_parser_state():
    """A commit of an older window does not roll the table's parser state back."""
    table = with_windows(BASE, 0, 5).with_parser_state({"header": "new"})
    ours = with_windows(BASE, 1).with_parser_state({"header": "old"})
    assert merged(table, ours, Window(HOUR, 2 * HOUR)).parser_state == {"header": "new"}


def test_merged_adds_our_verifications_of_the_window():
    """The window's verification joins the table's."""
    table = BASE.with_verification(Window(0, HOUR), 1, 1)
    ours = BASE.with_verification(Window(HOUR, 2 * HOUR), 2, 3)
    result = merged(table, ours, Window(HOUR, 2 * HOUR))
    assert tuple(
        result.verification[key] for key in ("windows", "mismatches", "rows", "api_count")
    ) == (2, 1, 3, 4)


def test_the_document_is_compact_json():
    """No indentation: the checkpoint rides in every commit."""
    assert "\n" not in to_metadata(with_windows(BASE, 0))[CHECKPOINT_KEY]
    assert json.loads(to_metadata(BASE)[CHECKPOINT_KEY])["log_id"] == "L1"
