"""Shards: which worker of N ingests which log, from a stable hash of the log's id.

`SHARD=2/3` (or `run --shard 2/3`) takes the logs whose shard is 2 of 3. Every log has
exactly one shard for a given N, the same on every machine and every run, so workers need
no coordinator; changing N moves logs between workers, and a table's commit protocol keeps
every event once while two workers briefly ingest the same log.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from log_ingestion.errors import ConfigError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
MAX_SHARDS = 1024


def shard_of(log_id: str, count: int) -> int:
    """The shard (1 to `count`) a log falls in."""
    digest = hashlib.sha256(log_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` of `count`."""

    index: int
    count: int

    def takes(self, log_id: str) -> bool:
        return shard_of(log_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str, *, option: str = "SHARD") -> Shard:
    """`K/N` with 1 <= K <= N <= 1024, or a `ConfigError` naming `option`."""
    match = _SHARD.match(text)
    if match is None:
        raise ConfigError(f"{option}: {text!r} is not K/N; give e.g. 2/3 (shard 2 of 3)")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise ConfigError(f"{option}: {count} shards; give 1 to {MAX_SHARDS}")
    if not 1 <= index <= count:
        raise ConfigError(f"{option}: shard {index} of {count}; K runs from 1 to {count}")
    return Shard(index, count)
