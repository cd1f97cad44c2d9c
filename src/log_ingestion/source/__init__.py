"""The Rapid7 Log Search client: the source end of the pipeline, and its seam."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from log_ingestion.models import EventPage, Window
from log_ingestion.source.client import LogIds, LogSearchClient
from log_ingestion.source.ratelimit import RateLimiter
from log_ingestion.source.transport import ClientOptions, RequestRecord


class Source(Protocol):
    """What the pipeline asks of the API: pages of events, and counts per window."""

    def pages(self, log_ids: LogIds, window: Window, query: str = "") -> Iterator[EventPage]:
        """Every page of events of the logs in the window, merged, in ascending order."""
        ...

    def window_counts(
        self, log_ids: LogIds, first: Window, windows: int, query: str = ""
    ) -> list[int]:
        """The API's own count of each of `windows` grid windows from `first` on."""
        ...


__all__ = ["ClientOptions", "LogSearchClient", "RateLimiter", "RequestRecord", "Source"]
