"""The Rapid7 Log Search client: the source end of the pipeline."""

from log_ingestion.source.client import (
    ClientOptions,
    LogSearchClient,
    QueryRejectedError,
    QueryTimeoutError,
    RequestRecord,
)
from log_ingestion.source.ratelimit import RateLimiter

__all__ = [
    "ClientOptions",
    "LogSearchClient",
    "QueryRejectedError",
    "QueryTimeoutError",
    "RateLimiter",
    "RequestRecord",
]
