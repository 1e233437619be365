"""The mirror's own state: lock, generation, status, todo, progress journal (their formats:
``journal.py``), failure history; the ledger is read and written by ``ledger.py``. Where
each file lives (compatible with pypa/bandersnatch, plus files of our own): ``layout``.

The journal lets a run record progress with one appended line per project instead of
rewriting the whole todo (no quadratic I/O on a first sync); with the ledger it is the record
of what is mirrored, so an interrupted run never has to read the project pages back. The
ledger is what the root index is rendered from, so no run has to scan the project
directories.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import StateError
from .journal import Progress, ProgressColumns, Todo, parse_todo, progress_chunks, progress_line
from .layout import (
    FAILURES,
    GENERATION,
    GENERATION_FILE,
    LAST_MODIFIED,
    PROGRESS,
    ROOT_PAGES,
    STATE_FILES,
    STATUS,
    TODO,
)
from .models import ProjectName
from .storage import Storage

log = logging.getLogger(__name__)


@contextmanager
def mirror_lock(storage: Storage) -> Iterator[None]:
    """Hold the mirror's lock (``<directory>/.lock``) for the whole block, or raise
    MirrorLocked at once; each backend has its own way (``Storage.lock``)."""
    with storage.lock():
        yield


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
        for path in (*STATE_FILES, *ROOT_PAGES):
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
            raise StateError(
                GENERATION_FILE,
                f"not a number: {raw[:20]!r}",
                f"if this tool wrote this mirror, write {GENERATION} in it (or delete it)",
            ) from None
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
            return parse_todo(raw)
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
        yield from progress_chunks(text)

    def write_last_modified(self) -> None:
        stamp = time.strftime("%Y%m%dT%H:%M:%S", time.gmtime())
        self.storage.write_bytes(LAST_MODIFIED, f"{stamp}\n".encode())
