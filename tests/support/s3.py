"""A real S3 server for tests: SeaweedFS on 127.0.0.1 (`log_ingestion.seaweed`), as fixtures.

`s3_server` starts one server per test session (so once per xdist worker), with its data in a
temporary folder, every port picked free at random, and one access key; `s3_bucket` gives each
test a fresh, empty bucket on it:

    def test_sink(s3_bucket):
        uri = s3_bucket.uri("events")
        write_deltalake(uri, table, storage_options=s3_bucket.storage_options())
        subprocess.run([...], env={**scrubbed_env, **s3_bucket.env()})

Both fixtures are registered in tests/conftest.py. The server is a real object store, not a
mock: requests are signed, checked and stored. `signed_request` sends raw S3 requests (SigV4
signed by hand) for what no client library here exposes, such as `If-None-Match: *`.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import pytest
from pyarrow import fs

from log_ingestion.seaweed import SeaweedServer, aws_variables, free_ports

__all__ = ["S3Bucket", "SeaweedServer", "create_bucket", "free_ports"]


@dataclass(frozen=True)
class S3Bucket:
    """One bucket on an S3 endpoint, and the settings each client needs to reach it."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    name: str

    def uri(self, *path: str) -> str:
        """`s3://bucket/a/b` for `uri("a", "b")`; `s3://bucket` for `uri()`."""
        return "/".join([f"s3://{self.name}", *(part.strip("/") for part in path)])

    def storage_options(self) -> dict[str, str]:
        """The `storage_options` deltalake (and polars.read_delta) take for this bucket."""
        return aws_variables(self.endpoint_url, self.access_key, self.secret_key, self.region)

    def env(self) -> dict[str, str]:
        """The same settings as environment variables, for a CLI run as a subprocess."""
        return self.storage_options()

    def filesystem(self) -> fs.S3FileSystem:
        """A pyarrow filesystem on this endpoint; paths are `bucket/key`."""
        url = httpx.URL(self.endpoint_url)
        return fs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            endpoint_override=url.netloc.decode(),
            scheme=url.scheme,
            connect_timeout=2,
            request_timeout=10,
        )


def create_bucket(server: SeaweedServer, name: str | None = None) -> S3Bucket:
    """A new, empty bucket on `server` (a random name unless given)."""
    bucket = server.create_bucket(name or f"test-{uuid.uuid4().hex[:16]}")
    return S3Bucket(
        server.endpoint_url, server.access_key, server.secret_key, server.region, bucket
    )


def signed_request(
    bucket: S3Bucket,
    method: str,
    key: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """One S3 request on `bucket/key`, signed with AWS Signature Version 4 by hand.

    Extra `headers` (such as `If-None-Match: *`) are signed too, as AWS requires of any
    header a server acts on.
    """
    now = datetime.now(UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    host = httpx.URL(bucket.endpoint_url).netloc.decode()
    path = "/" + quote(f"{bucket.name}/{key}", safe="/~")
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = {
        "host": host,
        "x-amz-content-sha256": payload_hash,
        "x-amz-date": amz_date,
        **{name.lower(): value.strip() for name, value in (headers or {}).items()},
    }
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            path,
            "",
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload_hash,
        ]
    )
    scope = f"{day}/{bucket.region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key_bytes = f"AWS4{bucket.secret_key}".encode()
    for part in (day, bucket.region, "s3", "aws4_request"):
        key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={bucket.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    request_headers = {name: value for name, value in signed.items() if name != "host"}
    request_headers["authorization"] = authorization
    return httpx.request(
        method, bucket.endpoint_url + path, content=body, headers=request_headers, timeout=10
    )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """One SeaweedFS S3 server for the whole session (one per xdist worker)."""
    server = SeaweedServer(tmp_path_factory.mktemp("seaweedfs")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: SeaweedServer) -> S3Bucket:
    """A fresh, empty bucket on the session's server: tests never see each other's objects."""
    return create_bucket(s3_server)
