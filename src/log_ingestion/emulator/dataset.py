"""The emulator's data: lazily generated sample logs plus events appended at run time.

Event i of a log is a pure function of (seed, log, i): its timestamp grows monotonically
with i, so any position `(timestamp, sequence_number)` is found by binary search, and a
log can hold tens of millions of events without memory. Appended ("live") events are
kept in a small sorted tuple per log and merged in on read.
"""

from __future__ import annotations

import heapq
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

from log_ingestion.emulator.defaults import ANCHOR_MS, DAY_MS
from log_ingestion.emulator.hashing import event_hash, stable_int, stable_uuid
from log_ingestion.emulator.samples import SOURCES, MessageSource, json_escaped

# Real sequence numbers are 64-bit and above 2**53, so a float-based JSON parser rounds them.
SEQUENCE_BASE = 3_237_201_778_429_120_512
SEQUENCE_LOG_GAP = 10**16
SEQUENCE_STRIDE = 1024

Key = tuple[int, int]  # (timestamp_ms, sequence_number): the total order of events
KEY_MIN: Key = (-(1 << 62), 0)
KEY_MAX: Key = (1 << 62, 0)
# (timestamp, sequence_number, log, index of a generated event or text of an appended one,
#  hash bits of a generated event): the hash is computed once per event and reused.
Entry = tuple[int, int, "LogStore", int | str, int]


def source_of(name: str) -> type[MessageSource]:
    """The sample a log's messages come from: its name, or the sample its name starts with
    (`firewall-traffic-2` is another firewall log, with events of its own)."""
    if name in SOURCES:
        return SOURCES[name]
    matches = [kind for kind in SOURCES if name.startswith(kind)]
    if not matches:
        raise KeyError(f"no sample log for {name!r}; names start with one of {', '.join(SOURCES)}")
    return SOURCES[max(matches, key=len)]


DEFAULT_LOGSETS: Mapping[str, str] = {
    "firewall-traffic": "Network Devices",
    "cdn-access-noheader": "Network Devices",
    "vpn-sessions": "Network Devices",
    "idr-auth-json": "Insight IDR",
    "app-kv": "Applications",
    "syslog-text": "Applications",
}


@dataclass(frozen=True, slots=True)
class Label:
    id: str
    sn: int
    name: str
    color: str
    reserved: bool

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "sn": self.sn,
            "name": self.name,
            "color": self.color,
            "reserved": self.reserved,
        }


@dataclass(frozen=True, slots=True)
class LogSet:
    id: str
    name: str
    log_ids: tuple[str, ...]


OUT_OF_ORDER = Label(
    "00000000-0000-0000-0000-000000000006", 6, "Out of order entry", "ffab04", True
)


class LogStore:
    """One log: generated events `0..count-1` plus appended events, ordered by Key."""

    def __init__(
        self,
        *,
        log_id: str,
        name: str,
        number: int,
        source: MessageSource,
        count: int,
        start_ms: int,
        span_ms: int,
        salt: int,
        label: Label,
    ) -> None:
        self.id = log_id
        self.name = name
        self.source = source
        self.count = count
        self.start_ms = start_ms
        self.span_ms = span_ms
        self.salt = salt
        self.label = label
        self.sequence_base = SEQUENCE_BASE + number * SEQUENCE_LOG_GAP
        self.appended: tuple[tuple[int, int, str], ...] = ()
        self._next_appended_sequence = self.sequence_base + (count + 1) * SEQUENCE_STRIDE

    # -- generated events -------------------------------------------------------------
    def timestamp(self, index: int) -> int:
        return self.start_ms + index * self.span_ms // self.count

    def sequence_number(self, index: int) -> int:
        low_bits = event_hash(self.salt, index) & (SEQUENCE_STRIDE - 1)
        return self.sequence_base + index * SEQUENCE_STRIDE + low_bits

    def key(self, index: int) -> Key:
        return self.timestamp(index), self.sequence_number(index)

    def first_index(self, key: Key) -> int:
        """The smallest generated index whose key is at or after `key`."""
        return bisect_left(range(self.count), key, key=self.key)

    def message(self, entry: Entry) -> str:
        ref = entry[3]
        if isinstance(ref, str):
            return ref
        return self.source.message(ref, entry[4], entry[0])

    def message_json(self, entry: Entry) -> str:
        """The message escaped for a JSON string, without quotes."""
        ref = entry[3]
        if isinstance(ref, str):
            return json_escaped(ref)
        return self.source.message_json(ref, entry[4], entry[0])

    def labels(self, entry: Entry) -> tuple[Label, ...]:
        """A deterministic sixteenth of generated events carry a label."""
        if entry[4] >> 60 == 0 and isinstance(entry[3], int):
            return (self.label,)
        return ()

    def entry(self, index: int) -> Entry:
        return (
            self.timestamp(index),
            self.sequence_number(index),
            self,
            index,
            event_hash(self.salt, index),
        )

    # -- ranges -----------------------------------------------------------------------
    def _generated(self, first: int, stop: int, reverse: bool) -> Iterator[Entry]:
        start_ms, span_ms, count, salt = self.start_ms, self.span_ms, self.count, self.salt
        base, stride, low = self.sequence_base, SEQUENCE_STRIDE, SEQUENCE_STRIDE - 1
        indices = range(stop - 1, first - 1, -1) if reverse else range(first, stop)
        for i in indices:
            bits = event_hash(salt, i)
            yield start_ms + i * span_ms // count, base + i * stride + (bits & low), self, i, bits

    def _appended_slice(self, low: Key, high: Key) -> Sequence[tuple[int, int, str]]:
        appended = self.appended
        first = bisect_left(appended, low, key=lambda row: (row[0], row[1]))
        stop = bisect_left(appended, high, key=lambda row: (row[0], row[1]))
        return appended[first:stop]

    def entries(self, low: Key, high: Key, *, reverse: bool = False) -> Iterator[Entry]:
        """Events with `low <= key < high`, ascending (or descending when `reverse`)."""
        generated = self._generated(self.first_index(low), self.first_index(high), reverse)
        extra = self._appended_slice(low, high)
        if not extra:
            return generated
        rows = reversed(extra) if reverse else iter(extra)
        appended: Iterator[Entry] = ((ts, seq, self, text, -1) for ts, seq, text in rows)
        return heapq.merge(generated, appended, reverse=reverse)

    def count_between(self, low: Key, high: Key) -> int:
        generated = max(0, self.first_index(high) - self.first_index(low))
        return generated + len(self._appended_slice(low, high))

    def last_timestamp(self) -> int:
        last = self.timestamp(self.count - 1) if self.count else self.start_ms
        if self.appended:
            last = max(last, max(row[0] for row in self.appended))
        return last

    def append(self, messages: Iterable[str], timestamp_ms: int | None) -> list[Key]:
        """Add events; callers hold the dataset lock. Returns their keys."""
        timestamp = self.last_timestamp() + 1 if timestamp_ms is None else timestamp_ms
        rows = []
        for text in messages:
            sequence = self._next_appended_sequence
            self._next_appended_sequence += SEQUENCE_STRIDE + (
                event_hash(self.salt, sequence) & 511
            )
            rows.append((timestamp, sequence, text))
        # Copy-on-write: readers iterating the old tuple are not disturbed.
        self.appended = tuple(sorted(self.appended + tuple(rows)))
        return [(ts, seq) for ts, seq, _ in rows]


def merged(stores: Sequence[LogStore], low: Key, high: Key, *, reverse: bool) -> Iterator[Entry]:
    """Events of several logs in one (timestamp, sequence_number) order; keys never tie."""
    if len(stores) == 1:
        return stores[0].entries(low, high, reverse=reverse)
    return heapq.merge(*(s.entries(low, high, reverse=reverse) for s in stores), reverse=reverse)


class Dataset:
    """Deterministic sample logs, grouped into log sets, generated on demand from `seed`.

    `events_per_log` is one count for every log or a mapping from log name to count.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        events_per_log: int | Mapping[str, int] = 10_000,
        start_ms: int = ANCHOR_MS,
        span_ms: int = DAY_MS,
        logsets: Mapping[str, str] = DEFAULT_LOGSETS,
    ) -> None:
        if span_ms <= 0:
            raise ValueError("span_ms must be positive")
        self.seed = seed
        self.start_ms = start_ms
        self.span_ms = span_ms
        self.version = 0
        self._lock = threading.Lock()
        self.labels: dict[str, Label] = {OUT_OF_ORDER.id: OUT_OF_ORDER}
        label = Label(stable_uuid(seed, "label", "sample"), 21, "Sample", "4c8dff", False)
        self.labels[label.id] = label
        self.logs: dict[str, LogStore] = {}
        for number, name in enumerate(logsets):
            count = events_per_log if isinstance(events_per_log, int) else events_per_log[name]
            if count < 1:
                raise ValueError(f"log {name} needs at least one event")
            store = LogStore(
                log_id=stable_uuid(seed, "log", name),
                name=name,
                number=number,
                source=source_of(name)(seed, count),
                count=count,
                start_ms=start_ms,
                span_ms=span_ms,
                salt=stable_int(seed, "salt", name),
                label=label,
            )
            self.logs[store.id] = store
        self.logsets: dict[str, LogSet] = {}
        for set_name in dict.fromkeys(logsets.values()):
            members = tuple(s.id for s in self.logs.values() if logsets[s.name] == set_name)
            logset = LogSet(stable_uuid(seed, "logset", set_name), set_name, members)
            self.logsets[logset.id] = logset

    @property
    def end_ms(self) -> int:
        """One past the last generated timestamp: `[start_ms, end_ms)` covers generated data."""
        return self.start_ms + self.span_ms

    def log_id(self, name: str) -> str:
        """The id of the log called `name`, e.g. `dataset.log_id("firewall-traffic")`."""
        for store in self.logs.values():
            if store.name == name:
                return store.id
        raise KeyError(name)

    def logset_id(self, name: str) -> str:
        for logset in self.logsets.values():
            if logset.name == name:
                return logset.id
        raise KeyError(name)

    def logsets_of(self, log_id: str) -> list[LogSet]:
        return [ls for ls in self.logsets.values() if log_id in ls.log_ids]

    def entries(
        self, log_ids: Sequence[str], low: Key, high: Key, *, reverse: bool = False
    ) -> Iterator[Entry]:
        return merged([self.logs[i] for i in log_ids], low, high, reverse=reverse)

    def events(
        self, log_id: str, from_ms: int | None = None, to_ms: int | None = None
    ) -> Iterator[tuple[int, int, str]]:
        """Ground truth: `(timestamp, sequence_number, message)` in `[from_ms, to_ms)`, ascending,
        exactly as served, appended events included."""
        store = self.logs[log_id]
        low = KEY_MIN if from_ms is None else (from_ms, 0)
        high = KEY_MAX if to_ms is None else (to_ms, 0)
        for entry in store.entries(low, high):
            yield entry[0], entry[1], store.message(entry)

    def count(self, log_id: str, from_ms: int | None = None, to_ms: int | None = None) -> int:
        low = KEY_MIN if from_ms is None else (from_ms, 0)
        high = KEY_MAX if to_ms is None else (to_ms, 0)
        return self.logs[log_id].count_between(low, high)

    def event_at(self, log_id: str, index: int) -> tuple[int, int, str]:
        """Generated event `index` of a log (appended events are not numbered)."""
        store = self.logs[log_id]
        entry = store.entry(index)
        return entry[0], entry[1], store.message(entry)

    def append(
        self, log_id: str, messages: Iterable[str], timestamp_ms: int | None = None
    ) -> list[Key]:
        """Add live events to a log. Without `timestamp_ms` they land 1 ms after its newest event."""
        with self._lock:
            keys = self.logs[log_id].append(messages, timestamp_ms)
            self.version += 1
        return keys


def take(entries: Iterator[Entry], count: int) -> list[Entry]:
    return list(islice(entries, count))
