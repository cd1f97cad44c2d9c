"""The client-side rate limiter, driven by a fake clock (no sleeps)."""

import httpx
import pytest

from log_ingestion.source.ratelimit import MAX_PAUSE_S, RateLimiter, reset_delay
from log_ingestion.source.responses import retry_after


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_are_spaced_evenly_with_a_margin():
    """120 per minute means one request every half second, plus a 5% margin."""
    clock = FakeClock()
    limiter = RateLimiter(120, clock=clock.time, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
    assert clock.slept == pytest.approx([0.525, 0.525])


def test_pause_holds_every_caller():
    """After a 429's Retry-After, the next request waits it out."""
    clock = FakeClock()
    limiter = RateLimiter(6000, clock=clock.time, sleep=clock.sleep)
    limiter.acquire()
    limiter.pause(3)
    limiter.acquire()
    assert sum(clock.slept) == 3


def test_spent_server_budget_pauses_until_reset():
    """X-RateLimit-Remaining 0 with Reset 4 (a delta) waits 4 seconds."""
    clock = FakeClock()
    limiter = RateLimiter(6000, clock=clock.time, sleep=clock.sleep)
    limiter.acquire()
    limiter.observe("0", "4")
    limiter.acquire()
    assert sum(clock.slept) == 4


def test_remaining_budget_does_not_pause():
    """Remaining above zero changes nothing."""
    clock = FakeClock()
    limiter = RateLimiter(6000, clock=clock.time, sleep=clock.sleep)
    limiter.observe("5", "100")
    limiter.observe("garbage", None)
    limiter.acquire()
    assert clock.slept == []


def test_reset_delay_reads_epoch_and_delta():
    """Values above 10^9 are epoch seconds, smaller ones a delta."""
    assert reset_delay("30") == 30
    assert reset_delay("2000000030", now=2000000000) == 30
    assert reset_delay(None) is None
    assert reset_delay("soon") is None


def test_the_management_budget_is_apart_from_the_query_budget():
    """A spent query budget holds queries back, not the management calls."""
    clock = FakeClock()
    limiter = RateLimiter(1_000_000, clock=clock.time, sleep=clock.sleep)
    limiter.observe("0", "30", family="query")
    limiter.acquire("management")
    assert max(clock.slept, default=0.0) < 0.001
    limiter.acquire("query")
    assert sum(clock.slept) == pytest.approx(30, abs=0.01)


def test_a_pause_longer_than_the_budget_window_is_cut_to_it():
    """A Retry-After of a day holds requests back 15 minutes, the budget's own window."""
    clock = FakeClock()
    limiter = RateLimiter(6000, clock=clock.time, sleep=clock.sleep)
    limiter.acquire()
    limiter.pause(86_400)
    limiter.acquire()
    assert sum(clock.slept) == MAX_PAUSE_S == 900


@pytest.mark.parametrize(
    "headers", [{"retry-after": "86400"}, {"x-ratelimit-reset": "86400"}], ids=["retry", "reset"]
)
def test_the_wait_a_response_asks_for_is_cut_to_the_budget_window(headers):
    """A 429 asking for a day is waited for 15 minutes."""
    assert retry_after(httpx.Response(429, headers=headers)) == MAX_PAUSE_S


def test_a_paused_query_budget_does_not_hold_management_calls_back():
    """Queries waiting out a spent budget take their slots in the queries' queue only: a
    management call after them goes at once."""
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock.time, sleep=clock.sleep)
    limiter.pause(30, family="query")
    limiter.acquire("query")
    waited = sum(clock.slept)
    limiter.acquire("management")
    assert (waited, sum(clock.slept) - waited) == (pytest.approx(30), 0)
