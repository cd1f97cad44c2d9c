"""The Log Search protocol: queries of one or several logs, polling, pages, counts, labels.

Hrefs are followed exactly as the server gives them, and only to hosts the key may be
sent to. What a response means is decided in `responses`; how a request goes out (pace,
retries) in `transport`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import SecretStr

from log_ingestion.errors import ApiError, QueryRejectedError, QueryTimeoutError
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.outputs import is_loopback_host
from log_ingestion.source.pages import (
    Body,
    BucketCountError,
    events_of,
    find_link,
    is_running,
    statistics_buckets,
    statistics_count,
)
from log_ingestion.source.ratelimit import RateLimiter
from log_ingestion.source.responses import path_of
from log_ingestion.source.transport import Call, ClientOptions, RequestHook, Transport

ALL_EVENTS = "where(/.*/)"
DEFAULT_BUCKETS = 10  # what calculate(count) answers without timeslice(N)
MAX_EMPTY_PAGES = 100  # a Next chain of empty pages this long is a server loop, not data
POLL_BACKOFF = 1.5  # each poll of one query waits this much longer than the one before
RAPID7_HOSTS = (".rest.logs.insight.rapid7.com", ".api.insight.rapid7.com", "rest.logentries.com")

LogIds = str | tuple[str, ...]


class LogSearchClient:
    """Speaks the Log Search API. Thread-safe: one instance serves every log of a run."""

    def __init__(
        self,
        endpoint: str,
        api_key: SecretStr,
        options: ClientOptions,
        limiter: RateLimiter,
        *,
        on_request: RequestHook | None = None,
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._options = options
        self._transport = Transport(api_key, options, limiter, on_request=on_request, wait=wait)
        self._labels: dict[str, str] = {}
        self._labels_lock = threading.Lock()
        self.timeslice = True  # cleared once the API refuses timeslice(N)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> LogSearchClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- management ---------------------------------------------------------------

    def list_logs(self) -> list[LogInfo]:
        body = self._send(Call("GET", f"{self._endpoint}/management/logs", "management"))
        return [_log_info(raw) for raw in body.get("logs") or [] if isinstance(raw, Mapping)]

    def label_name(self, label_id: str) -> str:
        """A label's name, asked of the API once per run; its id when it has no name."""
        with self._labels_lock:
            known = self._labels.get(label_id)
        if known is not None:
            return known
        url = f"{self._endpoint}/management/labels/{quote(label_id, safe='')}"
        try:
            label = self._send(Call("GET", url, "management")).get("label")
            name = str(label.get("name") or label_id) if isinstance(label, Mapping) else label_id
        except ApiError:
            name = label_id  # the events still land; their label keeps its id
        with self._labels_lock:
            self._labels[label_id] = name
        return name

    # -- queries ------------------------------------------------------------------

    def pages(self, log_ids: LogIds, window: Window, query: str = "") -> Iterator[EventPage]:
        """Every page of events of the logs in `[window.start_ms, window.end_ms)`, in
        ascending order, the logs' events merged. Each `Next` is fetched as given and may
        itself answer 202 and need polling."""
        body = self._start(log_ids, window, query or ALL_EVENTS, per_page=self._options.per_page)
        fetched: set[str] = set()
        last_key: tuple[int, int] | None = None
        empty_in_a_row = 0
        while True:
            page = events_of(body, self.label_name)
            last_key = _check_progress(page, last_key)
            empty_in_a_row = 0 if len(page) else empty_in_a_row + 1
            if empty_in_a_row > MAX_EMPTY_PAGES:
                raise ApiError(
                    f"{MAX_EMPTY_PAGES} empty pages in a row, each with a new Next link; "
                    "the paging does not advance"
                )
            yield page
            href = find_link(body, "next")
            if href is None:
                return
            if href in fetched:
                raise ApiError(
                    "a Next link points back to a page already fetched", url=path_of(href)
                )
            fetched.add(href)
            body = self._await(self._send(Call("GET", self._trusted(href, "Next"), "next")))

    def count(self, log_id: str, window: Window, query: str = "") -> int:
        """The API's own count of events matching `query` in the window."""
        statement = f"{query or ALL_EVENTS} calculate(count)"
        return statistics_count(self._start(log_id, window, statement, per_page=None))

    def window_counts(
        self, log_ids: LogIds, first: Window, windows: int, query: str = ""
    ) -> list[int]:
        """The count of each of `windows` consecutive grid windows from `first` on, all logs
        together: one `calculate(count) timeslice(N)` query. Where the API refuses
        timeslice, or answers other buckets than it asked for, ten windows at a time, one
        default bucket each."""
        width = first.end_ms - first.start_ms
        if self.timeslice and windows > 1:
            try:
                return self._buckets(log_ids, first.start_ms, width, windows, query)
            except (QueryRejectedError, BucketCountError):
                self.timeslice = False  # not asked again in this run
        counts: list[int] = []
        for start in range(
            first.start_ms, first.start_ms + windows * width, DEFAULT_BUCKETS * width
        ):
            chunk = self._buckets(log_ids, start, width, DEFAULT_BUCKETS, query, timeslice=False)
            counts += chunk[: windows - len(counts)]
        return counts

    def _buckets(
        self,
        log_ids: LogIds,
        start_ms: int,
        width: int,
        buckets: int,
        query: str,
        *,
        timeslice: bool = True,
    ) -> list[int]:
        statement = f"{query or ALL_EVENTS} calculate(count)"
        if timeslice and buckets != DEFAULT_BUCKETS:
            statement += f" timeslice({buckets})"
        span = Window(start_ms, start_ms + buckets * width)
        body = self._start(log_ids, span, statement, per_page=None)
        return statistics_buckets(body, buckets, Window(start_ms, start_ms + width))

    def _start(
        self, log_ids: LogIds, window: Window, statement: str, *, per_page: int | None
    ) -> Body:
        """A query started, and awaited until its first page (or its statistics) is ready.
        One log is a GET of its path; several are one POST."""
        paging: dict[str, str | int] = {} if per_page is None else {"per_page": per_page}
        ids = (log_ids,) if isinstance(log_ids, str) else log_ids
        if len(ids) == 1:
            url = f"{self._endpoint}/query/logs/{quote(ids[0], safe='')}"
            params = {"query": statement, "from": window.start_ms, "to": window.end_ms, **paging}
            return self._await(self._send(Call("GET", url, "start", params)))
        during = {"from": window.start_ms, "to": window.end_ms}
        body = {"logs": list(ids), "leql": {"statement": statement, "during": during}}
        call = Call("POST", f"{self._endpoint}/query/logs", "start", paging or None, body)
        return self._await(self._send(call))

    def _await(self, body: Body) -> Body:
        """Poll the Self link until the body says the query is done, within a bounded wait.

        The first poll comes after `poll_interval`, each next one waits longer, up to
        `poll_interval_max`: a quick query costs one poll, a slow one few."""
        options = self._options
        deadline = time.monotonic() + options.max_poll_wait
        delay = options.poll_interval
        while is_running(body):
            if time.monotonic() >= deadline:
                raise QueryTimeoutError(
                    f"a query was still running after {options.max_poll_wait:g}s "
                    "(MAX_POLL_WAIT); try a smaller WINDOW_SIZE or a longer wait"
                )
            self._transport.wait(delay)
            delay = min(delay * POLL_BACKOFF, max(options.poll_interval, options.poll_interval_max))
            href = find_link(body, "self")
            assert href is not None  # is_running() checked it
            body = self._send(Call("GET", self._trusted(href, "Self"), "poll"))
        return body

    def _trusted(self, href: str, rel: str) -> str:
        """A link the API key may be sent to: the endpoint's own host, or a Rapid7 Log Search
        host over https (the API answers on both hosts). Plain http only to loopback."""
        try:
            parts = urlsplit(href)
            host = (parts.hostname or "").lower()
        except ValueError as exc:  # such as an unclosed [IPv6 address
            raise ApiError(f"the API gave a {rel} link that is not a URL: {exc}") from None
        own_host = host == (urlsplit(self._endpoint).hostname or "").lower()
        secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host))
        if secure and (own_host or host.endswith(RAPID7_HOSTS)):
            return href
        raise ApiError(
            f"refusing to follow a {rel} link to {parts.scheme}://{host}: the API key is only "
            f"sent over https to {urlsplit(self._endpoint).hostname} or a Rapid7 Log Search host"
        )

    def _send(self, call: Call) -> Body:
        return self._transport.send(call)


def _log_info(raw: Mapping[str, Any]) -> LogInfo:
    logsets = tuple(
        str(logset.get("name", ""))
        for logset in raw.get("logsets_info") or []
        if isinstance(logset, Mapping)
    )
    return LogInfo(id=str(raw["id"]), name=str(raw.get("name") or raw["id"]), logsets=logsets)


def _check_progress(page: EventPage, last_key: tuple[int, int] | None) -> tuple[int, int] | None:
    """Refuse a page that does not move forward: a Next link that loops back would never end."""
    if not len(page):
        return last_key
    key = (page.timestamps[-1], page.sequence_numbers[-1])
    if last_key is not None and key <= last_key:
        raise ApiError(
            "a Next link went back to an earlier page; the paging position did not advance"
        )
    return key
