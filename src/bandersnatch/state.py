"""The mirror's own state: lock, generation, status, todo, progress journal; where the
ledger lives (``ledger.py`` reads and writes it).

Layout (compatible with pypa/bandersnatch, plus files of our own)::

    <directory>/.lock          held for the whole run
    <directory>/generation     layout version ("5")
    <directory>/status         last serial the whole mirror reached
    <directory>/todo           target serial, then "name serial" lines (only while incomplete)
    <directory>/todo.progress  append-only journal of projects finished since the ledger was
                               last written
    <directory>/projects       ledger: "name<TAB>serial<TAB>display name" for every project
    <directory>/projects.stamp which of the ledger and root pages are in step (ledger.py)

The journal lets a run record progress with one appended line per project instead of
rewriting the whole todo (no quadratic I/O on a first sync); with the ledger it is the record
of what is mirrored, so an interrupted run never has to read the project pages back. The
ledger is what the root index is rendered from, so no run has to scan the project
directories.

At PyPI's size the todo and the journal have 700k lines: they are read and written with
whole-column operations (``str.split``, ``map``) rather than a Python loop per line, and a
line-by-line reader takes over only for a file that does not have the expected shape.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import filelock

from .errors import MirrorLocked, StateError
from .models import ProjectName, normalize, normalize_many
from .storage import Storage

log = logging.getLogger(__name__)
_NOT_NORMALIZED = re.compile(r"[A-Z_.]|--")
"""What a todo written by another tool may hold that a normalized name never does."""

GENERATION = 5
STATUS, TODO, PROGRESS, LEDGER, GENERATION_FILE = (
    "status",
    "todo",
    "todo.progress",
    "projects",
    "generation",
)
LEDGER_STAMP = "projects.stamp"
ROOT_HTML_PAGES = ("web/simple/index.html", "web/simple/index.v1_html")
ROOT_JSON_PAGE = "web/simple/index.v1_json"
FEED_VALIDATOR = "feed-validator"
"""What the change feed last said about itself (the simple index's ETag), for a
conditional request next run."""
FAILURES = "failures"
"""JSON: project -> {"since": epoch, "runs": n, "reason": text} for projects still failing."""
FILTERS = "filters"
"""A fingerprint of the filter config the mirror was last synced with."""
ROOT_STALE = "root-index-stale"
"""Present when ``sync --skip-simple-root`` changed the ledger but not the root index."""
LAST_MODIFIED = "web/last-modified"
_STATE_FILES = (
    STATUS,
    TODO,
    LEDGER,
    LEDGER_STAMP,
    GENERATION_FILE,
    FAILURES,
    FILTERS,
    FEED_VALIDATOR,
    LAST_MODIFIED,
)
_ROOT_PAGES = (*ROOT_HTML_PAGES, ROOT_JSON_PAGE)
_CHUNK = 1 << 22
"""Bytes of the todo or journal read into columns at a time (a bound on transient memory)."""


@contextmanager
def mirror_lock(directory: Path) -> Iterator[None]:
    """Hold ``<directory>/.lock`` for the whole block, or raise MirrorLocked at once."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(directory / ".lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise MirrorLocked(str(directory / ".lock")) from None
    try:
        yield
    finally:
        lock.release()


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
    outcome: str  # "ok", "partial" (pages written, some files failed) or "removed"


OUTCOMES = ("ok", "partial", "removed")


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


@dataclass(frozen=True)
class FailureRecord:
    """How long a project has been failing: since when, for how many runs, and why."""

    since: float
    runs: int
    reason: str


class MirrorState:
    """Reads and writes the state files through the storage interface."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def cleanup_temp(self) -> None:
        """Remove temp files a killed run left beside state files and the root index.

        Their names are fixed (one writer, under the lock), so no directory is scanned."""
        for path in (*_STATE_FILES, *_ROOT_PAGES):
            self.storage.discard_partial(path)

    def read_text(self, name: str) -> str | None:
        raw = self.storage.read_bytes(name)
        return None if raw is None else raw.decode("utf-8", "replace")

    def write_text(self, name: str, text: str) -> None:
        self.storage.write_bytes(name, text.encode("utf-8"), durable=True)

    def delete(self, name: str) -> None:
        self.storage.delete(name)

    def read_failures(self) -> dict[ProjectName, FailureRecord]:
        text = self.read_text(FAILURES)
        if not text:
            return {}
        try:
            doc = json.loads(text)
            return {
                ProjectName(k): FailureRecord(float(v["since"]), int(v["runs"]), str(v["reason"]))
                for k, v in doc.items()
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("%s is unreadable; failure history starts again", FAILURES)
            return {}

    def write_failures(self, failures: Mapping[ProjectName, FailureRecord]) -> None:
        if not failures:
            self.storage.delete(FAILURES)
            return
        doc = {
            name: {"since": r.since, "runs": r.runs, "reason": r.reason}
            for name, r in sorted(failures.items())
        }
        self.write_text(FAILURES, json.dumps(doc, indent=1) + "\n")

    # generation ------------------------------------------------------------------------
    def check_generation(self) -> None:
        raw = self.storage.read_bytes(GENERATION_FILE)
        if raw is None:
            self.storage.write_bytes(GENERATION_FILE, f"{GENERATION}\n".encode(), durable=True)
            return
        try:
            value = int(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise StateError(GENERATION_FILE, f"not a number: {raw[:20]!r}") from None
        if value != GENERATION:
            raise StateError(
                GENERATION_FILE,
                f"layout generation {value} is not supported (expected {GENERATION})",
                "this mirror was written by another tool version",
            )

    # status ----------------------------------------------------------------------------
    def read_status(self) -> int | None:
        raw = self.storage.read_bytes(STATUS)
        if raw is None:
            return None
        try:
            return int(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise StateError(
                STATUS,
                f"expected a serial number, found {raw[:20]!r}",
                "fix it, or delete it and run 'bandersnatch mirror --force-check'",
            ) from None

    def write_status(self, serial: int) -> None:
        self.storage.write_bytes(STATUS, f"{serial}\n".encode(), durable=True)

    # todo and progress journal ----------------------------------------------------------
    def read_todo(self) -> Todo | None:
        raw = self.storage.read_bytes(TODO)
        if raw is None:
            return None
        try:
            return _parse_todo(raw)
        except ValueError as exc:
            aside = f"{TODO}.corrupt-{int(time.time())}"
            self.storage.write_bytes(aside, raw)
            self.storage.delete(TODO)
            log.warning("todo file is corrupt (%s); moved it to %s and continuing", exc, aside)
            return None

    def write_todo(self, target_serial: int, projects: Mapping[ProjectName, int]) -> None:
        """Save what is still to do. The journal stays: what it records is done, whatever
        the new todo says (a re-planned run must not redo finished projects)."""
        names = sorted(projects)
        lines = [" "] * (4 * len(names))  # name, " ", serial, "\n": joined without a loop
        lines[0::4] = names
        lines[2::4] = map(str, map(projects.__getitem__, names))
        lines[3::4] = ["\n"] * len(names)
        text = f"{target_serial}\n" + "".join(lines)
        self.storage.write_bytes(TODO, text.encode(), durable=True)

    def clear_todo(self) -> None:
        self.storage.delete(PROGRESS)  # first: a journal never outlives its todo
        self.storage.delete(TODO)

    def discard_progress(self) -> None:
        """Forget the journal once the ledger has taken in everything it says."""
        self.storage.delete(PROGRESS)

    def has_progress(self) -> bool:
        return self.storage.exists(PROGRESS)

    def append_progress(self, entry: Progress) -> None:
        self.storage.append_line(PROGRESS, progress_line(entry))

    def read_progress(self) -> Iterator[ProgressColumns]:
        """The journal in order, a chunk of lines at a time; lines cut short by a crash (or
        otherwise unreadable) are skipped."""
        raw = self.storage.read_bytes(PROGRESS)
        text = "" if raw is None else raw.decode("utf-8", "replace")
        del raw
        for chunk in _chunks(text, text.rfind("\n") + 1):  # after the last newline: cut short
            yield _progress_columns(chunk)

    def write_last_modified(self) -> None:
        stamp = time.strftime("%Y%m%dT%H:%M:%S", time.gmtime())
        self.storage.write_bytes(LAST_MODIFIED, f"{stamp}\n".encode())


def add_finished(done: dict[ProjectName, int], chunk: ProgressColumns) -> None:
    """Record in ``done`` the projects of ``chunk`` that are done (synced or removed, not
    partial), at the serial reached; a later line about a project wins."""
    if "partial" not in chunk.outcomes:
        done.update(zip(chunk.names, map(int, chunk.serials), strict=True))
        return
    for name, serial, outcome in zip(chunk.names, chunk.serials, chunk.outcomes, strict=True):
        if outcome != "partial":
            done[name] = int(serial)


def _parse_todo(raw: bytes) -> Todo:
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


def _progress_columns(text: str) -> ProgressColumns:
    """Whole lines of the journal as columns: split at once when every line has the plain
    shape, else line by line, skipping lines that cannot be read."""
    count = text.count("\n")
    if text.count(" ") == 3 * count:
        words = text.replace("\n", " ").split(" ")
        names, serials, outcomes = words[0:-1:4], words[1::4], words[2::4]
        if all(map(str.isdigit, serials)) and set(outcomes) <= set(OUTCOMES):
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
