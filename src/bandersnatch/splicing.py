"""Pure: apply a few keyed changes to a buffer of records sorted by key, without parsing the
records in between (one binary search per change, then slices copied as they are).

A buffer region holds records separated by a fixed separator (none for lines, which carry
their newline). The record format says where records start and how to read a record's key;
the formats of the ledger and of the root index pages live beside their writers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class Records(Protocol):
    @property
    def separator(self) -> bytes:
        """Between two records (nothing for lines)."""

    def start_at_or_after(self, buf: bytes, pos: int, lo: int, hi: int) -> int:
        """The first record start in ``[pos, hi)``, or ``hi``."""

    def key_and_end(self, buf: bytes, start: int, hi: int) -> tuple[bytes, int]:
        """The key of the record at ``start``, and where the next record starts (or ``hi``)."""


@dataclass(frozen=True)
class Lines:
    """One record per line; ``key`` reads the key from a line without its newline."""

    key: Callable[[bytes], bytes]
    separator: bytes = b""

    def start_at_or_after(self, buf: bytes, pos: int, lo: int, hi: int) -> int:
        if pos <= lo:
            return lo
        newline = buf.find(b"\n", pos - 1, hi)
        return hi if newline < 0 else newline + 1

    def key_and_end(self, buf: bytes, start: int, hi: int) -> tuple[bytes, int]:
        newline = buf.find(b"\n", start, hi)
        end = hi if newline < 0 else newline + 1
        return self.key(buf[start : end - 1 if newline >= 0 else end]), end


def lower_bound(buf: bytes, lo: int, hi: int, records: Records, key: bytes) -> int:
    """The start of the first record in ``[lo, hi)`` whose key is not below ``key``
    (``hi`` if there is none). ``lo`` must be a record start."""
    low, high = lo, hi  # records starting before low are below key; from high on, not below
    while low < high:
        probe = records.start_at_or_after(buf, (low + high) // 2, lo, hi)
        if probe >= high:
            probe = low
        probe_key, end = records.key_and_end(buf, probe, hi)
        if probe_key < key:
            low = end
        else:
            high = probe
    return low


def find(buf: bytes, lo: int, hi: int, records: Records, key: bytes) -> tuple[int, int] | None:
    """``(start, end)`` of the record with ``key``, or None."""
    start = lower_bound(buf, lo, hi, records, key)
    if start >= hi:
        return None
    found, end = records.key_and_end(buf, start, hi)
    return (start, end) if found == key else None


def splice(
    buf: bytes,
    lo: int,
    hi: int,
    records: Records,
    changes: Sequence[tuple[bytes, bytes | None]],
) -> list[bytes | memoryview]:
    """The region ``buf[lo:hi]`` with ``changes`` applied, as pieces to concatenate (views
    of ``buf`` where it is unchanged: nothing is copied).

    ``changes`` are ``(key, record)`` pairs sorted by key with distinct keys; a record
    replaces the one with its key or is inserted in order, None removes it."""
    sep = records.separator
    view = memoryview(buf)
    pieces: list[bytes | memoryview] = []

    def copy(start: int, end: int) -> None:  # every record is followed by sep, for now
        if start < end:
            pieces.append(view[start:end])
            if end == hi and sep:
                pieces.append(sep)

    pos = lo
    for key, record in changes:
        at = lower_bound(buf, pos, hi, records, key)
        copy(pos, at)
        pos = at
        if at < hi:
            found, end = records.key_and_end(buf, at, hi)
            if found == key:
                pos = end
        if record is not None:
            pieces += (record, sep) if sep else (record,)
    copy(pos, hi)
    if sep and pieces:  # the last record has no separator after it
        pieces[-1] = pieces[-1][: -len(sep)]
    return pieces
