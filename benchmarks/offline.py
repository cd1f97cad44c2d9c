"""2. Offline pipeline: recorded API bodies -> Parquet, against a straightforward baseline.

Page bodies (1,000,000 firewall events by default, one million per day, one-hour windows)
are produced once by the emulator's page builder and held in memory as JSON bytes. The
pipeline is the real `Pipeline` (prefetch thread, `WindowFilter`, batching, `MessageParser`,
`to_table`, `ParquetSink` with its commit protocol, checkpoints) fed by `RecordedClient`,
which does what the HTTP client does with a body: typed decoding (`decode_query_body`), `events_of`, follow Next.

The baseline is what one would write first: `json.loads`, a Python filter on the window
and a set of seen keys, `pandas.read_csv` per page, one `to_parquet` per batch of the
pipeline's batch size (`BATCH_SIZE`, 20,000 events).
It reads every field as text (pages would otherwise disagree on a column's type and
`to_parquet` would refuse the batch) and drops the few malformed lines the parser keeps
with a `_parse_error`: it does less work than the pipeline.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
import warnings
from typing import Any

import pandas as pd

from benchmarks.common import (
    PipelineRun,
    RecordedClient,
    Recording,
    Row,
    Sizes,
    at_least,
    decode,
    record,
    run_pipeline,
    scratch_dir,
    tree_bytes,
)
from log_ingestion.parse import MessageParser
from log_ingestion.pipeline import PipelineOptions
from log_ingestion.pipeline.dedup import WindowFilter
from log_ingestion.pipeline.window import Batcher, event_columns, to_table
from log_ingestion.source.pages import events_of

TARGET_EVENTS_PER_SECOND = 500_000
TARGET_RATIO = 5.0
BATCH = PipelineOptions().batch_size  # the baseline writes batches as big as the pipeline's

_recordings: dict[int, Recording] = {}


def recording(events: int) -> Recording:
    """Recorded once per process and size; the compression benchmark reuses it."""
    if events not in _recordings:
        _recordings[events] = record(events)
    return _recordings[events]


def baseline(rec: Recording, out_dir: str) -> tuple[int, float]:
    """The straightforward version; returns rows written and seconds."""
    os.makedirs(out_dir, exist_ok=True)
    began = time.perf_counter()
    header: list[str] | None = None
    header_line = ""
    pending: list[pd.DataFrame] = []
    pending_rows = files = rows = 0
    for window in sorted(rec.first):
        seen: set[tuple[str, str]] = set()
        raw = rec.first[window]
        while True:
            body = json.loads(raw)
            events = []
            for event in body["events"]:
                key = (event["log_id"], event["sequence_number_str"])
                if window.start_ms <= event["timestamp"] < window.end_ms and key not in seen:
                    seen.add(key)
                    events.append(event)
            if header is None and events:
                header_line = events[0]["message"]
                header = next(csv.reader([header_line]))
            events = [event for event in events if event["message"] != header_line]
            if events:
                frame = _page_frame(events, header or [], rec.log.name)
                pending.append(frame)
                pending_rows += len(frame)
            if pending_rows >= BATCH:
                rows += _write(pending, out_dir, files)
                files += 1
                pending, pending_rows = [], 0
            next_href = next(
                (link["href"] for link in body.get("links", []) if link["rel"] == "Next"), None
            )
            if next_href is None:
                break
            raw = rec.by_href[next_href]
    if pending:
        rows += _write(pending, out_dir, files)
    return rows, time.perf_counter() - began


def _page_frame(events: list[dict[str, Any]], header: list[str], log_name: str) -> pd.DataFrame:
    text = "\n".join(event["message"] for event in events)
    with warnings.catch_warnings():  # pandas warns of the too-wide line it cuts short
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        parsed = pd.read_csv(
            io.StringIO(text),
            header=None,
            names=header,
            index_col=False,
            dtype=str,
            on_bad_lines="skip",
        )
    parsed = parsed.reindex(range(len(events)))  # lines pandas skipped become empty rows
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([e["timestamp"] for e in events], unit="ms", utc=True),
            "sequence_number": [int(e["sequence_number_str"]) for e in events],
            "log_id": [e["log_id"] for e in events],
            "log_name": log_name,
            "labels": [[label.get("id", "") for label in e["labels"]] for e in events],
            "message": [e["message"] for e in events],
        }
    )
    return pd.concat([frame, parsed.set_axis(frame.index)], axis=1)


def _write(frames: list[pd.DataFrame], out_dir: str, number: int) -> int:
    frame = pd.concat(frames, ignore_index=True)
    frame.to_parquet(os.path.join(out_dir, f"part-{number}.parquet"), index=False)
    return len(frame)


def stages(rec: Recording, limit: int) -> dict[str, float]:
    """Microseconds per event of each stage, run one after another on one thread."""
    spent = dict.fromkeys(
        ("decode", "events_of", "filter+batch", "event columns", "parse", "to_table"), 0.0
    )
    parser = MessageParser()
    events = 0
    for window in sorted(rec.first):
        window_filter, batcher = WindowFilter(window), Batcher(BATCH)
        batches = []
        for raw in rec.bodies(window):
            began = time.perf_counter()
            body = decode(raw)
            decoded = time.perf_counter()
            page = events_of(body)
            split = time.perf_counter()
            batch = batcher.add(window_filter.keep(page))
            spent["decode"] += decoded - began
            spent["events_of"] += split - decoded
            spent["filter+batch"] += time.perf_counter() - split
            events += len(page)
            if batch is not None:
                batches.append(batch)
        rest = batcher.flush()
        batches += [rest] if rest is not None else []
        for batch in batches:
            began = time.perf_counter()
            columns = event_columns(batch, rec.log)
            converted = time.perf_counter()
            parsed = parser.parse(columns.column("message"))
            parsed_at = time.perf_counter()
            to_table(columns, parsed)
            spent["event columns"] += converted - began
            spent["parse"] += parsed_at - converted
            spent["to_table"] += time.perf_counter() - parsed_at
        if events >= limit:
            break
    return {name: seconds * 1e6 / events for name, seconds in spent.items()}


def run(sizes: Sizes) -> list[Row]:
    rec = recording(sizes.pick(1_000_000, 200_000))
    client = RecordedClient(rec)
    runs: list[PipelineRun] = []
    with scratch_dir("offline") as scratch:
        runs.append(
            run_pipeline(client, [rec.log], rec.start_ms, rec.end_ms, out_dir=f"{scratch}/a")
        )
        base_rows, base_seconds = baseline(rec, f"{scratch}/baseline")
        base_bytes = tree_bytes(f"{scratch}/baseline")
        if not sizes.quick:
            runs.append(
                run_pipeline(client, [rec.log], rec.start_ms, rec.end_ms, out_dir=f"{scratch}/b")
            )
    best = min(runs, key=lambda run: run.seconds)
    rate = best.events_per_second
    base_rate = base_rows / base_seconds
    note = f"{best.summary.counts.rows:,} events, {len(rec.first)} windows of 1 h"
    rows = [
        at_least(
            Row(
                "offline",
                "pipeline events/s",
                round(rate),
                "events/s",
                note=f"{note}; best of {len(runs)}; {best.summary.counts.bytes:,} B snappy",
            ),
            TARGET_EVENTS_PER_SECOND,
        ),
        Row(
            "offline",
            "baseline events/s",
            round(base_rate),
            "events/s",
            note=f"json + pandas.read_csv per page + to_parquet per batch; {base_bytes:,} B",
        ),
        at_least(
            Row("offline", "pipeline / baseline", round(rate / base_rate, 2), "x"),
            TARGET_RATIO,
        ),
    ]
    for name, micros in stages(rec, sizes.pick(200_000, 50_000)).items():
        rows.append(
            Row("offline", f"stage: {name}", round(micros, 3), "us/event", note="single thread")
        )
    return rows
