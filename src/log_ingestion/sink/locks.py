"""Locks between processes, as `flock`s on small files that are never deleted.

- The output folder, for a whole run (`exclusive`): a second process on the same
  `OUTPUT_DIR` is refused at once, whatever its `STATE_DIR`; its start would take the
  first one's temps for stale, and two publishers of one window would both keep files.
- A table, for a publish or a read that must see whole windows (`waiting`): a publish
  lists the window's old files and replaces them while no other publish or audit of the
  table runs, in this process or another.

A lock is released when its file is closed, also when the process dies (SIGKILL
included), so no stale lock is ever left behind. Locks exist on local disks only; an
object store needs the table format's own commit protocol (a Delta log).
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from log_ingestion.errors import StorageError
from log_ingestion.sink.storage import FILE_MODE, storage_error

LOCK_FILE = ".lock"  # in a table's `_staging`, and in a state folder
OUTPUT_LOCK_FILE = ".log-ingestion.lock"  # at the root of an output folder

_READ_ONLY = {errno.EACCES, errno.EPERM, errno.EROFS}


@contextmanager
def exclusive(path: str, refused: Callable[[], StorageError], what: str) -> Iterator[None]:
    """Hold the lock of `path` until the block ends, or raise `refused()` at once when
    another process holds it. `what` names the action in a storage error."""
    descriptor = _open(path, what)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise refused() from None
        yield
    finally:
        os.close(descriptor)


@contextmanager
def waiting(path: str, what: str) -> Iterator[None]:
    """Hold the lock of `path` until the block ends, waiting while another holds it.

    Where the lock file cannot be created (a read-only folder) nobody can publish there,
    so a reader goes on without it.
    """
    try:
        descriptor = _open(path, what)
    except StorageError as exc:
        if isinstance(exc.__cause__, OSError) and exc.__cause__.errno in _READ_ONLY:
            yield
            return
        raise
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _open(path: str, what: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise storage_error(exc, what, path) from exc
