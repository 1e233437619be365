"""Append-only journals (``append_line``) on object storage, where nothing can be appended
to: a journal is kept in segments of ``JOURNAL_LINES`` lines (``todo.progress``,
``todo.progress.1``, ...), each append rewriting the last one, marked ``journal`` in their
metadata so that reading the first reads them all."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .s3 import S3Storage

JOURNAL_LINES = 100
"""Lines per segment: an append rewrites at most this many lines."""
_SEGMENT = re.compile(r"\.(\d+)")


@dataclass
class _Open:
    index: int
    lines: list[bytes]


class Journals:
    """The journals of one S3 storage; the segment being appended to is kept in memory."""

    def __init__(self, store: S3Storage) -> None:
        self._store = store
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()

    def segments(self, path: str) -> list[str]:
        """The journal's segments in order: ``path``, ``path.1``, ``path.2``..."""
        found: dict[int, str] = {}
        base = self._store.key(path)
        for key, _size in self._store.list_keys(base, path):
            rest = key[len(base) :]
            if rest == "":
                found[0] = path
            elif match := _SEGMENT.fullmatch(rest):
                found[int(match[1])] = f"{path}{rest}"
        return [found[i] for i in sorted(found)]

    def _reopen(self, path: str) -> _Open:
        """Continue a journal an earlier run left: at its last segment."""
        segments = self.segments(path) if self._store.exists(path) else []
        if not segments:
            return _Open(0, [])
        last = self._store.fetch(segments[-1])
        lines = last[0].splitlines(keepends=True) if last else []
        return _Open(len(segments) - 1, lines)

    def append(self, path: str, line: str) -> None:
        data = (line.rstrip("\n") + "\n").encode("utf-8")
        with self._lock:
            journal = self._open.get(path)
            if journal is None:
                journal = self._open[path] = self._reopen(path)
            if len(journal.lines) >= JOURNAL_LINES:
                journal.index, journal.lines = journal.index + 1, []
            journal.lines.append(data)
            name = path if journal.index == 0 else f"{path}.{journal.index}"
            self._store.put(name, b"".join(journal.lines), journal="1")

    def delete(self, path: str) -> None:
        """Last segment first: a crash part-way leaves a shorter journal, never a gap."""
        with self._lock:
            self._open.pop(path, None)
            for segment in reversed(self.segments(path)):
                self._store.forget(segment)
                self._store.client.delete_object(
                    Bucket=self._store.bucket, Key=self._store.key(segment)
                )
