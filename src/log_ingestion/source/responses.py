"""Pure translation of one HTTP exchange: a response -> its body, or the error it means.

Every status, content type, broken body and transport failure becomes one of the
package's error types here, once, with a message that names what failed and the fix.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from log_ingestion.errors import (
    ApiError,
    ApiRefusedError,
    AuthError,
    ConfigError,
    LogIngestionError,
    QueryLostError,
    QueryRejectedError,
    RetryableError,
    UnknownLogError,
)
from log_ingestion.source.pages import Body, decode_query_body, without_lone_surrogates
from log_ingestion.source.ratelimit import MAX_PAUSE_S, reset_delay

QUERY_KINDS = frozenset({"start", "poll", "next"})


def path_of(url: str) -> str:
    """A URL without its query string, for messages (hrefs can be long)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def body_of(response: httpx.Response, kind: str) -> Body:
    """The JSON body of a usable response, or the error its status or body means."""
    raise_for_status(response, kind)
    return _decode(response, kind)


def transport_error(
    exc: httpx.RequestError | httpx.InvalidURL, kind: str, url: str, timeout: float
) -> LogIngestionError:
    """What a failure to exchange a request means, naming the host and the likely fix:
    a timeout, a broken connection or an undecodable body is sent again; a URL that cannot
    be sent to is the API's fault (a link it gave), or the endpoint's (its scheme)."""
    host = urlsplit(url).netloc
    if isinstance(exc, httpx.TimeoutException):
        return RetryableError(
            f"a {kind} request to {host} timed out after {timeout:g}s (REQUEST_TIMEOUT)",
            url=path_of(url),
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigError(
            f"cannot send a {kind} request to {path_of(url)}: {exc}; RAPID7_API_ENDPOINT "
            "must be an https:// URL"
        )
    if isinstance(exc, httpx.DecodingError):
        return RetryableError(
            f"the answer to a {kind} request from {host} could not be decoded ({exc}); "
            "it is sent again",
            url=path_of(url),
        )
    if not isinstance(exc, httpx.TransportError):  # an invalid URL, too many redirects
        return ApiError(f"a {kind} request to {path_of(url)} cannot be sent: {exc}")
    cause = _cause(exc)
    if isinstance(exc, httpx.ConnectError) and _is_tls_failure(exc):
        fix = "the server does not speak https there (a plain-http port?), or its certificate is not trusted (RAPID7_CA_BUNDLE)"
    elif isinstance(exc, httpx.ConnectError):
        fix = "check RAPID7_REGION / RAPID7_API_ENDPOINT, DNS, proxies and the network"
    else:
        fix = "the connection broke; it is retried"
    return RetryableError(
        f"a {kind} request to {host} failed: {cause} ({type(exc).__name__}); {fix}",
        url=path_of(url),
    )


def _cause(exc: BaseException) -> str:
    """The innermost reason a transport error gives (`[Errno 111] Connection refused`)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return str(exc) or type(exc).__name__


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_after(response: httpx.Response) -> float | None:
    """How long the server asked us to wait: `Retry-After`, else `X-RateLimit-Reset`, at
    most `MAX_PAUSE_S` (the budget's own window: a longer ask is a broken header)."""
    value = response.headers.get("retry-after")
    if value is not None:
        try:
            return min(MAX_PAUSE_S, max(0.0, float(value)))
        except ValueError:
            pass
    delay = reset_delay(response.headers.get("x-ratelimit-reset"))
    return None if delay is None else min(MAX_PAUSE_S, delay)


def raise_for_status(response: httpx.Response, kind: str) -> None:
    status = response.status_code
    url = path_of(str(response.request.url))
    if status in (200, 202):
        return
    if status == 408 or status == 429 or status >= 500:
        raise _transient(response, kind, url)
    if status in (401, 403):
        raise _auth(status, url)
    if status == 404:
        raise _not_found(kind, url)
    if status >= 400:
        detail = _server_message(response) or "no reason given"
        raise QueryRejectedError(
            f"the API rejected the {kind} request ({status}): {detail}; check RAPID7_QUERY and the range",
            status=status,
            url=url,
        )
    raise ApiError(f"unexpected status {status} from {url}", status=status, url=url)


def _transient(response: httpx.Response, kind: str, url: str) -> RetryableError:
    status = response.status_code
    if status == 408:
        message = f"the {kind} request timed out at the server (408)"
    elif status == 429:
        return RetryableError(
            "rate limited by the API (429)",
            status=status,
            url=url,
            retry_after=retry_after(response),
        )
    else:
        proxy = "an HTML error page, probably from a proxy, " if _is_html(response) else ""
        message = f"the API answered {proxy}{status} to a {kind} request"
    return RetryableError(message, status=status, url=url)


def _auth(status: int, url: str) -> AuthError:
    if status == 401:
        return AuthError(
            "the API key was rejected (401 Unauthorized): check RAPID7_API_KEY and that the "
            "key belongs to this region (RAPID7_REGION or RAPID7_API_ENDPOINT)",
            status=status,
            url=url,
        )
    return AuthError(
        f"the API key has no rights for {urlsplit(url).path} (403 Forbidden): use a key "
        "with read access to this log",
        status=status,
        url=url,
    )


def _not_found(kind: str, url: str) -> ApiError:
    path = urlsplit(url).path
    if kind in ("poll", "next"):
        return QueryLostError(
            f"the running query is gone (404 on a {kind} link); the window is queried again",
            status=404,
            url=url,
        )
    if kind == "start":
        return UnknownLogError(
            f"not found (404): {path}; list the logs this key can see with "
            "`log-ingestion logs` and fix RAPID7_LOG_IDS",
            status=404,
            url=url,
        )
    return ApiRefusedError(
        f"not found (404): {path}; is RAPID7_API_ENDPOINT the Log Search API "
        "(https://<region>.rest.logs.insight.rapid7.com)?",
        status=404,
        url=url,
    )


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


def _is_html(response: httpx.Response) -> bool:
    return "html" in response.headers.get("content-type", "").lower()


def _decode(response: httpx.Response, kind: str) -> Body:
    url = path_of(str(response.request.url))
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
    surrogate with U+FFFD, since Parquet strings must be UTF-8, so that one such event
    cannot fail its whole window on every retry. None when the body really is broken."""
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return without_lone_surrogates(body)
