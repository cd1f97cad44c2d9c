"""Where Delta tables live: a root (a local folder or `s3://bucket/prefix`), the options the
object store is opened with, and the one translation of its failures into `StorageError`.

Credentials come from the standard AWS variables when they are set (`.env` included);
without an access key there, from the profile of the shared AWS files (`AWS_PROFILE`, else
`default`; `aws_profile`), which the object store cannot read itself; and otherwise from the
object store's own chain (web identity, a container's or an instance's role). Timeouts and retries are bounded by our settings, so a store that hangs
fails in bounded time. No message built here carries a secret: the store's own error text
(an S3 error body echoes what was signed) is reduced to a short cause, and any secret value
left in it is cut out.

deltalake raises `OSError` for most failures of the store, but `DeltaError` for those inside
a write, a vacuum or a compaction; both are translated here when the store's text shows
they are the store failing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from log_ingestion.config import Settings
from log_ingestion.errors import StorageError
from log_ingestion.logging import get_logger
from log_ingestion.sink.aws_profile import profile_credentials

S3 = "s3://"
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LakeOptions:
    """A root for Delta tables and how to reach it; `repr` shows no secret."""

    root: str
    aws: Mapping[str, str] = field(default_factory=dict, repr=False)
    allow_http: bool = False
    timeout_s: float = 30.0
    retries: int = 3

    @property
    def on_object_store(self) -> bool:
        return self.root[: len(S3)].lower() == S3

    @property
    def store(self) -> str:
        """The store named for messages: `s3://bucket at https://endpoint`, or the folder."""
        if not self.on_object_store:
            return self.root
        bucket = self.root[len(S3) :].split("/", 1)[0]
        endpoint = self.aws.get("AWS_ENDPOINT_URL") or "AWS S3"
        return f"s3://{bucket} at {endpoint}"

    def uri(self, *names: str) -> str:
        """The root joined with `names` by `/`."""
        return "/".join([self.root.rstrip("/"), *names])

    def storage_options(self) -> dict[str, str]:
        """The `storage_options` of every deltalake call: credentials that were set, the
        endpoint, and bounded timeouts and retries. Empty for a local folder."""
        if not self.on_object_store:
            return {}
        options = {name: value for name, value in self.aws.items() if value}
        if self.allow_http:
            options["AWS_ALLOW_HTTP"] = "true"
        options["timeout"] = _seconds(self.timeout_s)
        options["connect_timeout"] = _seconds(min(self.timeout_s, CONNECT_TIMEOUT_S))
        options["max_retries"] = str(self.retries)
        options["retry_timeout"] = _seconds(self.timeout_s)
        return options

    def secrets(self) -> list[str]:
        return [
            value
            for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
            if (value := self.aws.get(name))
        ]


def lake_options(settings: Settings) -> LakeOptions:
    """Where the Delta tables are and how to reach them; the AWS variables that are set."""
    secret, token = settings.aws_secret_access_key, settings.aws_session_token
    aws = {
        "AWS_ACCESS_KEY_ID": settings.aws_access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret.get_secret_value() if secret else None,
        "AWS_SESSION_TOKEN": token.get_secret_value() if token else None,
        "AWS_REGION": settings.aws_region,
        "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
    }
    given = {name: value for name, value in aws.items() if value}
    on_s3 = settings.output_dir[: len(S3)].lower() == S3
    if on_s3 and not settings.aws_access_key_id:  # keys in the variables win over a profile
        given = {**profile_credentials(settings.aws_profile, *_profile_files(settings)), **given}
    return LakeOptions(
        root=local_root(settings.output_dir),
        aws=given,
        allow_http=settings.aws_allow_http,
        timeout_s=settings.request_timeout,
        retries=settings.retry_attempts,
    )


def _profile_files(settings: Settings) -> tuple[Path, Path]:
    home = Path.home() / ".aws"
    return (
        settings.aws_shared_credentials_file or home / "credentials",
        settings.aws_config_file or home / "config",
    )


def local_root(root: str) -> str:
    """A local root as an absolute path (delta-rs resolves relative ones itself otherwise)."""
    return root if root[: len(S3)].lower() == S3 else os.path.abspath(root)


def _seconds(value: float) -> str:
    return f"{max(1, round(value * 1000))}ms"


# -- failures -------------------------------------------------------------------------------

# (pattern in the store's error text, the cause in a few words, what to do about it)
_CAUSES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), cause, fix)
    for pattern, cause, fix in (
        (
            r"169\.254\.169\.254|169\.254\.170\.2|NoCredentialProviders",
            "no credentials were found (no AWS variables, no profile, no role answered)",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with "
            "an instance or web-identity role",
        ),
        (
            r"NoSuchBucket",
            "the bucket does not exist",
            "create it, or fix the bucket in OUTPUT_DIR",
        ),
        (
            r"ExpiredToken|TokenRefreshRequired|RequestExpired|token has expired",
            "the credentials have expired",
            "renew them (AWS_SESSION_TOKEN, AWS_PROFILE, the instance role) and run again",
        ),
        (
            r"SignatureDoesNotMatch|InvalidAccessKeyId|InvalidToken|AccessDenied|403 Forbidden|"
            r"lacked the necessary privileges",
            "the store refused the credentials",
            "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or AWS_PROFILE, "
            "and that they may read and write OUTPUT_DIR",
        ),
        (
            r"tcp connect error|Connection refused|client error \(Connect\)|dns error|"
            r"failed to lookup address",
            "the store cannot be reached",
            "check AWS_ENDPOINT_URL (or AWS_REGION) and that the store is up",
        ),
        (
            r"timed out",
            "the store did not answer in time",
            "check that the store is up; REQUEST_TIMEOUT bounds each request",
        ),
        (
            r"error sending request",  # a connection dropped: its cause is cut from the text
            "the store cannot be reached",
            "check AWS_ENDPOINT_URL (or AWS_REGION) and that the store is up",
        ),
        (
            r"\b5\d\d [A-Z]|Service Unavailable|Internal Server Error|SlowDown",
            "the store kept failing (5xx)",
            "the store is unwell; run again once it answers",
        ),
        (
            r"Object at location .* not found|File not found",
            "files of the table are missing from the store",
            "was the table or its bucket deleted while running? Check OUTPUT_DIR",
        ),
        (
            r"No space left|Permission denied|Read-only file system",
            "the folder is not writable or full",
            "free space there or make it writable for this user",
        ),
    )
)


# what deltalake puts in a `DeltaError` that is the store failing, not the data refused
_STORE_FAILURE = re.compile(
    r"object store|Generic S3 error|Error performing|HTTP error|non-2xx|File not found|"
    r"No space left|Permission denied|Read-only file system",
    re.IGNORECASE,
)


def is_store_failure(exc: BaseException) -> bool:
    """Whether a deltalake error is the store failing; a lost race (`CommitFailedError`), a
    missing table and a refusal of the data are not."""
    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, DeltaError) or isinstance(exc, CommitFailedError | TableNotFoundError):
        return False
    return _STORE_FAILURE.search(str(exc)) is not None


def cause_of(text: str) -> tuple[str, str]:
    """The cause and the fix the store's error text points to."""
    for pattern, cause, fix in _CAUSES:
        if pattern.search(text):
            return cause, fix
    return "the store failed", "check OUTPUT_DIR and the store, then run again"


def lake_error(exc: BaseException, action: str, options: LakeOptions) -> StorageError:
    """One line: what failed, on which store, why in a few words, and the fix."""
    cause, fix = cause_of(str(exc))
    get_logger().debug("store.error", action=action, error=redact(str(exc), options))
    return StorageError(redact(f"cannot {action} on {options.store}: {cause}; {fix}", options))


def redact(text: str, options: LakeOptions) -> str:
    for secret in options.secrets():
        text = text.replace(secret, "***")
    return text


def short(text: str, options: LakeOptions) -> str:
    """The first line of an error text that is not the store failing, without any response
    body it quotes (an S3 body is XML) and without secrets."""
    line = text.splitlines()[0] if text else ""
    return redact(line.split("<?xml", 1)[0].split("<Error>", 1)[0].rstrip(" :"), options)


@contextmanager
def translated(action: str, options: LakeOptions) -> Iterator[None]:
    """Any failure of the store inside becomes one `StorageError` line (exit 4)."""
    try:
        yield
    except (OSError, DeltaError) as exc:
        if not is_store_failure(exc):
            raise
        raise lake_error(exc, action, options) from None
