"""Query specs, result pages of events, and the cache that builds pages ahead.

A query is a key range `[low, high)` over `(timestamp, sequence_number)`, a filter, a page
size and a direction. A page is the first `per_page` matches; its `Next` link encodes the
key of the next match, so pages never overlap or skip on static data.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from urllib.parse import quote, urlencode

import orjson

from log_ingestion.emulator.dataset import Dataset, Entry, Key
from log_ingestion.emulator.leql import Query, Subject
from log_ingestion.emulator.samples import json_escaped


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """Everything that decides a result page; hashable, so pages can be cached by it."""

    log_ids: tuple[str, ...]
    path: str  # the query path for Next links, e.g. /query/logs/<id>:<id>
    statement: str | None  # as the client sent it; None when absent
    from_ms: int
    to_ms: int
    low: Key
    high: Key
    per_page: int
    reverse: bool
    page: int = 1
    time_range: str | None = None
    query: Query = field(compare=False, hash=False, default=Query("where(/.*/)", None, None))

    @property
    def leql(self) -> dict[str, object]:
        during: dict[str, object] = {"from": self.from_ms, "to": self.to_ms}
        if self.time_range is not None:
            during["time_range"] = self.time_range
        return {"statement": self.statement or "where(/.*/)", "during": during}

    def continuation(self, at: Entry) -> QuerySpec:
        """The spec of the next page, which starts at (or, reversed, ends with) entry `at`.

        It equals the spec parsed back from its own Next href, so a prefetched page is
        found in the cache under the key the client's request produces.
        """
        page = self.page + 1
        if self.reverse:
            high: Key = (at[0], at[1] + 1)
            return replace(self, high=high, to_ms=at[0] + 1, page=page, time_range=None)
        low: Key = (at[0], at[1])
        return replace(self, low=low, from_ms=at[0], page=page, time_range=None)

    def query_string(self) -> str:
        params: dict[str, object] = {}
        if self.statement is not None:
            params["query"] = self.statement
        params["from"] = self.low[0]
        if self.low[1]:
            params["sequence_number"] = self.low[1]
        if self.high[1]:  # reversed continuation: up to and including (to - 1, max_seq)
            params["to"] = self.high[0] + 1
            params["max_sequence_number"] = self.high[1] - 1
        else:
            params["to"] = self.high[0]
        params["per_page"] = self.per_page
        if self.reverse:
            params["most_recent_first"] = "true"
        params["page"] = self.page
        return urlencode(params, quote_via=quote)


@dataclass(frozen=True, slots=True)
class Rendering:
    """How hrefs and numbers are written: where the client called us, and body quirks."""

    base: str  # scheme://host + prefix, e.g. http://127.0.0.1:8080/log_search
    lowercase_rels: bool = False
    round_sequence_numbers: bool = False
    next_loop_at_page: int = 0

    def rel(self, name: str) -> str:
        return name.lower() if self.lowercase_rels else name


def js_rounded(number: int) -> int:
    """The integer a float-based JSON encoder would have written for `number`."""
    return int(Decimal(repr(float(number))))


def matching(dataset: Dataset, spec: QuerySpec) -> Iterator[Entry]:
    entries = dataset.entries(spec.log_ids, spec.low, spec.high, reverse=spec.reverse)
    predicate = spec.query.predicate
    if predicate is None:
        return entries
    return (e for e in entries if predicate(Subject(e[2].message(e))))


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    events: int
    following: QuerySpec | None  # the spec behind this page's Next link


def events_page(dataset: Dataset, spec: QuerySpec, style: Rendering) -> Page:
    """The completed body of one page of events."""
    started = time.perf_counter()
    entries = list(itertools.islice(matching(dataset, spec), spec.per_page + 1))
    page = entries[: spec.per_page]
    events = _events_json(page, style)
    body: dict[str, object] = {"logs": list(spec.log_ids), "leql": spec.leql, "events": None}
    body["search_stats"] = search_stats(dataset, spec, len(page), started)
    following = None
    if len(entries) > spec.per_page:
        following = spec.continuation(entries[spec.per_page])
        if 0 < style.next_loop_at_page <= spec.page:
            following = spec  # the knob: a Next link back to the page just served
        href = f"{style.base}{spec.path}?{following.query_string()}"
        body["links"] = [{"rel": style.rel("Next"), "href": href}]
    # The events array is spliced in as text where orjson wrote its null placeholder.
    head, _, tail = orjson.dumps(body).partition(b'"events":null')
    return Page(head + b'"events":' + events.encode("ascii") + tail, len(page), following)


def _events_json(page: list[Entry], style: Rendering) -> str:
    """The `events` array as JSON text.

    This is the emulator's hot loop: messages come pre-escaped from the pools and each
    event is one f-string, which is about twice as fast as building dicts for orjson.
    """
    base = _escaped(style.base)
    context = f"{base}/query/context/"
    rounded = js_rounded if style.round_sequence_numbers else None
    parts: list[str] = []
    append = parts.append
    for entry in page:
        timestamp, sequence, store, _, bits = entry
        log_id = store.id
        labels = "[]"
        if bits >> 60 == 0:
            labels = _labels_json(entry, style)
        sequence_text, timestamp_text = str(sequence), str(timestamp)
        number = str(rounded(sequence)) if rounded is not None else sequence_text
        append(
            f'{{"labels":{labels},"timestamp":{timestamp_text},"sequence_number":{number},'
            f'"sequence_number_str":"{sequence_text}","log_id":"{log_id}",'
            f'"message":"{store.message_json(entry)}","links":[{{"rel":"Context",'
            f'"href":"{context}{sequence_text}?per_page=50&timestamp={timestamp_text}'
            f'&log_keys={log_id}&context_type=SURROUND"}}]}}'
        )
    return "[" + ",".join(parts) + "]"


def _labels_json(entry: Entry, style: Rendering) -> str:
    base, rel = style.base, style.rel("Self")
    labels = [
        {"id": label.id, "links": [{"rel": rel, "href": f"{base}/management/labels/{label.id}"}]}
        for label in entry[2].labels(entry)
    ]
    return json.dumps(labels, separators=(",", ":"))  # ASCII, like the rest of `events`


def _escaped(text: str) -> str:
    return json_escaped(text)


def search_stats(dataset: Dataset, spec: QuerySpec, matched: int, started: float) -> object:
    events_all = sum(dataset.logs[i].count_between(spec.low, spec.high) for i in spec.log_ids)
    return {
        "events_matched": matched,
        "events_checked": matched,
        "events_all": events_all,
        "bytes_checked": 0,
        "bytes_all": 0,
        "duration_ms": int((time.perf_counter() - started) * 1000),
        "index_factor": 0.0,
    }


class PageCache:
    """A small LRU of encoded pages, which can also build the next page ahead of time.

    While a client parses page k, a background thread builds page k+1 (the other core
    is free: the client is another process), so the Next request finds it ready. Entries
    are futures, so a request for a page being prefetched waits instead of rebuilding it.
    """

    def __init__(self, size: int, *, prefetch: bool = True) -> None:
        self._size = max(1, size)
        self._pages: OrderedDict[Hashable, Future[Page]] = OrderedDict()
        self._lock = threading.Lock()
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-prefetch")
            if prefetch
            else None
        )

    def get(self, key: Hashable, build: Callable[[], Page]) -> Page:
        with self._lock:
            future = self._pages.get(key)
            owner = future is None
            if future is None:
                future = self._insert(key)
            else:
                self._pages.move_to_end(key)
        if owner:
            self._fill(key, future, build)
        return future.result()

    def prefetch(self, key: Hashable, build: Callable[[], Page]) -> None:
        if self._executor is None:
            return
        with self._lock:
            if key in self._pages:
                return
            future = self._insert(key)
        try:
            self._executor.submit(self._fill, key, future, build)
        except RuntimeError:  # shut down while a request was finishing
            future.cancel()
            self._forget(key, future)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _insert(self, key: Hashable) -> Future[Page]:
        future: Future[Page] = Future()
        self._pages[key] = future
        while len(self._pages) > self._size:
            self._pages.popitem(last=False)
        return future

    def _fill(self, key: Hashable, future: Future[Page], build: Callable[[], Page]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(build())
        except BaseException as error:  # handed to whoever waits on the page
            future.set_exception(error)
            self._forget(key, future)

    def _forget(self, key: Hashable, future: Future[Page]) -> None:
        with self._lock:
            if self._pages.get(key) is future:
                del self._pages[key]


def log_ids_in(path_part: str) -> list[str]:
    return [part for part in path_part.split(":") if part]


def join_ids(ids: Sequence[str]) -> str:
    return ":".join(ids)
