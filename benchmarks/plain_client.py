"""The plain single-threaded client: urllib, json, csv and pyarrow, nothing more.

`python -m benchmarks.plain_client URL API_KEY LOG_ID FROM TO OUT_DIR` reads one log's
events in one query (polling its Self link, following every Next), splits each CSV message
with the csv module, and writes the columns as one Parquet file per 100,000 events. The
yardstick of what a user's first script costs per event.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PART = 100_000


def fetch(url: str, key: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"x-api-key": key})  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        body: dict[str, Any] = json.loads(response.read())
    return body


def link(body: dict[str, Any], rel: str) -> str | None:
    return next(
        (item["href"] for item in body.get("links") or [] if item["rel"].lower() == rel), None
    )


def done(body: dict[str, Any], key: str) -> dict[str, Any]:
    while (href := link(body, "self")) is not None:
        time.sleep(0.01)
        body = fetch(href, key)
    return body


def write(rows: list[list[str]], header: list[str], out_dir: str, number: int) -> None:
    columns = list(zip(*rows, strict=False)) if rows else []
    table = pa.table({name: list(values) for name, values in zip(header, columns, strict=False)})
    pq.write_table(table, os.path.join(out_dir, f"part-{number}.parquet"))


def main(url: str, key: str, log_id: str, start: str, end: str, out_dir: str) -> int:
    query = urllib.parse.urlencode(
        {"query": "where(/.*/)", "from": start, "to": end, "per_page": 500}
    )
    body = done(fetch(f"{url}/query/logs/{log_id}?{query}", key), key)
    header: list[str] | None = None
    rows: list[list[str]] = []
    events = parts = 0
    while True:
        for event in body.get("events") or []:
            fields = next(csv.reader([event["message"]]))
            if header is None:
                header = fields
                continue
            rows.append([event["sequence_number_str"], str(event["timestamp"]), *fields])
            events += 1
        if len(rows) >= PART or link(body, "next") is None:
            write(rows, ["sequence_number", "timestamp", *(header or [])], out_dir, parts)
            rows, parts = [], parts + 1
        href = link(body, "next")
        if href is None:
            break
        body = done(fetch(href, key), key)
    print(events)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:7]))
