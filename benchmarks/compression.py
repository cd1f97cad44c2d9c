"""6. Compression: Parquet bytes against the raw CSV message bytes and the raw API JSON bytes.

The offline recording (one-hour windows, one file per window and day) goes through the
pipeline once per codec. The output keeps the raw `message` column next to the parsed
columns, as the pipeline always does; "raw CSV bytes" is the UTF-8 size of the messages
and "raw JSON bytes" the size of the API response bodies that carried them.

The `message` column's own compressed bytes (from the files' metadata) bound what any
layout could reach with a codec while the raw message is kept: the files can be no
smaller than that column.
"""

from __future__ import annotations

import pyarrow.parquet as pq

from benchmarks import offline
from benchmarks.common import (
    RecordedClient,
    Row,
    Sizes,
    at_least,
    parquet_files,
    run_pipeline,
    scratch_dir,
)

TARGETS = {"zstd": 80.0, "snappy": 70.0}


def run(sizes: Sizes) -> list[Row]:
    rec = offline.recording(sizes.pick(1_000_000, 200_000))
    rows = []
    for codec in ("zstd", "snappy"):
        with scratch_dir("compression") as scratch:
            result = run_pipeline(
                RecordedClient(rec),
                [rec.log],
                rec.start_ms,
                rec.end_ms,
                out_dir=scratch,
                compression=codec,
            )
            message_column = column_bytes(scratch, "message")
        summary = result.summary
        message_bytes = summary.counts.message_bytes
        saved_csv = (1 - summary.counts.bytes / message_bytes) * 100
        saved_json = (1 - summary.counts.bytes / rec.json_bytes) * 100
        note = (
            f"{summary.counts.bytes:,} B of Parquet for {message_bytes:,} B of messages, "
            f"{summary.counts.rows:,} events"
        )
        rows.append(
            at_least(
                Row(
                    "compression",
                    f"{codec}: smaller than raw CSV",
                    round(saved_csv, 1),
                    "%",
                    note=note,
                ),
                TARGETS[codec],
            )
        )
        rows.append(
            Row(
                "compression",
                f"{codec}: smaller than raw API JSON",
                round(saved_json, 1),
                "%",
                note=f"{rec.json_bytes:,} B of JSON",
            )
        )
        rows.append(
            Row(
                "compression",
                f"{codec}: message column alone, smaller than raw CSV",
                round((1 - message_column / message_bytes) * 100, 1),
                "%",
                note=f"{message_column:,} B: the floor while the raw message is kept",
            )
        )
    return rows


def column_bytes(root: str, name: str) -> int:
    """Compressed bytes of the top-level column `name` in every Parquet file under `root`."""
    total = 0
    for path in parquet_files(root):
        metadata = pq.read_metadata(path)
        for group in range(metadata.num_row_groups):
            chunks = metadata.row_group(group)
            total += sum(
                chunks.column(index).total_compressed_size
                for index in range(chunks.num_columns)
                if chunks.column(index).path_in_schema == name
            )
    return total
