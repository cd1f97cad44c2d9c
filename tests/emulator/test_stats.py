"""The emulator's counters: requests per kind, polls, totals and requests per API key."""

from __future__ import annotations

import httpx

from log_ingestion.emulator import Dataset, Emulator, Faults
from log_ingestion.emulator.testing import walk


def start(http: httpx.Client, emulator: Emulator, per_page: int) -> httpx.Response:
    dataset = emulator.dataset
    return http.get(
        f"/query/logs/{dataset.log_id('app-kv')}",
        params={"from": dataset.start_ms, "to": dataset.end_ms, "per_page": per_page},
    )


def test_requests_are_counted_per_kind_with_polls_apart(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """Three polls per start, one per Next: by_kind, polls and the total say so."""
    faults = Faults(polls_before_ready=3, next_polls_before_ready=1)
    emulator = make_emulator(Dataset(events_per_log=120, span_ms=60_000), faults=faults)
    http = make_client(emulator)
    http.get("/management/logs")
    walk(http, start(http, emulator, per_page=50))
    stats = emulator.stats
    assert stats.by_kind() == {"management": 1, "next": 2, "poll": 5, "start": 1}
    assert (stats.polls, stats.total_requests) == (5, 9)


def test_snapshot_carries_totals_polls_and_keys(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """snapshot() has what a benchmark reads: totals, polls, per kind, per key, per 1M events."""
    emulator = make_emulator(Dataset(events_per_log=100, span_ms=60_000))
    http = make_client(emulator)
    walk(http, start(http, emulator, per_page=500))
    snapshot = emulator.stats.snapshot()
    expected = {
        "requests": {"poll 200": 1, "start 202": 1},
        "by_kind": {"poll": 1, "start": 1},
        "total_requests": 2,
        "polls": 1,
        "requests_by_key": {"emulator-key": 2},
        "events_served": 100,
        "requests_per_million_events": 20_000.0,
        "rate_limited": 0,
        "faults_injected": {},
    }
    assert expected == snapshot


def test_requests_are_counted_per_api_key(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """Each key's requests count apart, refused ones too; a request without a key counts as ""."""
    emulator = make_emulator(api_keys={"first": None, "second": None}, faults=Faults(rate_limit=2))
    first, second = make_client(emulator, key="first"), make_client(emulator, key="second")
    for _ in range(3):
        first.get("/validate")
    second.get("/validate")
    make_client(emulator, key=None).get("/validate")
    expected = {"first": 3, "second": 1, "": 1}
    assert expected == dict(emulator.stats.requests_by_key)
    assert emulator.stats.rate_limited == 1


def test_reset_clears_the_per_key_counts(emulator: Emulator, client: httpx.Client) -> None:
    """reset() zeroes the per-key counts with the others."""
    client.get("/validate")
    emulator.stats.reset()
    assert dict(emulator.stats.requests_by_key) == {}
