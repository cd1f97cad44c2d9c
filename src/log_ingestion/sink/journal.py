"""The publish journal: what a window's publish does, written down before it is done.

A journal lives in `<table>/_staging/` and lists, relative to the table directory, the
temp files to rename into place and the window's old files to delete. It is written
atomically, so it is either absent or whole. While it exists the publish is in flight;
`apply` does (or redoes: every step is idempotent) what it says, and removes it last.

A journal marked `undo` rolls a publish back instead: it deletes the files the publish
had already renamed into place, and its temps. That is only done while no old file has
been deleted yet, so the window keeps its complete old set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from log_ingestion.errors import StorageError
from log_ingestion.models import Window
from log_ingestion.sink.naming import STAGING_DIR, is_journal, join, journal_file
from log_ingestion.sink.storage import Storage, parent

FORMAT = 1


@dataclass(frozen=True, slots=True)
class Journal:
    window: Window
    token: str
    moves: tuple[tuple[str, str], ...]
    deletes: tuple[str, ...]
    undo: bool = False

    @property
    def name(self) -> str:
        return journal_file(self.window, self.token)

    def undoing(self) -> Journal:
        return replace(self, undo=True)

    def encode(self) -> bytes:
        document = {
            "format": FORMAT,
            "window": [self.window.start_ms, self.window.end_ms],
            "token": self.token,
            "moves": [list(move) for move in self.moves],
            "deletes": list(self.deletes),
            "undo": self.undo,
        }
        return json.dumps(document, indent=1).encode()

    @classmethod
    def decode(cls, data: bytes, path: str) -> Journal:
        try:
            document: dict[str, Any] = json.loads(data)
            if document["format"] != FORMAT:
                raise ValueError(f"unknown format {document['format']!r}")
            start, end = document["window"]
            return cls(
                window=Window(int(start), int(end)),
                token=str(document["token"]),
                moves=tuple((str(temp), str(final)) for temp, final in document["moves"]),
                deletes=tuple(str(old) for old in document["deletes"]),
                undo=bool(document["undo"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"publish journal {path} is unreadable ({exc}); the disk may be damaged. "
                "Move it away and rescan that window (`run --rescan`) to rebuild its files"
            ) from exc


@dataclass(slots=True)
class Outcome:
    """What applying journals did, summed."""

    journals: int = 0
    moved: int = 0
    deleted: int = 0
    undone: int = 0
    missing: list[str] = field(default_factory=list)


def write(storage: Storage, table_dir: str, journal: Journal) -> None:
    storage.write_atomic(join(table_dir, STAGING_DIR, journal.name), journal.encode())


def apply(storage: Storage, table_dir: str, journal: Journal, outcome: Outcome) -> None:
    """Carry out a journal, however much of it was already done, then remove it."""
    if journal.undo:
        _undo(storage, table_dir, journal, outcome)
    else:
        move_into_place(storage, table_dir, journal, outcome)
        delete_old(storage, table_dir, journal, outcome)
    forget(storage, table_dir, journal)
    outcome.journals += 1


def move_into_place(storage: Storage, table_dir: str, journal: Journal, outcome: Outcome) -> None:
    targets = set()
    for temp, final in journal.moves:
        source, target = join(table_dir, temp), join(table_dir, final)
        if storage.exists(source):
            storage.make_dirs(parent(target))
            storage.move(source, target)
            outcome.moved += 1
        elif not storage.exists(target):
            outcome.missing.append(target)  # removed by hand: the window must be rescanned
        targets.add(parent(target))
    for directory in sorted(targets):
        storage.sync_dir(directory)


def delete_old(storage: Storage, table_dir: str, journal: Journal, outcome: Outcome) -> None:
    directories = set()
    for old in journal.deletes:
        path = join(table_dir, old)
        if storage.delete(path):
            outcome.deleted += 1
        directories.add(parent(path))
    for directory in sorted(directories):
        storage.sync_dir(directory)


def _undo(storage: Storage, table_dir: str, journal: Journal, outcome: Outcome) -> None:
    directories = {join(table_dir, STAGING_DIR)}
    for temp, final in journal.moves:
        for path in (join(table_dir, final), join(table_dir, temp)):
            if storage.delete(path):
                outcome.undone += 1
            directories.add(parent(path))
    for directory in sorted(directories):
        storage.sync_dir(directory)


def forget(storage: Storage, table_dir: str, journal: Journal) -> None:
    staging = join(table_dir, STAGING_DIR)
    storage.delete(join(staging, journal.name))
    storage.sync_dir(staging)


def pending(storage: Storage, table_dir: str) -> list[Journal]:
    """The journals of interrupted publishes in a table, oldest name first."""
    staging = join(table_dir, STAGING_DIR)
    names = sorted(
        info.base_name for info in storage.listing(staging) if is_journal(info.base_name)
    )
    return [
        Journal.decode(storage.read_bytes(join(staging, name)), join(staging, name))
        for name in names
    ]
