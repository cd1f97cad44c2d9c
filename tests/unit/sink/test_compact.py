"""Compaction of the Parquet folder: a partition's files merged, with every row once."""

from __future__ import annotations

from pathlib import Path

import pytest

from log_ingestion.sink import ParquetSink
from log_ingestion.sink.compact import compact_table
from log_ingestion.sink.storage import Storage

from .test_sink import ACROSS_MIDNIGHT, TABLE, Crash, batch, messages, publish, spread, staged


@pytest.fixture
def sink(tmp_path: Path) -> ParquetSink:
    return ParquetSink(str(tmp_path), row_group_rows=4)


def crash_after_first_rename(sink: ParquetSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """Publish new rows over old ones and die after the first temp is renamed into place,
    leaving the journal behind: one partition holds the old and new files side by side."""
    original_move = Storage.move
    renamed: list[str] = []

    def die_on_second_rename(storage: Storage, source: str, target: str) -> None:
        if target.endswith(".parquet") and renamed:
            raise Crash("died after the first rename")
        renamed.extend([target] if target.endswith(".parquet") else [])
        original_move(storage, source, target)

    monkeypatch.setattr(Storage, "move", die_on_second_rename)
    with pytest.raises(Crash):
        publish(sink, ACROSS_MIDNIGHT, batch(spread(ACROSS_MIDNIGHT, 8), prefix="new"))
    monkeypatch.setattr(Storage, "move", original_move)


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
