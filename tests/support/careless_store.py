"""A store double that ignores conditional writes: a tiny S3 (path-style GET, HEAD, PUT,
DELETE, bulk delete, ListObjectsV2) in memory on 127.0.0.1, which accepts every PUT, with
`If-None-Match: *` or without.

For the conditional-put probe's own test only: the probe must refuse a store like this one
(some S3-compatible stores behave so), and no real server here does. Requests are not
authenticated; everything else runs against SeaweedFS.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

MODIFIED = "Thu, 01 Jan 2026 00:00:00 GMT"
MODIFIED_ISO = "2026-01-01T00:00:00.000Z"


class CarelessStore(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the S3 client expects
    objects: dict[str, bytes]  # "bucket/key" -> bytes, set per server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read their own output."""

    def _path(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        return unquote(parts.path).lstrip("/"), parse_qs(parts.query)

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        self.close_connection = True  # one request per connection: nothing left half-read
        for name, value in {
            "Content-Length": str(len(body)),
            "Connection": "close",
            **headers,
        }.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _found(self, key: str) -> None:
        data = self.objects.get(key)
        if data is None:
            self._send(404, b"<Error><Code>NoSuchKey</Code></Error>")
            return
        etag = f'"{hashlib.md5(data).hexdigest()}"'  # noqa: S324 - an ETag, not security
        self._send(200, data, ETag=etag, **{"Last-Modified": MODIFIED})

    def do_HEAD(self) -> None:
        self._found(self._path()[0])

    def do_GET(self) -> None:
        path, query = self._path()
        if "list-type" in query:
            self._list(path, query)
        else:
            self._found(path)

    def do_PUT(self) -> None:
        path, _ = self._path()
        length = int(self.headers.get("Content-Length", 0))
        self.objects[path] = self.rfile.read(length)  # If-None-Match is ignored: the point
        self._send(200, ETag='"x"')

    def do_DELETE(self) -> None:
        self.objects.pop(self._path()[0], None)
        self._send(204)

    def do_POST(self) -> None:
        bucket, _ = self._path()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        tree = ElementTree.fromstring(body)  # noqa: S314 - our own client's XML
        keys = [node.text or "" for node in tree.iter() if node.tag.endswith("Key")]
        for key in keys:
            self.objects.pop(f"{bucket}/{key}", None)
        deleted = "".join(f"<Deleted><Key>{key}</Key></Deleted>" for key in keys)
        self._send(200, f"<DeleteResult>{deleted}</DeleteResult>".encode())

    def _list(self, bucket: str, query: dict[str, list[str]]) -> None:
        prefix = query.get("prefix", [""])[0]
        after = query.get("start-after", [""])[0]
        delimiter = query.get("delimiter", [""])[0]
        contents, prefixes = [], set()
        for path in sorted(self.objects):
            owner, _, key = path.partition("/")
            if owner != bucket or not key.startswith(prefix) or key <= after:
                continue
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
                continue
            contents.append(
                f"<Contents><Key>{key}</Key><LastModified>{MODIFIED_ISO}</LastModified>"
                f'<ETag>"x"</ETag><Size>{len(self.objects[path])}</Size></Contents>'
            )
        common = "".join(
            f"<CommonPrefixes><Prefix>{p}</Prefix></CommonPrefixes>" for p in sorted(prefixes)
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
            f"<Name>{bucket}</Name><Prefix>{prefix}</Prefix><KeyCount>{len(contents)}</KeyCount>"
            f"<IsTruncated>false</IsTruncated>{''.join(contents)}{common}</ListBucketResult>"
        )
        self._send(200, body.encode(), **{"Content-Type": "application/xml"})


def serve() -> None:
    """Serve until stdin closes; the port is printed on the first line of stdout."""
    handler = type("Handler", (CarelessStore,), {"objects": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()


@contextmanager
def careless_store() -> Iterator[str]:
    """A running store double in a process of its own (some deltalake calls hold the GIL
    while they wait for the store); yields its endpoint URL (any bucket name works)."""
    process = subprocess.Popen(
        [sys.executable, "-c", "from tests.support.careless_store import serve; serve()"],
        cwd=Path(__file__).parents[2],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{int(process.stdout.readline())}"
    finally:
        process.communicate(timeout=10)  # closes stdin (the server ends) and stdout
