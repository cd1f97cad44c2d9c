"""12. Delta Lake on a local S3 server against the local Parquet folder, in the same run.

One emulator process holds 1,000,000 firewall events over a day (one-hour windows of
~41,700 events); each run is a fresh `python -m benchmarks.delta` child ingesting all of it
through the real HTTP client and `Pipeline.run`, into a Parquet folder on local disk or into
a Delta table on SeaweedFS (started by the benchmark on loopback, its data on local disk
too), with the units `log-ingestion run` uses for each (`wiring.unit_rows`). Runs alternate
Parquet, Delta, Parquet, Delta; the best of each is compared. The child reports events/s (the
pipeline alone: the table's creation and the start-up probe are not timed), its own peak RSS
(`VmHWM`) and its peak anonymous RSS (sampled every 10 ms: without the pages of loaded
libraries, deltalake's among them). For Delta it also counts the table's commits and the
objects the run left in the bucket (data files, commit files).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from pyarrow import fs

from benchmarks.common import (
    DAY_MS,
    FIREWALL,
    EmulatorProcess,
    Row,
    Sizes,
    at_least,
    at_most,
    http_client,
    parquet_files,
    run_pipeline,
    scratch_dir,
)
from benchmarks.memory import peak_kib
from log_ingestion.models import LogInfo
from log_ingestion.seaweed import SeaweedServer
from log_ingestion.sink.delta import UNIT_ROWS

TARGET_RATE = 0.8
TARGET_MEMORY = 1.2
BUCKET = "bench"


def _delta(root: str, aws: dict[str, str]) -> tuple[Any, Any]:
    from log_ingestion.sink.delta import DeltaSink, Lake
    from log_ingestion.sink.lake_store import LakeOptions
    from log_ingestion.state.delta_store import DeltaCheckpointStore

    options = {name: value for name, value in aws.items() if name != "AWS_ALLOW_HTTP"}
    lake = Lake(LakeOptions(root, aws=options, allow_http=True))
    lake.ensure_root()
    return DeltaSink(lake), DeltaCheckpointStore(lake)


def _counts(server_env: dict[str, str], prefix: str) -> dict[str, int]:
    """The table's commits and the objects under the run's prefix (data, log)."""
    from deltalake import DeltaTable

    store = fs.S3FileSystem(
        access_key=server_env["AWS_ACCESS_KEY_ID"],
        secret_key=server_env["AWS_SECRET_ACCESS_KEY"],
        endpoint_override=server_env["AWS_ENDPOINT_URL"].removeprefix("http://"),
        scheme="http",
        region=server_env["AWS_REGION"],
    )
    infos = store.get_file_info(fs.FileSelector(f"{BUCKET}/{prefix}", recursive=True))
    files = [info for info in infos if info.type == fs.FileType.File]
    tables = {info.path.split("/")[2] for info in files if "/_delta_log/" in info.path}
    table = next(iter(tables))
    version = DeltaTable(f"s3://{BUCKET}/{prefix}/{table}", storage_options=server_env).version()
    return {
        "commits": version,  # version 0 creates the empty table
        "objects": len(files),
        "data_objects": sum(
            info.path.endswith(".parquet") and "/_delta_log/" not in info.path for info in files
        ),
    }


class AnonPeak:
    """The highest anonymous RSS (`RssAnon`: heap, Arrow buffers, not the pages of loaded
    libraries) seen by a thread sampling /proc/self/status every 10 ms."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak_kib = max(self.peak_kib, _status("RssAnon:"))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak_kib, _status("RssAnon:"))


def _status(field: str) -> int:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _child(sink: str, url: str, log_id: str, start_ms: int, end_ms: int, env: str) -> None:
    from log_ingestion.logging import configure_logging

    configure_logging("WARNING", "json")
    anon = AnonPeak()
    server_env: dict[str, str] = json.loads(env)
    logs = [LogInfo(log_id, FIREWALL)]
    with scratch_dir("delta") as scratch, http_client(url) as client:
        prefix = Path(scratch).name
        pieces = _delta(f"s3://{BUCKET}/{prefix}", server_env) if sink == "delta" else None
        units = {"unit_rows": UNIT_ROWS} if sink == "delta" else {}  # as wiring.unit_rows
        result = run_pipeline(
            client, logs, start_ms, end_ms, out_dir=scratch, sink_and_store=pieces, **units
        )
        counts = (
            _counts(server_env, prefix)
            if sink == "delta"
            else {"objects": len(list(parquet_files(scratch)))}
        )
    report = {
        "rows": result.summary.counts.rows,
        "seconds": result.seconds,
        "windows": result.summary.counts.committed,
        "peak_kib": peak_kib(),
        "anon_peak_kib": anon.stop(),
        **counts,
    }
    print(json.dumps(report))


def _measure(sink: str, emulator: EmulatorProcess, server: SeaweedServer) -> dict[str, float]:
    args = [
        sys.executable,
        "-m",
        "benchmarks.delta",
        sink,
        emulator.url,
        emulator.log_ids[FIREWALL],
        str(emulator.start_ms),
        str(emulator.end_ms),
        json.dumps(server.aws_env()),
    ]
    done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=900)  # noqa: S603
    if done.returncode:
        raise RuntimeError(f"the {sink} run failed:\n{done.stderr[-3000:]}")
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def run(sizes: Sizes) -> list[Row]:
    events = sizes.pick(1_000_000, 200_000)
    span_ms = max(DAY_MS // 4, events * DAY_MS // 1_000_000)
    with (
        tempfile.TemporaryDirectory(prefix="bench-seaweed-") as folder,
        SeaweedServer(Path(folder)).start() as server,
        EmulatorProcess(events_per_log=events, span_ms=span_ms) as emulator,
    ):
        server.create_bucket(BUCKET)
        runs: dict[str, list[dict[str, float]]] = {"parquet": [], "delta": []}
        for _ in range(2):
            for sink in runs:
                runs[sink].append(_measure(sink, emulator, server))
    return _rows(runs)


def _rows(runs: dict[str, list[dict[str, float]]]) -> list[Row]:
    def rate(report: dict[str, float]) -> float:
        return report["rows"] / report["seconds"]

    def least(sink: str, key: str) -> float:
        return min(report[key] for report in runs[sink]) / 1024

    parquet = max(runs["parquet"], key=rate)
    delta = max(runs["delta"], key=rate)
    windows = delta["windows"]
    rss = (least("delta", "peak_kib"), least("parquet", "peak_kib"))
    anon = (least("delta", "anon_peak_kib"), least("parquet", "anon_peak_kib"))
    return [
        Row(
            "delta",
            "Parquet folder, local disk",
            round(rate(parquet)),
            "events/s",
            note=", ".join(f"{rate(r):,.0f}" for r in runs["parquet"]),
        ),
        Row(
            "delta",
            "Delta on SeaweedFS (loopback)",
            round(rate(delta)),
            "events/s",
            note=", ".join(f"{rate(r):,.0f}" for r in runs["delta"]),
        ),
        at_least(
            Row("delta", "Delta / Parquet events/s", round(rate(delta) / rate(parquet), 3), "x"),
            TARGET_RATE,
        ),
        at_most(
            Row(
                "delta",
                "Delta / Parquet peak RSS",
                round(rss[0] / rss[1], 3),
                "x",
                note=f"{rss[0]:.0f} MiB against {rss[1]:.0f} MiB (VmHWM)",
            ),
            TARGET_MEMORY,
        ),
        Row(
            "delta",
            "Delta / Parquet peak anonymous RSS",
            round(anon[0] / anon[1], 3),
            "x",
            note=f"{anon[0]:.0f} MiB against {anon[1]:.0f} MiB: without the pages of loaded libraries",
        ),
        Row(
            "delta",
            "commits per window",
            round(delta["commits"] / windows, 3),
            "commits",
            note=f"{delta['commits']:.0f} commits for {windows:.0f} windows",
        ),
        Row(
            "delta",
            "objects written per window",
            round(delta["objects"] / windows, 3),
            "objects",
            note=f"{delta['data_objects']:.0f} data files and "
            f"{delta['objects'] - delta['data_objects']:.0f} log objects; Parquet folder: "
            f"{parquet['objects'] / windows:.3f} files per window",
        ),
    ]


if __name__ == "__main__":
    sink, url, log_id, start, end, env = sys.argv[1:7]
    _child(sink, url, log_id, int(start), int(end), env)
