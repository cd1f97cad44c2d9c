"""The emulator as a real HTTP/1.1 server on loopback, with rate limits and fault knobs.

The stdlib `ThreadingHTTPServer` reads requests; `Emulator.respond` decides the answer
(rate limit, then an injected fault or the API's own answer); the handler writes it in
one `sendall` so small responses are never split across TCP segments.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from log_ingestion.emulator.api import LogSearchApi, Route, route
from log_ingestion.emulator.dataset import Dataset, Key
from log_ingestion.emulator.defaults import DEFAULT_API_KEY
from log_ingestion.emulator.faults import Fault, Faults
from log_ingestion.emulator.protocol import HttpError, Request, Response
from log_ingestion.emulator.ratelimit import FixedWindowLimiter
from log_ingestion.emulator.stats import Stats

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PROXY_ERROR_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class Emulator:
    """The Log Search API on `127.0.0.1:port` (0 picks a free port).

    `api_keys` maps each accepted key to the log ids it may read (None: every log).
    `faults` and `stats` are live objects: change or read them while it runs. `clock` (in
    seconds) times queries: readiness after seconds and expiry; tests pass a settable one.
    """

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        api_keys: Mapping[str, Collection[str] | None] | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        public_base_url: str | None = None,
        now_ms: int | None = None,
        max_url_length: int = 8192,
        clamp_per_page: bool = False,
        page_cache_size: int = 32,
        prefetch: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the emulator serves plain HTTP on loopback only, not {host!r}")
        self.dataset = dataset or Dataset()
        self.stats = Stats()
        self.api = LogSearchApi(
            self.dataset,
            dict(api_keys if api_keys is not None else {DEFAULT_API_KEY: None}),
            faults or Faults(),
            now_ms=(lambda: now_ms) if now_ms is not None else None,
            clock=clock,
            max_url_length=max_url_length,
            clamp_per_page=clamp_per_page,
            page_cache_size=page_cache_size,
            prefetch=prefetch,
        )
        self.limiter = FixedWindowLimiter()
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._host, self._port = host, port
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def faults(self) -> Faults:
        """The live fault knobs; mutate them, or assign a new `Faults`, between requests."""
        return self.api.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self.api.faults = faults

    @property
    def api_keys(self) -> dict[str, Collection[str] | None]:
        """Accepted keys and the log ids each may read (None: all); mutable while running."""
        return self.api.api_keys

    @api_keys.setter
    def api_keys(self, api_keys: Mapping[str, Collection[str] | None]) -> None:
        self.api.api_keys = dict(api_keys)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _HttpServer((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes stalled and slow handlers
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
        self.api.close()

    def wait(self, until: threading.Event | None = None) -> None:
        """Block until `stop()` is called from another thread, or `until` is set (the
        process's stop on a signal), or Ctrl-C reaches the caller."""
        while not self._stopping.wait(0.2):
            if until is not None and until.is_set():
                return

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:54321`, with no trailing slash."""
        host = "[::1]" if self._host == "::1" else self._host
        return f"http://{host}:{self.port}"

    # -- data ---------------------------------------------------------------------------
    def append(
        self, log_id: str, messages: Iterable[str], timestamp_ms: int | None = None
    ) -> list[Key]:
        """Append live events to a log; see `Dataset.append`."""
        return self.dataset.append(log_id, messages, timestamp_ms)

    # -- answering ----------------------------------------------------------------------
    def respond(self, request: Request) -> Response | None:
        """The answer to one request, or None to drop the connection without one."""
        where = route(request)
        faults = self.faults
        verdict = self.limiter.consume(
            request.api_key or "", where.family, faults.rate_limit, faults.rate_window_seconds
        )
        if verdict.allowed:
            response = self._answer(request, where, faults.draw(where.kind))
        else:
            response = HttpError(429, "Too Many Requests").response()
            response.headers.append(("Retry-After", str(verdict.reset_seconds)))
        if response is None:
            self.stats.record(where.kind, 0, key=request.api_key)
            return None
        response.headers.extend(verdict.headers(faults.rate_reset_format))
        self.stats.record(where.kind, response.status, response.events, request.api_key)
        return response

    def _answer(self, request: Request, where: Route, fault: Fault | None) -> Response | None:
        try:
            return self._answer_or_raise(request, where, fault)
        except Exception as error:  # a bug in the emulator: answer it, do not hang the client
            traceback.print_exc()
            return HttpError(500, f"emulator error: {type(error).__name__}: {error}").response()

    def _answer_or_raise(
        self, request: Request, where: Route, fault: Fault | None
    ) -> Response | None:
        if fault is None:
            return self.api.handle(request, where)
        self.stats.record_fault(str(fault))
        if isinstance(fault, int):
            response = HttpError(fault).response()
            if fault == 429:
                response.headers.append(("Retry-After", "1"))
            return response
        if fault == "drop":
            return None
        if fault == "html":
            return Response(502, PROXY_ERROR_PAGE, content_type="text/html")
        if fault in ("stall", "slow"):
            delay = self.faults.stall_seconds if fault == "stall" else self.faults.slow_seconds
            if self._stopping.wait(delay):
                return None
        response = self.api.handle(request, where)
        if fault == "truncate" and response.chunks is None:
            response.body = response.body[: max(1, len(response.body) // 2)]
            response.events = 0
        elif fault == "content_type":
            response.content_type = self.faults.wrong_content_type
        elif fault == "encoding":
            response.headers.append(("Content-Encoding", "gzip"))
        elif fault == "no_self" and response.chunks is None:
            response.body = _without_self_link(response.body)
        return response


def _without_self_link(body: bytes) -> bytes:
    parsed = orjson.loads(body)
    if isinstance(parsed, dict) and isinstance(parsed.get("links"), list):
        parsed["links"] = [
            link for link in parsed["links"] if str(link.get("rel", "")).lower() != "self"
        ]
    return orjson.dumps(parsed)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hung up (after a stall, a timeout) are expected; anything else prints."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections so they exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "log-search-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _HttpServer

    def do_GET(self) -> None:  # the stdlib's naming
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark makes thousands of requests."""

    def _serve(self) -> None:
        try:
            request = self._request()
        except ValueError:
            self._write(HttpError(400, "Bad Content-Length").response())
            self.close_connection = True
            return
        response = self.server.emulator.respond(request)
        if response is None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(response)

    def _request(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        target = urlsplit(self.path)
        emulator = self.server.emulator
        host = self.headers.get("Host") or f"127.0.0.1:{emulator.port}"
        return Request(
            method=self.command,
            path=unquote(target.path),
            params=dict(parse_qsl(target.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            base_url=emulator.public_base_url or f"http://{host}",
            target_length=len(self.path),
        )

    def _write(self, response: Response) -> None:
        phrase = HTTPStatus(response.status).phrase if response.status in _STATUSES else ""
        lines = [f"HTTP/1.1 {response.status} {phrase}", f"Content-Type: {response.content_type}"]
        if response.chunks is None:
            lines.append(f"Content-Length: {len(response.body)}")
        else:
            lines.append("Transfer-Encoding: chunked")
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        lines.append(f"Server: {self.server_version}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if response.chunks is None:
            self.wfile.write(head + response.body)
            return
        self.wfile.write(head)
        for chunk in response.chunks:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


_STATUSES = frozenset(int(status) for status in HTTPStatus)
