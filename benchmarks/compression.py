"""6. Compression: Parquet bytes against the raw CSV message bytes and the raw API JSON bytes.

The offline recording goes through the pipeline once per codec and `KEEP_MESSAGE` mode:
`always` keeps the raw `message` next to the parsed columns, `on_error` only where a row
did not parse. "Raw CSV bytes" is the UTF-8 size of the messages and "raw JSON bytes" the
size of the API response bodies that carried them. The `message` column's own compressed
bytes (from the files' metadata) bound what a layout can reach while the message is kept.
"""

from __future__ import annotations

import pyarrow.parquet as pq

from benchmarks import offline
from benchmarks.common import (
    RecordedClient,
    Recording,
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
        for keep in ("always", "on_error"):
            rows += _measured(rec, codec, keep)
    return rows


def _measured(rec: Recording, codec: str, keep: str) -> list[Row]:
    with scratch_dir("compression") as scratch:
        result = run_pipeline(
            RecordedClient(rec),
            [rec.log],
            rec.start_ms,
            rec.end_ms,
            out_dir=scratch,
            compression=codec,
            keep_message=keep,
        )
        message_column = column_bytes(scratch, "message")
    counts = result.summary.counts
    saved_csv = (1 - counts.bytes / counts.message_bytes) * 100
    saved_json = (1 - counts.bytes / rec.json_bytes) * 100
    name = f"{codec}, KEEP_MESSAGE={keep}"
    csv_row = Row(
        "compression",
        f"{name}: smaller than raw CSV",
        round(saved_csv, 1),
        "%",
        note=f"{counts.bytes:,} B of Parquet for {counts.message_bytes:,} B of messages, "
        f"{counts.rows:,} events; the message column alone {message_column:,} B",
    )
    json_row = Row(
        "compression",
        f"{name}: smaller than raw API JSON",
        round(saved_json, 1),
        "%",
        note=f"{rec.json_bytes:,} B of JSON",
    )
    if keep == "on_error" or codec == "zstd":
        csv_row = at_least(csv_row, TARGETS[codec])
    return [csv_row, json_row]


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
