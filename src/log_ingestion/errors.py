"""One root error, split by what the caller does next.

Errors are translated once at the library boundary (the HTTP client, the filesystem)
into these types; the CLI maps them to exit codes. Messages never contain secrets.
"""


class LogIngestionError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 1


class ConfigError(LogIngestionError):
    """The configuration or the command line is wrong: fix it and start again."""

    exit_code = 2


class ApiError(LogIngestionError):
    """The Log Search API answered with something we cannot use."""

    exit_code = 1

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class AuthError(ApiError):
    """401/403: the key is wrong or lacks rights. Retrying will not help."""

    exit_code = 3


class NotFoundError(ApiError):
    """404: an unknown log, log set or expired query."""

    def __init__(
        self, message: str, *, status: int | None = None, url: str | None = None, kind: str = ""
    ) -> None:
        super().__init__(message, status=status, url=url)
        self.kind = kind  # "start" means the log itself is unknown; "poll"/"next", the query


class BadRequestError(ApiError):
    """400: the query or its parameters are invalid."""


class RetryableError(ApiError):
    """A transient failure (5xx, 429, dropped connection, truncated body): try again."""

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


class StorageError(LogIngestionError):
    """Writing output or state failed (not writable, disk full, rename failed)."""

    exit_code = 4


class StopRequestedError(LogIngestionError):
    """The run was asked to stop; what was committed stays committed."""

    exit_code = 0
