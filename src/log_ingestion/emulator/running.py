"""Started queries: answered by polls until they are ready, kept by id until they expire."""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass

import orjson

from log_ingestion.emulator.protocol import not_found
from log_ingestion.emulator.queries import Page, QuerySpec, Rendering
from log_ingestion.emulator.statistics import statistics_envelope


@dataclass(slots=True)
class RunningQuery:
    """A started query, answered by polls until it is ready.

    It is ready once `polls_needed` polls have been made and `ready_after` seconds have
    passed since `created` on the emulator's clock: both, when both are set.
    """

    id: str
    spec: QuerySpec
    style: Rendering
    owner: str
    created: float
    polls_needed: int
    ready_after: float = 0.0
    polls_made: int = 0
    result: Page | None = None

    def progress(self, now: float) -> int | None:
        """Percent done (0-99) while running; None once ready. The slower condition rules."""
        by_polls = 100
        if self.polls_made < self.polls_needed:
            by_polls = self.polls_made * 100 // self.polls_needed
        elapsed = now - self.created
        by_time = 100
        if elapsed < self.ready_after:
            by_time = int(elapsed * 100 / self.ready_after)
        if self.polls_made >= self.polls_needed and elapsed >= self.ready_after:
            return None
        return max(0, min(99, by_polls, by_time))

    def running_body(self, progress: int) -> bytes:
        body: dict[str, object] = {
            "logs": list(self.spec.log_ids),
            "progress": progress,
            "events": [],
            "id": self.id,
            "links": [
                {"rel": self.style.rel("Self"), "href": f"{self.style.base}/query/{self.id}"}
            ],
            "leql": self.spec.leql,
        }
        if self.spec.query.is_statistical:
            body["partial"] = statistics_envelope(self.spec, 204)
        return orjson.dumps(body)


class QueryStore:
    """Running and finished queries by id; ids expire `ttl` seconds after they start."""

    def __init__(self, seed: int, max_queries: int = 10_000) -> None:
        self._queries: dict[str, RunningQuery] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._seed = seed
        self._max = max_queries

    def new_id(self) -> str:
        """Opaque and `:`-separated like the real ids, e.g. `<uuid>:1:<hex>::<hex>:`."""
        number = next(self._counter)
        digest = hashlib.blake2b(f"{self._seed}:{number}".encode(), digest_size=36).hexdigest()
        uuid = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"
        return f"{uuid}:1:{digest[32:72]}::{digest[:40]}:"

    def add(self, query: RunningQuery) -> None:
        with self._lock:
            if len(self._queries) >= self._max:
                oldest = sorted(self._queries.values(), key=lambda q: q.created)
                for stale in oldest[: self._max // 10 or 1]:
                    del self._queries[stale.id]
            self._queries[query.id] = query

    def get(self, query_id: str, ttl: float, now: float) -> RunningQuery:
        with self._lock:
            query = self._queries.get(query_id)
            if query is not None and now - query.created > ttl:
                del self._queries[query_id]
                query = None
        if query is None:
            raise not_found()
        return query

    def __len__(self) -> int:
        return len(self._queries)
