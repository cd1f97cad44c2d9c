"""Does a store keep Delta commits safe from racing writers? A probe that asks it, with deltalake.

delta-rs commits version N by writing `_delta_log/N.json` with `If-None-Match: *` (object_store's
create mode): a store that honours it answers 412 to the second writer of N, which then checks
for conflicts and commits N+1 or fails. A store that ignores the header lets the second writer
replace the first's commit, and the first's rows vanish with no error anywhere.

`probe_conditional_put` stages exactly that race with no timing luck: a writer holding a
snapshot of version 0 commits after another writer has committed version 1. On a safe store
the stale writer lands as version 2; on an unsafe one it overwrites version 1. It writes no
data files (zero-row commits), makes about fifteen small requests, and removes its scratch
table. It goes through deltalake itself, so it tests the very code path and credentials the
sink's commits use, which a raw request cannot. The Delta sink runs it once per run on an
`s3://` output, before anything is written.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.fs import DeltaStorageHandler

from log_ingestion.errors import StorageError

PROBE_DIR = "_probes"

_SCHEMA = pa.schema([pa.field("probe", pa.string())])


class UnsafeStoreError(StorageError):
    """The store let a second writer replace a Delta commit: concurrent writers would lose data."""


def probe_conditional_put(root_uri: str, storage_options: Mapping[str, str] | None = None) -> None:
    """Raise `UnsafeStoreError` unless the store under `root_uri` refuses a second
    create of one Delta commit. The scratch table lives under `root_uri/_probes/` meanwhile.

    The store's own failures (unreachable, refused credentials) are raised as they come,
    as `OSError`s, for the caller to translate.
    """
    options = dict(storage_options or {})
    uri = f"{root_uri.rstrip('/')}/{PROBE_DIR}/conditional-put-{uuid.uuid4().hex}"
    empty = _SCHEMA.empty_table()
    try:
        _commit(uri, empty, options, "first")  # version 0
        stale = DeltaTable(uri, storage_options=options)  # a snapshot of version 0
        _commit(uri, empty, options, "second")  # version 1
        _commit(stale, empty, options, "third")  # must find version 1 taken, land as 2
        history = DeltaTable(uri, storage_options=options).history()
        writers = [entry.get("probe") for entry in sorted(history, key=lambda e: e["version"])]
    finally:
        with contextlib.suppress(OSError):  # a scratch table left behind is harmless
            _remove(uri, options)
    if writers != ["first", "second", "third"]:
        raise UnsafeStoreError(
            f"{root_uri}: the store ignores conditional writes (If-None-Match: *): a Delta "
            f"commit was replaced by a second writer (commits by version: {writers}), so "
            "concurrent commits would lose rows silently; use a store that honours them "
            "(AWS S3, MinIO, SeaweedFS, Ceph RGW, Cloudflare R2 do)"
        )


def _commit(table: str | DeltaTable, data: pa.Table, options: dict[str, str], writer: str) -> None:
    write_deltalake(
        table,
        data,
        mode="append",
        storage_options=None if isinstance(table, DeltaTable) else options,
        commit_properties=CommitProperties(custom_metadata={"probe": writer}),
    )


def _remove(uri: str, options: dict[str, str]) -> None:
    if "://" not in uri or uri.startswith("file://"):  # object_store leaves local folders behind
        shutil.rmtree(Path(uri.removeprefix("file://")), ignore_errors=True)
    else:
        DeltaStorageHandler(uri, options).delete_dir("")
