"""Counters that benchmarks and tests read: requests per kind, status and API key, events."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Every answered request, counted by (kind, status) and by the API key it sent.

    Kinds are the route's: `start`, `poll` (of a started query or of a Next), `next`,
    `management` (also `/validate`), `download` and `other`. A dropped connection counts
    with status 0; a refused one (429) counts too, since it spent a request.
    """

    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    requests_by_key: Counter[str] = field(default_factory=Counter)  # "" when no key was sent
    events_served: int = 0
    rate_limited: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, kind: str, status: int, events: int = 0, key: str | None = None) -> None:
        with self._lock:
            self.requests[(kind, status)] += 1
            self.requests_by_key[key or ""] += 1
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

    def by_kind(self) -> dict[str, int]:
        """Requests per kind, whatever their status."""
        with self._lock:
            return _by_kind(self.requests)

    @property
    def total_requests(self) -> int:
        return self.count()

    @property
    def polls(self) -> int:
        """Polls of a query's Self link, of started queries and of Next fetches alike."""
        return self.count("poll")

    def requests_per_million_events(self) -> float:
        with self._lock:
            return _per_million(self.requests, self.events_served)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.requests_by_key.clear()
            self.faults_injected.clear()
            self.events_served = 0
            self.rate_limited = 0

    def snapshot(self) -> dict[str, object]:
        """Every counter as plain JSON-ready values, read at one moment."""
        with self._lock:
            kinds = _by_kind(self.requests)
            return {
                "requests": {f"{k} {s}": n for (k, s), n in sorted(self.requests.items())},
                "by_kind": kinds,
                "total_requests": sum(kinds.values()),
                "polls": kinds.get("poll", 0),
                "requests_by_key": dict(sorted(self.requests_by_key.items())),
                "events_served": self.events_served,
                "requests_per_million_events": _per_million(self.requests, self.events_served),
                "rate_limited": self.rate_limited,
                "faults_injected": dict(self.faults_injected),
            }


def _by_kind(requests: Counter[tuple[str, int]]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for (kind, _), n in requests.items():
        kinds[kind] += n
    return dict(sorted(kinds.items()))


def _per_million(requests: Counter[tuple[str, int]], events: int) -> float:
    return sum(requests.values()) * 1_000_000 / events if events else 0.0
