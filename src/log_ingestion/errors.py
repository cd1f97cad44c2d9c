"""One root error, split by what the caller does next.

Errors are translated once at the library boundary (the HTTP client, the filesystem)
into these types and caught by type:

- `RetryableError`: send the request again, after a backoff (the client does).
- any other `ApiError`: ingest the window again, once (the query was lost or stalled).
- `ApiRefusedError`: the log fails for this run; other logs go on.
- `StorageError`: the log fails; the output or the state needs fixing.
- `ConfigError`: the run fails before it starts.
- `StopRequestedError`: the run was asked to stop; what was committed stays.

`exit_code` maps types to the exit codes of the CLI (and of a follow service, which ends
only on the errors that another cycle cannot fix).

Messages never contain secrets.
"""


class LogIngestionError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(LogIngestionError):
    """The configuration or the command line is wrong: fix it and start again."""


class StopRequestedError(LogIngestionError):
    """The run was asked to stop; what was committed stays committed."""


class StorageError(LogIngestionError):
    """Writing or reading output or state failed (not writable, disk full, damaged)."""


class ApiError(LogIngestionError):
    """The Log Search API answered with something we cannot use; the window is tried again."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class RetryableError(ApiError):
    """A transient failure (5xx, 429, dropped connection, truncated body): send it again."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, url=url)
        self.retry_after = retry_after


class QueryLostError(ApiError):
    """404 on a poll or a Next link: the running query is gone; the window is queried again."""


class QueryTimeoutError(ApiError):
    """A query kept running past the bounded wait."""


class ApiRefusedError(ApiError):
    """The API refuses this log, this key or this query: trying again cannot help."""


class AuthError(ApiRefusedError):
    """401/403: the key is wrong or lacks rights."""


class UnknownLogError(ApiRefusedError):
    """404 when a query starts: the log does not exist for this key."""


class QueryRejectedError(ApiRefusedError):
    """400 and other 4xx: the API refused the query or its range; usually RAPID7_QUERY."""


# What each error means to the process that meets it, first match first; anything else of
# ours, or a bug, is a runtime failure (1).
EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    (StopRequestedError, 0),
    (ConfigError, 2),
    (QueryRejectedError, 2),
    (AuthError, 3),
    (StorageError, 4),
)


def exit_code(error: BaseException) -> int:
    """The exit code an error means: 0 stopped, 2 configuration, 3 key, 4 storage, else 1."""
    return next((code for kind, code in EXIT_CODES if isinstance(error, kind)), 1)
