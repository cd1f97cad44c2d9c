"""Queries over several logs: one merged stream in (timestamp, sequence_number) order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from log_ingestion.emulator import Dataset, Emulator, Faults
from log_ingestion.emulator.testing import find_link, walk

NAMES = ("app-kv", "firewall-traffic", "idr-auth-json")


def merged_truth(dataset: Dataset, log_ids: list[str]) -> list[tuple[int, int, str, str]]:
    """Ground truth of several logs: (timestamp, sequence, log id, message), merged."""
    rows = [(ts, seq, log_id, m) for log_id in log_ids for ts, seq, m in dataset.events(log_id)]
    return sorted(rows)


def served(events: list[dict[str, Any]]) -> list[tuple[int, int, str, str]]:
    return [
        (e["timestamp"], int(e["sequence_number_str"]), e["log_id"], e["message"]) for e in events
    ]


def post_body(dataset: Dataset, log_ids: list[str]) -> dict[str, Any]:
    during = {"from": dataset.start_ms, "to": dataset.end_ms}
    return {"logs": log_ids, "leql": {"statement": "where(/.*/)", "during": during}}


@pytest.mark.parametrize("per_page", [1, 7, 50, 500])
def test_post_of_several_logs_serves_every_event_once_in_merged_order(
    client: httpx.Client, emulator: Emulator, per_page: int
) -> None:
    """POST with three logs: pages of per_page cover the merged ground truth exactly."""
    dataset = emulator.dataset
    log_ids = [dataset.log_id(name) for name in NAMES]
    seen = walk(
        client,
        client.post("/query/logs", json=post_body(dataset, log_ids), params={"per_page": per_page}),
    )
    assert merged_truth(dataset, log_ids) == served(seen.events)


def test_pages_of_several_logs_neither_overlap_nor_gap(
    client: httpx.Client, emulator: Emulator
) -> None:
    """Page k holds merged events 64k to 64k+63: no page repeats or skips an event."""
    dataset = emulator.dataset
    log_ids = [dataset.log_id(name) for name in NAMES]
    response = client.post("/query/logs", json=post_body(dataset, log_ids), params={"per_page": 64})
    pages = [served(b["events"]) for b in walk(client, response).bodies if "progress" not in b]
    truth = merged_truth(dataset, log_ids)
    assert [truth[first : first + 64] for first in range(0, len(truth), 64)] == pages


def test_events_of_one_millisecond_interleave_logs(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """Logs sharing milliseconds: ordered by sequence number within one, pages split there."""
    emulator = make_emulator(Dataset(events_per_log=200, span_ms=20))
    http = make_client(emulator)
    dataset = emulator.dataset
    log_ids = [dataset.log_id(name) for name in NAMES]
    seen = walk(
        http, http.post("/query/logs", json=post_body(dataset, log_ids), params={"per_page": 9})
    )
    truth = merged_truth(dataset, log_ids)
    assert truth == served(seen.events)
    logs_by_ms: dict[int, set[str]] = {}
    for ts, _, log_id, _ in truth:
        logs_by_ms.setdefault(ts, set()).add(log_id)
    assert set(log_ids) in logs_by_ms.values()


def test_next_of_a_post_is_a_get_on_the_joined_logs_path(
    client: httpx.Client, emulator: Emulator
) -> None:
    """A POST query's Next href is /query/logs/<id1>:<id2>:<id3> plus the next event's key."""
    dataset = emulator.dataset
    log_ids = [dataset.log_id(name) for name in NAMES]
    started = client.post("/query/logs", json=post_body(dataset, log_ids), params={"per_page": 10})
    following = httpx.URL(find_link(client.get(find_link(started.json(), "self")).json(), "next"))
    eleventh = merged_truth(dataset, log_ids)[10]
    expected = {
        "query": "where(/.*/)",
        "from": str(eleventh[0]),
        "sequence_number": str(eleventh[1]),
        "to": str(dataset.end_ms),
        "per_page": "10",
        "page": "2",
    }
    assert (f"/query/logs/{':'.join(log_ids)}", expected) == (
        following.path,
        dict(following.params),
    )


def test_several_logs_through_polls_on_start_and_next(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """With polls before the start and each Next is ready, the walk still equals the truth."""
    emulator = make_emulator(faults=Faults(polls_before_ready=2, next_polls_before_ready=1))
    http = make_client(emulator)
    dataset = emulator.dataset
    log_ids = [dataset.log_id(name) for name in NAMES]
    seen = walk(
        http, http.post("/query/logs", json=post_body(dataset, log_ids), params={"per_page": 300})
    )
    assert merged_truth(dataset, log_ids) == served(seen.events)
    assert seen.statuses == [202, 200, 200, 202, 200, 202, 200]


def test_get_of_joined_ids_equals_the_post(client: httpx.Client, emulator: Emulator) -> None:
    """GET /query/logs/<id1>:<id2>:<id3> serves what the POST of the same logs serves."""
    dataset = emulator.dataset
    log_ids = [dataset.log_id(name) for name in NAMES]
    params = {"from": dataset.start_ms, "to": dataset.end_ms, "per_page": 40}
    by_get = walk(client, client.get(f"/query/logs/{':'.join(log_ids)}", params=params))
    by_post = walk(
        client,
        client.post("/query/logs", json=post_body(dataset, log_ids), params={"per_page": 40}),
    )
    assert served(by_post.events) == served(by_get.events)


def test_most_recent_first_over_several_logs(client: httpx.Client, emulator: Emulator) -> None:
    """most_recent_first=true walks the merged stream newest first, across pages."""
    dataset = emulator.dataset
    log_ids = [dataset.log_id(name) for name in NAMES]
    params = {"per_page": 70, "most_recent_first": "true"}
    seen = walk(client, client.post("/query/logs", json=post_body(dataset, log_ids), params=params))
    assert merged_truth(dataset, log_ids)[::-1] == served(seen.events)
