"""1. Parsing: firewall CSV messages (16 columns) to a typed Arrow table, ms per 1,000.

The messages are the emulator's `firewall-traffic` log (header first, quoted fields, a
few malformed lines). A parser first sees one batch (format and header detection, type
learning), then the timed batches follow, as in a window after the first: each timed
call is `MessageParser.parse` on a list of Python strings, as the pipeline hands them
over, including their conversion to an Arrow array.
"""

from __future__ import annotations

import statistics
import time

import pyarrow as pa

from benchmarks.common import FIREWALL, Row, Sizes, at_most
from log_ingestion.emulator import Dataset
from log_ingestion.parse import MessageParser
from log_ingestion.pipeline import PipelineOptions

TARGET_MS_PER_1000 = 2.0
DEFAULT_BATCH = PipelineOptions().batch_size


def messages(count: int) -> list[str]:
    dataset = Dataset(events_per_log=count, logsets={FIREWALL: "Benchmarks"})
    return [message for _, _, message in dataset.events(dataset.log_id(FIREWALL))]


def ms_per_thousand(lines: list[str], batch_size: int, rounds: int) -> tuple[float, float]:
    """Median and best ms per 1,000 records over every batch of every round."""
    per_thousand = []
    for _ in range(rounds):
        parser = MessageParser()
        parser.parse(pa.array(lines[:batch_size], pa.string()))  # detection, off the clock
        for start in range(batch_size, len(lines) - batch_size + 1, batch_size):
            batch = lines[start : start + batch_size]
            began = time.perf_counter()
            parser.parse(pa.array(batch, pa.string()))
            per_thousand.append((time.perf_counter() - began) * 1000 * 1000 / len(batch))
    return statistics.median(per_thousand), min(per_thousand)


def run(sizes: Sizes) -> list[Row]:
    lines = messages(sizes.pick(100_000, 50_000))
    rows = []
    for batch_size in (500, 5_000, DEFAULT_BATCH):
        median, best = ms_per_thousand(lines, batch_size, rounds=sizes.pick(3, 1))
        row = Row(
            "parsing",
            f"ms per 1,000 records, batch {batch_size:,}"
            + (" (BATCH_SIZE)" if batch_size == DEFAULT_BATCH else ""),
            round(median, 3),
            "ms",
            note=f"median of batches; best {best:.3f} ms; 16 columns",
        )
        rows.append(at_most(row, TARGET_MS_PER_1000))
    return rows
