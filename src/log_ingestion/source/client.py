"""The Log Search protocol: auth, queries, polling, pages, link trust, retries, rate limits.

Every request goes out through `_send_once`, the one seam to the network; what a response
means (a body, or an error of the package's types) is decided in `responses`. Retries are
decided by type (`RetryableError`) and honour `Retry-After`.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import stamina
import structlog
from pydantic import SecretStr

from log_ingestion import __version__
from log_ingestion.config import is_loopback_host
from log_ingestion.errors import ApiError, QueryTimeoutError, RetryableError
from log_ingestion.logging import get_logger, new_request_id
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.source.pages import (
    Body,
    events_of,
    find_link,
    is_running,
    statistics_count,
)
from log_ingestion.source.ratelimit import RateLimiter
from log_ingestion.source.responses import body_of, path_of, transport_error

ALL_EVENTS = "where(/.*/)"
MAX_EMPTY_PAGES = 100  # a Next chain of empty pages this long is a server loop, not data
RAPID7_HOSTS = (".rest.logs.insight.rapid7.com", ".api.insight.rapid7.com", "rest.logentries.com")


@dataclass(frozen=True, slots=True)
class ClientOptions:
    per_page: int = 500
    request_timeout: float = 30.0
    retry_attempts: int = 3
    retry_wait_initial: float = 0.5
    retry_wait_max: float = 30.0
    poll_interval: float = 1.0
    max_poll_wait: float = 300.0
    verify: bool | ssl.SSLContext = True
    max_connections: int = 8


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What one HTTP exchange looked like, for logs and metrics."""

    kind: str
    status: int | None
    seconds: float
    retryable: bool


RequestHook = Callable[[RequestRecord], None]


def _log_info(raw: Mapping[str, Any]) -> LogInfo:
    logsets = tuple(
        str(logset.get("name", ""))
        for logset in raw.get("logsets_info") or []
        if isinstance(logset, Mapping)
    )
    return LogInfo(id=str(raw["id"]), name=str(raw.get("name") or raw["id"]), logsets=logsets)


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
        self._limiter = limiter
        self._on_request = on_request
        self._wait = wait
        self._http = httpx.Client(
            headers={
                "x-api-key": api_key.get_secret_value(),
                "accept": "application/json",
                "user-agent": f"log-ingestion/{__version__}",
            },
            timeout=options.request_timeout,
            verify=options.verify,
            limits=httpx.Limits(max_connections=options.max_connections),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LogSearchClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- management ---------------------------------------------------------------

    def list_logs(self) -> list[LogInfo]:
        body = self._send("GET", f"{self._endpoint}/management/logs", kind="management")
        return [_log_info(raw) for raw in body.get("logs") or [] if isinstance(raw, Mapping)]

    def get_log(self, log_id: str) -> LogInfo:
        url = f"{self._endpoint}/management/logs/{quote(log_id, safe='')}"
        body = self._send("GET", url, kind="management")
        raw = body.get("log")
        if not isinstance(raw, Mapping):
            raise ApiError(f"the API answered for log {log_id} without a `log` object", url=url)
        return _log_info(raw)

    # -- queries ------------------------------------------------------------------

    def pages(self, log_id: str, window: Window, query: str = "") -> Iterator[EventPage]:
        """Every page of events of one log in `[window.start_ms, window.end_ms)`, in order.

        Each `Next` is fetched as given and may itself answer 202 and need polling.
        """
        body = self._start(log_id, window, query or ALL_EVENTS, per_page=self._options.per_page)
        fetched: set[str] = set()
        last_key: tuple[int, int] | None = None
        empty_in_a_row = 0
        while True:
            page = events_of(body)
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
            body = self._await(self._send("GET", self._trusted(href, "Next"), kind="next"))

    def count(self, log_id: str, window: Window, query: str = "") -> int:
        """The API's own count of events matching `query` in the window."""
        statement = f"{query or ALL_EVENTS} calculate(count)"
        return statistics_count(self._start(log_id, window, statement, per_page=None))

    def _start(self, log_id: str, window: Window, statement: str, *, per_page: int | None) -> Body:
        params: dict[str, str | int] = {
            "query": statement,
            "from": window.start_ms,
            "to": window.end_ms,
        }
        if per_page is not None:
            params["per_page"] = per_page
        url = f"{self._endpoint}/query/logs/{quote(log_id, safe='')}"
        return self._await(self._send("GET", url, kind="start", params=params))

    def _await(self, body: Body) -> Body:
        """Poll the Self link until the body says the query is done, within a bounded wait."""
        deadline = time.monotonic() + self._options.max_poll_wait
        while is_running(body):
            if time.monotonic() >= deadline:
                raise QueryTimeoutError(
                    f"a query was still running after {self._options.max_poll_wait:g}s "
                    "(MAX_POLL_WAIT); try a smaller WINDOW_SIZE or a longer wait"
                )
            self._wait(self._options.poll_interval)
            href = find_link(body, "self")
            assert href is not None  # is_running() checked it
            body = self._send("GET", self._trusted(href, "Self"), kind="poll")
        return body

    def _trusted(self, href: str, rel: str) -> str:
        """A link the API key may be sent to: the endpoint's own host, or a Rapid7 Log Search
        host over https (the API answers on both hosts). Plain http only to loopback."""
        parts = urlsplit(href)
        host = (parts.hostname or "").lower()
        own_host = host == (urlsplit(self._endpoint).hostname or "").lower()
        secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host))
        if secure and (own_host or host.endswith(RAPID7_HOSTS)):
            return href
        raise ApiError(
            f"refusing to follow a {rel} link to {parts.scheme}://{host}: the API key is only "
            f"sent over https to {urlsplit(self._endpoint).hostname} or a Rapid7 Log Search host"
        )

    # -- the one way out ------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        kind: str,
        params: Mapping[str, str | int] | None = None,
    ) -> Body:
        for attempt in stamina.retry_context(
            on=_backoff,
            attempts=self._options.retry_attempts + 1,
            timeout=None,
            wait_initial=self._options.retry_wait_initial,
            wait_max=self._options.retry_wait_max,
            wait_jitter=self._options.retry_wait_initial,
        ):
            with attempt:
                if attempt.num > 1:
                    self._wait(0)  # a stop asked for during the backoff ends the retries here
                return self._send_once(method, url, kind=kind, params=params)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        kind: str,
        params: Mapping[str, str | int] | None,
    ) -> Body:
        self._limiter.acquire()
        request_id = new_request_id()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            return self._exchange(method, url, kind=kind, params=params, request_id=request_id)

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        kind: str,
        params: Mapping[str, str | int] | None,
        request_id: str,
    ) -> Body:
        started = time.monotonic()
        status: int | None = None
        try:
            try:
                response = self._http.request(
                    method, url, params=params, headers={"x-request-id": request_id}
                )
            except httpx.TransportError as exc:
                raise transport_error(exc, kind, url, self._options.request_timeout) from None
            status = response.status_code
            self._limiter.observe(
                response.headers.get("x-ratelimit-remaining"),
                response.headers.get("x-ratelimit-reset"),
            )
            body = body_of(response, kind)
            if status == 202 and find_link(body, "self") is None:
                # "accepted, not finished" with nothing to poll: reading it as a finished,
                # empty page would commit an empty window
                raise RetryableError(f"a {kind} request answered 202 without a Self link to poll")
        except RetryableError as exc:
            if exc.retry_after:
                self._limiter.pause(exc.retry_after)
            self._record(kind, status, started, retryable=True)
            raise
        except ApiError:
            self._record(kind, status, started, retryable=False)
            raise
        self._record(kind, status, started, retryable=False)
        return body

    def _record(self, kind: str, status: int | None, started: float, *, retryable: bool) -> None:
        seconds = time.monotonic() - started
        get_logger().debug(
            "api.request",
            kind=kind,
            status=status,
            duration_ms=round(seconds * 1000, 1),
            retryable=retryable,
        )
        if self._on_request is not None:
            self._on_request(RequestRecord(kind, status, seconds, retryable))


def _backoff(exc: Exception) -> bool | float:
    """Retry only what can succeed later; wait as long as the server asked to."""
    if not isinstance(exc, RetryableError):
        return False
    if exc.retry_after is not None:
        return exc.retry_after
    return True


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
