"""What a failed exchange means, decided from httpx's exception alone (no I/O)."""

import httpx
import pytest

from log_ingestion.errors import ApiError, ApiRefusedError, ConfigError, RetryableError
from log_ingestion.source.pages import events_of
from log_ingestion.source.responses import transport_error

URL = "https://eu.rest.logs.insight.rapid7.com/query/logs/x"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ReadTimeout("timed out"), RetryableError),
        (httpx.RemoteProtocolError("peer closed"), RetryableError),
        (httpx.DecodingError("bad gzip"), RetryableError),
        (httpx.UnsupportedProtocol("ftp"), ConfigError),
        (httpx.InvalidURL("bad host"), ApiError),
        (httpx.TooManyRedirects("loop"), ApiError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
def test_each_request_error_means_what_the_caller_does_next(exc, kind):
    """Retry, ingest the window again, or fix the configuration: never a raw httpx error."""
    error = transport_error(exc, "next", URL, 30.0)
    assert type(error) is kind
    assert not isinstance(error, ApiRefusedError)


def test_an_event_without_a_timestamp_is_an_api_error():
    """A page whose event lacks `timestamp` is not a Log Search page: an ApiError, not a KeyError."""
    event = {"sequence_number_str": "1", "log_id": "L", "message": "m"}
    with pytest.raises(ApiError, match="timestamp"):
        events_of({"events": [event]})
