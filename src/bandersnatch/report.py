"""The run report: what one run of ``mirror``, ``sync``, ``verify`` or ``delete`` did, kept
while it runs (``RunRecord``) and written when it ends, whatever the exit, as
``web/status.json`` (``[mirror] status-file``) and, when asked, a Prometheus text file for
node_exporter's textfile collector (``[mirror] metrics-file``, rendered by ``metrics.py``).

The status document (schema version ``SCHEMA_VERSION``, documented in docs/operations.md)
holds the latest run of each command under ``runs``: a ``verify`` does not hide how the
last ``mirror`` went. Counters are fed by the syncer on the main thread; a live progress
line (``liveline.py``) only reads them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import BandersnatchError
from .metrics import render
from .models import ProjectName, ProjectResult, SyncReport
from .state import MirrorState
from .storage import Storage
from .tally import STOPPED_EARLY

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
"""Bumped when a field changes meaning or goes away (new fields do not bump it)."""


@dataclass
class RunRecord:
    """The facts of one run as it goes; counters only grow (main thread writes, the progress
    line reads)."""

    command: str
    started: float = field(default_factory=time.time)
    clock: float = field(default_factory=time.monotonic)
    serial_before: int | None = None
    upstream_serial: int | None = None
    planned: int = 0
    done: int = 0
    files: int = 0
    bytes: int = 0
    failures: dict[ProjectName, str] = field(default_factory=dict)
    """Projects that failed in this run -> why (the last word on each)."""
    outcome: SyncReport | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """What a command adds: verify's findings, delete's removals."""
    error: str | None = None
    removed: int = 0
    """Projects removed, for a command without a ``SyncReport`` (delete)."""

    def plan(self, projects: int) -> None:
        self.planned += projects

    def file_done(self, files: int, nbytes: int) -> None:
        self.files += files
        self.bytes += nbytes

    def project_done(self, result: ProjectResult) -> None:
        self.done += 1
        if result.failure:
            self.failures[result.name] = result.failure
        else:
            self.failures.pop(result.name, None)

    def elapsed(self) -> float:
        return time.monotonic() - self.clock


def iso(epoch: float | None) -> str | None:
    """UTC ISO 8601 with seconds, ``Z``-suffixed."""
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def read_serial(state: MirrorState) -> int | None:
    try:
        return state.read_status()
    except BandersnatchError:
        return None


def _failure_entries(
    record: RunRecord, history: Mapping[ProjectName, tuple[float, int]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(failed, deferred): projects that failed in this run, and projects left in the todo
    without being tried (a stop), each with why and since when it has not synced."""
    reasons: dict[ProjectName, str] = dict(record.failures)
    if record.outcome is not None:
        reasons |= {f.name: f.reason for f in record.outcome.failures}
    failed: list[dict[str, Any]] = []
    deferred: list[dict[str, Any]] = []
    for name, reason in sorted(reasons.items()):
        since, runs = history.get(name, (record.started, 1))
        entry = {"project": name, "reason": reason, "since": iso(since), "runs": runs}
        tried = name in record.failures or reason != STOPPED_EARLY
        (failed if tried else deferred).append(entry)
    return failed, deferred


def _history(record: RunRecord, state: MirrorState) -> dict[ProjectName, tuple[float, int]]:
    """Since when, and for how many runs, each failing project has failed: the failure
    history (``state.FAILURES``) as a finished ``mirror`` run left it, or, for a run cut
    short before it could update the history, as the last run left it, one run more."""
    extra = 0 if record.outcome is not None else 1
    return {name: (r.since, r.runs + extra) for name, r in state.read_failures().items()}


def run_document(
    record: RunRecord, exit_code: int, state: MirrorState, ended: float
) -> dict[str, Any]:
    """The report of one run (one entry of the status document's ``runs``)."""
    serial_after = read_serial(state)
    upstream = record.upstream_serial
    lag = None if upstream is None or serial_after is None else max(0, upstream - serial_after)
    report = record.outcome
    failed, deferred = _failure_entries(record, _history(record, state))
    files = report.files_downloaded if report else record.files
    nbytes = report.bytes_downloaded if report else record.bytes
    synced = report.projects_synced if report else record.done - len(record.failures)
    return {
        "command": record.command,
        "version": __version__,
        "started": iso(record.started),
        "ended": iso(ended),
        "duration_seconds": round(max(0.0, ended - record.started), 3),
        "exit_code": exit_code,
        "error": record.error,
        "serial_before": record.serial_before,
        "serial_after": serial_after,
        "upstream_serial": upstream,
        "lag_serials": lag,
        "projects": {
            "planned": record.planned,
            "synced": synced,
            "failed": len(failed),
            "deferred": len(deferred),
            "removed": report.projects_removed if report else record.removed,
        },
        "files": {"downloaded": files, "bytes": nbytes},
        "failures": failed,
        "deferred": deferred,
        **record.details,
    }


@dataclass(frozen=True)
class ReportTarget:
    """Where a report file goes: through the mirror's storage when it lies under ``web/``
    (so every backend publishes it), else as a local file written atomically."""

    storage: Storage
    directory: Path
    path: Path

    @property
    def relative(self) -> str | None:
        try:
            rel = self.path.relative_to(self.directory).as_posix()
        except ValueError:
            return None
        return rel if rel.startswith("web/") else None

    def read(self) -> bytes | None:
        rel = self.relative
        try:
            if rel is not None:
                return self.storage.read_bytes(rel)
            return self.path.read_bytes()
        except (OSError, BandersnatchError):
            return None

    def write(self, data: bytes) -> None:
        rel = self.relative
        if rel is not None:
            self.storage.write_bytes(rel, data)
        else:
            write_file_atomically(self.path, data)


def write_file_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``path`` by a temp file in its directory and a rename: a reader (node_exporter,
    a monitoring check) sees the old content or the new, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(temp, path)


def status_document(previous: bytes | None, run: dict[str, Any]) -> dict[str, Any]:
    """The new status document: ``run`` replaces the entry of its command; the others are
    kept from ``previous`` (one of the same schema version, else dropped)."""
    runs: dict[str, Any] = {}
    try:
        old = json.loads(previous) if previous else None
    except (ValueError, UnicodeDecodeError):
        old = None
    if isinstance(old, dict) and old.get("schema_version") == SCHEMA_VERSION:
        kept = old.get("runs")
        if isinstance(kept, dict):
            runs = {k: v for k, v in kept.items() if isinstance(v, dict)}
    last_success = runs.get(run["command"], {}).get("last_success")
    if run["exit_code"] == 0:
        last_success = run["ended"]
    runs[run["command"]] = {**run, "last_success": last_success}
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "bandersnatch",
        "version": __version__,
        "last_command": run["command"],
        "runs": dict(sorted(runs.items())),
    }


def write_reports(
    record: RunRecord,
    exit_code: int,
    storage: Storage,
    directory: Path,
    status_file: Path | None,
    metrics_file: Path | None,
) -> None:
    """Write the status document and the metrics file for a run that ended with
    ``exit_code``. A report that cannot be written is logged, never fatal: the run's own
    exit code stands."""
    if status_file is None and metrics_file is None:
        return
    try:
        run = run_document(record, exit_code, MirrorState(storage), time.time())
    except (OSError, BandersnatchError) as exc:  # the state cannot be read back
        log.error("could not write the run report: %s", exc)
        return
    doc: dict[str, Any] | None = None
    for path, kind in ((status_file, "status"), (metrics_file, "metrics")):
        if path is None:
            continue
        target = ReportTarget(storage, directory, path)
        try:
            if kind == "status":
                doc = status_document(target.read(), run)
                target.write((json.dumps(doc, indent=1) + "\n").encode())
            else:
                doc = doc or status_document(None, run)
                target.write(render(doc).encode())
        except (OSError, BandersnatchError) as exc:
            log.error("could not write the %s file %s: %s", kind, path, exc)
