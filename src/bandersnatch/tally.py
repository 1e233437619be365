"""What a mirror run keeps while it syncs, in memory that does not grow with the number of
files written: counters, the projects that failed, and the ``diff-file`` stream; and the
failure history that makes long-standing failures loud.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .models import ProjectFailure, ProjectName, ProjectResult, SyncReport
from .state import FailureRecord, MirrorState
from .storage import AtomicFile, FilesystemStorage, Storage

log = logging.getLogger(__name__)

STOPPED_EARLY = "not synced (stopped early)"
"""The reason given for a project a stopped run left in the todo without trying it."""
LOUD_AFTER_RUNS = 5
"""A project failing for this many runs in a row is reported at ERROR level every run."""


@dataclass
class Tally:
    synced: int = 0
    removed: int = 0
    files_downloaded: int = 0
    bytes_downloaded: int = 0
    failed: dict[ProjectName, tuple[int, str]] = field(default_factory=dict)
    """Project -> (serial it should reach, why it failed)."""

    def add(self, result: ProjectResult) -> None:
        self.files_downloaded += result.files_downloaded
        self.bytes_downloaded += result.bytes_downloaded
        if result.failure:
            self.failed[result.name] = (result.serial, result.failure)
        else:
            self.failed.pop(result.name, None)
            self.synced += result.published

    def failed_serials(self) -> dict[ProjectName, int]:
        """The projects that failed, each with the serial it should reach (for the todo)."""
        return {name: serial for name, (serial, _reason) in self.failed.items()}

    def report(
        self, state: MirrorState, not_synced: Iterable[ProjectName], started: float
    ) -> SyncReport:
        reasons = {name: reason for name, (_serial, reason) in self.failed.items()}
        reasons.update(dict.fromkeys(not_synced, STOPPED_EARLY))
        history = failure_history(state, dict(sorted(reasons.items())))
        failures = tuple(
            ProjectFailure(name, r.reason, r.since if r.runs > 1 else None, r.runs)
            for name, r in history.items()
        )
        return SyncReport(
            projects_synced=self.synced,
            projects_removed=self.removed,
            files_downloaded=self.files_downloaded,
            bytes_downloaded=self.bytes_downloaded,
            failures=failures,
            seconds=time.monotonic() - started,
        )


def failure_history(
    state: MirrorState, failed: Mapping[ProjectName, str]
) -> dict[ProjectName, FailureRecord]:
    """Remember since when each project fails; be loud about long-standing ones."""
    before = state.read_failures()
    now = time.time()
    history = {}
    for name, reason in failed.items():
        old = before.get(name)
        record = FailureRecord(old.since if old else now, (old.runs if old else 0) + 1, reason)
        history[name] = record
        if record.runs >= LOUD_AFTER_RUNS:
            since = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(record.since))
            log.error(
                "%s has failed for %d runs in a row (since %s); it blocks nothing else, "
                "but look at it: %s",
                name, record.runs, since, reason,
            )  # fmt: skip
    if history or before:
        state.write_failures(history)
    return history


class DiffFile:
    """``diff-file``: every path a run wrote, one per line, streamed through the storage
    interface as projects finish (a first sync writes millions) and published at the end of
    a complete run, dropped otherwise. Inside the mirror directory it is one of the mirror's
    files (an object on S3); elsewhere it is a local file, written the same atomic way."""

    def __init__(self, storage: Storage, path: str, directory: Path) -> None:
        self._directory = directory
        self._out: AtomicFile | None = storage.open_atomic(path)

    @classmethod
    def open(cls, mirror: Storage, directory: Path, path: Path, append_epoch: bool) -> DiffFile:
        if path.is_dir():  # as in pypa/bandersnatch: the file goes inside it
            path = path / "mirrored-files"
        if append_epoch:
            path = path.with_name(f"{path.name}-{int(time.time())}")
        if path.is_relative_to(directory):
            return cls(mirror, path.relative_to(directory).as_posix(), directory)
        local = FilesystemStorage(path.parent, manage_permissions=False)
        return cls(local, path.name, directory)

    def add(self, paths: Iterable[str]) -> None:
        if self._out is not None:
            self._out.write("".join(f"{self._directory / p}\n" for p in paths).encode())

    def commit(self) -> None:
        if self._out is not None:
            out, self._out = self._out, None
            out.commit()

    def discard(self) -> None:
        if self._out is not None:
            out, self._out = self._out, None
            out.abort()
