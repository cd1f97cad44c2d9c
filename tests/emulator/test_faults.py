"""Fault knobs: scheduled and seeded failures, broken bodies, quirks and live data."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest

from log_ingestion.emulator import Dataset, Emulator, Faults
from log_ingestion.emulator.queries import js_rounded
from log_ingestion.emulator.testing import find_link, walk


def params(emulator: Emulator, **extra: Any) -> dict[str, Any]:
    return {"from": emulator.dataset.start_ms, "to": emulator.dataset.end_ms, **extra}


def start(
    http: httpx.Client, emulator: Emulator, log: str = "app-kv", **extra: Any
) -> httpx.Response:
    return http.get(f"/query/logs/{emulator.dataset.log_id(log)}", params=params(emulator, **extra))


def test_fail_next_start_exactly_n_times(emulator: Emulator, client: httpx.Client) -> None:
    """fail_next("start", 2, 503): the next two starts fail, the third works."""
    emulator.faults.fail_next("start", 2, 503)
    statuses = [start(client, emulator).status_code for _ in range(3)]
    assert statuses == [503, 503, 202]


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_fail_next_poll_answers_json_error_with_rate_headers(
    emulator: Emulator, client: httpx.Client, status: int
) -> None:
    """A scheduled poll failure is a JSON error with a message and the rate-limit headers."""
    started = start(client, emulator).json()
    emulator.faults.fail_next("poll", 1, status)
    failed = client.get(find_link(started, "self"))
    assert failed.status_code == status
    assert "message" in failed.json()
    assert "x-ratelimit-remaining" in failed.headers
    assert client.get(find_link(started, "self")).status_code == 200


def test_fail_next_next_only_hits_next_fetches(emulator: Emulator, client: httpx.Client) -> None:
    """A scheduled Next failure leaves the start and the poll alone."""
    emulator.faults.fail_next("next", 1, 500)
    started = start(client, emulator, per_page=100)
    page = client.get(find_link(started.json(), "self"))
    assert (started.status_code, page.status_code) == (202, 200)
    next_href = find_link(page.json(), "next")
    assert client.get(next_href).status_code == 500
    assert client.get(next_href).status_code == 200


def test_fail_next_management(emulator: Emulator, client: httpx.Client) -> None:
    """Management and /validate share the management kind."""
    emulator.faults.fail_next("management", 1, 503)
    assert [client.get("/management/logs").status_code for _ in range(2)] == [503, 200]


def test_fail_next_rejects_unknown_kinds_and_faults() -> None:
    """Typos in kinds or fault names fail loudly."""
    faults = Faults()
    with pytest.raises(ValueError, match="kind"):
        faults.fail_next("stat", 1)
    with pytest.raises(ValueError, match="fault"):
        faults.fail_next("start", 1, "explode")  # type: ignore[arg-type]


def statuses_with_seed(make_emulator, make_client, seed: int) -> list[int]:  # type: ignore[no-untyped-def]
    emulator = make_emulator(faults=Faults(seed=seed, error_rates={"management": 0.5}))
    http = make_client(emulator)
    return [http.get("/management/logs").status_code for _ in range(30)]


def test_error_rates_are_seeded_and_reproducible(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """The same seed gives the same failures; both 500 and 503 occur at rate 0.5."""
    first = statuses_with_seed(make_emulator, make_client, 7)
    assert first == statuses_with_seed(make_emulator, make_client, 7)
    assert {200, 500, 503} == set(first)


def test_error_rate_applies_per_kind(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """An error rate for `poll` leaves starts untouched."""
    emulator = make_emulator(faults=Faults(error_rates={"poll": 1.0}))
    http = make_client(emulator)
    started = start(http, emulator)
    assert started.status_code == 202
    assert http.get(find_link(started.json(), "self")).status_code in (500, 503)


def test_drop_closes_without_response(emulator: Emulator, client: httpx.Client) -> None:
    """A dropped call closes the connection: the client sees a protocol error."""
    emulator.faults.fail_next("management", 1, "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/management/logs")
    assert client.get("/management/logs").status_code == 200


def test_truncated_body_is_a_200_with_broken_json(emulator: Emulator, client: httpx.Client) -> None:
    """A truncated answer is 200 application/json whose JSON is cut off."""
    started = start(client, emulator).json()
    emulator.faults.fail_next("poll", 1, "truncate")
    response = client.get(find_link(started, "self"))
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


def test_html_error_page_from_a_proxy(emulator: Emulator, client: httpx.Client) -> None:
    """An html fault is a 502 text/html page as an nginx proxy sends."""
    emulator.faults.fail_next("start", 1, "html")
    response = start(client, emulator)
    assert (response.status_code, response.headers["content-type"]) == (502, "text/html")
    assert b"502 Bad Gateway" in response.content


def test_wrong_content_type(emulator: Emulator, client: httpx.Client) -> None:
    """A content_type fault keeps the JSON body but labels it otherwise."""
    emulator.faults.wrong_content_type = "text/plain"
    emulator.faults.fail_next("management", 1, "content_type")
    response = client.get("/management/logs")
    assert response.headers["content-type"] == "text/plain"
    assert "logs" in response.json()


def test_stall_outlasts_the_client_timeout(emulator: Emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """A stalled call does not answer within the client's timeout; stop() still returns."""
    emulator.faults.stall_seconds = 30
    emulator.faults.fail_next("management", 1, "stall")
    http = make_client(emulator, timeout=0.3)
    with pytest.raises(httpx.ReadTimeout):
        http.get("/management/logs")


def test_slow_answer_arrives_late_but_whole(emulator: Emulator, client: httpx.Client) -> None:
    """A slow call answers normally after slow_seconds."""
    emulator.faults.slow_seconds = 0.3
    emulator.faults.fail_next("management", 1, "slow")
    began = time.monotonic()
    assert client.get("/management/logs").status_code == 200
    assert time.monotonic() - began >= 0.3


def test_probabilistic_faults_apply_only_to_chosen_kinds(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """drop_rate=1 restricted to `poll` leaves management alone."""
    emulator = make_emulator(faults=Faults(drop_rate=1.0, kinds=frozenset({"poll"})))
    http = make_client(emulator)
    assert http.get("/management/logs").status_code == 200
    started = start(http, emulator)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(find_link(started.json(), "self"))


def test_lowercase_rels(emulator: Emulator, client: httpx.Client) -> None:
    """lowercase_rels writes `self` and `next` as the documentation does."""
    emulator.faults.lowercase_rels = True
    started = start(client, emulator, per_page=10).json()
    assert started["links"][0]["rel"] == "self"
    page = client.get(started["links"][0]["href"]).json()
    assert page["links"][0]["rel"] == "next"


def test_rounded_sequence_numbers_keep_the_exact_string(
    emulator: Emulator, client: httpx.Client
) -> None:
    """round_sequence_numbers writes the number as a float would; the _str stays exact."""
    emulator.faults.round_sequence_numbers = True
    events = walk(client, start(client, emulator, per_page=500)).events
    exact = [int(e["sequence_number_str"]) for e in events]
    assert [e["sequence_number"] for e in events] == [js_rounded(n) for n in exact]
    assert sum(e["sequence_number"] != int(e["sequence_number_str"]) for e in events) > 250
    assert exact == [
        seq for _, seq, _ in emulator.dataset.events(emulator.dataset.log_id("app-kv"))
    ]


def test_next_can_go_through_202_and_polls(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """next_polls_before_ready=2: each Next answers 202 and needs two polls."""
    emulator = make_emulator(faults=Faults(next_polls_before_ready=2))
    http = make_client(emulator)
    seen = walk(http, start(http, emulator, per_page=150))
    assert seen.statuses == [202, 200, 202, 200, 200]
    assert len(seen.events) == 300


def test_next_loop_points_back_to_the_page_just_served(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """next_loop_at_page=2: page 2's Next link repeats page 2, so a naive client loops."""
    emulator = make_emulator(faults=Faults(next_loop_at_page=2))
    http = make_client(emulator)
    first = http.get(find_link(start(http, emulator, per_page=50).json(), "self")).json()
    second_href = find_link(first, "next")
    second = http.get(second_href).json()
    again = http.get(find_link(second, "next")).json()
    assert httpx.URL(find_link(second, "next")).params == httpx.URL(second_href).params
    assert again["events"] == second["events"]


def test_live_log_appends_between_pages_and_ground_truth_follows(
    make_emulator, make_client
) -> None:  # type: ignore[no-untyped-def]
    """live_append_per_page adds events ahead of the pager; a walk still equals ground truth."""
    emulator = make_emulator(faults=Faults(live_append_per_page=3))
    http = make_client(emulator)
    log_id = emulator.dataset.log_id("firewall-traffic")
    seen = walk(http, start(http, emulator, "firewall-traffic", per_page=100))
    expected = [(ts, seq) for ts, seq, _ in emulator.dataset.events(log_id)]
    assert seen.keys == expected
    assert len(expected) == 300 + 3 * 3


def test_append_is_visible_to_queries_and_ground_truth(
    emulator: Emulator, client: httpx.Client
) -> None:
    """emulator.append adds events 1 ms after the newest one, with fresh sequence numbers."""
    log_id = emulator.dataset.log_id("syslog-text")
    keys = emulator.append(log_id, ["new one", "new two"])
    last_ts = max(ts for ts, _, _ in emulator.dataset.events(log_id, None, keys[0][0]))
    assert [ts for ts, _ in keys] == [last_ts + 1, last_ts + 1]
    seen = walk(
        client,
        client.get(
            f"/query/logs/{log_id}", params={"from": 0, "to": keys[0][0] + 1, "per_page": 500}
        ),
    )
    assert seen.messages[-2:] == ["new one", "new two"]
    assert seen.keys[-2:] == keys


def test_appended_events_inside_the_range_merge_in_order(
    emulator: Emulator, client: httpx.Client
) -> None:
    """Events appended with an old timestamp sort among the generated ones."""
    log_id = emulator.dataset.log_id("app-kv")
    middle = emulator.dataset.start_ms + 1_800_000
    emulator.append(log_id, ["late arrival"], timestamp_ms=middle)
    seen = walk(client, start(client, emulator, per_page=500))
    truth = list(emulator.dataset.events(log_id))
    assert seen.keys == [(ts, seq) for ts, seq, _ in truth]
    assert "late arrival" in seen.messages


def test_stats_count_requests_by_kind_and_status_and_events(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """stats counts each request by (kind, status), the events served and faults."""
    emulator = make_emulator(Dataset(events_per_log=120, span_ms=60_000))
    http = make_client(emulator)
    emulator.faults.fail_next("management", 1, 500)
    http.get("/management/logs")
    walk(http, start(http, emulator, per_page=50))
    stats = emulator.stats
    assert (stats.count("start", 202), stats.count("poll", 200), stats.count("next", 200)) == (
        1,
        1,
        2,
    )
    assert stats.count("management", 500) == 1
    assert stats.events_served == 120
    assert stats.faults_injected["500"] == 1
    assert stats.requests_per_million_events() == pytest.approx(5 * 1_000_000 / 120)


def test_stats_snapshot_and_reset(emulator: Emulator, client: httpx.Client) -> None:
    """snapshot() is a plain dict for printing; reset() zeroes every counter."""
    client.get("/validate")
    assert emulator.stats.snapshot()["requests"] == {"management 200": 1}
    emulator.stats.reset()
    assert (emulator.stats.total_requests, emulator.stats.events_served) == (0, 0)
    assert emulator.stats.requests_per_million_events() == 0.0


def test_reseed_and_clear_scheduled(emulator: Emulator, client: httpx.Client) -> None:
    """clear_scheduled() forgets pending failures; pending() counts them."""
    emulator.faults.fail_next("management", 3, 500)
    assert emulator.faults.pending("management") == 3
    emulator.faults.clear_scheduled()
    emulator.faults.reseed(5)
    assert client.get("/validate").status_code == 200


def test_assigning_a_new_faults_object_takes_effect(
    emulator: Emulator, client: httpx.Client
) -> None:
    """emulator.faults = Faults(...) replaces the knobs the server reads."""
    emulator.faults = Faults(polls_before_ready=2)
    seen = walk(client, start(client, emulator, per_page=500))
    assert seen.statuses == [202, 200, 200]


def test_finished_query_can_be_polled_again(emulator: Emulator, client: httpx.Client) -> None:
    """Polling a finished query again returns the same result."""
    started = start(client, emulator).json()
    self_href = find_link(started, "self")
    assert client.get(self_href).content == client.get(self_href).content
