"""Plain values the HTTP layer and the API handlers exchange: no sockets here."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

import orjson

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # the path without the query string, percent-decoded
    params: Mapping[str, str]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes = b""
    base_url: str = "http://127.0.0.1"  # scheme://host[:port] the client called
    target_length: int = 0  # length of the request target as sent, for the URL limit

    @property
    def api_key(self) -> str | None:
        return self.headers.get("x-api-key")


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    events: int = 0  # events carried, for the stats
    chunks: Iterator[bytes] | None = None  # a streamed body (download), sent chunked


def json_response(status: int, payload: object, *, events: int = 0) -> Response:
    return Response(status, orjson.dumps(payload), events=events)


class HttpError(Exception):
    """Raised by handlers; becomes a JSON error response with at least a `message`."""

    def __init__(self, status: int, message: str | None = None, **extra: object) -> None:
        self.status = status
        self.payload: dict[str, object] = {"message": message or HTTPStatus(status).phrase}
        self.payload.update(extra)
        super().__init__(self.payload["message"])

    def response(self) -> Response:
        return json_response(self.status, self.payload)


def unauthorized() -> HttpError:
    return HttpError(401, "Unauthorized")


def forbidden() -> HttpError:
    return HttpError(403, "Forbidden")


def not_found() -> HttpError:
    return HttpError(404, "HTTP 404 Not Found")


def invalid(field_name: str, message: str) -> HttpError:
    """A validation error in the shape Logentries used: `fields` and `messages`, plus `message`."""
    return HttpError(400, message, fields=[field_name], messages=[message])
