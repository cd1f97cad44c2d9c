"""Fixed-window rate limiting per (api key, endpoint family), as the Log Search API does."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # seconds until the window resets, rounded up
    reset_epoch: int

    def headers(self, reset_format: str) -> list[tuple[str, str]]:
        reset = self.reset_epoch if reset_format == "epoch" else self.reset_seconds
        return [
            ("X-RateLimit-Limit", str(self.limit)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Reset", str(reset)),
        ]


class FixedWindowLimiter:
    """Counts requests per bucket in windows that start at a bucket's first request."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def consume(self, key: str, family: str, limit: int, window_seconds: float) -> Verdict:
        now = self._clock()
        with self._lock:
            started, used = self._windows.get((key, family), (now, 0))
            if now - started >= window_seconds:
                started, used = now, 0
            allowed = used < limit
            if allowed:
                used += 1
            self._windows[(key, family)] = (started, used)
        ends = started + window_seconds
        return Verdict(
            allowed=allowed,
            limit=limit,
            remaining=max(0, limit - used),
            reset_seconds=max(1, math.ceil(ends - now)),
            reset_epoch=math.ceil(ends),
        )

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
