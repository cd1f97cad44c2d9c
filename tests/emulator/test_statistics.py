"""calculate(count) with timeslice(N): N equal buckets, over one log or several."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from log_ingestion.emulator import Dataset, Emulator, Faults
from log_ingestion.emulator.statistics import bucket_bounds
from log_ingestion.emulator.testing import walk


def statistics(http: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    """The `statistics` object a GET query ends with, after its polls."""
    final: dict[str, Any] = walk(http, http.get(path, params=params)).final
    return final["statistics"]


def truth_buckets(dataset: Dataset, log_ids: list[str], bounds: list[int]) -> list[int]:
    """Ground-truth events per bucket `[bounds[k], bounds[k+1])`, summed over the logs."""
    return [
        sum(dataset.count(log_id, low, high) for log_id in log_ids)
        for low, high in itertools.pairwise(bounds)
    ]


def series(stats: dict[str, Any]) -> list[int]:
    return [bucket["count"] for bucket in stats["timeseries"]["global_timeseries"]]


@pytest.mark.parametrize(
    ("from_ms", "to_ms", "buckets", "expected"),
    [(0, 100, 4, [0, 25, 50, 75, 100]), (0, 10, 3, [0, 3, 6, 10]), (5, 7, 4, [5, 5, 6, 6, 7])],
)
def test_bucket_bounds_tile_the_range(
    from_ms: int, to_ms: int, buckets: int, expected: list[int]
) -> None:
    """Bucket k starts at from + k*(to-from)//N; the last ends at to."""
    assert expected == bucket_bounds(from_ms, to_ms, buckets)


def test_timeslice_gives_n_buckets_of_the_ground_truth(
    client: httpx.Client, emulator: Emulator
) -> None:
    """where(/.*/) calculate(count) timeslice(72): 72 buckets, each its events in range."""
    dataset = emulator.dataset
    log_id = dataset.log_id("app-kv")
    from_ms, to_ms = dataset.start_ms + 1_000, dataset.end_ms - 77
    stats = statistics(
        client,
        f"/query/logs/{log_id}",
        query="where(/.*/) calculate(count) timeslice(72)",
        **{"from": from_ms, "to": to_ms},
    )
    expected = truth_buckets(dataset, [log_id], bucket_bounds(from_ms, to_ms, 72))
    assert expected == series(stats)
    assert (to_ms - from_ms) // 72 == stats["granularity"]
    assert sum(expected) == stats["count"] == stats["stats"]["global_timeseries"]["count"]


def test_timeslice_buckets_are_exact_when_n_divides_the_range(
    client: httpx.Client, emulator: Emulator
) -> None:
    """A range of 72 s in timeslice(72) gives one-second buckets, one per second."""
    dataset = emulator.dataset
    log_id = dataset.log_id("firewall-traffic")
    from_ms = dataset.start_ms + 600_000
    stats = statistics(
        client,
        f"/query/logs/{log_id}",
        query="calculate(count) timeslice(72)",
        **{"from": from_ms, "to": from_ms + 72_000},
    )
    seconds = [from_ms + k * 1_000 for k in range(73)]
    assert (1_000, truth_buckets(dataset, [log_id], seconds)) == (
        stats["granularity"],
        series(stats),
    )


def test_filtered_timeslice_counts_what_where_returns(
    client: httpx.Client, emulator: Emulator
) -> None:
    """where(level=ERROR) calculate(count) timeslice(7) buckets the events where() returns."""
    dataset = emulator.dataset
    log_id = dataset.log_id("app-kv")
    bounds = {"from": dataset.start_ms, "to": dataset.end_ms}
    events = walk(
        client,
        client.get(
            f"/query/logs/{log_id}",
            params={**bounds, "query": "where(level=ERROR)", "per_page": 500},
        ),
    ).events
    edges = bucket_bounds(dataset.start_ms, dataset.end_ms, 7)
    expected = [
        sum(low <= e["timestamp"] < high for e in events) for low, high in itertools.pairwise(edges)
    ]
    stats = statistics(
        client,
        f"/query/logs/{log_id}",
        query="where(level=ERROR) calculate(count) timeslice(7)",
        **bounds,
    )
    assert expected == series(stats)


def test_timeslice_in_a_post_body(client: httpx.Client, emulator: Emulator) -> None:
    """POST /query/logs with statement calculate(count) timeslice(12) answers 12 buckets."""
    dataset = emulator.dataset
    log_id = dataset.log_id("vpn-sessions")
    body = {
        "logs": [log_id],
        "leql": {
            "statement": "calculate(count) timeslice(12)",
            "during": {"from": dataset.start_ms, "to": dataset.end_ms},
        },
    }
    stats = walk(client, client.post("/query/logs", json=body)).final["statistics"]
    edges = bucket_bounds(dataset.start_ms, dataset.end_ms, 12)
    assert truth_buckets(dataset, [log_id], edges) == series(stats)


def test_timeslice_over_several_logs_counts_all_of_them(
    client: httpx.Client, emulator: Emulator
) -> None:
    """One timeslice query over three logs: each bucket sums the three logs' events."""
    dataset = emulator.dataset
    log_ids = [dataset.log_id(name) for name in ("app-kv", "syslog-text", "idr-auth-json")]
    stats = statistics(
        client,
        f"/query/logs/{':'.join(log_ids)}",
        query="calculate(count) timeslice(30)",
        **{"from": dataset.start_ms, "to": dataset.end_ms},
    )
    edges = bucket_bounds(dataset.start_ms, dataset.end_ms, 30)
    assert (truth_buckets(dataset, log_ids, edges), 900) == (series(stats), stats["count"])


def test_calculate_count_over_several_logs_counts_all_of_them(
    client: httpx.Client, emulator: Emulator
) -> None:
    """calculate(count) over a POST of two logs is the sum of both logs' counts."""
    dataset = emulator.dataset
    log_ids = [dataset.log_id("app-kv"), dataset.log_id("firewall-traffic")]
    from_ms, to_ms = dataset.start_ms + 123_456, dataset.end_ms - 654_321
    body = {
        "logs": log_ids,
        "leql": {
            "statement": "where(/.*/) calculate(count)",
            "during": {"from": from_ms, "to": to_ms},
        },
    }
    stats = walk(client, client.post("/query/logs", json=body)).final["statistics"]
    expected = sum(dataset.count(log_id, from_ms, to_ms) for log_id in log_ids)
    assert (expected, 10) == (stats["count"], len(series(stats)))


def test_partial_body_of_a_running_timeslice_has_its_granularity(
    client: httpx.Client, emulator: Emulator
) -> None:
    """The 202's `partial` statistics already use the timeslice's granularity."""
    log_id = emulator.dataset.log_id("app-kv")
    started = client.get(
        f"/query/logs/{log_id}",
        params={"from": 0, "to": 36_000, "query": "calculate(count) timeslice(36)"},
    )
    assert (started.status_code, started.json()["partial"]["granularity"]) == (202, 1_000)


@pytest.mark.parametrize(
    "clause",
    ["timeslice(0)", "timeslice(-3)", "timeslice(2.5)", "timeslice(1h)", "timeslice(1001)"],
)
def test_bad_or_too_many_buckets_are_400(
    client: httpx.Client, emulator: Emulator, clause: str
) -> None:
    """N zero, negative, not an integer or above max_timeslice (1000) answers a LEQL 400."""
    log_id = emulator.dataset.log_id("app-kv")
    response = client.get(
        f"/query/logs/{log_id}",
        params={"from": 0, "to": 10, "query": f"calculate(count) {clause}"},
    )
    body = response.json()
    assert (response.status_code, body["errorCode"]) == (400, 400000)
    assert body["message"].startswith("Invalid LEQL query: timeslice(")


def test_max_timeslice_knob(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """max_timeslice=20 accepts timeslice(20) and refuses timeslice(21)."""
    emulator = make_emulator(faults=Faults(max_timeslice=20, immediate_probability=1.0))
    http = make_client(emulator)
    log_id = emulator.dataset.log_id("app-kv")
    statuses = [
        http.get(
            f"/query/logs/{log_id}",
            params={"from": 0, "to": 10, "query": f"calculate(count) timeslice({n})"},
        ).status_code
        for n in (20, 21)
    ]
    assert statuses == [200, 400]


def test_timeslice_on_an_events_query_is_400(client: httpx.Client, emulator: Emulator) -> None:
    """timeslice() without a calculation answers 400 with message and errorCode."""
    log_id = emulator.dataset.log_id("app-kv")
    response = client.get(
        f"/query/logs/{log_id}", params={"from": 0, "to": 10, "query": "where(/.*/) timeslice(5)"}
    )
    assert (response.status_code, response.json()["errorCode"]) == (400, 400000)
