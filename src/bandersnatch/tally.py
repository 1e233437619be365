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
from typing import TextIO

from .models import ProjectFailure, ProjectName, ProjectResult, SyncReport
from .state import FailureRecord, MirrorState

log = logging.getLogger(__name__)

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
        reasons.update(dict.fromkeys(not_synced, "not synced (stopped early)"))
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
    """``diff-file``: every path a run wrote, one per line, streamed to a temp file beside
    the target as projects finish (a first sync writes millions), moved into place at the
    end of a complete run and dropped otherwise."""

    def __init__(self, path: Path, directory: Path, append_epoch: bool) -> None:
        self._path, self._directory, self._append_epoch = path, directory, append_epoch
        path.parent.mkdir(parents=True, exist_ok=True)
        self._temp = path.with_name(f".{path.name}.part")
        self._out: TextIO = self._temp.open("w", encoding="utf-8")

    def add(self, paths: Iterable[str]) -> None:
        self._out.writelines(f"{self._directory / p}\n" for p in paths)

    def commit(self) -> None:
        self._out.close()
        path = self._path
        if self._append_epoch:
            path = path.with_name(f"{path.name}-{int(time.time())}")
        self._temp.replace(path)

    def discard(self) -> None:
        self._out.close()
        self._temp.unlink(missing_ok=True)
