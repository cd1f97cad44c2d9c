"""A log's checkpoint kept in its Delta table: carried by the commit metadata of the commit
that makes its rows visible, found again by reading the history back to it.

Every commit of ours carries two keys of custom commit metadata (they show at the top level
of `DeltaTable.history()` entries):

    log_ingestion.checkpoint   the whole checkpoint document (`checkpoint.to_document`),
                               its verifications bounded to the newest RECENT_IN_TABLE
    log_ingestion.window       `<start_ms>-<end_ms>`: the range the commit replaced

    log_ingestion.carried      on a maintenance commit (compaction, vacuum): its checkpoint
                               is a copy, as the maintenance read it

Commits without them (other writers) are passed over: the checkpoint is the one of the
newest commit that has it. Two workers committing to one table merge: the table's newest
checkpoint, plus what this commit adds (`merged`); their commits conflict through the log's
application transaction.

A maintenance commit carries a copy so that the checkpoint outlives the Delta log's own
cleanup of old commits (30 days by default) on a log that is quiet that long. A compaction's
commit need not conflict with a window committed meanwhile (delta-rs' optimize drops the
application transaction it is given; only a file both rewrote makes them conflict), so the
copy may be older than that window's commit: a copy counts only when no commit of ours
without the mark is left in the history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from log_ingestion.models import Window
from log_ingestion.state.checkpoint import (
    Interval,
    LogCheckpoint,
    corrupt,
    from_document,
    merge_intervals,
    to_document,
)

CHECKPOINT_KEY = "log_ingestion.checkpoint"
WINDOW_KEY = "log_ingestion.window"
CARRIED_KEY = "log_ingestion.carried"
APP_PREFIX = "log-ingestion:"
RECENT_IN_TABLE = 100  # verifications kept in each commit: a commit stays a few KiB


def app_id(log_id: str) -> str:
    """The application id of a log's commits: two commits of it always conflict."""
    return f"{APP_PREFIX}{log_id}"


def to_metadata(
    checkpoint: LogCheckpoint, window: Window | None = None, *, carried: bool = False
) -> dict[str, str]:
    """The custom commit metadata that carries `checkpoint` (and the range replaced), or
    with `carried` a copy of it on a maintenance commit."""
    document = to_document(checkpoint.with_recent_limit(RECENT_IN_TABLE))
    metadata = {CHECKPOINT_KEY: json.dumps(document, separators=(",", ":"), sort_keys=True)}
    if window is not None:
        metadata[WINDOW_KEY] = f"{window.start_ms}-{window.end_ms}"
    if carried:
        metadata[CARRIED_KEY] = "true"
    return metadata


def from_entry(entry: Mapping[str, Any], where: str) -> LogCheckpoint | None:
    """The checkpoint a history entry carries; None for a commit that is not ours."""
    text = entry.get(CHECKPOINT_KEY)
    if text is None:
        return None
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise corrupt(where, f"commit metadata: {exc}") from exc
    if not isinstance(document, dict):
        raise corrupt(where, "commit metadata: not a checkpoint of a known format")
    return from_document(document, where)


def newest(
    entries: Iterable[Mapping[str, Any]], where: str, *, copies: bool = False
) -> LogCheckpoint | None:
    """The checkpoint of the newest entry that has one (entries newest first), passing over
    the copies maintenance commits carry unless `copies` (none other is left)."""
    for entry in entries:
        if copies or entry.get(CARRIED_KEY) is None:
            found = from_entry(entry, where)
            if found is not None:
                return found
    return None


def covers(entry: Mapping[str, Any], window: Window, where: str) -> bool:
    """Whether a history entry is a commit of ours that replaced all of `window` and whose
    checkpoint says it is committed. A unit whose window is still open commits the rows it
    has so far without that: a writer with the whole window must not skip its own commit."""
    text = entry.get(WINDOW_KEY)
    if not isinstance(text, str):
        return False
    start, _, end = text.partition("-")
    try:
        replaced = int(start) <= window.start_ms and window.end_ms <= int(end)
    except ValueError:
        return False
    checkpoint = from_entry(entry, where) if replaced else None
    return checkpoint is not None and checkpoint.is_committed(window)


def merged(table: LogCheckpoint | None, ours: LogCheckpoint, window: Window) -> LogCheckpoint:
    """The checkpoint a commit of `window` leaves: the table's newest, plus what `ours`
    says of `window` (its committed windows and verifications there), and ours' parser
    state unless the table's reaches further.

    Without another writer this is `ours` itself; with one, neither erases the other's
    windows, and a window the table forgot (a `state reset` meanwhile) stays forgotten
    unless this commit lands it again.
    """
    if table is None:
        return ours
    inside = [_clipped(interval, window) for interval in ours.committed]
    result = replace(
        table,
        log_name=table.log_name or ours.log_name,
        committed=merge_intervals([*table.committed, *inside]),
    )
    for entry in ours.verification.get("recent", []):
        checked = Window(entry["start_ms"], entry["end_ms"])
        if window.start_ms <= checked.start_ms and checked.end_ms <= window.end_ms:
            result = result.with_verification(checked, entry["rows"], entry["api_count"])
    if ours.committed_end_ms >= table.committed_end_ms:
        result = result.with_parser_state(ours.parser_state)
    return result


def _clipped(interval: Interval, window: Window) -> Interval:
    start, end = interval
    return max(start, window.start_ms), min(end, window.end_ms)
