"""The checks of single settings values: the endpoint, the key (and its file), a codec's
level, a local path. Each raises `ValueError` with the line `config` shows for its variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import unquote, urlsplit

from log_ingestion.outputs import is_loopback_host

Compression = Literal["snappy", "zstd", "gzip", "lz4", "none"]
COMPRESSIONS: tuple[str, ...] = get_args(Compression)
KEY_FILE_MAX_BYTES = 64 * 1024  # a key file holds one key; this stops a read of /dev/zero


def check_endpoint(url: str) -> str:
    """Accept `https://` anywhere and `http://` only to loopback; return it without a trailing /."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "must be an absolute http(s) URL such as https://us.rest.logs.insight.rapid7.com"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("plain http is refused except to localhost/127.0.0.1; use https://")
    return url.rstrip("/")


def check_key(key: str) -> str:
    """The key without surrounding whitespace; `ValueError` if it cannot be sent as a header.

    An HTTP header value cannot begin or end with whitespace, so that is removed (a pasted
    key often carries it). Anything else outside visible ASCII (a smart quote, a line break,
    a control character, a space inside) would fail every request, so it is refused here.
    """
    key = key.strip()
    if "\n" in key or "\r" in key:
        raise ValueError("has a line break inside it; the key is one line")
    if not key.isascii():
        raise ValueError(
            "has a non-ASCII character (such as a smart quote); copy the key again as plain text"
        )
    if any(not "!" <= char <= "~" for char in key):
        raise ValueError(
            "has a space or a control character inside it; a key is visible ASCII only"
        )
    return key


def read_key_file(path: Path) -> str:
    """The key in `path`, read as UTF-8 without a BOM, its line end and surrounding spaces."""
    try:
        with path.open("rb") as file:
            raw = file.read(KEY_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"RAPID7_API_KEY_FILE: cannot be read ({exc.strerror})") from None
    if len(raw) > KEY_FILE_MAX_BYTES:
        raise ValueError("RAPID7_API_KEY_FILE: is over 64 KiB; it should hold the key alone")
    text = raw.decode("utf-8-sig", errors="replace")  # undecodable bytes fail as non-ASCII
    if not text.strip():
        raise ValueError("RAPID7_API_KEY_FILE: is empty; put the key in it")
    try:
        return check_key(text)
    except ValueError as exc:
        raise ValueError(f"RAPID7_API_KEY_FILE: the key in it {exc}") from None


def codecs_with_levels() -> list[str]:
    """The PARQUET_COMPRESSION codecs that take a PARQUET_COMPRESSION_LEVEL, per pyarrow."""
    import pyarrow as pa  # here, not at import: `--help` must not wait for Arrow

    return [
        codec
        for codec in COMPRESSIONS
        if codec != "none" and pa.Codec.supports_compression_level(codec)
    ]


def check_compression_level(codec: str, level: int) -> None:
    """`ValueError` unless pyarrow's `codec` takes compression level `level`."""
    if codec not in codecs_with_levels():
        raise ValueError(
            f"PARQUET_COMPRESSION={codec} has no levels; unset PARQUET_COMPRESSION_LEVEL, "
            f"or choose a PARQUET_COMPRESSION that has them ({', '.join(codecs_with_levels())})"
        )
    import pyarrow as pa

    low = pa.Codec.minimum_compression_level(codec)
    high = pa.Codec.maximum_compression_level(codec)
    if not low <= level <= high:
        raise ValueError(f"PARQUET_COMPRESSION={codec} takes levels {low} to {high}")


def local_path(text: str) -> str:
    """A `file://` URI as its local path, `~` expanded; any other `scheme://` as given."""
    if text.startswith("~"):
        expanded = os.path.expanduser(text)
        # an empty HOME would make `~` the root folder
        if expanded.startswith("~") or (os.environ.get("HOME") == "" and text[1:2] in ("", "/")):
            raise ValueError(
                "cannot expand ~ (HOME is empty or unset, or no such user); give a full path"
            )
        return expanded
    if text[:7].lower() == "file://":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ValueError("a file:// URI must name a local folder: file:///data/rapid7")
        return unquote(parts.path)
    return text
