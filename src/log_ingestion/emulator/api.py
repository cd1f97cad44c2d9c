"""The Log Search API's handlers: routing, auth, validation, management, queries, download.

`LogSearchApi.handle` takes a `Request` and returns a `Response`; the HTTP server around
it adds rate limits and faults. Every href is built from the base URL the request came in
on plus the prefix it used (`/` or `/log_search`), so links round-trip.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from log_ingestion.emulator import leql
from log_ingestion.emulator.dataset import Dataset, LogStore
from log_ingestion.emulator.faults import Faults
from log_ingestion.emulator.management import management
from log_ingestion.emulator.protocol import (
    HttpError,
    Request,
    Response,
    forbidden,
    invalid,
    json_response,
    not_found,
    unauthorized,
)
from log_ingestion.emulator.queries import (
    Page,
    PageCache,
    QuerySpec,
    Rendering,
    events_page,
    join_ids,
    log_ids_in,
    matching,
)
from log_ingestion.emulator.running import QueryStore, RunningQuery
from log_ingestion.emulator.statistics import answered, statistics_body
from log_ingestion.emulator.timerange import resolve

PLATFORM_PREFIX = "/log_search"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_URL_LENGTH = 8192
MAX_DOWNLOAD_LOGS = 10
TIME_RANGE_CONFLICT = "Invalid query: time_range cannot be specified with from and/or to fields"


@dataclass(frozen=True, slots=True)
class Route:
    """What a request is: its kind (for faults and stats), family (for rate limits), path."""

    kind: str  # start | next | poll | management | download | other
    family: str  # query | management | download
    prefix: str  # "" or "/log_search"
    path: str  # below the prefix, without a trailing slash


def route(request: Request) -> Route:
    path = request.path
    prefix = ""
    if path == PLATFORM_PREFIX or path.startswith(PLATFORM_PREFIX + "/"):
        prefix, path = PLATFORM_PREFIX, path[len(PLATFORM_PREFIX) :]
    path = path.rstrip("/") or "/"
    if path.startswith("/query/logs") or path.startswith("/query/logsets/"):
        kind = "next" if request.method == "GET" and "page" in request.params else "start"
        return Route(kind, "query", prefix, path)
    if path.startswith("/query/"):
        return Route("poll", "query", prefix, path)
    if path.startswith("/download/"):
        return Route("download", "download", prefix, path)
    if path.startswith("/management/") or path == "/validate":
        return Route("management", "management", prefix, path)
    return Route("other", "management", prefix, path)


class LogSearchApi:
    def __init__(
        self,
        dataset: Dataset,
        api_keys: dict[str, Collection[str] | None],
        faults: Faults,
        *,
        now_ms: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_url_length: int = MAX_URL_LENGTH,
        clamp_per_page: bool = False,
        page_cache_size: int = 32,
        prefetch: bool = True,
    ) -> None:
        self.dataset = dataset
        self.api_keys = api_keys
        self.faults = faults
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.clock = clock
        self.max_url_length = max_url_length
        self.clamp_per_page = clamp_per_page
        self.queries = QueryStore(dataset.seed)
        self.pages = PageCache(page_cache_size, prefetch=prefetch)

    # -- entry point --------------------------------------------------------------------
    def handle(self, request: Request, where: Route) -> Response:
        try:
            return self._dispatch(request, where)
        except HttpError as error:
            return error.response()

    def _dispatch(self, request: Request, where: Route) -> Response:
        if request.target_length > self.max_url_length:
            raise invalid("url", f"Request URL longer than {self.max_url_length} characters")
        key = self._authenticate(request)
        base = request.base_url + where.prefix
        path, method = where.path, request.method
        if path == "/validate" and method == "GET":
            return json_response(200, {"message": "Authorized"})
        if where.family == "management" and method == "GET":
            return management(self.dataset, path, self.api_keys[key], base)
        if where.kind in ("start", "next") and (method == "POST" or path != "/query/logs"):
            return self._start(request, where, key, base)
        if where.kind == "poll" and method == "GET":
            return self._poll(path.removeprefix("/query/"), key)
        if where.kind == "download" and method == "GET":
            return self._download(request, path, key)
        raise not_found()

    def _authenticate(self, request: Request) -> str:
        key = request.api_key
        if key is None or key not in self.api_keys:
            raise unauthorized()
        return key

    def _require_rights(self, key: str, log_ids: Collection[str]) -> None:
        allowed = self.api_keys[key]
        if allowed is not None and any(log_id not in allowed for log_id in log_ids):
            raise forbidden()

    def _log(self, log_id: str) -> LogStore:
        store = self.dataset.logs.get(log_id)
        if store is None:
            raise not_found()
        return store

    # -- queries ------------------------------------------------------------------------
    def _start(self, request: Request, where: Route, key: str, base: str) -> Response:
        spec = self._spec(request, where)
        self._require_rights(key, spec.log_ids)
        faults = self.faults
        if where.kind == "next":
            self._live_append(spec)
        style = Rendering(
            base, faults.lowercase_rels, faults.round_sequence_numbers, faults.next_loop_at_page
        )
        polls, seconds = faults.polls_before_ready, faults.ready_after_seconds
        if where.kind == "next":
            polls, seconds = faults.next_polls_before_ready, faults.next_ready_after_seconds
        ready = polls <= 0 and seconds <= 0
        if ready or (where.kind == "start" and faults.chance(faults.immediate_probability)):
            page = self._result(spec, style)
            return Response(200, page.body, events=page.events)
        started = self.clock()
        query = RunningQuery(self.queries.new_id(), spec, style, key, started, polls, seconds)
        self.queries.add(query)
        return Response(202, query.running_body(0))

    def _poll(self, query_id: str, key: str) -> Response:
        now = self.clock()
        query = self.queries.get(query_id, self.faults.query_ttl_seconds, now)
        if key != query.owner:
            self._require_rights(key, query.spec.log_ids)
        query.polls_made += 1
        progress = query.progress(now)
        if progress is not None:
            return Response(200, query.running_body(progress))
        # Statistics are small and kept; event pages come from the page cache, so a
        # benchmark's thousands of finished queries do not each hold a page in memory.
        result = query.result or self._result(query.spec, query.style)
        if query.spec.query.is_statistical:
            query.result = result
        return Response(200, result.body, events=result.events)

    def _result(self, spec: QuerySpec, style: Rendering) -> Page:
        if spec.query.is_statistical:
            exact = not self.faults.inexact_counts
            spec = answered(spec, self.faults)
            return Page(statistics_body(self.dataset, spec, exact=exact), 0, None)
        version = self.dataset.version
        page = self.pages.get(
            (spec, style, version), lambda: events_page(self.dataset, spec, style)
        )
        following = page.following
        if following is not None and version == self.dataset.version:
            self.pages.prefetch(
                (following, style, version), lambda: events_page(self.dataset, following, style)
            )
        return page

    def close(self) -> None:
        self.pages.close()

    def _live_append(self, spec: QuerySpec) -> None:
        """The live-log knob: new events land at the pager's position, ahead of it."""
        count = self.faults.live_append_per_page
        if count <= 0:
            return
        log_id = self.faults.live_append_log or spec.log_ids[0]
        store = self.dataset.logs.get(log_id)
        if store is None:
            return
        timestamp = spec.low[0]
        messages = [
            store.source.message(store.count + n, store.salt + n, timestamp) for n in range(count)
        ]
        self.dataset.append(log_id, messages, timestamp)

    def _spec(self, request: Request, where: Route) -> QuerySpec:
        params = request.params
        if request.method == "POST":
            log_ids, statement, during = _post_body(request.body)
            path = "/query/logs/" + join_ids(log_ids)
            from_raw, to_raw = during.get("from"), during.get("to")
            time_range = during.get("time_range")
        else:
            log_ids = self._path_log_ids(where.path)
            path = where.path
            statement = params.get("query")
            from_raw, to_raw = params.get("from"), params.get("to")
            time_range = params.get("time_range")
        for log_id in log_ids:
            self._log(log_id)
        try:
            query = leql.parse(statement, max_timeslice=self.faults.max_timeslice)
        except leql.LeqlError as error:
            raise HttpError(400, f"Invalid LEQL query: {error}", errorCode=400000) from None
        from_ms, to_ms = self._bounds(from_raw, to_raw, time_range)
        low = (from_ms, _integer("sequence_number", params.get("sequence_number"), 0))
        max_sequence = params.get("max_sequence_number")
        high = (to_ms, 0)
        if max_sequence is not None:
            high = (to_ms - 1, _integer("max_sequence_number", max_sequence, 0) + 1)
        return QuerySpec(
            log_ids=tuple(log_ids),
            path=path,
            statement=statement,
            from_ms=from_ms,
            to_ms=to_ms,
            low=low,
            high=high,
            per_page=self._per_page(params.get("per_page")),
            reverse=_boolean("most_recent_first", params.get("most_recent_first")),
            page=_integer("page", params.get("page"), 1),
            time_range=str(time_range) if time_range is not None else None,
            query=query,
        )

    def _path_log_ids(self, path: str) -> list[str]:
        if path.startswith("/query/logsets/"):
            logset = self.dataset.logsets.get(path.removeprefix("/query/logsets/"))
            if logset is None:
                raise not_found()
            return list(logset.log_ids)
        log_ids = log_ids_in(path.removeprefix("/query/logs").strip("/"))
        if not log_ids:
            raise not_found()
        return log_ids

    def _bounds(self, from_raw: object, to_raw: object, time_range: object) -> tuple[int, int]:
        if time_range is not None:
            if from_raw is not None or to_raw is not None:
                raise invalid("time_range", TIME_RANGE_CONFLICT)
            resolved = resolve(str(time_range), self.now_ms())
            if resolved is None:
                raise invalid(
                    "time_range", f"Invalid query: unrecognised time_range {time_range!r}"
                )
            return resolved
        if from_raw is None or to_raw is None:
            missing = "from" if from_raw is None else "to"
            message = "Invalid query: either time_range or both from and to must be specified"
            raise invalid(missing, message)
        from_ms, to_ms = _integer("from", from_raw), _integer("to", to_raw)
        if from_ms > to_ms:
            raise invalid("from", "Invalid query: from must not be after to")
        return from_ms, to_ms

    def _per_page(self, raw: str | None) -> int:
        per_page = _integer("per_page", raw, DEFAULT_PER_PAGE)
        if 1 <= per_page <= MAX_PER_PAGE:
            return per_page
        if self.clamp_per_page:
            return min(MAX_PER_PAGE, max(1, per_page))
        raise invalid("per_page", f"Invalid query: per_page must be between 1 and {MAX_PER_PAGE}")

    # -- download -----------------------------------------------------------------------
    def _download(self, request: Request, path: str, key: str) -> Response:
        log_ids = log_ids_in(path.removeprefix("/download/logs").strip("/"))
        if not log_ids or not path.startswith("/download/logs/"):
            raise not_found()
        if len(log_ids) > MAX_DOWNLOAD_LOGS:
            raise invalid("logs", f"At most {MAX_DOWNLOAD_LOGS} logs may be downloaded at once")
        stores = [self._log(log_id) for log_id in log_ids]
        self._require_rights(key, log_ids)
        params = request.params
        to_raw = params.get("to")
        if params.get("time_range") is None and params.get("from") is None:
            raise invalid("from", "Invalid query: from or time_range is required")
        if to_raw is None and params.get("time_range") is None:
            to_raw = str(self.now_ms())
        from_ms, to_ms = self._bounds(params.get("from"), to_raw, params.get("time_range"))
        try:
            query = leql.parse(params.get("query"))
        except leql.LeqlError as error:
            raise HttpError(400, f"Invalid LEQL query: {error}") from None
        if query.is_statistical:
            raise invalid("query", "Do not use a calculation in a download query")
        limit = min(_integer("limit", params.get("limit"), 20_000_000), 20_000_000)
        spec = QuerySpec(
            tuple(log_ids),
            path,
            None,
            from_ms,
            to_ms,
            (from_ms, 0),
            (to_ms, 0),
            1,
            False,
            query=query,
        )
        name = stores[0].name if len(stores) == 1 else "logs"
        return Response(
            200,
            content_type="text/plain",
            headers=[("Content-Disposition", f"attachment; filename={name}.log")],
            chunks=self._lines(spec, limit),
        )

    def _lines(self, spec: QuerySpec, limit: int) -> Iterator[bytes]:
        batch: list[str] = []
        for number, entry in enumerate(matching(self.dataset, spec)):
            if number >= limit:
                break
            batch.append(entry[2].message(entry))
            if len(batch) == 1000:
                yield ("\n".join(batch) + "\n").encode()
                batch = []
        if batch:
            yield ("\n".join(batch) + "\n").encode()


def _integer(name: str, raw: object, default: int | None = None) -> int:
    if raw is None and default is not None:
        return default
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    text = str(raw).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    raise invalid(name, f"Invalid query: {name} must be an integer, got {raw!r}")


def _boolean(name: str, raw: str | None) -> bool:
    if raw is None or raw.lower() in ("false", "0", ""):
        return False
    if raw.lower() in ("true", "1"):
        return True
    raise invalid(name, f"Invalid query: {name} must be true or false, got {raw!r}")


def _post_body(raw: bytes) -> tuple[list[str], str | None, Mapping[str, Any]]:
    try:
        body = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        raise HttpError(400, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HttpError(400, "Request body must be a JSON object with `logs` and `leql`")
    logs = body.get("logs")
    if not isinstance(logs, list) or not logs or not all(isinstance(i, str) for i in logs):
        raise invalid("logs", "Invalid query: logs must be a non-empty list of log ids")
    query = body.get("leql") or {}
    if not isinstance(query, dict):
        raise invalid("leql", "Invalid query: leql must be an object")
    statement = query.get("statement")
    if statement is not None and not isinstance(statement, str):
        raise invalid("leql", "Invalid query: leql.statement must be a string")
    during = query.get("during") or {}
    if not isinstance(during, dict):
        raise invalid("during", "Invalid query: leql.during must be an object")
    return logs, statement, during
