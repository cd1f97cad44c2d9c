"""Does a store keep Delta commits safe from racing writers? A probe that asks it, with deltalake.

delta-rs commits version N by writing `_delta_log/N.json` with `If-None-Match: *` (object_store's
create mode): a store that honours it answers 412 to the second writer of N, which then checks
for conflicts and commits N+1 or fails. A store that ignores the header lets the second writer
replace the first's commit, and the first's rows vanish with no error anywhere.

`probe_conditional_put` stages that race: two writers holding the same snapshot commit at
the same moment, three times over. On a safe store one of each pair gets 412, checks for
conflicts (metadata-only commits have none) and lands next; on an unsafe one both PUTs of
the same version succeed and a commit vanishes from the history. A stale snapshot alone is
not enough: delta-rs 1.6 lists the log for newer versions just before it commits, so only
two writers between that listing and their PUT can collide. On loopback every round
collides (against a store double that accepts every PUT, each round loses a commit). The
probe writes no data files, makes some forty small requests, and removes its scratch
table. It goes through deltalake itself, so it tests the very code path and credentials
the sink's commits use, which a raw request cannot. The Delta sink runs it once per run on
an `s3://` output, before anything is written.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.fs import DeltaStorageHandler

from log_ingestion.errors import StorageError

PROBE_DIR = "_probes"
ROUNDS = 3

_SCHEMA = pa.schema([pa.field("probe", pa.string())])


class UnsafeStoreError(StorageError):
    """The store let a second writer replace a Delta commit: concurrent writers would lose data."""


def probe_conditional_put(
    root_uri: str, storage_options: Mapping[str, str] | None = None, *, rounds: int = ROUNDS
) -> None:
    """Raise `UnsafeStoreError` unless the store under `root_uri` refuses a second create
    of one Delta commit. The scratch table lives under `root_uri/_probes/` meanwhile.

    The store's own failures (unreachable, refused credentials) are raised as they come,
    as `OSError`s, for the caller to translate.
    """
    options = dict(storage_options or {})
    uri = f"{root_uri.rstrip('/')}/{PROBE_DIR}/conditional-put-{uuid.uuid4().hex}"
    try:
        write_deltalake(
            uri,
            _SCHEMA.empty_table(),
            mode="append",
            storage_options=options,
            commit_properties=_writer("first"),
        )
        expected = ["first"]
        with ThreadPoolExecutor(max_workers=2) as pool:
            for number in range(rounds):
                pair = [f"{number}a", f"{number}b"]
                _race(pool, uri, options, pair)
                expected += pair
        history = DeltaTable(uri, storage_options=options).history()
    finally:
        with contextlib.suppress(OSError):  # a scratch table left behind is harmless
            _remove(uri, options)
    found = sorted(str(entry.get("probe")) for entry in history)
    if found != sorted(expected):
        lost = sorted(set(expected) - set(found))
        raise UnsafeStoreError(
            f"{root_uri}: the store ignores conditional writes (If-None-Match: *): of two "
            f"writers committing at once, one replaced the other's commit ({len(lost)} of "
            f"{len(expected)} commits lost), so concurrent commits would lose rows silently; "
            "use a store that honours them (AWS S3, MinIO, SeaweedFS, Ceph RGW, Cloudflare R2 do)"
        )


def _race(pool: ThreadPoolExecutor, uri: str, options: dict[str, str], writers: list[str]) -> None:
    """Two snapshots of one version, committed at once (the GIL is released meanwhile)."""
    tables = [DeltaTable(uri, storage_options=options) for _ in writers]
    start = threading.Barrier(len(writers))

    def commit(table: DeltaTable, writer: str) -> None:
        start.wait(timeout=30)
        table.create_write_transaction(
            [], mode="append", schema=table.schema(), commit_properties=_writer(writer)
        )

    for done in [
        pool.submit(commit, table, writer) for table, writer in zip(tables, writers, strict=True)
    ]:
        done.result()


def _writer(name: str) -> CommitProperties:
    return CommitProperties(custom_metadata={"probe": name})


def _remove(uri: str, options: dict[str, str]) -> None:
    if "://" not in uri or uri.startswith("file://"):  # object_store leaves local folders behind
        shutil.rmtree(Path(uri.removeprefix("file://")), ignore_errors=True)
    else:
        DeltaStorageHandler(uri, options).delete_dir("")
