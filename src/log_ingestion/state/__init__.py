"""Where each log's checkpoint is kept: the `CheckpointStore` seam and its JSON files."""

from __future__ import annotations

from typing import Protocol

from log_ingestion.state.checkpoint import LogCheckpoint, merge_intervals
from log_ingestion.state.json_files import JsonCheckpointStore


class CheckpointStore(Protocol):
    """Loads and lists checkpoints; saves the ones that move without rows (a log's start,
    and a reset: `rewind`).

    A window's checkpoint is saved by the sink's commit, with its rows (see `sink.Sink`).
    """

    def load(self, log_id: str) -> LogCheckpoint: ...

    def save(self, checkpoint: LogCheckpoint) -> LogCheckpoint: ...

    def rewind(self, log_id: str, from_ms: int) -> LogCheckpoint: ...

    def list(self) -> list[LogCheckpoint]: ...


__all__ = ["CheckpointStore", "JsonCheckpointStore", "LogCheckpoint", "merge_intervals"]
