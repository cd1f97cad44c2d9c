"""The one way out to the network: every request of a run, paced, retried and recorded.

`Transport.send` takes a `Call`, waits its turn at the shared rate limiter, sends it over
one pooled httpx client, and returns the body `responses` makes of the answer. Retries
are decided by type (`RetryableError`) and honour `Retry-After`; every wait between them
goes through `wait`, which a stop cuts short.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
import tenacity
from pydantic import SecretStr

from log_ingestion import __version__
from log_ingestion.errors import ApiError, RetryableError
from log_ingestion.logging import get_logger, new_request_id
from log_ingestion.source.pages import Body, find_link, is_unfinished
from log_ingestion.source.ratelimit import RateLimiter, family_of
from log_ingestion.source.responses import body_of, transport_error


@dataclass(frozen=True, slots=True)
class ClientOptions:
    per_page: int = 500
    request_timeout: float = 30.0
    retry_attempts: int = 3
    retry_wait_initial: float = 0.5
    retry_wait_max: float = 30.0
    poll_interval: float = 1.0  # the first poll's delay, and the shortest gap between polls
    poll_interval_max: float = 10.0  # polls back off up to this gap
    max_poll_wait: float = 300.0
    verify: bool | ssl.SSLContext = True
    max_connections: int = 8


@dataclass(frozen=True, slots=True)
class Call:
    """One request: what it is for (`kind`: start, poll, next, management), and its parts."""

    method: str
    url: str
    kind: str
    params: Mapping[str, str | int] | None = None
    json: Any = None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What one HTTP exchange looked like, for logs and metrics."""

    kind: str
    status: int | None
    seconds: float
    retryable: bool


RequestHook = Callable[[RequestRecord], None]


class Transport:
    """Sends calls with the API key, paced by `limiter`, retried with backoff."""

    def __init__(
        self,
        api_key: SecretStr,
        options: ClientOptions,
        limiter: RateLimiter,
        *,
        on_request: RequestHook | None = None,
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        self._options = options
        self._limiter = limiter
        self._on_request = on_request
        self.wait = wait
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

    def send(self, call: Call) -> Body:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetryableError),
            stop=tenacity.stop_after_attempt(self._options.retry_attempts + 1),
            wait=self._backoff,
            sleep=self.wait,  # a stop ends the wait, and the retries, at once
            before_sleep=lambda state: _log_retry(call, state),
            reraise=True,
        )
        return retrying(self._send_once, call)

    def _backoff(self, state: tenacity.RetryCallState) -> float:
        """As long as the server asked (`Retry-After`), else exponential with jitter."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return exc.retry_after
        initial, longest = self._options.retry_wait_initial, self._options.retry_wait_max
        exponential = tenacity.wait_exponential(multiplier=initial, max=longest)
        jitter = tenacity.wait_random(0, initial)  # spreads the retries of several clients
        return float(min(longest, (exponential + jitter)(state)))

    def _send_once(self, call: Call) -> Body:
        self._limiter.acquire(family_of(call.kind))
        request_id = new_request_id()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            return self._exchange(call, request_id)

    def _exchange(self, call: Call, request_id: str) -> Body:
        started = time.monotonic()
        status: int | None = None
        try:
            try:
                response = self._http.request(
                    call.method,
                    call.url,
                    params=call.params,
                    json=call.json,
                    headers={"x-request-id": request_id},
                )
            except (httpx.RequestError, httpx.InvalidURL) as exc:
                raise transport_error(
                    exc, call.kind, call.url, self._options.request_timeout
                ) from None
            status = response.status_code
            self._limiter.observe(
                response.headers.get("x-ratelimit-remaining"),
                response.headers.get("x-ratelimit-reset"),
                family_of(call.kind),
            )
            body = body_of(response, call.kind)
            if (status == 202 or is_unfinished(body)) and find_link(body, "self") is None:
                # "not finished" with nothing to poll: reading it as a finished, empty page
                # would commit an empty window
                raise RetryableError(
                    f"a {call.kind} request answered {status}, the query not finished "
                    f"(progress {body.get('progress')}), without a Self link"
                )
        except RetryableError as exc:
            if exc.retry_after:
                self._limiter.pause(exc.retry_after, family_of(call.kind))
            self._record(call.kind, status, started, retryable=True)
            raise
        except ApiError:
            self._record(call.kind, status, started, retryable=False)
            raise
        self._record(call.kind, status, started, retryable=False)
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


def _log_retry(call: Call, state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    delay = state.next_action.sleep if state.next_action is not None else 0.0
    get_logger().warning(
        "api.retry_scheduled",
        kind=call.kind,
        retry_num=state.attempt_number,
        caused_by=repr(exc),
        wait_for=round(delay, 3),
    )
