"""Fault knobs: what the emulator gets wrong on purpose, and when.

`Faults` is a plain mutable object: tests change its attributes between requests and
the server reads them on every request. Randomness comes from one seeded generator, so a
given sequence of requests meets the same faults on every run; `fail_next` schedules
exact failures for precise tests.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

CallKind = Literal["start", "poll", "next", "management", "download"]
CALL_KINDS: tuple[CallKind, ...] = ("start", "poll", "next", "management", "download")
FAULT_KINDS: frozenset[str] = frozenset({"start", "poll", "next", "management"})

# What a faulty response looks like. An int is an HTTP status with a JSON error body.
# "encoding": a body that says it is gzip and is not; "no_self": a running query's body
# without its Self link.
FaultName = Literal[
    "drop", "truncate", "html", "content_type", "encoding", "no_self", "stall", "slow"
]
Fault = int | FaultName
FAULT_NAMES: tuple[FaultName, ...] = (
    "drop",
    "truncate",
    "html",
    "content_type",
    "encoding",
    "no_self",
    "stall",
    "slow",
)


@dataclass
class Faults:
    """Every knob, with defaults that behave like a healthy service.

    Probabilities are per request of a kind in `kinds`; `error_rates` is per kind.
    """

    seed: int = 0
    # async protocol. A started query is ready once it has been polled `polls_before_ready`
    # times and `ready_after_seconds` have passed since it started (emulator clock): both
    # conditions when both are set. With both at 0 the start answers 200 at once; the
    # `next_` pair does the same for Next fetches. `immediate_probability` overrides both.
    polls_before_ready: int = 1
    ready_after_seconds: float = 0.0
    next_polls_before_ready: int = 0
    next_ready_after_seconds: float = 0.0
    immediate_probability: float = 0.0
    query_ttl_seconds: float = 600.0
    # failures
    error_rates: dict[str, float] = field(default_factory=dict)
    error_statuses: tuple[int, ...] = (500, 503)
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    html_rate: float = 0.0
    content_type_rate: float = 0.0
    wrong_content_type: str = "text/plain; charset=utf-8"
    slow_rate: float = 0.0
    slow_seconds: float = 0.5
    stall_rate: float = 0.0
    stall_seconds: float = 30.0
    kinds: frozenset[str] = FAULT_KINDS
    # body quirks
    lowercase_rels: bool = False
    round_sequence_numbers: bool = False
    next_loop_at_page: int = 0
    live_append_per_page: int = 0
    live_append_log: str | None = None
    inexact_counts: bool = False  # statistics say `all_exact_result: false`
    ignore_timeslice: bool = False  # statistics come in the default ten buckets regardless
    statistics_shift_ms: int = 0  # statistics describe (and count) a range this much later
    # limits the real service has but does not publish
    max_timeslice: int = 1000  # most buckets a timeslice(N) may ask for; more is a 400
    # rate limiting, per (api key, family)
    rate_limit: int = 1_000_000
    rate_window_seconds: float = 900.0
    rate_reset_format: Literal["delta", "epoch"] = "delta"

    _scheduled: dict[str, deque[Fault]] = field(default_factory=dict, init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self._rng = random.Random(seed)

    def fail_next(self, kind: str, count: int = 1, fault: Fault = 503) -> None:
        """The next `count` calls of `kind` fail with `fault` (a status or a fault name)."""
        if kind not in CALL_KINDS:
            raise ValueError(f"unknown call kind {kind!r}; one of {CALL_KINDS}")
        if not isinstance(fault, int) and fault not in FAULT_NAMES:
            raise ValueError(f"unknown fault {fault!r}; a status or one of {FAULT_NAMES}")
        with self._lock:
            self._scheduled.setdefault(kind, deque()).extend([fault] * count)

    def clear_scheduled(self) -> None:
        with self._lock:
            self._scheduled.clear()

    def pending(self, kind: str) -> int:
        with self._lock:
            return len(self._scheduled.get(kind, ()))

    def draw(self, kind: str) -> Fault | None:
        """The fault for this call of `kind`, if any: scheduled ones first, then random ones."""
        with self._lock:
            queue = self._scheduled.get(kind)
            if queue:
                return queue.popleft()
            if kind not in self.kinds:
                return None
            rate = self.error_rates.get(kind, 0.0)
            if rate > 0 and self._rng.random() < rate:
                return self._rng.choice(self.error_statuses)
            for name, probability in (
                ("drop", self.drop_rate),
                ("html", self.html_rate),
                ("truncate", self.truncate_rate),
                ("content_type", self.content_type_rate),
                ("stall", self.stall_rate),
                ("slow", self.slow_rate),
            ):
                if probability > 0 and self._rng.random() < probability:
                    return name  # type: ignore[return-value]
            return None

    def chance(self, probability: float) -> bool:
        """A seeded coin flip, for knobs that are not failures (immediate answers)."""
        if probability <= 0:
            return False
        with self._lock:
            return self._rng.random() < probability
