"""The conditional-put probe passes on stores that honour `If-None-Match: *` and leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyarrow import fs

from log_ingestion.sink.conditional_put import UnsafeStoreError, probe_conditional_put

from ..support.careless_store import careless_store
from ..support.s3 import S3Bucket


def test_seaweedfs_honours_conditional_put(s3_bucket: S3Bucket) -> None:
    probe_conditional_put(s3_bucket.uri("tables"), s3_bucket.storage_options())
    selector = fs.FileSelector(s3_bucket.name, recursive=True)
    assert s3_bucket.filesystem().get_file_info(selector) == []


def test_a_local_folder_honours_conditional_put(tmp_path: Path) -> None:
    probe_conditional_put(str(tmp_path / "tables"))
    assert list((tmp_path / "tables").rglob("*")) == [tmp_path / "tables" / "_probes"]


def test_a_store_told_not_to_use_conditional_put_refuses_to_commit(s3_bucket: S3Bucket) -> None:
    """With object_store's conditional put disabled, delta-rs cannot commit at all: it fails
    loudly rather than risk a replaced commit."""
    options = {**s3_bucket.storage_options(), "conditional_put": "disabled"}
    with pytest.raises(OSError, match="conditional put is disabled"):
        probe_conditional_put(s3_bucket.uri("tables"), options)


def test_a_store_that_ignores_conditional_put_is_refused() -> None:
    """A store double that accepts every PUT lets the stale writer replace version 1: the
    probe says so, naming the header, and the sink would refuse to start."""
    with careless_store() as endpoint:
        options = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "k",
            "AWS_SECRET_ACCESS_KEY": "s",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
        with pytest.raises(UnsafeStoreError, match=r"ignores conditional writes \(If-None-Match"):
            probe_conditional_put("s3://bucket/tables", options)
