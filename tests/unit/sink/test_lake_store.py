"""Failures of the object store become one line: the store, the cause, the fix, no secret."""

from __future__ import annotations

import pytest

from log_ingestion.sink.lake_store import LakeOptions, cause_of, is_store_failure, lake_error

SECRET = "wJalrXUtnFEMI-never-shown"
OPTIONS = LakeOptions(
    "s3://lake/logs",
    aws={"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_SECRET_ACCESS_KEY": SECRET},
    allow_http=True,
)

# the store's own error texts, as delta-rs 1.6 words them (shortened)
REFUSED = (
    "Generic S3 error: Error performing GET http://127.0.0.1:1/lake/t/_delta_log/_last_checkpoint "
    "in 101ms, after 1 retries, max_retries: 1, retry_timeout: 3s - HTTP error: error sending "
    "request: client error (Connect): tcp connect error: Connection refused (os error 111)"
)
SILENT = (
    "Generic S3 error: Error performing GET http://127.0.0.1:5/lake/t/_delta_log/_last_checkpoint "
    "in 4.1s, after 1 retries, max_retries: 1, retry_timeout: 3s - HTTP error: error sending "
    "request: operation timed out"
)
FORBIDDEN = (
    "The operation lacked the necessary privileges to complete for path t/_delta_log/_last_checkpoint: "
    "Error performing GET ... - Server returned non-2xx status code: 403 Forbidden: "
    f"<Error><Code>SignatureDoesNotMatch</Code><StringToSign>{SECRET}</StringToSign></Error>"
)
EXPIRED = "403 Forbidden: <Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>"
NO_BUCKET = "Error performing list request: 404 Not Found: <Error><Code>NoSuchBucket</Code></Error>"
UNWELL = "Server returned non-2xx status code: 503 Service Unavailable: <Error><Code>SlowDown</Code></Error>"


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (REFUSED, "the store cannot be reached"),
        (SILENT, "the store did not answer in time"),
        (FORBIDDEN, "the store refused the credentials"),
        (EXPIRED, "the credentials have expired"),
        (NO_BUCKET, "the bucket does not exist"),
        (UNWELL, "the store kept failing (5xx)"),
        ("something new", "the store failed"),
    ],
)
def test_each_failure_is_named_by_its_cause(text, cause):
    """The cause is read from the store's text; the text itself is not repeated."""
    assert cause == cause_of(text)[0]


def test_the_line_names_the_store_and_the_fix():
    """What failed, where, why, and what to do, in one line."""
    message = str(lake_error(OSError(NO_BUCKET), "list the tables", OPTIONS))
    assert message == (
        "cannot list the tables on s3://lake at http://127.0.0.1:9000: the bucket does not "
        "exist; create it, or fix the bucket in OUTPUT_DIR"
    )


def test_no_secret_reaches_the_line():
    """A store's error body can echo what was signed: none of it is kept."""
    assert SECRET not in str(lake_error(OSError(FORBIDDEN), "open", OPTIONS))


def test_a_local_root_has_no_storage_options():
    """A local folder is opened as it is."""
    assert LakeOptions("/data/lake").storage_options() == {}


def test_a_delta_error_of_the_store_is_the_stores_failure():
    """deltalake raises `DeltaError` for the store failing inside a write: translated too;
    a lost race and a refusal of the data are not the store's."""
    from deltalake.exceptions import CommitFailedError, DeltaError

    dropped = DeltaError(
        "Generic DeltaTable error: Error interacting with object store: Generic S3 error: "
        "Error performing GET http://127.0.0.1:1/lake?list-type=2 - HTTP error: error sending request"
    )
    assert [
        is_store_failure(dropped),
        is_store_failure(CommitFailedError("a concurrent transaction")),
        is_store_failure(DeltaError("Invalid data: column a is not nullable")),
    ] == [True, False, False]
    assert cause_of(str(dropped))[0] == "the store cannot be reached"
