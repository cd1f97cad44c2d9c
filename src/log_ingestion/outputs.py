"""Where the tables go: the forms OUTPUT_DIR takes, and what an object store output needs.

Pure checks of settings values; `config` reports what they find, one line per problem.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

OBJECT_STORE_SCHEME = "s3://"


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and any address in 127.0.0.0/8 or ::1."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_object_store(output_dir: str) -> bool:
    """True for an `s3://` output, which holds Delta tables only."""
    return output_dir[: len(OBJECT_STORE_SCHEME)].lower() == OBJECT_STORE_SCHEME


def check_output_uri(text: str) -> str:
    """A local path as given, or `s3://bucket[/prefix]` without a trailing `/`."""
    if "://" not in text:
        return text
    if not is_object_store(text):
        raise ValueError("must be a local path or s3://bucket/prefix (no other URI scheme)")
    bucket = text[len(OBJECT_STORE_SCHEME) :].split("/", 1)[0]
    if not bucket or not bucket.replace("-", "").replace(".", "").isalnum():
        raise ValueError("s3:// must name a bucket: s3://bucket/prefix")
    return OBJECT_STORE_SCHEME + text[len(OBJECT_STORE_SCHEME) :].rstrip("/")


def output_problems(
    output_dir: str,
    table_format: str | None,
    state_dir: str | None,
    endpoint: str | None,
    *,
    allow_http: bool,
) -> list[str]:
    """Problems of OUTPUT_DIR, TABLE_FORMAT, STATE_DIR and the AWS endpoint together, one
    line each naming the variable."""
    problems = []
    on_s3 = is_object_store(output_dir)
    if on_s3 and table_format == "parquet":
        problems.append(
            "TABLE_FORMAT: parquet is refused on s3:// (an object store has no atomic rename, "
            "so readers could see a half-published window); use TABLE_FORMAT=delta"
        )
    if (table_format or ("delta" if on_s3 else "parquet")) == "delta" and state_dir:
        problems.append(
            "STATE_DIR: a Delta table keeps each log's checkpoint in its own commits; unset STATE_DIR"
        )
    if on_s3:
        problems += _endpoint_problems(endpoint, allow_http)
    return problems


def _endpoint_problems(endpoint: str | None, allow_http: bool) -> list[str]:
    parts = urlsplit(endpoint or "")
    if endpoint and (parts.scheme not in ("http", "https") or not parts.hostname):
        return ["AWS_ENDPOINT_URL: must be an absolute http(s) URL such as https://s3.example.com"]
    loopback_http = parts.scheme == "http" and is_loopback_host(parts.hostname)
    if allow_http and not loopback_http:
        return [
            "AWS_ALLOW_HTTP: plain HTTP is allowed only to an http:// AWS_ENDPOINT_URL on "
            "localhost, 127.0.0.1 or ::1; unset it and use https://"
        ]
    if parts.scheme == "http" and not allow_http:
        return [
            "AWS_ENDPOINT_URL: plain http needs AWS_ALLOW_HTTP=true, and only to localhost, "
            "127.0.0.1 or ::1; use https://"
        ]
    return []
