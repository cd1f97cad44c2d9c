"""The Log Search REST client: auth, queries, polling, pages, retries, rate limits.

Every request goes out through `_send_once`, the one seam to the network. HTTP and
transport failures are translated there, once, into the package's error types; retries
are decided by type (`RetryableError`) and honour `Retry-After`.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson
import stamina
import structlog
from pydantic import SecretStr

from log_ingestion import __version__
from log_ingestion.config import is_loopback_host
from log_ingestion.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    NotFoundError,
    RetryableError,
)
from log_ingestion.logging import get_logger, new_request_id
from log_ingestion.models import EventPage, LogInfo, Window
from log_ingestion.source.pages import (
    Body,
    decode_query_body,
    events_of,
    find_link,
    is_running,
    statistics_count,
    without_lone_surrogates,
)
from log_ingestion.source.ratelimit import RateLimiter, reset_delay

ALL_EVENTS = "where(/.*/)"
QUERY_KINDS = frozenset({"start", "poll", "next"})
MAX_EMPTY_PAGES = 100  # a Next chain of empty pages this long is a server loop, not data
RAPID7_HOSTS = (".rest.logs.insight.rapid7.com", ".api.insight.rapid7.com", "rest.logentries.com")


class QueryTimeoutError(ApiError):
    """A query kept running past the bounded wait."""


class QueryRejectedError(BadRequestError):
    """400 and other 4xx: the API refused the query or its range. Retrying cannot help and
    the usual cause is RAPID7_QUERY, so it exits like a configuration error."""

    exit_code = 2


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


def _path_of(url: str) -> str:
    """A URL without its query string, for messages (hrefs can be long)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _server_message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(body, Mapping):
        messages = body.get("messages")
        if isinstance(messages, list) and messages:
            return "; ".join(str(message) for message in messages)
        return str(body.get("message", ""))
    return ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    return reset_delay(response.headers.get("x-ratelimit-reset"))


def _raise_for_status(response: httpx.Response, kind: str) -> None:
    status = response.status_code
    url = _path_of(str(response.request.url))
    if status == 408:
        raise RetryableError(
            f"the {kind} request timed out at the server (408)", status=status, url=url
        )
    if status == 429:
        raise RetryableError(
            "rate limited by the API (429)",
            status=status,
            url=url,
            retry_after=_retry_after(response),
        )
    if status >= 500:
        proxy = "an HTML error page, probably from a proxy, " if _is_html(response) else ""
        raise RetryableError(
            f"the API answered {proxy}{status} to a {kind} request", status=status, url=url
        )
    if status == 401:
        raise AuthError(
            "the API key was rejected (401 Unauthorized): check RAPID7_API_KEY and that the "
            "key belongs to this region (RAPID7_REGION or RAPID7_API_ENDPOINT)",
            status=status,
            url=url,
        )
    if status == 403:
        raise AuthError(
            f"the API key has no rights for {urlsplit(url).path} (403 Forbidden): use a key "
            "with read access to this log",
            status=status,
            url=url,
        )
    if status == 404 and kind in ("poll", "next"):
        raise NotFoundError(
            f"the running query is gone (404 on a {kind} link); the window is queried again",
            status=status,
            url=url,
            kind=kind,
        )
    if status == 404:
        raise NotFoundError(
            f"not found (404): {urlsplit(url).path}; list the logs this key can see with "
            "`log-ingestion logs` and fix RAPID7_LOG_IDS",
            status=status,
            url=url,
            kind=kind,
        )
    if status >= 400:
        detail = _server_message(response) or "no reason given"
        raise QueryRejectedError(
            f"the API rejected the {kind} request ({status}): {detail}; check RAPID7_QUERY and the range",
            status=status,
            url=url,
        )
    if status not in (200, 202):
        raise ApiError(f"unexpected status {status} from {url}", status=status, url=url)


def _is_html(response: httpx.Response) -> bool:
    return "html" in response.headers.get("content-type", "").lower()


def _decode(response: httpx.Response, kind: str) -> Body:
    url = _path_of(str(response.request.url))
    content_type = response.headers.get("content-type", "").lower()
    if "json" not in content_type:
        raise RetryableError(
            f"expected JSON from a {kind} request but got {content_type or 'no content type'}",
            status=response.status_code,
            url=url,
        )
    body = decode_query_body(response.content) if kind in QUERY_KINDS else None
    if body is not None:
        return body
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = _lenient_json(response.content)
        if body is None:
            raise RetryableError(
                f"the {kind} response was truncated or is not valid JSON",
                status=response.status_code,
                url=url,
            ) from None
    if not isinstance(body, dict):
        raise RetryableError(f"the {kind} response is not a JSON object", url=url)
    return body


def _lenient_json(content: bytes) -> Any:
    """A body orjson refuses only for an escaped lone surrogate (`"\\ud83d"`, a message cut
    mid-emoji by the server) is valid JSON: read it with the stdlib and replace each lone
    surrogate with U+FFFD, since Parquet strings must be UTF-8. Without this, one such
    event failed its whole window on every retry. None when the body really is broken."""
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return without_lone_surrogates(body)


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
                    "a Next link points back to a page already fetched", url=_path_of(href)
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
            except httpx.TimeoutException:
                raise RetryableError(
                    f"a {kind} request timed out after {self._options.request_timeout:g}s",
                    url=_path_of(url),
                ) from None
            except httpx.TransportError as exc:
                raise RetryableError(
                    f"a {kind} request failed: {type(exc).__name__}", url=_path_of(url)
                ) from None
            status = response.status_code
            self._limiter.observe(
                response.headers.get("x-ratelimit-remaining"),
                response.headers.get("x-ratelimit-reset"),
            )
            _raise_for_status(response, kind)
            body = _decode(response, kind)
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
