"""Counters that benchmarks and tests read: requests per kind and status, events served."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    events_served: int = 0
    rate_limited: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, kind: str, status: int, events: int = 0) -> None:
        with self._lock:
            self.requests[(kind, status)] += 1
            self.events_served += events
            if status == 429:
                self.rate_limited += 1

    def record_fault(self, fault: str) -> None:
        with self._lock:
            self.faults_injected[fault] += 1

    def count(self, kind: str | None = None, status: int | None = None) -> int:
        """Requests of `kind` (any when None) that got `status` (any when None)."""
        with self._lock:
            return sum(
                n
                for (k, s), n in self.requests.items()
                if (kind is None or k == kind) and (status is None or s == status)
            )

    @property
    def total_requests(self) -> int:
        return self.count()

    def requests_per_million_events(self) -> float:
        return self.total_requests * 1_000_000 / self.events_served if self.events_served else 0.0

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults_injected.clear()
            self.events_served = 0
            self.rate_limited = 0

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": {f"{k} {s}": n for (k, s), n in sorted(self.requests.items())},
                "events_served": self.events_served,
                "rate_limited": self.rate_limited,
                "faults_injected": dict(self.faults_injected),
            }
