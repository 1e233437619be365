"""The todo and the progress journal as text: their line formats, read a chunk of lines at a
time into columns (pure; ``state`` does the I/O).

At PyPI's size both have 700k lines: they are read with whole-column operations
(``str.split``, slicing, ``map``) rather than a Python loop or a record per line, and a
line-by-line reader takes over only for a chunk that does not have the expected shape.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from .models import Outcome, ProjectName, normalize, normalize_many

log = logging.getLogger(__name__)

_NOT_NORMALIZED = re.compile(r"[A-Z_.]|--")
"""What a todo written by another tool may hold that a normalized name never does."""
_CHUNK = 1 << 22
"""Bytes of the todo or journal read into columns at a time (a bound on transient memory)."""


@dataclass(frozen=True)
class Todo:
    """The saved todo: the serial the interrupted run aimed for, and the lines of what it
    still owed, read a chunk at a time (at 700k projects a map of them all costs more
    memory than the rest of a resumed run)."""

    target_serial: int
    lines: str

    def chunks(self) -> Iterator[tuple[list[ProjectName], list[int]]]:
        """Names and serials, in file order; a line that cannot be read is skipped."""
        for text in _chunks(self.lines):
            yield _todo_columns(text)

    @property
    def projects(self) -> dict[ProjectName, int]:
        projects: dict[ProjectName, int] = {}
        for names, serials in self.chunks():
            projects.update(zip(names, serials, strict=True))
        return projects


@dataclass(frozen=True)
class Progress:
    """One journal line: a project whose pages were published during an unfinished run."""

    name: ProjectName
    serial: int
    display_name: str
    outcome: Outcome


OUTCOMES = frozenset(outcome.value for outcome in Outcome)
_PARTIAL = Outcome.PARTIAL.value


@dataclass(frozen=True)
class ProgressColumns:
    """Consecutive journal lines as four columns (one ``Progress`` each, without the cost
    of 700k records)."""

    names: list[ProjectName]
    serials: list[str]
    outcomes: list[str]
    display_names: list[str]


def progress_line(entry: Progress) -> str:
    """One journal line (without its newline): ``name serial outcome display name``."""
    return f"{entry.name} {entry.serial} {entry.outcome} {entry.display_name}"


def add_finished(done: dict[ProjectName, int], chunk: ProgressColumns) -> None:
    """Record in ``done`` the projects of ``chunk`` that are done (synced or removed, not
    partial), at the serial reached; a later line about a project wins."""
    if _PARTIAL not in chunk.outcomes:
        done.update(zip(chunk.names, map(int, chunk.serials), strict=True))
        return
    for name, serial, outcome in zip(chunk.names, chunk.serials, chunk.outcomes, strict=True):
        if outcome != _PARTIAL:
            done[name] = int(serial)


def parse_todo(raw: bytes) -> Todo:
    first, _, rest = raw.decode("utf-8").partition("\n")
    if not first.strip():
        raise ValueError("empty file")
    return Todo(int(first.strip()), rest)


def _chunks(text: str, stop: int | None = None) -> Iterator[str]:
    """``text[:stop]`` in pieces of whole lines (a bound on the memory of reading 700k)."""
    start, stop = 0, len(text) if stop is None else stop
    while start < stop:
        end = min(text.find("\n", start + _CHUNK, stop) + 1 or stop, stop)
        yield text[start:end]
        start = end


def _todo_columns(text: str) -> tuple[list[ProjectName], list[int]]:
    lines = text.count("\n") + (not text.endswith("\n"))
    words = text.split()
    if len(words) == 2 * lines == 2 * text.count(" ") and all(map(str.isdigit, words[1::2])):
        names = cast(list[ProjectName], words[0::2])
        if not text.isascii() or _NOT_NORMALIZED.search(text):
            names = normalize_many(names)
        return names, list(map(int, words[1::2]))
    names, serials = [], []  # another shape: blank lines, names alone, another tool's names
    for line in text.splitlines():
        name, _, serial = line.strip().partition(" ")
        if name and (serial.isdigit() or not serial):
            names.append(normalize(name))
            serials.append(int(serial or 0))
        elif name:
            log.warning("todo: skipped a line that is not 'name serial': %r", line[:80])
    return names, serials


def progress_chunks(text: str) -> Iterator[ProgressColumns]:
    """The journal as columns, a chunk of lines at a time; a last line without its newline
    was cut short by a crash and is left out."""
    for chunk in _chunks(text, text.rfind("\n") + 1):
        yield _progress_columns(chunk)


def _progress_columns(text: str) -> ProgressColumns:
    """Whole lines of the journal as columns: split at once when every line has the plain
    shape, else line by line, skipping lines that cannot be read."""
    count = text.count("\n")
    if text.count(" ") == 3 * count:
        words = text.replace("\n", " ").split(" ")
        names, serials, outcomes = words[0:-1:4], words[1::4], words[2::4]
        if all(map(str.isdigit, serials)) and set(outcomes) <= OUTCOMES:
            return ProgressColumns(cast(list[ProjectName], names), serials, outcomes, words[3::4])
    columns = ProgressColumns([], [], [], [])
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) != 4 or parts[2] not in OUTCOMES or not parts[1].isdigit():
            continue
        columns.names.append(ProjectName(parts[0]))
        columns.serials.append(parts[1])
        columns.outcomes.append(parts[2])
        columns.display_names.append(parts[3])
    return columns
