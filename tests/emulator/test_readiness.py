"""When a started query or a Next fetch is ready: after N polls, after T seconds, or both."""

from __future__ import annotations

import time

import httpx

from log_ingestion.emulator import Emulator, Faults
from log_ingestion.emulator.testing import find_link, walk


class Clock:
    """The emulator's clock, moved by hand: seconds as a float."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def start(http: httpx.Client, emulator: Emulator, per_page: int = 500) -> httpx.Response:
    dataset = emulator.dataset
    return http.get(
        f"/query/logs/{dataset.log_id('app-kv')}",
        params={"from": dataset.start_ms, "to": dataset.end_ms, "per_page": per_page},
    )


def progress_at(
    http: httpx.Client, self_href: str, clock: Clock, moments: list[float]
) -> list[int | None]:
    """The `progress` of one poll at each moment (seconds after the start); None when done."""
    began = clock.now
    seen = []
    for moment in moments:
        clock.now = began + moment
        seen.append(http.get(self_href).json().get("progress"))
    return seen


def test_ready_after_seconds_whatever_the_polls(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """ready_after_seconds=5, no poll count: polls before 5 s run, the first at 5 s finishes."""
    clock = Clock()
    faults = Faults(polls_before_ready=0, ready_after_seconds=5)
    emulator = make_emulator(faults=faults, clock=clock)
    http = make_client(emulator)
    started = start(http, emulator)
    self_href = find_link(started.json(), "self")
    assert started.status_code == 202
    expected = [0, 20, 20, 20, 99, None]
    assert expected == progress_at(http, self_href, clock, [0.0, 1.0, 1.0, 1.0, 4.99, 5.0])


def test_running_polls_answer_200_with_a_self_link(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """A poll before the time is up answers 200, no events and the same Self link."""
    clock = Clock()
    emulator = make_emulator(faults=Faults(ready_after_seconds=3), clock=clock)
    http = make_client(emulator)
    self_href = find_link(start(http, emulator).json(), "self")
    clock.now += 1.5
    polled = http.get(self_href)
    assert (polled.status_code, polled.json()["events"]) == (200, [])
    assert find_link(polled.json(), "self") == self_href


def test_both_knobs_need_both_conditions(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """polls_before_ready=3 with ready_after_seconds=2: ready on the first poll meeting both."""
    clock = Clock()
    faults = Faults(polls_before_ready=3, ready_after_seconds=2)
    emulator = make_emulator(faults=faults, clock=clock)
    http = make_client(emulator)
    early = find_link(start(http, emulator).json(), "self")
    late = find_link(start(http, emulator).json(), "self")
    assert progress_at(http, early, clock, [0.5, 1.0, 1.5, 2.0]) == [25, 50, 75, None]
    clock.now += 10
    assert progress_at(http, late, clock, [0.0, 0.0, 0.0]) == [33, 66, None]


def test_next_ready_after_seconds(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """next_ready_after_seconds=2: a Next answers 202 and its polls run until 2 s have passed."""
    clock = Clock()
    emulator = make_emulator(faults=Faults(next_ready_after_seconds=2), clock=clock)
    http = make_client(emulator)
    first = http.get(find_link(start(http, emulator, per_page=200).json(), "self")).json()
    following = http.get(find_link(first, "next"))
    self_href = find_link(following.json(), "self")
    assert following.status_code == 202
    assert progress_at(http, self_href, clock, [1.0, 2.0]) == [50, None]
    assert len(http.get(self_href).json()["events"]) == 100


def test_ready_after_seconds_on_the_real_clock(make_emulator, make_client) -> None:  # type: ignore[no-untyped-def]
    """By default the clock is real time: a query with 0.2 s is ready after 0.2 s of polls."""
    emulator = make_emulator(faults=Faults(polls_before_ready=0, ready_after_seconds=0.2))
    http = make_client(emulator)
    began = time.monotonic()
    seen = walk(http, start(http, emulator))
    assert time.monotonic() - began >= 0.2
    assert len(seen.events) == 300
