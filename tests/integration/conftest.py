"""Integration fixtures: the pipeline and the CLI against the emulator over real HTTP.

`harness` binds one running emulator (the root `emulator` fixture) to a fresh output
folder; `make_harness` does the same for an emulator built with custom data, keys or
faults. A harness runs the pipeline in-process (`harness.ingest`) or the CLI as a user
does (`harness.cli`: a subprocess with a scrubbed environment and `cwd=tmp_path`, so no
stray `.env` is read), and reads the Parquet back next to the emulator's ground truth.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
from pydantic import SecretStr

from log_ingestion.config import Settings, load_settings
from log_ingestion.emulator import DEFAULT_API_KEY, Dataset, Emulator
from log_ingestion.ingest import log_plan, resolve_logs, run_once
from log_ingestion.models import LogInfo, Window
from log_ingestion.pipeline import Pipeline, RunSummary
from log_ingestion.schedule import Request
from log_ingestion.sink import open_dataset, table_dir_name
from log_ingestion.source import ClientOptions, LogSearchClient, RateLimiter, Source
from log_ingestion.state import JsonCheckpointStore
from log_ingestion.timeparse import now_ms
from log_ingestion.wiring import assemble, build_sink, pipeline_options

from ..support.measured import coverage_env

SAMPLE_LOGS = (
    "firewall-traffic",
    "cdn-access-noheader",
    "vpn-sessions",
    "idr-auth-json",
    "app-kv",
    "syslog-text",
)
# Fast, but every protocol step still happens: polls, retries, backoff, the rate limiter.
FAST: dict[str, Any] = {
    "poll_interval": 0.01,
    "rate_limit": 100_000,
    "retry_wait_initial": 0.01,
    "retry_wait_max": 0.05,
    "window_size": "15m",
    "request_timeout": 5.0,
    "max_poll_wait": 10.0,
}
FAST_ENV = {name.upper(): str(value) for name, value in FAST.items()}
CLI_TIMEOUT = 60

Row = tuple[str, int, str]  # (log_id, sequence_number, message)


def small(**overrides: Any) -> Dataset:
    """Sample logs over one hour from 2026-01-01T00:00:00Z: 4 windows of 15 minutes."""
    options: dict[str, Any] = {"events_per_log": 200, "span_ms": 3_600_000}
    options.update(overrides)
    return Dataset(**options)


@dataclass
class Harness:
    emulator: Emulator
    tmp_path: Path

    @property
    def dataset(self) -> Dataset:
        return self.emulator.dataset

    @property
    def output(self) -> Path:
        return self.tmp_path / "out"

    @property
    def start_ms(self) -> int:
        return self.dataset.start_ms

    @property
    def end_ms(self) -> int:
        return self.dataset.end_ms

    # -- in-process -------------------------------------------------------------------

    def settings(self, **overrides: Any) -> Settings:
        options: dict[str, Any] = {
            "rapid7_api_key": DEFAULT_API_KEY,
            "rapid7_api_endpoint": self.emulator.url,
            "rapid7_log_ids": [],
            "output_dir": str(self.output),
            "state_dir": None,
            "log_level": "WARNING",
            **FAST,
        }
        options.update(overrides)
        return load_settings(require_output=True, **options)

    def ingest(
        self,
        start_ms: int | None = None,
        end_ms: int | None = None,
        *,
        rescan: bool = False,
        **overrides: Any,
    ) -> RunSummary:
        """One run through `wiring.assemble` and `ingest.run_once`, as `log-ingestion run` does."""
        settings = self.settings(**overrides)
        request = Request(
            end_ms=self.end_ms if end_ms is None else end_ms,
            start_ms=self.start_ms if start_ms is None else start_ms,
            lag_ms=settings.follow_lag_ms,
            rescan=rescan,
        )
        with assemble(settings, threading.Event()) as pieces:
            return run_once(pieces, resolve_logs(pieces.client, settings.rapid7_log_ids), request)

    def request(
        self, start_ms: int | None = None, end_ms: int | None = None, **fields: Any
    ) -> Request:
        """The dataset's range (or the one given), with no follow lag unless told."""
        return Request(
            end_ms=self.end_ms if end_ms is None else end_ms,
            start_ms=self.start_ms if start_ms is None else start_ms,
            lag_ms=fields.pop("lag_ms", 0),
            **fields,
        )

    def ingest_from(
        self, source: Source, logs: list[LogInfo], request: Request | None = None, **overrides: Any
    ) -> tuple[RunSummary, JsonCheckpointStore]:
        """One run of `logs` from a given source (a client with a fault of its own)."""
        settings = self.settings(**overrides)
        sink, store = build_sink(settings)
        pipeline = Pipeline(source, sink, pipeline_options(settings), stop=threading.Event())
        request = request or self.request()
        sink.recover()
        plans = [
            log_plan(store, log, request, now=now_ms(), window_ms=settings.window_ms)
            for log in logs
        ]
        return pipeline.run(plans), store

    def client(self, **options: Any) -> LogSearchClient:
        """A bare client on the emulator, with FAST waits unless `options` say otherwise."""
        defaults: dict[str, Any] = {
            "per_page": 500,
            "poll_interval": FAST["poll_interval"],
            "retry_wait_initial": FAST["retry_wait_initial"],
            "retry_wait_max": FAST["retry_wait_max"],
            "request_timeout": FAST["request_timeout"],
            "max_poll_wait": FAST["max_poll_wait"],
            **options,
        }
        return LogSearchClient(
            self.emulator.url,
            SecretStr(DEFAULT_API_KEY),
            ClientOptions(**defaults),
            RateLimiter(1_000_000),
        )

    def fetch(self, name: str, **options: Any) -> list[Row]:
        """Every event of a log through `LogSearchClient.pages`, one window, sorted."""
        log_id = self.dataset.log_id(name)
        with self.client(**options) as client:
            pages = list(client.pages(log_id, Window(self.start_ms, self.end_ms)))
        return sorted(
            (page.log_ids[i], page.sequence_numbers[i], page.messages[i])
            for page in pages
            for i in range(len(page))
        )

    # -- the CLI as a user runs it ----------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **coverage_env(),
            "HOME": str(self.tmp_path),
            "LANG": "C.UTF-8",
            "RAPID7_API_KEY": DEFAULT_API_KEY,
            "RAPID7_API_ENDPOINT": self.emulator.url,
            "OUTPUT_DIR": str(self.output),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            **FAST_ENV,
        }
        env.update(extra)
        return {name: value for name, value in env.items() if value is not None}

    def cli(
        self, *args: str, env: dict[str, str] | None = None, wrapper: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """`log-ingestion *args`, run through `wrapper` (such as `setpriv …`) when given."""
        return subprocess.run(
            [*wrapper, sys.executable, "-m", "log_ingestion", *args],
            env=self.env() if env is None else env,
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )

    def run_cli(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """`log-ingestion run --from <dataset start> --to <dataset end>` plus `args`."""
        return self.cli(
            "run",
            "--from",
            str(self.start_ms),
            "--to",
            str(self.end_ms),
            *args,
            env=self.env(**extra),
        )

    # -- reading back -------------------------------------------------------------------

    def table_dir(self, name: str) -> Path:
        return self.output / table_dir_name(name, self.dataset.log_id(name))

    def table(self, name: str) -> pa.Table:
        return open_dataset(str(self.table_dir(name))).to_table()

    def landed(self, name: str) -> list[Row]:
        """Every landed row of a log as `(log_id, sequence_number, message)`, sorted, with repeats."""
        table = self.table(name)
        return sorted(
            zip(
                table.column("log_id").to_pylist(),
                table.column("sequence_number").to_pylist(),
                table.column("message").to_pylist(),
                strict=True,
            )
        )

    def landed_duckdb(self, name: str) -> list[Row]:
        glob = f"{self.table_dir(name)}/**/*.parquet"
        query = (
            "SELECT log_id, sequence_number, message FROM "
            "read_parquet(?, union_by_name=true, hive_partitioning=true)"
        )
        with duckdb.connect() as db:
            rows = db.execute(query, [glob]).fetchall()
        return sorted((str(a), int(b), str(c)) for a, b, c in rows)

    def truth(self, name: str, start_ms: int | None = None, end_ms: int | None = None) -> list[Row]:
        """The emulator's ground truth for a log in `[start_ms, end_ms)` (default: all of it)."""
        log_id = self.dataset.log_id(name)
        return sorted(
            (log_id, sequence, message)
            for _, sequence, message in self.dataset.events(
                log_id,
                self.start_ms if start_ms is None else start_ms,
                self.end_ms if end_ms is None else end_ms,
            )
        )

    def files(self) -> Iterable[Path]:
        return (path for path in self.tmp_path.rglob("*") if path.is_file())


HarnessFactory = Callable[..., Harness]


def error_lines(stderr: str) -> list[str]:
    """The CLI's `error:` lines as a person reads them, from stderr in JSON mode, where they
    are objects `{"event": "error", "error": ...}` like every log line (a line that is not
    JSON fails the parse)."""
    records = [orjson.loads(line) for line in stderr.splitlines() if line.strip()]
    return [f"error: {record['error']}" for record in records if record["event"] == "error"]


@pytest.fixture
def make_harness(make_emulator: Callable[..., Emulator], tmp_path: Path) -> HarnessFactory:
    """`make_harness(dataset=..., api_keys=..., faults=...)`: an emulator and an output folder."""

    def factory(dataset: Dataset | None = None, **options: Any) -> Harness:
        return Harness(make_emulator(dataset or small(), **options), tmp_path)

    return factory


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    """The small sample dataset behind a healthy emulator."""
    return make_harness()
