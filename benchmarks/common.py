"""What every benchmark shares: result rows, targets, the machine, recorded pages, a pipeline.

Nothing here asserts: a benchmark measures and reports whether its target was met.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import psutil
import pyarrow as pa
from pydantic import SecretStr

from log_ingestion.emulator import DEFAULT_API_KEY, Dataset
from log_ingestion.emulator.queries import QuerySpec, Rendering, events_page
from log_ingestion.ingest import log_plan
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.pipeline import Pipeline, PipelineOptions, RunSummary
from log_ingestion.process import choose_memory_pool, tune_garbage_collector
from log_ingestion.schedule import Request, grid_windows
from log_ingestion.sink import ParquetSink
from log_ingestion.source import ClientOptions, LogSearchClient, RateLimiter
from log_ingestion.source.pages import Body, decode_query_body, events_of, find_link
from log_ingestion.state import JsonCheckpointStore

FIREWALL = "firewall-traffic"
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
PER_PAGE = 500
RECORDED_BASE = "http://127.0.0.1:9"  # only written into recorded hrefs, never contacted


def decode(raw: bytes) -> Body:
    """What the client does with a query body: typed decoding, generic JSON as the fallback."""
    body = decode_query_body(raw)
    return body if body is not None else orjson.loads(raw)


@dataclass(slots=True)
class Row:
    """One figure: what was measured, its value, and the target it is held against."""

    benchmark: str
    metric: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    margin: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def at_most(row: Row, limit: float) -> Row:
    """Hold `row` to `value <= limit`; the margin says by how much it is under or over."""
    row.target = f"<= {limit:g}"
    row.met = row.value <= limit
    row.margin = _percent(row.value, limit)
    return row


def at_least(row: Row, limit: float) -> Row:
    """Hold `row` to `value >= limit`."""
    row.target = f">= {limit:g}"
    row.met = row.value >= limit
    row.margin = _percent(row.value, limit)
    return row


def _percent(value: float, limit: float) -> str:
    if not limit:
        return ""
    return f"{(value / limit - 1) * 100:+.0f}% vs target"


@dataclass(slots=True)
class Sizes:
    """How big a run is: `--quick` shrinks every benchmark the same way."""

    quick: bool

    def pick(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare figures between machines."""
    import pandas
    import pyarrow

    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor()
    memory_kib = 0
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_kib = int(line.split()[1])
                    break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_mib": memory_kib // 1024,
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "orjson": orjson.__version__,
        "pandas": pandas.__version__,
        "platform": platform.platform(),
    }


@contextmanager
def scratch_dir(prefix: str) -> Iterator[str]:
    path = tempfile.mkdtemp(prefix=f"bench-{prefix}-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def parquet_files(root: str) -> Iterator[str]:
    """Every `.parquet` file under `root`, staged or published."""
    for folder, _, files in os.walk(root):
        yield from (os.path.join(folder, name) for name in files if name.endswith(".parquet"))


def tree_bytes(root: str) -> int:
    return sum(os.path.getsize(path) for path in parquet_files(root))


# -- recorded API responses ---------------------------------------------------------------


@dataclass(slots=True)
class Recording:
    """Completed page bodies of one log, per window, exactly as the emulator serves them."""

    log: LogInfo
    start_ms: int
    end_ms: int
    window_ms: int
    first: dict[Window, bytes] = field(default_factory=dict)
    by_href: dict[str, bytes] = field(default_factory=dict)
    counts: dict[Window, int] = field(default_factory=dict)
    events: int = 0
    json_bytes: int = 0

    def bodies(self, window: Window) -> Iterator[bytes]:
        """The window's bodies in order, following each body's Next link."""
        body = self.first[window]
        while True:
            yield body
            href = _next_href(body)
            if href is None:
                return
            body = self.by_href[href]


def _next_href(body: bytes) -> str | None:
    """The Next href, found without decoding the events (it is in the trailing `links`)."""
    marker = body.rfind(b'{"rel":"Next","href":"')
    if marker < 0:
        return None
    start = marker + len(b'{"rel":"Next","href":"')
    return body[start : body.index(b'"', start)].decode()


def record(events: int, *, log_name: str = FIREWALL, window_ms: int = HOUR_MS) -> Recording:
    """Page bodies for `events` events of one log, spread at one million per day."""
    span_ms = max(window_ms, events * DAY_MS // 1_000_000)
    dataset = Dataset(events_per_log=events, span_ms=span_ms, logsets={log_name: "Benchmarks"})
    log_id = dataset.log_id(log_name)
    recording = Recording(LogInfo(log_id, log_name), dataset.start_ms, dataset.end_ms, window_ms)
    style = Rendering(RECORDED_BASE)
    path = f"/query/logs/{log_id}"
    for window in grid_windows(dataset.start_ms, dataset.end_ms, window_ms):
        spec: QuerySpec | None = QuerySpec(
            log_ids=(log_id,),
            path=path,
            statement="where(/.*/)",
            from_ms=window.start_ms,
            to_ms=window.end_ms,
            low=(window.start_ms, 0),
            high=(window.end_ms, 0),
            per_page=PER_PAGE,
            reverse=False,
        )
        first = True
        while spec is not None:
            page = events_page(dataset, spec, style)
            if first:
                recording.first[window] = page.body
                first = False
            else:
                recording.by_href[f"{RECORDED_BASE}{path}?{spec.query_string()}"] = page.body
            recording.counts[window] = recording.counts.get(window, 0) + page.events
            recording.events += page.events
            recording.json_bytes += len(page.body)
            spec = page.following
    return recording


class RecordedClient:
    """Stands in for `LogSearchClient`: decodes recorded bodies (orjson) instead of fetching.

    It does what the real client does with a completed body (`orjson.loads`, `events_of`,
    `find_link`), so the pipeline sees exactly the pages it would see over HTTP.
    """

    def __init__(self, recording: Recording) -> None:
        self._recording = recording

    def pages(
        self, log_ids: str | tuple[str, ...], window: Window, query: str = ""
    ) -> Iterator[EventPage]:
        """The recorded pages of every recorded window inside `window`, in order."""
        recording = self._recording
        for recorded in sorted(recording.first):
            if not (window.start_ms <= recorded.start_ms and recorded.end_ms <= window.end_ms):
                continue
            body = decode(recording.first[recorded])
            while True:
                yield events_of(body)
                href = find_link(body, "next")
                if href is None:
                    break
                body = decode(recording.by_href[href])

    def window_counts(
        self, log_ids: str | tuple[str, ...], first: Window, windows: int, query: str = ""
    ) -> list[int]:
        width = first.end_ms - first.start_ms
        starts = range(first.start_ms, first.start_ms + windows * width, width)
        return [self._recording.counts.get(Window(start, start + width), 0) for start in starts]


# -- the pipeline ----------------------------------------------------------------------


@dataclass(slots=True)
class PipelineRun:
    summary: RunSummary
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.summary.counts.rows / self.seconds if self.seconds else 0.0


def run_pipeline(
    client: Any,
    logs: Sequence[LogInfo],
    start_ms: int,
    end_ms: int,
    *,
    out_dir: str,
    compression: str = "snappy",
    window_ms: int = HOUR_MS,
    verify_counts: bool = True,
    concurrency: int = 4,
    sink_and_store: tuple[Any, Any] | None = None,
    **options: Any,
) -> PipelineRun:
    """One `Pipeline.run` as `log-ingestion run` wires it, timed; into a Parquet folder
    under `out_dir` unless another sink and its store are given; `options` are more
    `PipelineOptions` (query sizes, unit rows)."""
    if sink_and_store is None:
        store = JsonCheckpointStore(os.path.join(out_dir, "state"))
        sink = ParquetSink(os.path.join(out_dir, "data"), store=store, compression=compression)
    else:
        sink, store = sink_and_store
    settings = PipelineOptions(verify_counts=verify_counts, concurrency=concurrency, **options)
    pipeline = Pipeline(client, sink, settings)
    request = Request(end_ms=end_ms, start_ms=start_ms)
    now = int(time.time() * 1000)
    plans = [log_plan(store, log, request, now=now, window_ms=window_ms) for log in logs]
    thresholds = gc.get_threshold()
    tune_garbage_collector()  # as `log-ingestion run` does; undone so baselines run untuned
    pool = pa.default_memory_pool()
    choose_memory_pool()
    try:
        began = time.perf_counter()
        summary = pipeline.run(plans)
        seconds = time.perf_counter() - began
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        pa.set_memory_pool(pool)
    failed = [f"{log.log.name}: {log.message}" for log in summary.failed]
    if failed:
        raise RuntimeError("the pipeline failed: " + "; ".join(failed))
    return PipelineRun(summary, seconds)


def http_client(
    url: str,
    *,
    rate_limit_per_minute: float = 1e9,
    poll_interval: float = 0.0,
    concurrency: int = 4,
) -> LogSearchClient:
    """The real client, as `wiring.build_client` makes it, pointed at an emulator."""
    options = ClientOptions(
        per_page=PER_PAGE,
        poll_interval=poll_interval,
        poll_interval_max=max(poll_interval, 10 * poll_interval),
        max_connections=concurrency * 2 + 2,
    )
    return LogSearchClient(
        url, SecretStr(DEFAULT_API_KEY), options, RateLimiter(rate_limit_per_minute)
    )


# -- an emulator in its own process ---------------------------------------------------------


class EmulatorProcess:
    """The emulator in a child process, so its CPU does not share the benchmark's GIL.

    Its stats are read over the child's stdin/stdout; it stops when stdin closes, and
    by itself after `max_seconds`.
    """

    def __init__(
        self,
        *,
        events_per_log: int | Mapping[str, int],
        span_ms: int = DAY_MS,
        logs: Sequence[str] = (FIREWALL,),
        faults: Mapping[str, Any] | None = None,
        max_seconds: float = 900.0,
    ) -> None:
        config = {
            "events_per_log": events_per_log,
            "span_ms": span_ms,
            "logs": list(logs),
            "faults": dict(faults or {}),
            "max_seconds": max_seconds,
        }
        self._process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "benchmarks.emulator_process", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = json.loads(self._readline())
        self.url: str = hello["url"]
        self.pid: int = self._process.pid
        self.log_ids: dict[str, str] = hello["logs"]
        self.start_ms: int = hello["start_ms"]
        self.end_ms: int = hello["end_ms"]

    def log(self, name: str) -> LogInfo:
        return LogInfo(self.log_ids[name], name)

    def stats(self) -> dict[str, Any]:
        return self._ask("stats")

    def cpu_seconds(self) -> float:
        """User plus system CPU time the emulator has used so far, all its threads."""
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def reset(self) -> None:
        self._ask("reset")

    def close(self) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.close()
            self._process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait(timeout=5)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _ask(self, command: str) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._readline())
        return answer

    def _readline(self) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process ended unexpectedly")
        return line


def string_array(messages: Sequence[str]) -> pa.Array:
    return pa.array(messages, pa.string())
