"""Every file the pipeline lands is read, whole and exactly, by other Parquet readers.

pyarrow and DuckDB are covered by the round-trip tests. fastparquet (a pure-Python reader
without Parquet's newer byte-array encodings) and polars (its own Rust reader) stand for
the readers a user may bring; an encoding one of them cannot read must not reach a file.
"""

from __future__ import annotations

import fastparquet
import polars as pl
import pyarrow.parquet as pq
from tests.integration.conftest import Harness
from tests.slow.harness import published_files


def test_fastparquet_and_polars_read_every_landed_file_exactly(harness: Harness) -> None:
    """CSV, JSON and key=value tables, header changes included: same columns, rows, messages."""
    summary = harness.ingest()
    assert summary.failed == []
    files = published_files(harness.output)
    assert len(files) >= 4

    for path in files:
        expected = pq.read_table(path)
        names = expected.column_names
        messages = expected.column("message").to_pylist()
        sequence_numbers = expected.column("sequence_number").to_pylist()

        with path.open("rb") as handle:  # fastparquet leaves the files it opens open
            by_fastparquet = fastparquet.ParquetFile(handle).to_pandas()
        assert list(by_fastparquet.columns) == names, path
        assert by_fastparquet["message"].tolist() == messages, path
        assert [int(n) for n in by_fastparquet["sequence_number"]] == sequence_numbers, path

        by_polars = pl.read_parquet(path)
        assert by_polars.columns == names, path
        assert by_polars["message"].to_list() == messages, path
        assert by_polars["sequence_number"].to_list() == sequence_numbers, path
