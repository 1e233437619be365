"""``bandersnatch mirror --dry-run``: what the next ``mirror`` run would fetch and delete,
without writing anything. Wiring only.

It reads the mirror's state as ``mirror`` does (status, saved todo, progress journal,
ledger), asks the change feed what changed and each planned project's metadata (the same
upstream requests a run makes before it downloads), applies the filters and compares each
file with what is stored. It downloads no file and writes nothing: no lock file, no state,
no status.json. Instead of taking the lock it looks at it (``Storage.peek_lock``: on a
filesystem a shared ``flock`` on an existing ``.lock`` opened read-only, on S3 a read of the
lease object), so it refuses to plan while a run holds the lock (exit 3).

Not predicted: a changed filter config (the real run then re-checks every mirrored
project), and what ``max-deletions`` would refuse.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..config import Config
from ..errors import (
    BadUpstreamData,
    FeedUnavailable,
    Interrupted,
    NotFound,
    UpstreamError,
)
from ..journal import Todo, add_finished, parse_todo
from ..layout import FEED_VALIDATOR, TODO, package_file
from ..ledger import Ledger
from ..models import ProjectName
from ..planning import make_plan
from ..runtime import Runtime
from ..site.readback import ledger_from_pages
from ..upstream.feeds import FeedResult
from ..upstream.metadata import MetadataClient

log = logging.getLogger(__name__)


@dataclass
class ProjectPlan:
    name: ProjectName
    fetch: list[tuple[str, int]] = field(default_factory=list)
    """(mirror-relative path, size) of each file to download."""
    delete: list[str] = field(default_factory=list)
    remove: str | None = None
    """Why the whole project would go (None: it stays)."""
    problem: str | None = None


@dataclass
class DryRunReport:
    serial: int | None
    target: int
    checked: int
    """Projects planned, each asked about upstream."""
    projects: list[ProjectPlan]
    """Those that would change, or could not be asked about."""
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        files = sum(len(p.fetch) for p in self.projects)
        nbytes = sum(size for p in self.projects for _path, size in p.fetch)
        deletes = sum(len(p.delete) for p in self.projects)
        removes = [p for p in self.projects if p.remove]
        lines = [
            f"dry run: serial {self.serial} -> {self.target}, {self.checked} projects to check, "
            f"{len(self.projects)} would change; nothing was downloaded or written",
            *(f"note: {n}" for n in self.notes),
        ]
        for p in self.projects:
            if p.problem:
                lines.append(f"{p.name}: cannot tell: {p.problem}")
            if p.remove:
                lines.append(f"{p.name}: would remove the project ({p.remove})")
            for path, size in p.fetch:
                lines.append(f"{p.name}: would fetch {path} ({size} bytes)")
            lines += [f"{p.name}: would delete {path}" for path in p.delete]
        lines.append(
            f"total: would fetch {files} files ({nbytes} bytes), delete {deletes} files, "
            f"remove {len(removes)} projects"
        )
        return lines


def run(config: Config, *, force_check: bool, stop: threading.Event) -> DryRunReport:
    runtime = Runtime.build(config)
    with runtime.storage.peek_lock():
        try:
            return _DryRun(runtime, stop).plan(force_check)
        finally:
            runtime.sessions.close()


@dataclass
class _DryRun:
    rt: Runtime
    stop: threading.Event
    notes: list[str] = field(default_factory=list)
    metadata: MetadataClient = field(init=False)

    def __post_init__(self) -> None:
        self.metadata = self.rt.metadata_client()

    def plan(self, force_check: bool) -> DryRunReport:
        state, storage = self.rt.state, self.rt.storage
        status = state.read_status()
        saved = self._saved_todo()
        ledger = Ledger.load(storage) or ledger_from_pages(
            storage, self.rt.config.mirror.hash_index
        )
        finished: dict[ProjectName, int] = {}
        if saved is not None and state.has_progress():
            for chunk in state.read_progress():
                ledger.take_progress([chunk])
                add_finished(finished, chunk)
        feed = self._feed(ledger, status, saved, force_check)
        filters = self.rt.filters
        plan = make_plan(
            feed.target,
            feed.changes,
            saved.chunks() if saved else (),
            finished,
            None if filters.keeps_every_name else filters.keep_name,
        )
        known = ledger.serials() if feed.poll else {}
        projects = self._check_all(plan.projects, known)
        if self.rt.config.mirror.prune_filtered and self.rt.config.filters.enabled:
            for name in sorted(n for n in ledger.names() if not filters.keep_name(n)):
                projects.append(ProjectPlan(name, remove="excluded by the filters"))
        if self.stop.is_set():
            raise Interrupted("a stop signal")
        changed = [p for p in projects if p.fetch or p.delete or p.remove or p.problem]
        return DryRunReport(status, plan.target_serial, len(plan.projects), changed, self.notes)

    def _saved_todo(self) -> Todo | None:
        raw = self.rt.storage.read_bytes(TODO)
        try:
            return None if raw is None else parse_todo(raw)
        except ValueError as exc:
            self.notes.append(f"the todo file is corrupt ({exc}); a run sets it aside")
            return None

    def _feed(
        self, ledger: Ledger, status: int | None, saved: Todo | None, force: bool
    ) -> FeedResult:
        """What changed upstream, asked as ``mirror`` asks (its ``_feed``, without state)."""
        base = status if status is not None else (saved.target_serial if saved else None)
        names = self.rt.filters.known_names()
        if names is None:
            feed = self.rt.feed()
            if base is None or force:
                return feed.listing(ledger.serials)
            validator = self.rt.state.read_text(FEED_VALIDATOR)
            return feed.since(base, ledger.serials, validator)
        dropped = {n: 0 for n in ledger.names() if n not in names}
        if self.rt.config.mirror.change_feed == "xmlrpc":
            feed = self.rt.feed(fallback=False)
            try:
                if base is None or force:
                    return FeedResult(feed.last_serial(), dict.fromkeys(names, 0) | dropped)
                result = feed.since(base, dict)
            except (FeedUnavailable, BadUpstreamData) as exc:
                self.notes.append(f"{exc}; each allowlisted project is asked instead")
            else:
                for name in names - set(ledger.names()):
                    result.changes.setdefault(name, 0)
                return result
        return FeedResult(base or 0, dict.fromkeys(names, 0) | dropped, poll=not force)

    def _check_all(
        self, todo: Mapping[ProjectName, int], known: Mapping[ProjectName, int]
    ) -> list[ProjectPlan]:
        if todo:
            log.info("dry run: asking upstream about %d projects", len(todo))
        workers = self.rt.config.mirror.workers
        with ThreadPoolExecutor(workers, thread_name_prefix="dry-run") as pool:
            return list(pool.map(lambda item: self._check(item[0], item[1], known), todo.items()))

    def _check(
        self, name: ProjectName, expected: int, known: Mapping[ProjectName, int]
    ) -> ProjectPlan:
        """What syncing one project would do (a worker thread)."""
        plan = ProjectPlan(name)
        if self.stop.is_set():
            plan.problem = "stopped"
            return plan
        m, storage = self.rt.config.mirror, self.rt.storage
        listed = self.rt.publisher.listing(name)
        try:
            project = self.metadata.fetch(self.rt.sessions.get(), name, expected)
        except NotFound:
            if listed is not None and m.delete_missing_packages:
                plan.remove = "upstream has no releases of it"
            return plan
        except UpstreamError as exc:
            plan.problem = str(exc)
            return plan
        if 0 < project.serial <= known.get(name, -1):
            return plan
        kept = self.rt.filters.apply(project)
        if kept is None:
            if listed is not None and m.prune_filtered:
                plan.remove = "excluded by the filters"
            return plan
        if m.release_files:
            for rf in kept.files:
                target = package_file(rf.path)
                if storage.size(target) != rf.size or (
                    m.compare_method == "hash" and storage.sha256(target) != rf.sha256
                ):
                    plan.fetch.append((target, rf.size))
        keep = {package_file(f.path) for f in kept.files}
        if not m.prune_filtered:
            keep |= {package_file(f.path) for f in project.files}
        plan.delete = [f.path for f in listed or () if f.path not in keep]
        return plan
