"""``bandersnatch mirror``: bring the mirror up to date with upstream. Wiring only."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import filters
from ..config import Config
from ..errors import Interrupted
from ..models import IndexEntry, ProjectFailure, ProjectName, ProjectResult, SyncReport
from ..planning import collect_changes, make_plan
from ..runtime import Runtime
from ..state import Progress, Todo, ledger_from_pages, mirror_lock

log = logging.getLogger(__name__)


def run(config: Config, *, force_check: bool = False, stop: threading.Event) -> SyncReport:
    filters.check_supported(config.filters)
    runtime = Runtime.build(config)
    with mirror_lock(config.mirror.directory):
        try:
            return _MirrorRun(runtime, stop).execute(force_check)
        finally:
            runtime.sessions.close()


@dataclass
class _MirrorRun:
    rt: Runtime
    stop: threading.Event
    started: float = field(default_factory=time.monotonic)
    results: list[ProjectResult] = field(default_factory=list)
    ledger: dict[ProjectName, IndexEntry] = field(default_factory=dict)
    index_dirty: bool = False
    removed: int = 0

    def execute(self, force_check: bool) -> SyncReport:
        state = self.rt.state
        state.check_generation()
        status = state.read_status()
        saved = state.read_todo()
        progress = state.read_progress() if saved else []
        self._load_ledger(progress)
        target, changes = self._changes(status, saved, force_check)
        finished = {p.name: p.serial for p in progress if p.outcome != "partial"}
        plan = make_plan(
            target,
            changes,
            saved.projects if saved else {},
            finished,
            filters.name_filter(self.rt.config.filters),
        )
        if plan.projects:
            log.info("syncing %d projects up to serial %d", len(plan.projects), target)
            state.write_todo(plan.target_serial, plan.projects)
            self.rt.syncer(self.stop).run(plan.projects, self._on_done)
        if self.stop.is_set() and not self._stopped_on_error():
            raise Interrupted("a stop signal")
        return self._close(status, plan.target_serial, plan.projects)

    def _load_ledger(self, progress: list[Progress]) -> None:
        """The ledger, plus what an interrupted run finished but never recorded."""
        state = self.rt.state
        ledger = state.read_ledger()
        if ledger is None:
            ledger = ledger_from_pages(self.rt.storage, self.rt.config.mirror.hash_index)
            self.index_dirty = bool(ledger)
        self.ledger = ledger
        for entry in progress:
            self.index_dirty = True
            if entry.outcome == "removed":
                self.ledger.pop(entry.name, None)
            else:
                self.ledger[entry.name] = IndexEntry(entry.name, entry.display_name, entry.serial)

    def _changes(
        self, status: int | None, saved: Todo | None, force_check: bool
    ) -> tuple[int, dict[ProjectName, int]]:
        """(target serial, {project: serial}) from the change feed."""
        feed = self.rt.changelog()
        base = status if status is not None else (saved.target_serial if saved else None)
        allow = self.rt.config.filters
        if base is None or force_check:
            target = feed.last_serial()
            if allow.allowlist_enabled:
                return target, dict.fromkeys(allow.allowlist_names, 0)
            listed = feed.all_projects()
            return target, {name: serial for name, (_d, serial) in listed.items()}
        changes, target = collect_changes(feed.changes_since(base), base)
        if allow.allowlist_enabled:
            for name in allow.allowlist_names - self.ledger.keys():
                changes.setdefault(name, 0)  # newly allowlisted: fetch it now
        return target, changes

    def _on_done(self, result: ProjectResult) -> None:
        self.results.append(result)
        if result.removed:
            if result.name in self.ledger:
                self.rt.publisher.remove_project(result.name)
                del self.ledger[result.name]
                self.index_dirty = True
                self.removed += 1
            outcome = "removed"
        elif result.published:
            entry = IndexEntry(result.name, result.display_name, result.serial)
            self.ledger[result.name] = entry
            self.index_dirty = True
            outcome = "partial" if result.failure else "ok"
        else:
            return
        progress = Progress(result.name, result.serial, result.display_name, outcome)
        self.rt.state.append_progress(progress)

    def _stopped_on_error(self) -> bool:
        return self.rt.config.mirror.stop_on_error and any(r.failure for r in self.results)

    def _close(
        self, status: int | None, target: int, planned: Mapping[ProjectName, int]
    ) -> SyncReport:
        """Publish the root index, advance status, keep failed projects for the next run."""
        state = self.rt.state
        written: list[str] = [p for r in self.results for p in r.written]
        if self.index_dirty:
            written += self.rt.publisher.root_index(self.ledger.values(), target)
            state.write_ledger(self.ledger)
        failed = {r.name: r.serial for r in self.results if r.failure}
        unfinished = {n: s for n, s in planned.items() if n not in {r.name for r in self.results}}
        failed.update(unfinished)
        if target != status:
            state.write_status(target)
        if failed:
            state.write_todo(target, failed)
        else:
            state.clear_todo()
        state.write_last_modified()
        written.append("web/last-modified")
        self._write_diff_file(written)
        return self._report(failed)

    def _report(self, failed: dict[ProjectName, int]) -> SyncReport:
        reasons = {r.name: r.failure or "" for r in self.results if r.failure}
        failures = tuple(
            ProjectFailure(name, reasons.get(name, "not synced (stopped early)"))
            for name in sorted(failed)
        )
        return SyncReport(
            projects_synced=sum(1 for r in self.results if r.published and not r.failure),
            projects_removed=self.removed,
            files_downloaded=sum(r.files_downloaded for r in self.results),
            bytes_downloaded=sum(r.bytes_downloaded for r in self.results),
            failures=failures,
            seconds=time.monotonic() - self.started,
        )

    def _write_diff_file(self, written: list[str]) -> None:
        m = self.rt.config.mirror
        if m.diff_file is None:
            return
        path = m.diff_file
        if m.diff_append_epoch:
            path = path.with_name(f"{path.name}-{int(time.time())}")
        lines = "".join(f"{m.directory / p}\n" for p in written)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(lines, encoding="utf-8")
