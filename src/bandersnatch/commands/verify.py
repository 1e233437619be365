"""``bandersnatch verify``: find and repair damage in the mirror. Wiring only.

One pass over ``web/packages`` records every stored file with its size; each project is then
checked against its stored metadata or its pages (``verify.project``), in a thread pool, and
whatever no project references is an orphan. A checkpoint file records the projects already
verified, so a verify that is killed continues where it stopped; it is deleted when a verify
completes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from .. import steps
from ..config import Config
from ..errors import Interrupted, StorageError
from ..layout import (
    HTML_LEAVES,
    JSON_DIR,
    JSON_LEAF,
    PACKAGES,
    ROOT_HTML_PAGES,
    SIMPLE,
)
from ..ledger import Ledger
from ..models import CompareMethod, IndexEntry, ProjectName
from ..runtime import Runtime
from ..site.readback import project_dirs
from ..state import mirror_lock
from ..verify.checkpoint import Checkpoint
from ..verify.plan import NO_SOURCE, ROOT, Finding, ProjectOutcome, upstream_base
from ..verify.project import ProjectVerifier, VerifyOptions
from ..verify.report import VerifyReport

log = logging.getLogger(__name__)

_PROGRESS_EVERY = 30.0


@dataclass(frozen=True)
class VerifyRequest:
    delete: bool = False
    dry_run: bool = False
    json_update: bool = False
    hash_files: bool = False
    workers: int | None = None


def run(config: Config, request: VerifyRequest, stop: threading.Event) -> VerifyReport:
    runtime = Runtime.build(config)  # a bad filter config stops the run here
    with mirror_lock(runtime.storage):
        try:
            return _VerifyRun(runtime, request, stop).execute()
        finally:
            runtime.sessions.close()


@dataclass
class _VerifyRun:
    rt: Runtime
    request: VerifyRequest
    stop: threading.Event
    started: float = field(default_factory=time.monotonic)
    report: VerifyReport = field(default_factory=VerifyReport)
    entries: dict[ProjectName, IndexEntry] = field(default_factory=dict)
    listed: dict[ProjectName, IndexEntry] = field(default_factory=dict)
    unreferenced: set[str] = field(default_factory=set)
    last_progress: float = field(default_factory=time.monotonic)
    checkpoint: Checkpoint = field(init=False)

    def __post_init__(self) -> None:
        self.checkpoint = Checkpoint(self.rt.storage, self._header())

    def execute(self) -> VerifyReport:
        rt, request = self.rt, self.request
        self.report = VerifyReport(dry_run=request.dry_run, delete=request.delete)
        steps.check_existing(rt)
        ledger = Ledger.load(rt.storage)
        self.entries = ledger.entries() if ledger is not None else {}
        names = sorted(
            self.entries.keys() | project_dirs(rt.storage, rt.config.mirror.hash_index).keys()
        )
        done = set() if request.dry_run else self.checkpoint.resume()
        sizes = rt.storage.file_sizes(PACKAGES, self._workers())
        self.unreferenced = set(sizes)
        log.info("verifying %d projects, %d stored files", len(names), len(sizes))
        try:
            self._verify_all(names, done, sizes)
        finally:
            self.checkpoint.flush()
        if self.stop.is_set():
            raise Interrupted("a stop signal")
        self._orphans(sizes)
        self._root_index(ledger is not None)
        if not request.dry_run:
            self.checkpoint.finish()
        self.report.seconds = time.monotonic() - self.started
        return self.report

    def _header(self) -> str:
        mode = "hash" if self._hash_files() else "stat"
        return f"bandersnatch verify {mode}" + (" json-update" if self.request.json_update else "")

    # -- projects --------------------------------------------------------------------------
    def _workers(self) -> int:
        return self.request.workers or self.rt.config.mirror.verifiers

    def _hash_files(self) -> bool:
        return self.request.hash_files or self.rt.config.mirror.compare_method is CompareMethod.HASH

    def _verifier(self, sizes: Mapping[str, int], file_pool: ThreadPoolExecutor) -> ProjectVerifier:
        m = self.rt.config.mirror
        options = VerifyOptions(
            hash_files=self._hash_files(),
            repair=not self.request.dry_run,
            json_update=self.request.json_update,
            release_files=m.release_files,
            core_metadata=m.core_metadata and m.release_files,
            json_enabled=m.json,
            prune_filtered=m.prune_filtered,
            files_base=upstream_base(m.master),
        )
        return ProjectVerifier(
            self.rt.storage,
            self.rt.publisher,
            self.rt.downloader(),
            self.rt.metadata_client(),
            self.rt.sessions,
            sizes,
            frozenset(self.rt.storage.list_dir(JSON_DIR)),
            options,
            self.rt.filters.apply,
            file_pool,
        )

    def _verify_all(
        self, names: Iterable[ProjectName], done: set[ProjectName], sizes: Mapping[str, int]
    ) -> None:
        workers = self._workers()
        pending = deque(names)
        total = len(pending)
        inflight: dict[Future[ProjectOutcome], ProjectName] = {}
        with (
            ThreadPoolExecutor(workers, thread_name_prefix="verify-file") as file_pool,
            ThreadPoolExecutor(workers, thread_name_prefix="verify") as pool,
        ):
            verifier = self._verifier(sizes, file_pool)
            while pending or inflight:
                while pending and len(inflight) < 4 * workers and not self.stop.is_set():
                    name = pending.popleft()
                    args = (name, self.entries.get(name), name not in done)
                    inflight[pool.submit(_verify_one, verifier, *args)] = name
                if not inflight:
                    break
                finished, _ = wait(inflight, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in finished:
                    name = inflight.pop(future)
                    self._settle(future.result(), name in done)
                self.checkpoint.flush(force=False)
                self._progress(total - len(pending) - len(inflight), total)

    def _settle(self, outcome: ProjectOutcome, resumed: bool) -> None:
        self.unreferenced.difference_update(outcome.referenced)
        if resumed:
            self.report.resumed += 1
            return
        self.report.add(outcome)
        if outcome.listed_as is not None:
            display, serial = outcome.listed_as
            self.listed[outcome.name] = IndexEntry(outcome.name, display, serial)
        if not self.request.dry_run and outcome.known and not outcome.failed:
            self.checkpoint.add(outcome.name)

    def _progress(self, finished: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last_progress >= _PROGRESS_EVERY:
            self.last_progress = now
            log.info("verified %d of %d projects", finished, total)

    # -- orphans and the root index --------------------------------------------------------
    def _orphans(self, sizes: Mapping[str, int]) -> None:
        report, storage = self.report, self.rt.storage
        orphans = sorted(self.unreferenced)
        report.orphans = len(orphans)
        report.orphan_bytes = sum(max(sizes[p], 0) for p in orphans)
        for path in orphans:
            log.info("orphan %s (%d bytes)", path, max(sizes[path], 0))
        if not orphans or not self.request.delete or self.request.dry_run:
            return
        if report.unknown_projects:
            log.warning(
                "not deleting orphans: %d projects have neither a page nor stored metadata, so "
                "their files cannot be told from orphans; repair them first (verify "
                "--json-update, or mirror --force-check)",
                report.unknown_projects,
            )
            return
        for path in orphans:
            storage.delete(path)
            storage.remove_empty_dirs(path.rsplit("/", 1)[0], PACKAGES)
            report.orphans_deleted += 1

    def _root_index(self, has_ledger: bool) -> None:
        """Rewrite the root index when a root page is missing or the ledger disagrees with
        the project pages (a mirror with no ledger yet gets one from the pages)."""
        rt = self.rt
        desired = {**self.entries, **self.listed}
        fmt = rt.publisher.simple_format
        leaves = [*(HTML_LEAVES if fmt.html else ()), *((JSON_LEAF,) if fmt.json else ())]
        missing = [leaf for leaf in leaves if not rt.storage.exists(f"{SIMPLE}/{leaf}")]
        stale = has_ledger and desired != self.entries
        if not missing and not stale:
            return
        detail = f"missing {', '.join(missing)}" if missing else "out of date with the pages"
        finding = Finding(ROOT, ROOT_HTML_PAGES[0], None, detail)
        log.warning("root index: %s", detail)
        if self.request.dry_run:
            self.report.note(finding, repaired=False)
            return
        serial = steps.root_serial(rt, (e.serial for e in desired.values()))
        steps.publish_root(rt, Ledger.of(desired.values()), serial)
        self.report.note(finding, repaired=True)


def _verify_one(
    verifier: ProjectVerifier, name: ProjectName, entry: IndexEntry | None, check: bool
) -> ProjectOutcome:
    """The worker wrapper: a bug in one project is that project's failure, not the run's."""
    try:
        return verifier.verify(name, entry, check)
    except StorageError:
        raise
    except Exception as exc:
        log.exception("%s: unexpected error while verifying", name)
        finding = Finding(NO_SOURCE, name, None, f"unexpected error: {exc!r}")
        return ProjectOutcome(name, (finding,), ((finding, repr(exc)),), known=False)
