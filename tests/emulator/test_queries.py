"""Query endpoints: the async protocol, pagination, validation and statistics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from log_ingestion.emulator import Dataset, Emulator, Faults
from log_ingestion.emulator.testing import find_link, walk

HOUR_MS = 3_600_000


def window(emulator: Emulator, **params: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"from": emulator.dataset.start_ms, "to": emulator.dataset.end_ms}
    base.update(params)
    return base


def truth(
    dataset: Dataset, log_id: str, from_ms: int | None = None, to_ms: int | None = None
) -> list[tuple[int, int]]:
    return [(ts, seq) for ts, seq, _ in dataset.events(log_id, from_ms, to_ms)]


def test_start_answers_202_with_opaque_id_and_self_link(
    client: httpx.Client, emulator: Emulator
) -> None:
    """The initial call answers 202: id with ':', progress 0, no events, a Self link."""
    log_id = emulator.dataset.log_id("app-kv")
    response = client.get(f"/query/logs/{log_id}", params=window(emulator))
    body = response.json()
    assert response.status_code == 202
    assert ":" in body["id"]
    assert body["progress"] == 0
    assert body["events"] == []
    assert [{"rel": "Self", "href": f"{emulator.url}/query/{body['id']}"}] == body["links"]
    assert [log_id] == body["logs"]


def test_first_poll_finishes_by_default(client: httpx.Client, emulator: Emulator) -> None:
    """The first poll answers 200 with events, no progress and no Self link."""
    log_id = emulator.dataset.log_id("app-kv")
    started = client.get(f"/query/logs/{log_id}", params=window(emulator)).json()
    response = client.get(find_link(started, "self"))  # type: ignore[arg-type]
    body = response.json()
    assert response.status_code == 200
    assert "progress" not in body
    assert find_link(body, "self") is None
    assert len(body["events"]) == 50
    assert {"logs", "leql", "events", "search_stats", "links"} == set(body)


def test_polls_report_increasing_progress_until_done(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """With 4 polls needed, polls 1-3 answer 200 with rising progress, poll 4 the result."""
    emulator = make_emulator(faults=Faults(polls_before_ready=4))
    http = make_client(emulator)
    log_id = emulator.dataset.log_id("app-kv")
    seen = walk(http, http.get(f"/query/logs/{log_id}", params=window(emulator, per_page=500)))
    progress = [body.get("progress") for body in seen.bodies]
    assert seen.statuses == [202, 200, 200, 200, 200]
    assert progress == [0, 25, 50, 75, None]


def test_immediate_answer_when_probability_is_one(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """immediate_probability=1: the start itself answers 200 with the result."""
    emulator = make_emulator(faults=Faults(immediate_probability=1.0))
    log_id = emulator.dataset.log_id("app-kv")
    response = make_client(emulator).get(f"/query/logs/{log_id}", params=window(emulator))
    assert (response.status_code, len(response.json()["events"])) == (200, 50)


def test_unknown_query_id_is_404(client: httpx.Client) -> None:
    """Polling an id the server never issued answers 404."""
    response = client.get("/query/deadbeef:1:abc::def:")
    assert (response.status_code, response.json()) == (404, {"message": "HTTP 404 Not Found"})


def test_expired_query_is_404(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """A query polled after its time to live answers 404."""
    emulator = make_emulator(faults=Faults(query_ttl_seconds=0.0))
    http = make_client(emulator)
    log_id = emulator.dataset.log_id("app-kv")
    started = http.get(f"/query/logs/{log_id}", params=window(emulator)).json()
    assert http.get(find_link(started, "self")).status_code == 404


@pytest.mark.parametrize("per_page", [1, 7, 50, 299, 300, 500])
def test_pages_cover_exactly_the_ground_truth(
    client: httpx.Client, emulator: Emulator, per_page: int
) -> None:
    """Following Next links yields every event once, in (timestamp, sequence) order."""
    log_id = emulator.dataset.log_id("firewall-traffic")
    seen = walk(
        client, client.get(f"/query/logs/{log_id}", params=window(emulator, per_page=per_page))
    )
    assert truth(emulator.dataset, log_id) == seen.keys
    assert [m for _, _, m in emulator.dataset.events(log_id)] == seen.messages


def test_last_page_has_no_links_key(client: httpx.Client, emulator: Emulator) -> None:
    """Only pages with more events carry a Next link; the last has no `links` at all."""
    log_id = emulator.dataset.log_id("app-kv")
    seen = walk(client, client.get(f"/query/logs/{log_id}", params=window(emulator, per_page=100)))
    assert "links" not in seen.final
    assert [len(b["events"]) for b in seen.bodies if "progress" not in b] == [100, 100, 100]


def test_next_link_carries_position_and_original_parameters(
    client: httpx.Client, emulator: Emulator
) -> None:
    """Next = same path with the original query/to/per_page plus from and sequence_number."""
    log_id = emulator.dataset.log_id("app-kv")
    seen = walk(
        client,
        client.get(
            f"/query/logs/{log_id}", params=window(emulator, per_page=10, query="where(/.*/)")
        ),
    )
    first_next = httpx.URL(find_link(seen.bodies[1], "next"))  # type: ignore[arg-type]
    eleventh = seen.events[10]
    assert f"/query/logs/{log_id}" == first_next.path
    assert {
        "query": "where(/.*/)",
        "from": str(eleventh["timestamp"]),
        "sequence_number": eleventh["sequence_number_str"],
        "to": str(emulator.dataset.end_ms),
        "per_page": "10",
    }.items() <= dict(first_next.params).items()


def test_dense_timestamps_page_by_sequence_number(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """Many events per millisecond: pages split inside one ms and still never overlap."""
    emulator = make_emulator(Dataset(events_per_log=500, span_ms=50))
    http = make_client(emulator)
    log_id = emulator.dataset.log_id("idr-auth-json")
    seen = walk(http, http.get(f"/query/logs/{log_id}", params=window(emulator, per_page=7)))
    assert truth(emulator.dataset, log_id) == seen.keys


def test_from_is_inclusive_and_to_exclusive(client: httpx.Client, emulator: Emulator) -> None:
    """The range is [from, to): an event at `to` is not returned, one at `from` is."""
    log_id = emulator.dataset.log_id("vpn-sessions")
    ts = [t for t, _, _ in emulator.dataset.events(log_id)]
    seen = walk(
        client,
        client.get(f"/query/logs/{log_id}", params={"from": ts[10], "to": ts[20], "per_page": 500}),
    )
    assert ts[10:20] == [t for t, _ in seen.keys]


def test_sequence_number_parameter_skips_earlier_events_in_the_from_ms(
    make_emulator, make_client
) -> None:  # type: ignore[no-untyped-def]
    """sequence_number keeps events of the `from` ms at or after that sequence number."""
    emulator = make_emulator(Dataset(events_per_log=300, span_ms=100))
    http = make_client(emulator)
    log_id = emulator.dataset.log_id("app-kv")
    keys = truth(emulator.dataset, log_id)
    ts, seq = keys[4]
    params = {"from": ts, "to": emulator.dataset.end_ms, "sequence_number": seq, "per_page": 500}
    assert keys[4:] == walk(http, http.get(f"/query/logs/{log_id}", params=params)).keys


def test_most_recent_first_reverses_and_pages(client: httpx.Client, emulator: Emulator) -> None:
    """most_recent_first=true walks the same events newest first, across pages."""
    log_id = emulator.dataset.log_id("syslog-text")
    params = window(emulator, per_page=33, most_recent_first="true")
    seen = walk(client, client.get(f"/query/logs/{log_id}", params=params))
    assert truth(emulator.dataset, log_id)[::-1] == seen.keys


def test_several_logs_merge_in_order(client: httpx.Client, emulator: Emulator) -> None:
    """/query/logs/a:b returns both logs' events merged by (timestamp, sequence)."""
    first, second = emulator.dataset.log_id("app-kv"), emulator.dataset.log_id("vpn-sessions")
    seen = walk(
        client, client.get(f"/query/logs/{first}:{second}", params=window(emulator, per_page=77))
    )
    assert sorted(truth(emulator.dataset, first) + truth(emulator.dataset, second)) == seen.keys
    assert {first, second} == {e["log_id"] for e in seen.events}


def test_logset_query_expands_to_its_logs(client: httpx.Client, emulator: Emulator) -> None:
    """/query/logsets/{id} queries every log of the set."""
    dataset = emulator.dataset
    logset = dataset.logsets[dataset.logset_id("Applications")]
    seen = walk(
        client, client.get(f"/query/logsets/{logset.id}", params=window(emulator, per_page=500))
    )
    assert sorted(k for log_id in logset.log_ids for k in truth(dataset, log_id)) == seen.keys


@pytest.mark.parametrize("path", ["/query/logs", "/query/logs/", "/log_search/query/logs/"])
def test_post_query_with_json_body(client: httpx.Client, emulator: Emulator, path: str) -> None:
    """POST /query/logs with {"logs", "leql": {"statement", "during"}} pages like GET."""
    log_id = emulator.dataset.log_id("cdn-access-noheader")
    body = {
        "logs": [log_id],
        "leql": {
            "statement": "where(/.*/)",
            "during": {"from": emulator.dataset.start_ms, "to": emulator.dataset.end_ms},
        },
    }
    seen = walk(client, client.post(path, json=body, params={"per_page": 120}))
    assert truth(emulator.dataset, log_id) == seen.keys


def test_completed_page_echoes_leql_and_search_stats(
    client: httpx.Client, emulator: Emulator
) -> None:
    """A completed page has search_stats and the leql with the resolved during."""
    log_id = emulator.dataset.log_id("app-kv")
    seen = walk(
        client,
        client.get(
            f"/query/logs/{log_id}",
            params=window(emulator, per_page=500, query="where(level=ERROR)"),
        ),
    )
    final = seen.final
    assert {
        "statement": "where(level=ERROR)",
        "during": {"from": emulator.dataset.start_ms, "to": emulator.dataset.end_ms},
    } == final["leql"]
    assert len(seen.events) == final["search_stats"]["events_matched"]


def test_event_shape_and_exact_sequence_numbers(client: httpx.Client, emulator: Emulator) -> None:
    """Events carry labels, ms timestamp, a sequence number above 2**53 and its exact string."""
    log_id = emulator.dataset.log_id("app-kv")
    event = walk(client, client.get(f"/query/logs/{log_id}", params=window(emulator))).events[0]
    assert {
        "labels",
        "timestamp",
        "sequence_number",
        "sequence_number_str",
        "log_id",
        "message",
        "links",
    } == set(event)
    assert event["sequence_number"] > 2**53
    assert str(event["sequence_number"]) == event["sequence_number_str"]
    context = event["links"][0]
    assert context["rel"] == "Context"
    assert context["href"].startswith(
        f"{emulator.url}/query/context/{event['sequence_number_str']}?per_page=50"
    )


def test_time_range_resolves_against_now(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """time_range=Last 30 Minutes covers [now - 30 min, now) and is echoed in during."""
    dataset = Dataset(events_per_log=300, span_ms=HOUR_MS)
    now = dataset.start_ms + HOUR_MS
    emulator = make_emulator(dataset, now_ms=now)
    http = make_client(emulator)
    log_id = dataset.log_id("app-kv")
    seen = walk(
        http,
        http.get(
            f"/query/logs/{log_id}", params={"time_range": "Last 30 Minutes", "per_page": 500}
        ),
    )
    assert truth(dataset, log_id, now - HOUR_MS // 2, now) == seen.keys
    assert {"from": now - HOUR_MS // 2, "to": now, "time_range": "Last 30 Minutes"} == seen.final[
        "leql"
    ]["during"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": 10, "to": 20, "time_range": "last 10 min"}, "time_range"),
        ({}, "from"),
        ({"from": 10}, "to"),
        ({"from": 20, "to": 10}, "from"),
        ({"from": "yesterday", "to": 10}, "from"),
        ({"from": 0, "to": "1e3"}, "to"),
        ({"from": 0, "to": 10, "per_page": 0}, "per_page"),
        ({"from": 0, "to": 10, "per_page": 501}, "per_page"),
        ({"from": 0, "to": 10, "per_page": "many"}, "per_page"),
        ({"time_range": "since the dawn of time"}, "time_range"),
        ({"from": 0, "to": 10, "most_recent_first": "maybe"}, "most_recent_first"),
    ],
)
def test_invalid_parameters_are_400_naming_the_field(
    client: httpx.Client, emulator: Emulator, params: dict[str, Any], field: str
) -> None:
    """Bad parameters answer 400 with `message`, `fields` and `messages`."""
    log_id = emulator.dataset.log_id("app-kv")
    response = client.get(f"/query/logs/{log_id}", params=params)
    body = response.json()
    assert (400, [field]) == (response.status_code, body["fields"])
    assert body["message"] == body["messages"][0]


def test_time_range_with_from_has_the_documented_message(
    client: httpx.Client, emulator: Emulator
) -> None:
    """The time_range + from/to conflict uses Logentries' exact wording."""
    log_id = emulator.dataset.log_id("app-kv")
    body = client.get(
        f"/query/logs/{log_id}", params={"from": 1, "to": 2, "time_range": "today"}
    ).json()
    assert body["messages"] == [
        "Invalid query: time_range cannot be specified with from and/or to fields"
    ]


def test_clamp_per_page_option(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """With clamp_per_page, per_page=1000 serves pages of 500 instead of a 400."""
    emulator = make_emulator(Dataset(events_per_log=600, span_ms=HOUR_MS), clamp_per_page=True)
    http = make_client(emulator)
    log_id = emulator.dataset.log_id("app-kv")
    seen = walk(http, http.get(f"/query/logs/{log_id}", params=window(emulator, per_page=1000)))
    assert [len(b["events"]) for b in seen.bodies if "progress" not in b] == [500, 100]


@pytest.mark.parametrize(
    "statement", ["where(", "where(a>b)", "where(/x/q)", "groupby(host)", "where(x) nonsense"]
)
def test_unparseable_leql_is_400(client: httpx.Client, emulator: Emulator, statement: str) -> None:
    """A statement outside the supported LEQL answers 400 with message and errorCode."""
    log_id = emulator.dataset.log_id("app-kv")
    response = client.get(f"/query/logs/{log_id}", params=window(emulator, query=statement))
    assert response.status_code == 400
    assert {"message", "errorCode"} <= set(response.json())


def test_url_longer_than_8192_is_400(client: httpx.Client, emulator: Emulator) -> None:
    """URLs over 8192 characters are refused with 400."""
    log_id = emulator.dataset.log_id("app-kv")
    response = client.get(
        f"/query/logs/{log_id}", params=window(emulator, query="where(" + "a" * 9000 + ")")
    )
    assert response.status_code == 400
    assert "8192" in response.json()["message"]


@pytest.mark.parametrize(
    "path", ["/query/logs/{missing}", "/query/logs/{known}:{missing}", "/query/logsets/{missing}"]
)
def test_unknown_log_or_logset_is_404(client: httpx.Client, emulator: Emulator, path: str) -> None:
    """Unknown log or log set ids answer 404."""
    url = path.format(
        missing="00000000-0000-4000-a000-000000000000", known=emulator.dataset.log_id("app-kv")
    )
    response = client.get(url, params=window(emulator))
    assert (response.status_code, response.json()) == (404, {"message": "HTTP 404 Not Found"})


def test_post_without_logs_is_400(client: httpx.Client) -> None:
    """A POST body without logs answers 400."""
    response = client.post("/query/logs", json={"leql": {"statement": "where(/.*/)"}})
    assert (response.status_code, response.json()["fields"]) == (400, ["logs"])


def test_query_on_a_log_the_key_may_not_read_is_403(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """A key without rights for a requested log gets 403 Forbidden."""
    emulator = make_emulator()
    emulator.api_keys["narrow"] = {emulator.dataset.log_id("app-kv")}
    http = make_client(emulator, key="narrow")
    other = emulator.dataset.log_id("idr-auth-json")
    response = http.get(f"/query/logs/{other}", params=window(emulator))
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize(
    ("log_name", "where"),
    [
        ("app-kv", ""),
        ("app-kv", "where(level=ERROR)"),
        ("app-kv", "where(latency_ms > 300 AND status!=200)"),
        ("idr-auth-json", "where(result=SUCCESS OR r7_context.asset.name=dc01.corp.local)"),
        ("syslog-text", "where(/failed password/i)"),
        ("firewall-traffic", "where(deny)"),
    ],
)
def test_calculate_count_equals_the_where_result(
    client: httpx.Client, emulator: Emulator, log_name: str, where: str
) -> None:
    """calculate(count) over [from, to) equals the number of events the same where() returns."""
    log_id = emulator.dataset.log_id(log_name)
    from_ms, to_ms = emulator.dataset.start_ms + 600_000, emulator.dataset.end_ms - 300_000
    params = {"from": from_ms, "to": to_ms, "per_page": 500}
    events = walk(
        client, client.get(f"/query/logs/{log_id}", params={**params, "query": where})
    ).events
    stats = walk(
        client,
        client.get(
            f"/query/logs/{log_id}", params={**params, "query": f"{where} calculate(count)"}
        ),
    )
    statistics = stats.final["statistics"]
    assert len(events) == statistics["count"] == statistics["stats"]["global_timeseries"]["count"]
    assert len(statistics["timeseries"]["global_timeseries"]) == 10
    assert len(events) == sum(b["count"] for b in statistics["timeseries"]["global_timeseries"])
    assert (to_ms - from_ms) // 10 == statistics["granularity"]


def test_statistics_never_paginate_and_202_has_partial(
    client: httpx.Client, emulator: Emulator
) -> None:
    """A statistical query's 202 carries `partial`; its result has no Next link."""
    log_id = emulator.dataset.log_id("app-kv")
    seen = walk(
        client,
        client.get(
            f"/query/logs/{log_id}", params=window(emulator, query="calculate(count)", per_page=1)
        ),
    )
    assert seen.bodies[0]["partial"]["status"] == 204
    assert "links" not in seen.final
    assert seen.final["statistics"]["count"] == 300
    assert {"logs", "statistics", "search_stats", "leql"} == set(seen.final)


@pytest.mark.parametrize(
    ("time_range", "start_offset", "end_offset"),
    [
        ("today", -HOUR_MS, 0),
        ("yesterday", -25 * HOUR_MS, -HOUR_MS),
        ("last 2 hours", -2 * HOUR_MS, 0),
    ],
)
def test_relative_ranges(
    make_emulator, make_client, time_range: str, start_offset: int, end_offset: int
) -> None:  # type: ignore[no-untyped-def]
    """today, yesterday and `last N unit` resolve against the emulator's clock."""
    dataset = Dataset(events_per_log=10)
    now = dataset.start_ms + HOUR_MS  # 01:00 on 2026-01-01
    emulator = make_emulator(dataset, now_ms=now)
    log_id = dataset.log_id("app-kv")
    response = make_client(emulator).get(f"/query/logs/{log_id}", params={"time_range": time_range})
    during = response.json()["leql"]["during"]
    assert (during["from"], during["to"]) == (now + start_offset, now + end_offset)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"logs": "one"}',
        b'{"logs": ["x"], "leql": "where(a)"}',
        b'{"logs": ["x"], "leql": {"statement": 3}}',
        b'{"logs": ["x"], "leql": {"statement": "where(a)", "during": [1]}}',
    ],
)
def test_malformed_post_bodies_are_400(client: httpx.Client, body: bytes) -> None:
    """POST bodies that are not the documented object answer 400."""
    assert client.post("/query/logs", content=body).status_code == 400


def test_post_with_time_range_in_during(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """during may hold a time_range instead of from/to."""
    dataset = Dataset(events_per_log=60, span_ms=HOUR_MS)
    emulator = make_emulator(dataset, now_ms=dataset.end_ms)
    http = make_client(emulator)
    log_id = dataset.log_id("app-kv")
    body = {
        "logs": [log_id],
        "leql": {"statement": "where(/.*/)", "during": {"time_range": "last 1 hour"}},
    }
    seen = walk(http, http.post("/query/logs", json=body, params={"per_page": 500}))
    assert seen.keys == truth(dataset, log_id)


def test_method_not_served_is_404(client: httpx.Client) -> None:
    """Write methods on the query endpoints are not part of the emulator."""
    assert client.delete("/management/logs").status_code == 404
    assert client.get("/query/logs").status_code == 404
