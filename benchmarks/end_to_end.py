"""3. End to end over loopback: the Pipeline in-process against the emulator in a child process.

The emulator runs in its own process (its CPU must not share the pipeline's GIL). The
pipeline is `Pipeline.run` in this process, wired as `log-ingestion run` wires it (real
HTTP client, Parquet sink, checkpoints, `VERIFY_COUNTS` on), one log, one-hour windows,
`POLL_INTERVAL=0` and no client rate limit. The bare loop makes the same requests in
the same order (per window: start, poll, every Next page, and the count query with its
poll) on one `httpx.Client` and discards the bodies: small ones (running queries, counts)
are decoded to follow their links, full pages only searched for their Next link.
Runs alternate bare, pipeline, bare, pipeline; the ratio is of the best of each.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import orjson

from benchmarks.common import (
    FIREWALL,
    HOUR_MS,
    PER_PAGE,
    EmulatorProcess,
    Row,
    Sizes,
    at_least,
    http_client,
    run_pipeline,
    scratch_dir,
)
from log_ingestion.emulator import DEFAULT_API_KEY
from log_ingestion.schedule import grid_windows
from log_ingestion.source.client import ALL_EVENTS
from log_ingestion.source.pages import find_link, is_running

TARGET_RATIO = 0.8
SMALL = 8_192


def _link(content: bytes, rel: bytes) -> str | None:
    marker = content.rfind(b'{"rel":"' + rel + b'","href":"')
    if marker < 0:
        return None
    start = content.index(b'"href":"', marker) + len(b'"href":"')
    return content[start : content.index(b'"', start)].decode()


def _walk(client: httpx.Client, response: httpx.Response) -> tuple[int, int]:
    """Poll and page to the end of one query; (events, requests). Bounded by the data."""
    events = 0
    for requests in range(1_000_000):  # requests: follow-ups made so far
        if response.status_code not in (200, 202):
            raise RuntimeError(f"{response.status_code} from {response.url}")
        content = response.content
        if len(content) < SMALL:  # running bodies, counts and short last pages: decode
            body = orjson.loads(content)
            running = is_running(body)
            href = find_link(body, "self" if running else "next")
            if not running:
                events += len(body.get("events") or [])
        else:  # a full page: count and find Next without decoding the events
            events += content.count(b'"sequence_number_str"')
            href = _link(content, b"Next")
        if href is None:
            return events, requests
        response = client.get(href)
    raise RuntimeError("the walk did not end")


def bare_loop(url: str, log_id: str, start_ms: int, end_ms: int) -> tuple[int, int, float]:
    """Download every page of every window and discard it: (events, requests, seconds)."""
    events = requests = 0
    began = time.perf_counter()
    with httpx.Client(headers={"x-api-key": DEFAULT_API_KEY}, timeout=60) as client:
        for window in grid_windows(start_ms, end_ms, HOUR_MS):
            for statement, per_page in (
                (ALL_EVENTS, PER_PAGE),
                (f"{ALL_EVENTS} calculate(count)", None),
            ):
                params: dict[str, str | int] = {
                    "query": statement,
                    "from": window.start_ms,
                    "to": window.end_ms,
                }
                if per_page:
                    params["per_page"] = per_page
                response = client.get(f"{url}/query/logs/{log_id}", params=params)
                got, made = _walk(client, response)
                events += got
                requests += made + 1
    return events, requests, time.perf_counter() - began


@dataclass(slots=True)
class _Cpu:
    """CPU seconds of this process and of the emulator, and wall seconds, over some runs."""

    events: int = 0
    seconds: float = 0.0
    own: float = 0.0
    emulator: float = 0.0

    @contextmanager
    def measuring(self, emulator: EmulatorProcess) -> Iterator[None]:
        """Add the seconds spent inside the block; the caller adds the events."""
        own, child, began = time.process_time(), emulator.cpu_seconds(), time.perf_counter()
        yield
        self.own += time.process_time() - own
        self.emulator += emulator.cpu_seconds() - child
        self.seconds += time.perf_counter() - began

    def micros(self, cpu_seconds: float) -> float:
        return cpu_seconds * 1e6 / self.events if self.events else 0.0

    @property
    def cores_busy(self) -> float:
        return (self.own + self.emulator) / self.seconds if self.seconds else 0.0


def run(sizes: Sizes) -> list[Row]:
    events = sizes.pick(500_000, 100_000)
    span_ms = max(HOUR_MS, events * 86_400_000 // 1_000_000)
    bare: list[float] = []
    piped: list[float] = []
    bare_cpu, pipe_cpu = _Cpu(), _Cpu()
    rows_landed = requests = 0
    with EmulatorProcess(events_per_log=events, span_ms=span_ms) as emulator:
        log = emulator.log(FIREWALL)
        for round_number in range(sizes.pick(2, 1)):
            with bare_cpu.measuring(emulator):
                got, requests, seconds = bare_loop(
                    emulator.url, log.id, emulator.start_ms, emulator.end_ms
                )
            bare.append(got / seconds)
            bare_cpu.events += got
            with (
                scratch_dir("e2e") as scratch,
                http_client(emulator.url) as client,
                pipe_cpu.measuring(emulator),
            ):
                result = run_pipeline(
                    client, [log], emulator.start_ms, emulator.end_ms, out_dir=scratch
                )
            piped.append(result.events_per_second)
            pipe_cpu.events += result.summary.counts.rows
            rows_landed = result.summary.counts.rows
            if rows_landed != got:
                raise RuntimeError(f"round {round_number}: landed {rows_landed}, served {got}")
    best_bare, best_pipe = max(bare), max(piped)
    note = f"{rows_landed:,} events, {requests:,} requests per run, best of {len(bare)}"
    return [
        Row("end_to_end", "bare download loop events/s", round(best_bare), "events/s", note=note),
        Row(
            "end_to_end",
            "pipeline events/s (in-process Pipeline)",
            round(best_pipe),
            "events/s",
            note="runs: " + ", ".join(f"{rate:,.0f}" for rate in piped),
        ),
        at_least(
            Row("end_to_end", "pipeline / bare loop", round(best_pipe / best_bare, 3), "x"),
            TARGET_RATIO,
        ),
        *_cpu_rows(bare_cpu, pipe_cpu, best_bare),
    ]


def _cpu_rows(bare: _Cpu, pipe: _Cpu, best_bare: float) -> list[Row]:
    """Where the CPU goes, and the ratio the machine's cores would allow at that cost.

    Both processes share the machine's cores, so the pipeline cannot run faster than
    cores / (its CPU per event + the emulator's CPU per event), however well it overlaps.
    """
    cores = os.cpu_count() or 1
    per_event = pipe.micros(pipe.own) + pipe.micros(pipe.emulator)
    ceiling = cores * 1e6 / per_event if per_event else 0.0
    rows = []
    for label, cpu, own in (("bare loop", bare, "client"), ("pipeline", pipe, "own")):
        rows += [
            Row("end_to_end", f"{label}: {own} CPU", round(cpu.micros(cpu.own), 2), "us/event"),
            Row(
                "end_to_end",
                f"{label}: emulator CPU",
                round(cpu.micros(cpu.emulator), 2),
                "us/event",
                note=f"{cpu.cores_busy:.2f} of {cores} cores busy",
            ),
        ]
    return [
        *rows,
        Row(
            "end_to_end",
            "ratio if every core were busy",
            round(ceiling / best_bare, 3) if best_bare else 0.0,
            "x",
            note=f"{cores} cores / {per_event:.2f} us of CPU per event = {ceiling:,.0f} events/s",
        ),
    ]
