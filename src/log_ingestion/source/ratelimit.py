"""A client-side limiter shared by every request of a run (polls and Next fetches too).

It spaces each endpoint family's requests (query, management) evenly at `per_minute`, so
a budget that matches the server's never earns a 429. It also follows the server's own
budget, which the API counts per key and family over 15 minutes and shares among every
process using the key: when a response says it is spent, or a 429 says so, requests of that family wait
for its reset. Several workers on one key thus use the budget up together, wait together,
and go on together; a request that was in flight as the budget ran out earns a 429 and is
sent again after its `Retry-After`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

EPOCH_SECONDS_THRESHOLD = 1_000_000_000
# Requests are spaced this much wider than the budget allows: the server counts its window
# from when a request arrives, and a slow first request (a new connection) would otherwise
# let the last request of a budget land inside the same window and earn a 429.
SPACING_MARGIN = 1.05
FAMILIES = ("query", "management")
# The server's budget resets within 15 minutes: a longer wait asked of us (a Retry-After or
# a reset far off) is a broken header, and would hold the run for no reason.
MAX_PAUSE_S = 900.0


def reset_delay(reset: str | None, *, now: float | None = None) -> float | None:
    """Seconds until `X-RateLimit-Reset`: values above 10^9 are epoch seconds, smaller a delta."""
    if reset is None:
        return None
    try:
        value = float(reset)
    except ValueError:
        return None
    if value > EPOCH_SECONDS_THRESHOLD:
        value -= time.time() if now is None else now
    return max(0.0, value)


def family_of(kind: str) -> str:
    """The server's budget a request kind draws on."""
    return "management" if kind == "management" else "query"


class RateLimiter:
    """Even spacing at `per_minute` requests of each family, plus the server's budget per
    family."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 60.0 / per_minute * SPACING_MARGIN
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # spaced per family like the server's budgets: a paused family's queue of slots
        # must not hold the other family back
        self._next_slot = dict.fromkeys(FAMILIES, clock())
        self._paused_until = dict.fromkeys(FAMILIES, 0.0)
        self.waited_seconds = 0.0

    def acquire(self, family: str = "query") -> None:
        """Block until this caller may send one request of `family`."""
        with self._lock:
            now = self._clock()
            slot = max(self._next_slot[family], now, self._paused_until[family])
            self._next_slot[family] = slot + self._interval
            delay = slot - now
            self.waited_seconds += delay
        if delay > 0:
            self._sleep(delay)

    def pause(self, seconds: float, family: str = "query") -> None:
        """Hold every caller of `family` back for `seconds` (a 429's Retry-After, a spent budget)."""
        if seconds <= 0:
            return
        with self._lock:
            until = self._clock() + min(seconds, MAX_PAUSE_S)
            self._paused_until[family] = max(self._paused_until[family], until)

    def observe(self, remaining: str | None, reset: str | None, family: str = "query") -> None:
        """Read the server's rate-limit headers; pause `family` when its budget is spent."""
        if remaining is None:
            return
        try:
            left = int(remaining)
        except ValueError:
            return
        if left <= 0:
            delay = reset_delay(reset)
            if delay:
                self.pause(delay, family)
