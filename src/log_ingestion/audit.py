"""`log-ingestion verify`: what the checkpoint does not know. For each committed window, what
the table holds (rows, distinct keys, readable files, strays) against what the checkpoint
recorded when it committed the window and, with `--api`, the API's own count now; the
windows that differ, and (`--repair`) their re-ingest through the ordinary run path. The
Parquet folder is read from its files (`sink.inventory`), a Delta table from its log
(`sink.delta_inventory`).

    verdicts = verify(settings, Scope(log="app-kv"), count=None)
    [verdict for verdict in verdicts if not verdict.ok]
    repair(settings, verdicts)       # what a re-ingest cannot replace set aside, then re-ingested

The comparison (`problems`) and the choice of windows (`committed_windows`,
`recorded_rows`) are pure; `verify` reads, `repair` writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from log_ingestion import process
from log_ingestion.errors import ApiError, ConfigError, StopRequestedError
from log_ingestion.logging import get_logger
from log_ingestion.models import LogInfo, Window
from log_ingestion.schedule import grid_windows
from log_ingestion.sink import ParquetSink
from log_ingestion.sink.inventory import Inventory, Landed, inventory
from log_ingestion.sink.naming import join
from log_ingestion.state import CheckpointStore, LogCheckpoint

if TYPE_CHECKING:
    from log_ingestion.config import Settings
    from log_ingestion.sink.delta import DeltaSink

QUARANTINE_DIR = "_quarantine"  # strays moved aside by a repair; readers skip `_` folders
# the API's count of a log's window; None where it has no exact one
Count = Callable[[LogCheckpoint, Window], int | None]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which committed windows to check: of one log (id or name) or all, within a range."""

    log: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """One committed window: what the table holds, what was expected, what differs."""

    log: LogInfo
    table: str
    landed: Landed
    recorded: int | None  # rows the checkpoint recorded at commit, when it was verified
    api_count: int | None  # the API's count now (`--api`)
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def problems(landed: Landed, recorded: int | None, api_count: int | None) -> tuple[str, ...]:
    """What differs between a window in the table and what was expected of it, in words."""
    found = []
    if landed.unfinished:
        found.append("a publish of it was cut short (a journal is pending)")
    if landed.unreadable:
        found.append(f"unreadable: {', '.join(landed.unreadable)}")
    if landed.keys < landed.rows:
        strays = f" (stray: {', '.join(landed.strays)})" if landed.strays else ""
        found.append(
            f"{landed.rows - landed.keys} duplicate rows: {landed.rows} rows, "
            f"{landed.keys} distinct keys{strays}"
        )
    elif landed.strays:
        found.append(f"files no publish made: {', '.join(landed.strays)}")
    if recorded is not None and landed.keys != recorded:
        found.append(f"{landed.keys} events, the checkpoint recorded {recorded}")
    if api_count is not None and landed.keys != api_count:
        found.append(f"{landed.keys} events, the API counts {api_count}")
    return tuple(found)


def committed_windows(checkpoint: LogCheckpoint, scope: Scope) -> list[Window]:
    """The grid windows a checkpoint has committed that overlap the scope's range."""
    if checkpoint.window_ms <= 0:
        return []
    low = scope.from_ms if scope.from_ms is not None else -(1 << 62)
    high = scope.to_ms if scope.to_ms is not None else 1 << 62
    return [
        window
        for start, end in checkpoint.committed
        for window in grid_windows(max(start, low), min(end, high), checkpoint.window_ms)
        if checkpoint.is_committed(window)
    ]


def recorded_rows(checkpoint: LogCheckpoint) -> dict[Window, int]:
    """Rows landed per window as recorded when the window was committed and checked against
    the API (the newest 1000 such windows)."""
    recent = checkpoint.verification.get("recent", [])
    return {Window(entry["start_ms"], entry["end_ms"]): entry["rows"] for entry in recent}


def chosen_checkpoints(store: CheckpointStore, scope: Scope) -> list[LogCheckpoint]:
    checkpoints = [checkpoint for checkpoint in store.list() if checkpoint.table]
    if scope.log is None:
        return checkpoints
    wanted = scope.log.lower()
    chosen = [cp for cp in checkpoints if wanted in (cp.log_id.lower(), cp.log_name.lower())]
    if not chosen:
        raise ConfigError(
            f"--log: no checkpoint for {scope.log!r}; `log-ingestion state` lists them"
        )
    return chosen


def verify(settings: Settings, scope: Scope, count: Count | None = None) -> list[Verdict]:
    """A verdict for every committed window in scope, log by log (`count`: the API's)."""
    from log_ingestion.wiring import build_sink

    sink, store = build_sink(settings)
    verdicts = []
    for checkpoint in chosen_checkpoints(store, scope):
        windows = committed_windows(checkpoint, scope)
        verdicts += audit_log(_inventory(sink, checkpoint, windows), checkpoint, windows, count)
    for verdict in verdicts:
        if not verdict.ok:
            get_logger(log_id=verdict.log.id, log_name=verdict.log.name).warning(
                "verify.window_differs",
                window_start=verdict.landed.window.start_ms,
                window_end=verdict.landed.window.end_ms,
                rows=verdict.landed.rows,
                keys=verdict.landed.keys,
                recorded=verdict.recorded,
                api_count=verdict.api_count,
                problems=list(verdict.problems),
            )
    return verdicts


def _inventory(
    sink: ParquetSink | DeltaSink, checkpoint: LogCheckpoint, windows: list[Window]
) -> Inventory:
    """What the log's table holds in `windows`, read from the folder or the Delta log."""
    if isinstance(sink, ParquetSink):
        return inventory(sink, checkpoint.table, checkpoint.window_ms, windows)
    from log_ingestion.sink.delta_inventory import delta_inventory

    return delta_inventory(sink.lake.options, checkpoint.table, checkpoint.window_ms, windows)


def audit_log(
    found: Inventory, checkpoint: LogCheckpoint, windows: list[Window], count: Count | None
) -> list[Verdict]:
    """The verdicts of one log's `windows`, from what its table holds (`found`).

    A stray that cannot be read may hold rows of any window: it is reported with the first
    one (and moved aside by a repair of it)."""
    recorded = recorded_rows(checkpoint)
    log = LogInfo(checkpoint.log_id, checkpoint.log_name or checkpoint.log_id)
    verdicts = []
    for number, window in enumerate(windows):
        if process.STOP.is_set():
            raise StopRequestedError("stopped while verifying")
        landed = found.landed[window]
        if number == 0 and found.unplaced:
            landed = replace(landed, strays=landed.strays + found.unplaced)
        api_count = count(checkpoint, window) if count is not None else None
        said = problems(landed, recorded.get(window), api_count)
        if number == 0 and found.unplaced:
            said += (f"unreadable stray files, window unknown: {', '.join(found.unplaced)}",)
        verdicts.append(
            Verdict(log, checkpoint.table, landed, recorded.get(window), api_count, said)
        )
    return verdicts


def repair(settings: Settings, verdicts: Iterable[Verdict]) -> list[Window]:
    """Ingest every differing window again through the run path (`run_once`, rescan), after
    moving its strays aside into `<table>/_quarantine/`; the windows sent again. A window
    that fails raises its log's error; a stop, `StopRequestedError`."""
    from log_ingestion.ingest import run_once
    from log_ingestion.schedule import Request
    from log_ingestion.wiring import assemble

    differing = [verdict for verdict in verdicts if not verdict.ok]
    sent: list[Window] = []
    with assemble(settings, process.STOP) as pieces:
        for log, table, windows in _by_log(differing):
            windows = sorted({*windows, *_set_aside(pieces.sink, table, differing)})
            for start_ms, end_ms in ranges(windows):
                request = Request(
                    end_ms=end_ms, start_ms=start_ms, lag_ms=settings.follow_lag_ms, rescan=True
                )
                summary = run_once(pieces, [log], request)
                for failed in summary.failed:  # its own line and exit code, as `run` gives
                    raise failed.error or ApiError(failed.message or "the repair failed")
                if summary.interrupted:
                    raise StopRequestedError("stopped while repairing")
                sent += [window for window in windows if start_ms <= window.start_ms < end_ms]
    return sent


def _by_log(verdicts: list[Verdict]) -> Iterator[tuple[LogInfo, str, list[Window]]]:
    logs: dict[str, tuple[LogInfo, str, list[Window]]] = {}
    for verdict in verdicts:
        logs.setdefault(verdict.log.id, (verdict.log, verdict.table, []))[2].append(
            verdict.landed.window
        )
    yield from logs.values()


def ranges(windows: list[Window]) -> list[tuple[int, int]]:
    """Adjacent windows joined: each range re-ingests exactly the windows in it."""
    ranges: list[tuple[int, int]] = []
    for window in sorted(windows):
        if ranges and ranges[-1][1] == window.start_ms:
            ranges[-1] = (ranges[-1][0], window.end_ms)
        else:
            ranges.append((window.start_ms, window.end_ms))
    return ranges


def _set_aside(sink: ParquetSink | DeltaSink, table: str, verdicts: list[Verdict]) -> list[Window]:
    """What a re-ingest cannot replace, out of readers' way: a Parquet folder's strays; the
    files a Delta table's log lists but the store lost (an overwrite would fail reading
    them). The windows that need ingesting again besides the differing ones: all those the
    lost files held, inside the verified range or not."""
    if isinstance(sink, ParquetSink):
        _quarantine(sink, table, verdicts)
        return []
    unreadable = {
        path for verdict in verdicts if verdict.table == table for path in verdict.landed.unreadable
    }
    if not unreadable:
        return []
    from log_ingestion.sink.delta_inventory import forget_lost_files

    windows = forget_lost_files(sink.lake, table, unreadable)
    get_logger().warning("verify.forgotten", table=table, files=sorted(unreadable))
    return windows


def _quarantine(sink: ParquetSink, table: str, verdicts: list[Verdict]) -> None:
    """Move the strays of the table's differing windows where readers do not look."""
    strays = {
        stray for verdict in verdicts if verdict.table == table for stray in verdict.landed.strays
    }
    table_dir = sink.table_path(table)
    with sink.lock(table):
        for stray in sorted(strays):
            target = join(table_dir, QUARANTINE_DIR, stray)
            sink.storage.make_dirs(target.rsplit("/", 1)[0])
            sink.storage.move(join(table_dir, stray), target)
            get_logger().warning("verify.quarantined", table=table, file=stray, to=target)
