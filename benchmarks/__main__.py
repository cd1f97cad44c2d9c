"""`python -m benchmarks [--quick] [NAME ...]`: run, print a table, write bench-results/latest.json.

Benchmarks measure; they assert nothing and do not run in CI. Targets are reported as
met or missed, with the margin, next to each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from benchmarks import (
    api_efficiency,
    compression,
    cost,
    delta,
    emulator_rate,
    end_to_end,
    memory,
    offline,
    parsing,
    rate_limit,
    startup,
    workers,
)
from benchmarks.common import Row, Sizes, machine
from log_ingestion.logging import configure_logging

BENCHMARKS: dict[str, Callable[[Sizes], list[Row]]] = {
    "parsing": parsing.run,
    "offline": offline.run,
    "end_to_end": end_to_end.run,
    "api_efficiency": api_efficiency.run,
    "memory": memory.run,
    "compression": compression.run,
    "rate_limit": rate_limit.run,
    "cost": cost.run,
    "workers": workers.run,
    "startup": startup.run,
    "emulator_rate": emulator_rate.run,
    "delta": delta.run,
}


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 2 minutes)")
    parser.add_argument("--output", default="bench-results/latest.json", help="JSON results")
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.names if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    return arguments


def _table(rows: list[Row]) -> str:
    header = ("benchmark", "metric", "value", "unit", "target", "met", "margin")
    lines = [header]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "NO")
        value = (
            f"{row.value:,.3f}".rstrip("0").rstrip(".") if row.value % 1 else f"{row.value:,.0f}"
        )
        lines.append((row.benchmark, row.metric, value, row.unit, row.target, met, row.margin))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for number, line in enumerate(lines):
        cells = [
            cell.rjust(width) if column == 2 else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if number == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    arguments = _arguments(argv)
    configure_logging("WARNING", "json")
    sizes = Sizes(arguments.quick)
    names = arguments.names or list(BENCHMARKS)
    rows: list[Row] = []
    seconds: dict[str, float] = {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        rows.extend(BENCHMARKS[name](sizes))
        seconds[name] = round(time.perf_counter() - began, 1)
    print(_table(rows))
    for row in rows:
        if row.note:
            print(f"  {row.benchmark} / {row.metric}: {row.note}")
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": arguments.quick,
        "machine": machine(),
        "seconds": seconds,
        "results": [row.as_dict() for row in rows],
    }
    folder = os.path.dirname(arguments.output)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(arguments.output, "w", encoding="utf-8") as out:
        json.dump(results, out, indent=2)
    print(f"wrote {arguments.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
