"""The one interface every storage backend implements.

Paths are POSIX-style strings relative to the mirror directory (``web/simple/foo/index.html``).
Every write is atomic: readers see the old content or the new, never a partial file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol

UNREADABLE = -1
"""The size ``file_sizes`` records for an entry that cannot be read (a dangling symlink)."""


class AtomicFile(Protocol):
    """A file being written; it appears at its target only on ``commit``."""

    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self, durable: bool = False) -> None:
        """Make the file appear at its target (fsync first when ``durable``)."""

    def abort(self) -> None: ...


class Storage(Protocol):
    def write_bytes(self, path: str, data: bytes, *, durable: bool = False) -> None:
        """Atomically replace ``path`` with ``data`` (fsync first when ``durable``)."""

    def open_atomic(self, path: str) -> AtomicFile:
        """Start writing ``path``; nothing is visible there until ``commit``."""

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]:
        """Open a stored file for reading (random access, for zip archives)."""

    def read_bytes(self, path: str) -> bytes | None:
        """The content of ``path``, or None if it does not exist."""

    def size(self, path: str) -> int | None:
        """The size of ``path`` in bytes, or None if it does not exist."""

    def sha256(self, path: str) -> str | None:
        """The hex sha256 of ``path``, or None if it does not exist."""

    def append_line(self, path: str, line: str) -> None:
        """Append one line to a journal file, flushed to the OS."""

    def link(self, path: str, existing: str) -> None:
        """Atomically make ``path`` a second name of the stored file ``existing`` (a copy
        where links are unknown): two names, one write."""

    def symlink(self, path: str, target: str) -> None:
        """Atomically make ``path`` point at ``target`` (a copy where links are unknown)."""

    def delete(self, path: str) -> bool:
        """Remove a file; True if it existed."""

    def remove_empty_dirs(self, path: str, stop: str) -> None:
        """Remove ``path`` and its parents while empty, never ``stop`` or above."""

    def list_dir(self, path: str) -> list[str]:
        """Names in a directory (empty if it does not exist)."""

    def walk_files(self, path: str) -> Iterator[str]:
        """Every file below ``path``, as mirror-relative paths."""

    def discard_partial(self, path: str) -> None:
        """Remove what an interrupted write of ``path`` may have left behind."""

    def exists(self, path: str) -> bool: ...

    def fingerprint(self, path: str) -> str | None:
        """Changes whenever ``path`` is rewritten or replaced (None if it does not exist)."""

    def file_sizes(self, path: str, workers: int = 1) -> dict[str, int]:
        """``{mirror-relative path: size}`` for every file below ``path`` (empty if absent),
        in one pass (a directory scan, an object listing): ``verify``'s inventory. A file
        whose size cannot be read has size ``UNREADABLE``."""

    def discard_partials(self, path: str) -> None:
        """Remove whatever interrupted writes left directly in the directory ``path``."""

    def lock(self) -> AbstractContextManager[None]:
        """Hold the mirror's lock for the block, or raise ``MirrorLocked`` at once: one
        writing run per mirror."""

    def peek_lock(self) -> AbstractContextManager[None]:
        """For a look that writes nothing (``mirror --dry-run``): raise ``MirrorLocked`` if
        a writing run holds the lock, without taking it or creating anything."""
