"""The one settings object, and the only reader of the environment.

Settings come from environment variables and an optional `.env` file, are validated
once at start, and are then passed inward as a plain value. Problems are reported one
readable line per variable, never with the value itself (it may be the API key).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from log_ingestion.config_values import (
    Compression,
    check_compression_level,
    check_endpoint,
    check_key,
    local_path,
    read_key_file,
)
from log_ingestion.errors import ConfigError
from log_ingestion.outputs import check_output_uri, is_object_store, output_problems
from log_ingestion.shard import Shard, parse_shard
from log_ingestion.timeparse import parse_duration_ms, time_ms

Region = Literal["us", "us2", "us3", "eu", "ca", "au", "ap"]
TableFormat = Literal["parquet", "delta"]
REGIONS: tuple[str, ...] = get_args(Region)

DAY_SECONDS = 86_400  # the longest any timeout or wait may be
SECOND_MS = 1_000
DAY_MS = DAY_SECONDS * SECOND_MS
DOTENV = Path(".env")


class Settings(BaseSettings):
    """Everything the service can be told. Names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(
        env_file=DOTENV,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    rapid7_api_key: SecretStr | None = None
    rapid7_api_key_file: Path | None = None
    rapid7_api_endpoint: str | None = None
    rapid7_region: Region = "us"
    rapid7_log_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rapid7_query: str = ""
    rapid7_ca_bundle: Path | None = None

    output_dir: str = ""
    state_dir: str | None = None
    table_format: TableFormat | None = None  # default: delta on s3://, parquet on a local path

    # the standard AWS variables, for an s3:// output; what is unset is left to the AWS
    # chain of the object store (its environment, profile files, instance or web identity)
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    aws_region: str | None = None
    aws_profile: str | None = None
    aws_endpoint_url: str | None = None
    aws_allow_http: bool = False
    aws_shared_credentials_file: Path | None = None  # default ~/.aws/credentials
    aws_config_file: Path | None = None  # default ~/.aws/config

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    batch_size: int = Field(default=20_000, ge=1, le=1_000_000)
    # Arrow's own variable, also read from .env: the allocator of Arrow buffers (default jemalloc)
    arrow_default_memory_pool: Literal["jemalloc", "mimalloc", "system"] | None = None
    # pyarrow caps a row group at 64Mi rows; a number past its C long failed mid-run
    row_group_rows: int = Field(default=128_000, ge=1_000, le=64 * 1024 * 1024)
    per_page: int = Field(default=500, ge=1, le=500)
    rate_limit: int = Field(
        default=60, ge=1, description="API requests per minute, per budget (queries; management)"
    )
    retry_attempts: int = Field(default=3, ge=0, le=20)
    # every float is finite and at most a day: an `inf` would reach socket and sleep calls
    retry_wait_initial: float = Field(default=0.5, ge=0, le=DAY_SECONDS, allow_inf_nan=False)
    retry_wait_max: float = Field(default=30.0, ge=0, le=DAY_SECONDS, allow_inf_nan=False)
    parquet_compression: Compression = "snappy"
    parquet_compression_level: int | None = None  # its range depends on the codec
    request_timeout: float = Field(default=30.0, gt=0, le=DAY_SECONDS, allow_inf_nan=False)
    poll_interval: float = Field(default=1.0, ge=0, le=DAY_SECONDS, allow_inf_nan=False)
    # polls of one query back off from POLL_INTERVAL up to this gap
    poll_interval_max: float = Field(default=10.0, ge=0, le=DAY_SECONDS, allow_inf_nan=False)
    max_poll_wait: float = Field(default=300.0, gt=0, le=DAY_SECONDS, allow_inf_nan=False)
    window_size: str = "1h"
    concurrency: int = Field(default=4, ge=1, le=64)
    start_time: str = "7d"
    follow_lag: str = "5m"
    follow_rescan: int = Field(default=0, ge=0, le=100)
    verify_counts: bool = True
    # the raw message of every row, or only of rows that did not parse into columns
    keep_message: Literal["always", "on_error"] = "always"
    # how queries are sized: at most this many windows (one count query per run of them),
    # about this many events, this many logs read together
    query_windows: int = Field(default=240, ge=1, le=10_000)
    query_events: int = Field(default=100_000, ge=500, le=10_000_000)
    query_logs: int = Field(default=20, ge=1, le=100)
    # K/N: this worker ingests the logs whose stable hash falls in shard K of N
    shard: str | None = None

    @field_validator("rapid7_log_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rapid7_region", "parquet_compression", "table_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("rapid7_api_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return check_endpoint(value) if value else None

    @field_validator("rapid7_api_key")
    @classmethod
    def _key(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else SecretStr(check_key(value.get_secret_value()))

    @field_validator("output_dir", "state_dir")
    @classmethod
    def _local_path(cls, value: str | None) -> str | None:
        return local_path(value) if value else value

    @field_validator("output_dir")
    @classmethod
    def _output(cls, value: str) -> str:
        return check_output_uri(value)

    @field_validator(
        "aws_access_key_id", "aws_region", "aws_profile", "aws_endpoint_url", mode="before"
    )
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("parquet_compression_level")
    @classmethod
    def _level(cls, value: int | None, info: ValidationInfo) -> int | None:
        codec = info.data.get("parquet_compression")  # absent when it was itself refused
        if value is not None and codec is not None:
            check_compression_level(codec, value)
        return value

    @field_validator("window_size")
    @classmethod
    def _window(cls, value: str) -> str:
        window_ms = parse_duration_ms(value)
        if not SECOND_MS <= window_ms <= DAY_MS:
            raise ValueError("must be from 1s to 1d")
        if DAY_MS % window_ms:
            raise ValueError(
                "must divide a day evenly (such as 1m, 5m, 15m, 1h, 6h or 1d), "
                "so windows start at midnight UTC"
            )
        return value

    @field_validator("follow_lag")
    @classmethod
    def _lag(cls, value: str) -> str:
        if not 0 < parse_duration_ms(value) <= DAY_MS:
            raise ValueError("must be longer than zero and at most 1d")
        return value

    @field_validator("start_time")
    @classmethod
    def _start(cls, value: str) -> str:
        time_ms(value, now_ms=int(time.time() * 1000))  # each run reads it again at its own now
        return value

    @model_validator(mode="after")
    def _object_store(self) -> Settings:
        problems = output_problems(
            self.output_dir,
            self.table_format,
            self.state_dir,
            self.aws_endpoint_url,
            allow_http=self.aws_allow_http,
        )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _key_from_file(self) -> Settings:
        # An empty RAPID7_API_KEY= (as in .env.example) counts as unset, so the file is read.
        key_is_empty = self.rapid7_api_key is None or not self.rapid7_api_key.get_secret_value()
        if key_is_empty and self.rapid7_api_key_file is not None:
            self.rapid7_api_key = SecretStr(read_key_file(self.rapid7_api_key_file))
        return self

    @property
    def endpoint(self) -> str:
        return (
            self.rapid7_api_endpoint or f"https://{self.rapid7_region}.rest.logs.insight.rapid7.com"
        )

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str | None) -> str | None:
        if value:
            try:
                parse_shard(value)
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("SHARD: ")) from None
        return value or None

    @property
    def shard_of_logs(self) -> Shard | None:
        """The shard this worker takes, when SHARD is set."""
        return parse_shard(self.shard) if self.shard else None

    @property
    def window_ms(self) -> int:
        return parse_duration_ms(self.window_size)

    @property
    def follow_lag_ms(self) -> int:
        return parse_duration_ms(self.follow_lag)

    @property
    def resolved_state_dir(self) -> str:
        return self.state_dir or f"{self.output_dir.rstrip('/')}/_state"

    @property
    def resolved_table_format(self) -> TableFormat:
        """TABLE_FORMAT, or its default: delta on s3://, parquet on a local path."""
        if self.table_format is not None:
            return self.table_format
        return "delta" if is_object_store(self.output_dir) else "parquet"

    def secret_values(self) -> list[str]:
        """Values no line of output may carry: the API key, the AWS secret key and token."""
        secrets = [self.rapid7_api_key, self.aws_secret_access_key, self.aws_session_token]
        return [secret.get_secret_value() for secret in secrets if secret is not None]


def _describe(error: ErrorDetails) -> str:
    """One line for one problem: the variable, what is wrong. Never the value."""
    name = "_".join(part for part in error["loc"] if isinstance(part, str)).upper()
    message = error["msg"].removeprefix("Value error, ")
    return f"{name}: {message}" if name else message  # a check across fields names its own


def _read_settings(**overrides: object) -> Settings:
    """`Settings(**overrides)`; a `.env` that is there but cannot be read is a `ConfigError`."""
    try:
        if DOTENV.is_dir():  # pydantic-settings would pass over it without a word
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        return Settings(**overrides)  # type: ignore[arg-type]
    except OSError as exc:
        raise ConfigError(
            f".env: cannot be read ({exc.strerror}); make it a file this user can read, "
            "or move it out of the working folder"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(".env: is not UTF-8 text; save it as UTF-8") from None


def load_settings(
    *, require_key: bool = True, require_output: bool = False, **overrides: object
) -> Settings:
    """Read and validate the configuration; raise ConfigError with one line per problem."""
    try:
        settings = _read_settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors(include_input=False)]
        raise ConfigError("\n".join(lines)) from None
    problems = []
    if require_key and (
        settings.rapid7_api_key is None or not settings.rapid7_api_key.get_secret_value()
    ):
        problems.append(
            "RAPID7_API_KEY: required; set it in the environment, .env, or RAPID7_API_KEY_FILE"
        )
    if require_output and not settings.output_dir:
        problems.append(
            "OUTPUT_DIR: required; set it to the folder (or s3://bucket/prefix) where the tables go"
        )
    if problems:
        raise ConfigError("\n".join(problems))
    return settings
