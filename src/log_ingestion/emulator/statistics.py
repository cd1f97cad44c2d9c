"""Statistical results: `calculate(count)` as a total and a timeseries of equal buckets.

The timeseries has ten buckets, or N with `timeslice(N)`. Bucket k covers
`[from + k*(to-from)//N, from + (k+1)*(to-from)//N)`, so the buckets tile `[from, to)` and
are exactly `(to-from)/N` wide when N divides the range.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from dataclasses import replace

import orjson

from log_ingestion.emulator.dataset import Dataset
from log_ingestion.emulator.faults import Faults
from log_ingestion.emulator.queries import QuerySpec, matching, search_stats

BUCKETS = 10  # without timeslice(N)


def buckets_of(spec: QuerySpec) -> int:
    return spec.query.timeslice or BUCKETS


def answered(spec: QuerySpec, faults: Faults) -> QuerySpec:
    """The query the statistics answer: the one asked, unless a fault knob says otherwise
    (`ignore_timeslice`, `statistics_shift_ms`)."""
    if faults.ignore_timeslice:
        spec = replace(spec, query=replace(spec.query, timeslice=None))
    shift = faults.statistics_shift_ms
    if shift:
        low, high = (spec.low[0] + shift, spec.low[1]), (spec.high[0] + shift, spec.high[1])
        spec = replace(spec, from_ms=spec.from_ms + shift, to_ms=spec.to_ms + shift)
        spec = replace(spec, low=low, high=high)
    return spec


def bucket_bounds(from_ms: int, to_ms: int, buckets: int = BUCKETS) -> list[int]:
    """The `buckets + 1` boundaries of equal timeseries buckets over `[from_ms, to_ms)`."""
    return [from_ms + k * (to_ms - from_ms) // buckets for k in range(buckets + 1)]


def count_buckets(dataset: Dataset, spec: QuerySpec) -> list[int]:
    """Matches per bucket; without a filter by index arithmetic, else by scanning."""
    buckets = buckets_of(spec)
    bounds = bucket_bounds(spec.from_ms, spec.to_ms, buckets)
    counts = [0] * buckets
    if spec.query.predicate is None:
        stores = [dataset.logs[i] for i in spec.log_ids]
        for number in range(buckets):
            low = max(spec.low, (bounds[number], 0))
            high = min(spec.high, (bounds[number + 1], 0))
            if low < high:
                counts[number] = sum(store.count_between(low, high) for store in stores)
        return counts
    last = buckets - 1
    for entry in matching(dataset, spec):
        counts[min(last, bisect_right(bounds, entry[0]) - 1)] += 1
    return counts


def statistics_body(dataset: Dataset, spec: QuerySpec, *, exact: bool = True) -> bytes:
    started = time.perf_counter()
    counts = count_buckets(dataset, spec)
    total = sum(counts)
    statistics = statistics_envelope(spec, 200)
    statistics["all_exact_result"] = exact  # the `inexact_counts` knob says they are not
    statistics.update(
        stats={"global_timeseries": {"count": total}},
        timeseries={"global_timeseries": [{"count": c} for c in counts]},
        count=total,
    )
    searched = search_stats(dataset, spec, total, started)
    return orjson.dumps(
        {
            "logs": list(spec.log_ids),
            "statistics": statistics,
            "search_stats": searched,
            "leql": spec.leql,
        }
    )


def statistics_envelope(spec: QuerySpec, status: int) -> dict[str, object]:
    return {
        "cardinality": 0,
        "granularity": max(1, (spec.to_ms - spec.from_ms) // buckets_of(spec)),
        "from": spec.from_ms,
        "to": spec.to_ms,
        "type": "count",
        "stats": {},
        "groups": [],
        "others": {},
        "status": status,
        "timeseries": {},
        "groups_timeseries": [],
        "all_exact_result": True,
    }
