"""The one seam between the sink and a filesystem.

Everything goes through `pyarrow.fs`, so an object-store root only needs a filesystem
object. Where the filesystem is local, this also fsyncs files and directories (a rename is
durable only once its directory is synced) and creates files 0o640 and directories 0o750,
masked by the umask: log events are not for every user of the machine.

Every `OSError` is translated here, once, into a `StorageError` that names the path and
the fix.
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from log_ingestion.errors import StorageError

FILE_MODE = 0o640
DIR_MODE = 0o750

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}
_NOT_A_DIR = {errno.ENOTDIR, errno.EEXIST}


def storage_error(exc: OSError, action: str, path: str) -> StorageError:
    """A `StorageError` for `exc` that says what failed, where, and what to do about it."""
    if exc.errno in _FULL:
        fix = "the disk is full or over quota: free space there or choose another output directory"
    elif exc.errno in _DENIED:
        fix = "permission denied or read-only: make it writable for this user or choose another output directory"
    elif exc.errno in _NOT_A_DIR:
        fix = "a file stands where a directory is needed: move that file away or choose another output directory"
    elif exc.errno == errno.ENOENT:
        fix = "it is missing: was the output directory removed or changed while running?"
    else:
        fix = "check the output directory and the disk"
    detail = exc.strerror or str(exc)
    return StorageError(f"cannot {action} {path}: {detail}; {fix}")


@contextmanager
def translated(action: str, path: str) -> Iterator[None]:
    """Turn any `OSError` inside into a `StorageError` about `action` on `path`."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, action, path) from exc


def parent(path: str) -> str:
    return posixpath.dirname(path.rstrip("/")) or "/"


class Storage:
    """Files and directories under one filesystem, with durability where it is local."""

    def __init__(self, filesystem: pafs.FileSystem) -> None:
        self.filesystem = filesystem
        self.local = isinstance(filesystem, pafs.LocalFileSystem)

    # -- reading -----------------------------------------------------------------

    def kind(self, path: str) -> pafs.FileType:
        with translated("inspect", path):
            return self.filesystem.get_file_info(path).type

    def exists(self, path: str) -> bool:
        return bool(self.kind(path) != pafs.FileType.NotFound)

    def size(self, path: str) -> int:
        with translated("inspect", path):
            return int(self.filesystem.get_file_info(path).size)

    def listing(self, directory: str) -> list[pafs.FileInfo]:
        """The entries directly inside `directory`; none when it does not exist."""
        selector = pafs.FileSelector(directory, allow_not_found=True)
        with translated("list", directory):
            return list(self.filesystem.get_file_info(selector))

    def read_bytes(self, path: str) -> bytes:
        with translated("read", path), self.filesystem.open_input_stream(path) as stream:
            return bytes(stream.read())

    def read_table(self, path: str) -> pa.Table:
        """A Parquet file's rows, whole; a damaged file is a `StorageError` naming it."""
        try:
            with translated("read", path):
                return pq.read_table(path, filesystem=self.filesystem)
        except (pa.ArrowInvalid, pa.ArrowIOError) as exc:
            raise StorageError(f"cannot read {path}: {exc}; move the damaged file away") from exc

    # -- writing -----------------------------------------------------------------

    def make_dirs(self, path: str) -> None:
        """Create `path` and its missing parents; each new directory is made durable."""
        if not self.local:
            with translated("create directory", path):
                self.filesystem.create_dir(path, recursive=True)
            return
        missing: list[str] = []
        while self.kind(path) == pafs.FileType.NotFound:
            missing.append(path)
            path = parent(path)
        if self.kind(path) != pafs.FileType.Directory:
            raise storage_error(
                OSError(errno.ENOTDIR, "Not a directory"), "create directory in", path
            )
        for directory in reversed(missing):
            self._make_local_dir(directory)

    def _make_local_dir(self, path: str) -> None:
        with translated("create directory", path):
            try:
                os.mkdir(path, DIR_MODE)
            except FileExistsError:
                if not os.path.isdir(path):  # another thread may have made it: only a file is wrong
                    raise
                return
        self.sync_dir(parent(path))

    def open_output(self, path: str) -> pa.NativeFile:
        """A new output stream; on a local disk the file is created 0o640 first."""
        with translated("create", path):
            if self.local:
                # pyarrow cannot pass a mode; a file that already exists keeps its own.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE))
            return self.filesystem.open_output_stream(path, compression=None)

    def write_atomic(self, path: str, data: bytes) -> None:
        """Replace `path` with `data` all at once: temp, fsync, rename, directory fsync."""
        temp = path + ".tmp"
        with self.open_output(temp) as stream, translated("write", temp):
            stream.write(data)
        self.sync(temp)
        self.move(temp, path)
        self.sync_dir(parent(path))

    def move(self, source: str, target: str) -> None:
        """Rename `source` to `target`, replacing it; atomic on a local disk."""
        with translated(f"rename {source} to", target):
            self.filesystem.move(source, target)

    def delete(self, path: str) -> bool:
        """Delete a file; False when it was already gone."""
        try:
            with translated("delete", path):
                self.filesystem.delete_file(path)
        except StorageError as exc:
            if isinstance(exc.__cause__, FileNotFoundError):
                return False
            raise
        return True

    # -- durability --------------------------------------------------------------

    def sync(self, path: str) -> None:
        """Flush a file's data to the disk (local only; object stores are durable on close)."""
        if self.local:
            self._fsync(path, os.O_RDONLY, "sync")

    def sync_dir(self, path: str) -> None:
        """Make renames and deletions inside a directory durable (local only)."""
        if self.local:
            self._fsync(path, os.O_RDONLY | os.O_DIRECTORY, "sync directory")

    @staticmethod
    def _fsync(path: str, flags: int, action: str) -> None:
        with translated(action, path):
            descriptor = os.open(path, flags)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
