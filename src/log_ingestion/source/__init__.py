"""The Rapid7 Log Search client: the source end of the pipeline, and its seam."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from log_ingestion.models import EventPage, Window
from log_ingestion.source.client import ClientOptions, LogSearchClient, RequestRecord
from log_ingestion.source.ratelimit import RateLimiter


class Source(Protocol):
    """What the pipeline asks of the API: a window's pages, and its count."""

    def pages(self, log_id: str, window: Window, query: str = "") -> Iterator[EventPage]:
        """Every page of events of one log in the window, in ascending order."""
        ...

    def count(self, log_id: str, window: Window, query: str = "") -> int:
        """The API's own count of the window's events."""
        ...


__all__ = ["ClientOptions", "LogSearchClient", "RateLimiter", "RequestRecord", "Source"]
