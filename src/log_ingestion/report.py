"""What the commands print on stdout: the run summary, the state table, `verify`'s verdicts.

Every name and value that came from the API or a file is escaped before it reaches
rich, so a log called `fw [dc1]` prints as itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from log_ingestion.pipeline import RunSummary
from log_ingestion.state import LogCheckpoint
from log_ingestion.timeparse import format_ms

if TYPE_CHECKING:
    from log_ingestion.audit import Verdict

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def print_summary(out: Console, summary: RunSummary) -> None:
    """One row per log (windows committed of planned, events, files, size, status), then totals."""
    table = Table(title="log-ingestion summary")
    table.add_column("log", no_wrap=True)
    for column in ("windows", "events", "files", "MB", "parse errors"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("status")
    for log in summary.logs:
        counts = log.counts
        mismatched = "count mismatch" if counts.mismatches else "ok"
        status = f"failed: {log.message}" if log.error else mismatched
        table.add_row(
            escape(log.log.name),
            f"{counts.committed}/{log.windows}",
            f"{counts.rows:,}",
            str(counts.files),
            f"{counts.bytes / 1e6:,.1f}",
            f"{counts.parse_errors:,}",
            escape(status),
        )
    out.print(table)
    counts = summary.counts
    rate = counts.rows / summary.seconds if summary.seconds else 0.0
    stopped = " (stopped early; run again to resume)" if summary.interrupted else ""
    out.print(
        f"{len(summary.logs)} logs, {counts.rows:,} events, {counts.files} files, "
        f"{counts.bytes / 1e6:,.1f} MB in {summary.seconds:.1f}s ({rate:,.0f} events/s){stopped}",
        markup=False,
    )


def print_state(out: Console, checkpoints: list[LogCheckpoint], now_ms: int) -> None:
    """Per log: its table, the newest committed ranges, how far behind now, verification."""
    table = Table(
        "log", "table", "committed ranges", "behind now", "verified windows", "mismatches"
    )
    for checkpoint in checkpoints:
        table.add_row(*(escape(cell) for cell in state_row(checkpoint, now_ms)))
    out.print(table)


def state_row(checkpoint: LogCheckpoint, now_ms: int) -> list[str]:
    ranges = ", ".join(f"{format_ms(a)}..{format_ms(b)}" for a, b in checkpoint.committed[-3:])
    behind = lag_text(now_ms - checkpoint.committed[-1][1]) if checkpoint.committed else "-"
    verified = checkpoint.verification
    return [
        checkpoint.log_name,
        checkpoint.table,
        ranges or "-",
        behind,
        str(verified.get("windows", 0)),
        str(verified.get("mismatches", 0)),
    ]


def lag_text(ms: int) -> str:
    """`333d 20h`, `5h 12m`, `42m`: how far behind, in the units a person reads."""
    if ms < 0:
        return "ahead"
    days, rest = divmod(ms, DAY_MS)
    hours, rest = divmod(rest, HOUR_MS)
    minutes = rest // 60_000
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def print_verdicts(out: Console, verdicts: list[Verdict]) -> None:
    """The committed windows that differ from what was expected, then one line for all."""
    differing = [verdict for verdict in verdicts if not verdict.ok]
    if differing:
        table = Table("log", "window", "files", "rows", "distinct", "recorded", "API", "problem")
        for verdict in differing:
            landed = verdict.landed
            table.add_row(
                escape(verdict.log.name),
                f"{format_ms(landed.window.start_ms)}..{format_ms(landed.window.end_ms)}",
                str(len(landed.files)),
                f"{landed.rows:,}",
                f"{landed.keys:,}",
                _maybe(verdict.recorded),
                _maybe(verdict.api_count),
                escape("; ".join(verdict.problems)),
            )
        out.print(table)
    logs = len({verdict.log.id for verdict in verdicts})
    recorded = sum(verdict.recorded is not None for verdict in verdicts)
    counted = sum(verdict.api_count is not None for verdict in verdicts)
    against = f"{recorded} against the checkpoint's record, {counted} against the API's count"
    if differing:
        said = f"{len(differing)} of {len(verdicts)} committed windows of {logs} logs differ"
    else:
        said = f"all {len(verdicts)} committed windows of {logs} logs match the table"
    out.print(f"{said} ({against})", markup=False)


def _maybe(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
