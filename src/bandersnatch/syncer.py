"""The thread pool that syncs projects, with parallelism per file rather than per project.

Workers run small tasks (fetch one project's metadata; ensure one file and its
``.metadata``) and return results; the main thread keeps the books, publishes each
project's pages once all its files are settled, and reports progress. At most ``workers``
tasks run at once, and each worker thread has its own HTTP session, so upstream never sees
more than ``workers`` connections.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from .core_metadata import metadata_from_wheel
from .errors import NotFound, StorageError, UpstreamError
from .models import PageFile, Project, ProjectName, ProjectResult, ReleaseFile, SimplePage
from .paths import package_file
from .pruning import DeletionGuard, Pruner
from .publish import Publisher
from .storage import Storage
from .upstream.download import Downloader
from .upstream.metadata import MetadataClient
from .upstream.session import SessionFactory

log = logging.getLogger(__name__)

ProjectFilter = Callable[[Project], "Project | None"]


@dataclass(frozen=True)
class SyncOptions:
    workers: int = 3
    release_files: bool = True
    core_metadata: bool = True
    compare_method: str = "hash"
    json_enabled: bool = False
    stop_on_error: bool = False
    prune_filtered: bool = True


@dataclass(frozen=True)
class FileOutcome:
    file: ReleaseFile
    stored: bool
    metadata_stored: bool
    bytes_downloaded: int = 0
    files_downloaded: int = 0
    written: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class _Job:
    name: ProjectName
    expected: int
    project: Project | None = None
    upstream_paths: frozenset[str] = frozenset()
    """Every file path upstream lists, before filters (kept when prune-filtered is off)."""
    pending: int = 0
    outcomes: list[FileOutcome] = field(default_factory=list)


@dataclass(frozen=True)
class _Fetched:
    project: Project | None
    """None when a filter excluded the whole project."""
    upstream_paths: frozenset[str]


class Syncer:
    def __init__(
        self,
        sessions: SessionFactory,
        storage: Storage,
        metadata: MetadataClient,
        downloader: Downloader,
        publisher: Publisher,
        options: SyncOptions,
        project_filter: ProjectFilter = lambda project: project,
        stop: threading.Event | None = None,
        guard: DeletionGuard | None = None,
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.metadata = metadata
        self.downloader = downloader
        self.publisher = publisher
        self.options = options
        self.project_filter = project_filter
        self.stop = stop or threading.Event()
        self.guard = guard or DeletionGuard(None)
        self.pruner = Pruner(storage, publisher, self.guard, options.prune_filtered)
        self.display_names: Mapping[ProjectName, str] = {}
        self.known_serials: Mapping[ProjectName, int] = {}
        """Serials the mirror already holds; a project fetched at one of them is skipped
        (set only when polling, where no feed said what changed)."""
        self._stripes = [threading.Lock() for _ in range(64)]
        self._queue: list[ProjectName] = []
        self._next = 0
        self._open: set[ProjectName] = set()

    # -- main thread ---------------------------------------------------------------------
    def run(
        self,
        todo: Mapping[ProjectName, int],
        on_done: Callable[[ProjectResult], None],
    ) -> list[ProjectName]:
        """Sync every project in ``todo``, in its order; call ``on_done`` (main thread) for
        each finished.

        Returns early, with in-flight work settled, when ``stop`` is set: then the projects
        never started are returned. Storage errors are fatal: they stop the run and
        propagate.
        """
        names = self._queue = list(todo)
        self._next, self._open = 0, set()
        files: deque[tuple[_Job, ReleaseFile]] = deque()
        inflight: dict[Future[object], tuple[_Job, ReleaseFile | None]] = {}
        fatal: BaseException | None = None
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="sync") as pool:
            while True:
                while len(inflight) < self.options.workers and not self.stop.is_set():
                    if files:
                        job, next_file = files.popleft()
                        inflight[pool.submit(self._file_task, next_file)] = (job, next_file)
                    elif self._next < len(names):
                        job = _Job(names[self._next], todo[names[self._next]])
                        self._next += 1
                        self._open.add(job.name)
                        task: Future[object]
                        task = pool.submit(self._metadata_task, job.name, job.expected)
                        inflight[task] = (job, None)
                    else:
                        break
                if not inflight:
                    break
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    job, rf = inflight.pop(future)
                    try:
                        result = self._settle(job, rf, future, files)
                    except StorageError as exc:
                        fatal = fatal or exc
                        self.stop.set()
                        continue
                    if result is not None:
                        self._open.discard(result.name)
                        on_done(result)
                        if result.failure and self.options.stop_on_error:
                            log.error("stop-on-error is set: stopping after %s", result.name)
                            self.stop.set()
        if fatal is not None:
            raise fatal
        return names[self._next :]

    def unfinished(self) -> list[ProjectName]:
        """During ``run``: the projects not reported done yet, started or not."""
        return [*self._open, *self._queue[self._next :]]

    def pending(self) -> int:
        """How many projects ``unfinished`` lists."""
        return len(self._open) + len(self._queue) - self._next

    def _settle(
        self,
        job: _Job,
        rf: ReleaseFile | None,
        future: Future[object],
        files: deque[tuple[_Job, ReleaseFile]],
    ) -> ProjectResult | None:
        """Account for one finished task; return the project's result once it is done."""
        try:
            value = future.result()
        except StorageError:
            raise
        except UpstreamError as exc:
            log.error("%s: %s", job.name, exc)
            return ProjectResult(job.name, job.name, job.expected, failure=str(exc))
        except Exception as exc:  # a bug or an unforeseen upstream answer: one project
            log.exception("%s: unexpected error", job.name)
            return ProjectResult(job.name, job.name, job.expected, failure=repr(exc))
        if rf is None:
            assert isinstance(value, _Fetched)
            if value.project is None:
                excluded = bool(value.upstream_paths)
                return self.pruner.remove(job.name, job.expected, excluded=excluded)
            if 0 < value.project.serial <= self.known_serials.get(job.name, -1):
                log.debug("%s: unchanged at serial %d", job.name, value.project.serial)
                return ProjectResult(job.name, value.project.display_name, value.project.serial)
            job.project = value.project
            job.upstream_paths = value.upstream_paths
            for filename, reason in value.project.refused:
                log.warning("%s: refused file %s: %s", job.name, filename, reason)
            if self.options.release_files:
                job.pending = len(value.project.files)
                files.extend((job, f) for f in value.project.files)
        else:
            assert isinstance(value, FileOutcome)
            job.outcomes.append(value)
            job.pending -= 1
            if value.error:
                log.error("%s: %s", job.name, value.error)
        if job.pending == 0:
            return self._finish(job)
        return None

    def _finish(self, job: _Job) -> ProjectResult:
        """Publish the pages of a project whose files are all settled, then delete the files
        its previous page listed that upstream (or, with prune-filtered, the filters) no
        longer keeps, within the deletion guard."""
        project = job.project
        assert project is not None
        stale = self.pruner.stale_files(project, job.upstream_paths)
        if not self.guard.take(len(stale)):
            reason = self.guard.refusal(f"deleting {len(stale)} files of {project.name}")
            log.error("%s: %s", project.name, reason)
            return ProjectResult(project.name, project.display_name, job.expected, failure=reason)
        if self.options.release_files:
            listed = tuple(PageFile(o.file, o.metadata_stored) for o in job.outcomes if o.stored)
        else:
            listed = tuple(PageFile(f, False) for f in project.files)
        display = self.display_names.get(project.name, project.display_name)
        page = SimplePage(project.name, display, project.serial, project.versions, listed)
        written = [p for o in job.outcomes for p in o.written]
        written += self.publisher.project_pages(page)
        if self.options.json_enabled and project.json_document is not None:
            written += self.publisher.json_document(project.name, project.json_document)
        deleted = self.publisher.delete_files(stale)
        errors = [o.error for o in job.outcomes if o.error]
        failure = None
        if errors:
            failure = f"{len(errors)} of {len(job.outcomes)} files failed; first: {errors[0]}"
        downloaded = sum(o.bytes_downloaded for o in job.outcomes)
        count = sum(o.files_downloaded for o in job.outcomes)
        log.info(
            "%s: synced serial %d, %d files (%d downloaded, %d bytes%s)%s",
            project.name, project.serial, len(listed), count, downloaded,
            f", {deleted} deleted" if deleted else "",
            f", {len(errors)} failed" if errors else "",
        )  # fmt: skip
        return ProjectResult(
            name=project.name,
            display_name=display,
            serial=project.serial,
            files_downloaded=count,
            bytes_downloaded=downloaded,
            failure=failure,
            written=tuple(written),
            published=True,
        )

    def prune(self, names: Iterable[ProjectName]) -> list[ProjectResult]:
        """Remove projects the name filters now exclude (main thread, no upstream request)."""
        return [self.pruner.remove(name, 0, excluded=True) for name in sorted(names)]

    # -- worker threads ------------------------------------------------------------------
    def _metadata_task(self, name: ProjectName, expected: int) -> _Fetched:
        try:
            project = self.metadata.fetch(self.sessions.get(), name, expected)
        except NotFound:
            return _Fetched(None, frozenset())
        paths = frozenset(f.path for f in project.files)
        return _Fetched(self.project_filter(project), paths)

    def _is_current(self, path: str, size: int, sha256: str) -> bool:
        if self.storage.size(path) != size:
            return False
        return self.options.compare_method == "stat" or self.storage.sha256(path) == sha256

    def _file_task(self, rf: ReleaseFile) -> FileOutcome:
        target = package_file(rf.path)
        session = self.sessions.get()
        with self._stripes[hash(target) % len(self._stripes)]:
            try:
                fetched = 0
                needed = not self._is_current(target, rf.size, rf.sha256)
                if needed:
                    urls = self.downloader.sources(rf.url, rf.path)
                    fetched = self.downloader.fetch(
                        session, self.storage, urls, target, rf.size, rf.sha256
                    )
            except UpstreamError as exc:
                return FileOutcome(rf, stored=False, metadata_stored=False, error=str(exc))
            written: tuple[str, ...] = (target,) if needed else ()
            meta_ok, meta_wrote, meta_bytes, meta_error = self._ensure_metadata(rf, target)
        if meta_wrote:
            written += (target + ".metadata",)
        return FileOutcome(
            rf,
            stored=True,
            metadata_stored=meta_ok,
            bytes_downloaded=fetched + meta_bytes,
            files_downloaded=1 if needed else 0,
            written=written,
            error=meta_error,
        )

    def _ensure_metadata(self, rf: ReleaseFile, target: str) -> tuple[bool, bool, int, str | None]:
        """(stored, written now, bytes downloaded, error) for the PEP 658 file of ``rf``."""
        expected = rf.core_metadata_sha256
        if not self.options.core_metadata or expected is None:
            return False, False, 0, None
        meta_target = target + ".metadata"
        if self.storage.sha256(meta_target) == expected:
            return True, False, 0, None
        if rf.filename.endswith(".whl"):
            with self.storage.open_read(target) as wheel:
                data = metadata_from_wheel(wheel, expected)
            if data is not None:
                self.storage.write_bytes(meta_target, data)
                return True, True, 0, None
        urls = [u + ".metadata" for u in self.downloader.sources(rf.url, rf.path)]
        try:
            fetched = self.downloader.fetch(
                self.sessions.get(), self.storage, urls, meta_target, None, expected
            )
        except NotFound as exc:
            # upstream advertises a file it does not serve: not advertising it is all the
            # mirror can do (retrying cannot help); clients then read the wheel itself
            log.warning("%s: advertised .metadata is missing upstream: %s", rf.filename, exc)
            return False, False, 0, None
        except UpstreamError as exc:
            return False, False, 0, f"{rf.filename}.metadata: {exc}"
        return True, True, fetched, None
