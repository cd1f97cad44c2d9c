"""The SeaweedFS fixture is a real S3 store: objects round-trip, buckets are isolated, requests
are authenticated, and a conditional create (`If-None-Match: *`) of an existing key fails."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, QueryBuilder, write_deltalake
from pyarrow import fs

from ..support.s3 import S3Bucket, SeaweedServer, create_bucket, signed_request


def test_object_round_trip(s3_bucket: S3Bucket) -> None:
    store = s3_bucket.filesystem()
    with store.open_output_stream(f"{s3_bucket.name}/a/b.txt") as out:
        out.write(b"hello")
    with store.open_input_stream(f"{s3_bucket.name}/a/b.txt") as source:
        assert source.read() == b"hello"


def test_each_test_gets_a_fresh_bucket(s3_server: SeaweedServer, s3_bucket: S3Bucket) -> None:
    other = create_bucket(s3_server)
    assert other.name != s3_bucket.name
    store = s3_bucket.filesystem()
    with store.open_output_stream(f"{s3_bucket.name}/only-here") as out:
        out.write(b"x")
    assert store.get_file_info(f"{other.name}/only-here").type == fs.FileType.NotFound
    assert store.get_file_info(fs.FileSelector(other.name, recursive=True)) == []


def test_requests_with_a_wrong_secret_are_refused(s3_bucket: S3Bucket) -> None:
    wrong = S3Bucket(
        s3_bucket.endpoint_url,
        s3_bucket.access_key,
        "not-the-secret",
        s3_bucket.region,
        s3_bucket.name,
    )
    response = signed_request(wrong, "PUT", "k", b"x")
    assert response.status_code == 403
    assert signed_request(s3_bucket, "PUT", "k", b"x").status_code == 200


def test_conditional_create_of_an_existing_key_fails_with_412(s3_bucket: S3Bucket) -> None:
    key = f"probe/{uuid.uuid4().hex}"
    first = signed_request(s3_bucket, "PUT", key, b"first", {"If-None-Match": "*"})
    second = signed_request(s3_bucket, "PUT", key, b"second", {"If-None-Match": "*"})
    assert first.status_code == 200
    assert second.status_code == 412
    assert "PreconditionFailed" in second.text
    assert signed_request(s3_bucket, "GET", key).content == b"first"


def test_deltalake_round_trip(s3_bucket: S3Bucket) -> None:
    uri = s3_bucket.uri("tables", "t")
    options = s3_bucket.storage_options()
    write_deltalake(uri, pa.table({"n": [1, 2, 3]}), storage_options=options)
    write_deltalake(uri, pa.table({"n": [4]}), mode="append", storage_options=options)
    table = DeltaTable(uri, storage_options=options)
    assert table.version() == 1
    # Read through deltalake's QueryBuilder: after some writes, a process that read with
    # DeltaTable.to_pyarrow_table() can abort as it exits ("terminate called without an
    # active exception"), which would fail the whole test run.
    rows = QueryBuilder().register("t", table).execute("SELECT n FROM t ORDER BY n").read_all()
    assert pa.table(rows)["n"].to_pylist() == [1, 2, 3, 4]


def test_env_names_the_same_settings(s3_bucket: S3Bucket) -> None:
    env = s3_bucket.env()
    assert env["AWS_ENDPOINT_URL"] == s3_bucket.endpoint_url
    assert env["AWS_ALLOW_HTTP"] == "true"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} <= env.keys()


@pytest.mark.parametrize("path", [(), ("a",), ("a/", "/b")])
def test_uri(s3_bucket: S3Bucket, path: tuple[str, ...]) -> None:
    expected = {(): "", ("a",): "/a", ("a/", "/b"): "/a/b"}[path]
    assert s3_bucket.uri(*path) == f"s3://{s3_bucket.name}{expected}"


def test_a_stopped_server_leaves_no_process_and_no_socket(tmp_path: Path) -> None:
    server = SeaweedServer(tmp_path).start()
    pid = server.pid
    assert pid is not None
    sockets = [
        Path(f"/tmp/seaweedfs-{name}-grpc-{server.ports[f'{name}.port.grpc']}.sock")
        for name in ("master", "volume", "filer", "s3", "admin")
    ]
    assert any(path.exists() for path in sockets)
    server.stop()
    assert not Path(f"/proc/{pid}").exists()
    assert not any(path.exists() for path in sockets)
    server.stop()  # a second stop does nothing
