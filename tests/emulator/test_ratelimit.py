"""Rate limiting: fixed windows per (api key, family), headers on every response, 429."""

from __future__ import annotations

import time

import pytest

from log_ingestion.emulator import Emulator, Faults
from log_ingestion.emulator.testing import find_link

HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def query_params(emulator: Emulator) -> dict[str, int]:
    return {"from": emulator.dataset.start_ms, "to": emulator.dataset.end_ms}


def test_every_response_carries_the_headers_including_202(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """202 starts, 200 polls, management and errors all carry the three headers."""
    emulator = make_emulator(faults=Faults(rate_limit=100))
    http = make_client(emulator)
    log_id = emulator.dataset.log_id("app-kv")
    started = http.get(f"/query/logs/{log_id}", params=query_params(emulator))
    responses = [
        started,
        http.get(find_link(started.json(), "self")),
        http.get("/management/logs"),
        http.get("/management/logs/unknown"),
    ]
    assert [r.status_code for r in responses] == [202, 200, 200, 404]
    assert all(set(HEADERS) <= set(r.headers) for r in responses)
    assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["99", "98", "99", "98"]


def test_exceeding_the_limit_is_429_with_retry_after(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """The request past the limit answers 429, Retry-After and Too Many Requests."""
    emulator = make_emulator(faults=Faults(rate_limit=3, rate_window_seconds=900))
    http = make_client(emulator)
    statuses = [http.get("/management/logs").status_code for _ in range(4)]
    refused = http.get("/management/logs")
    assert statuses == [200, 200, 200, 429]
    assert refused.json() == {"message": "Too Many Requests"}
    assert 890 <= int(refused.headers["retry-after"]) <= 900
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert emulator.stats.rate_limited == 2


def test_families_and_keys_have_separate_windows(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """Exhausting management leaves query untouched, and one key leaves another untouched."""
    emulator = make_emulator(api_keys={"first": None, "second": None}, faults=Faults(rate_limit=1))
    first, second = make_client(emulator, key="first"), make_client(emulator, key="second")
    log_id = emulator.dataset.log_id("app-kv")
    assert first.get("/management/logs").status_code == 200
    assert first.get("/management/logs").status_code == 429
    assert first.get(f"/query/logs/{log_id}", params=query_params(emulator)).status_code == 202
    assert second.get("/management/logs").status_code == 200


def test_polls_count_against_the_query_family(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """A start and its poll use two of the query family's requests."""
    emulator = make_emulator(faults=Faults(rate_limit=2, polls_before_ready=3))
    http = make_client(emulator)
    log_id = emulator.dataset.log_id("app-kv")
    started = http.get(f"/query/logs/{log_id}", params=query_params(emulator))
    self_href = find_link(started.json(), "self")
    assert [http.get(self_href).status_code for _ in range(2)] == [200, 429]


def test_window_resets_after_its_length(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """After the window has passed, the count starts again."""
    emulator = make_emulator(faults=Faults(rate_limit=1, rate_window_seconds=0.2))
    http = make_client(emulator)
    assert http.get("/validate").status_code == 200
    assert http.get("/validate").status_code == 429
    time.sleep(0.25)
    assert http.get("/validate").status_code == 200


@pytest.mark.parametrize(("fmt", "low", "high"), [("delta", 1, 900), ("epoch", 10**9, 10**11)])
def test_reset_header_format(make_emulator, make_client, fmt: str, low: int, high: int) -> None:  # type: ignore[no-untyped-def]
    """X-RateLimit-Reset is delta seconds by default, epoch seconds when configured."""
    emulator = make_emulator(faults=Faults(rate_reset_format=fmt))  # type: ignore[arg-type]
    reset = int(make_client(emulator).get("/validate").headers["x-ratelimit-reset"])
    assert low <= reset <= high


def test_limit_can_change_while_running(emulator: Emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """Tests tighten the limit between requests through the live Faults object."""
    http = make_client(emulator)
    assert http.get("/validate").headers["x-ratelimit-limit"] == "1000000"
    emulator.faults.rate_limit = 1
    assert http.get("/validate").status_code == 429


def test_two_clients_with_one_key_share_one_budget(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """Two connections with the same key draw from one window: the fourth request is 429."""
    emulator = make_emulator(faults=Faults(rate_limit=3))
    one, other = make_client(emulator), make_client(emulator)
    log_id = emulator.dataset.log_id("app-kv")
    path, params = f"/query/logs/{log_id}", query_params(emulator)
    responses = [one.get(path, params=params), other.get(path, params=params)]
    responses += [one.get(path, params=params), other.get(path, params=params)]
    assert [r.status_code for r in responses] == [202, 202, 202, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["2", "1", "0", "0"]


def test_different_keys_have_separate_query_budgets(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """A key that has used up its query budget leaves another key's budget whole."""
    emulator = make_emulator(api_keys={"first": None, "second": None}, faults=Faults(rate_limit=2))
    first, second = make_client(emulator, key="first"), make_client(emulator, key="second")
    log_id = emulator.dataset.log_id("app-kv")
    path, params = f"/query/logs/{log_id}", query_params(emulator)
    spent = [first.get(path, params=params).status_code for _ in range(3)]
    fresh = second.get(path, params=params)
    assert (spent, fresh.status_code) == ([202, 202, 429], 202)
    assert fresh.headers["x-ratelimit-remaining"] == "1"
