"""The thread pool that syncs projects, with parallelism per file rather than per project.

Workers run small tasks (fetch one project's metadata; ensure one file and its
``.metadata``; publish a project's pages once all its files are settled) and return
results; the main thread keeps the books and reports progress. At most ``workers``
tasks run at once, and each worker thread has its own HTTP session, so upstream never sees
more than ``workers`` connections.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial

from .core_metadata import metadata_from_wheel
from .errors import NotFound, StorageError, UnsafePath, UpstreamError
from .filters import ProjectFilter
from .layout import metadata_of, package_file, provenance_of
from .models import (
    API_PROVENANCE,
    CompareMethod,
    PageFile,
    Project,
    ProjectName,
    ProjectResult,
    ReleaseFile,
    SimplePage,
)
from .report import RunRecord
from .site.prune import DeletionGuard, Pruner
from .site.publish import Publisher
from .storage import Storage
from .upstream.download import Downloader
from .upstream.metadata import MetadataClient
from .upstream.session import SessionFactory

log = logging.getLogger(__name__)


KEEP_WHEEL = 1 << 20
"""A downloaded wheel up to this size stays in memory until its ``.metadata`` is taken
from it (at most ``workers`` of them at once), so the wheel is not read back from disk."""


@dataclass(frozen=True)
class SyncOptions:
    workers: int = 3
    release_files: bool = True
    core_metadata: bool = True
    compare_method: CompareMethod = CompareMethod.HASH
    json_enabled: bool = False
    stop_on_error: bool = False
    prune_filtered: bool = True
    delete_missing: bool = True


@dataclass(frozen=True)
class FileOutcome:
    file: ReleaseFile
    stored: bool
    metadata_stored: bool
    bytes_downloaded: int = 0
    files_downloaded: int = 0
    written: tuple[str, ...] = ()
    error: str | None = None
    refused: str | None = None
    """Why the mirror will not store this file at all (its path collides with another, or
    the filesystem cannot hold it): left off the page, not retried."""
    provenance_stored: bool = False
    provenance_error: str | None = None
    """Why the file's PEP 740 provenance could not be stored: logged, not a failure of the
    project (the file is listed without it, and the next sync of the project or ``verify``
    tries again)."""


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


_Key = tuple[_Job, "ReleaseFile | None"]
_Outcome = tuple[_Key, object, "BaseException | None"]


class _Workers:
    """``count`` threads running tasks from one queue and reporting each outcome on another:
    no Future per task, one hand-over each way."""

    def __init__(self, count: int) -> None:
        self.tasks: queue.SimpleQueue[tuple[_Key, Callable[[], object]] | None]
        self.tasks = queue.SimpleQueue()
        self.outcomes: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
        self.threads = [
            threading.Thread(target=self._work, name=f"sync-{n}", daemon=True) for n in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self) -> None:
        while (task := self.tasks.get()) is not None:
            key, call = task
            try:
                self.outcomes.put((key, call(), None))
            except BaseException as exc:
                self.outcomes.put((key, None, exc))

    def cancel_queued(self) -> int:
        """Drop the tasks no thread has started; returns how many."""
        dropped = 0
        with contextlib.suppress(queue.Empty):
            while True:
                self.tasks.get_nowait()
                dropped += 1
        return dropped

    def close(self) -> None:
        for _ in self.threads:
            self.tasks.put(None)
        for thread in self.threads:
            thread.join()


class _Tasks:
    """The work in flight: metadata tasks for projects, file tasks for their files, and a
    finishing task (its pages) for each project whose files are settled. Finishing first,
    then files, so a started project finishes before new ones begin.

    Twice as many tasks as threads are queued: the next task is already waiting when a
    worker finishes one, so no connection waits for the main thread to catch up."""

    def __init__(self, syncer: Syncer) -> None:
        self.syncer = syncer
        self.files: deque[tuple[_Job, ReleaseFile]] = deque()
        self.finishing: deque[_Job] = deque()
        self.inflight = 0
        self.depth = 2 * syncer.options.workers

    def submit(self, workers: _Workers) -> bool:
        """Top the queue up; False when nothing is left in flight (after a stop, once what
        had started has settled: tasks no thread started are dropped)."""
        stop = self.syncer.stop
        while self.inflight < self.depth and not stop.is_set():
            if self.finishing:
                job = self.finishing.popleft()
                workers.tasks.put(((job, None), partial(self.syncer.finish_task, job)))
            elif self.files:
                job, rf = self.files.popleft()
                known = job.project is not None and job.project.api_version >= API_PROVENANCE
                task = partial(self.syncer.file_task, rf, provenance_known=known)
                workers.tasks.put(((job, rf), task))
            elif (name := self.syncer.start_next()) is not None:
                serial = self.syncer.expected(name)
                call = partial(self.syncer.metadata_task, name, serial)
                workers.tasks.put(((_Job(name, serial), None), call))
            else:
                break
            self.inflight += 1
        if stop.is_set():
            self.inflight -= workers.cancel_queued()  # their projects stay in the todo
        return self.inflight > 0

    def finished(self, workers: _Workers) -> Iterator[_Outcome]:
        """Wait for at least one task to finish; yield every finished one."""
        batch = [workers.outcomes.get()]
        with contextlib.suppress(queue.Empty):
            while True:
                batch.append(workers.outcomes.get_nowait())
        self.inflight -= len(batch)
        yield from batch


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
        record: RunRecord | None = None,
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
        self.record = record or RunRecord("sync")
        """Counters the run report and the progress line read (main thread only)."""
        self.pruner = Pruner(publisher, self.guard, options.prune_filtered, options.delete_missing)
        self.display_names: Mapping[ProjectName, str] = {}
        self.known_serials: Mapping[ProjectName, int] = {}
        """Serials the mirror already holds; a project fetched at one of them is skipped
        (set only when polling, where no feed said what changed)."""
        self._stripes = [threading.Lock() for _ in range(64)]
        self._queue: list[ProjectName] = []
        self._todo: Mapping[ProjectName, int] = {}
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
        not finished (never started, or started and cut short) are returned. Storage errors
        are fatal: they stop the run and propagate.
        """
        self._queue, self._todo = list(todo), todo
        self.record.plan(len(todo))
        self._next, self._open = 0, set()
        tasks = _Tasks(self)
        fatal: BaseException | None = None
        workers = _Workers(self.options.workers)
        try:
            while tasks.submit(workers):
                for (job, rf), value, error in tasks.finished(workers):
                    try:
                        result = self._settle(job, rf, value, error, tasks)
                    except StorageError as exc:
                        fatal = fatal or exc
                        self.stop.set()
                        continue
                    if result is not None:
                        self._open.discard(result.name)
                        self.record.project_done(result)
                        on_done(result)
                        if result.failure and self.options.stop_on_error:
                            log.error("stop-on-error is set: stopping after %s", result.name)
                            self.stop.set()
        finally:
            workers.close()
        if fatal is not None:
            raise fatal
        return self.unfinished()

    def start_next(self) -> ProjectName | None:
        """The next project of the todo, now counted as started (None: all started)."""
        if self._next >= len(self._queue):
            return None
        name = self._queue[self._next]
        self._next += 1
        self._open.add(name)
        return name

    def expected(self, name: ProjectName) -> int:
        return self._todo[name]

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
        value: object,
        error: BaseException | None,
        tasks: _Tasks,
    ) -> ProjectResult | None:
        """Account for one finished task; return the project's result once it is done."""
        if error is not None:
            return self._failed(job, error)
        if isinstance(value, ProjectResult):  # its pages are published
            return value
        if rf is None:
            assert isinstance(value, _Fetched)
            done = self._fetched(job, value, tasks.files)
            if done is not None:
                return done
        else:
            assert isinstance(value, FileOutcome)
            job.outcomes.append(value)
            job.pending -= 1
            self.record.file_done(value.files_downloaded, value.bytes_downloaded)
            if value.error:
                log.error("%s: %s", job.name, value.error)
            if value.refused:
                log.warning("%s: refused file %s: %s", job.name, value.file.filename, value.refused)
            if value.provenance_error:
                log.warning(
                    "%s: provenance of %s not mirrored: %s",
                    job.name, value.file.filename, value.provenance_error,
                )  # fmt: skip
        if job.pending == 0:
            tasks.finishing.append(job)
        return None

    @staticmethod
    def _failed(job: _Job, error: BaseException) -> ProjectResult:
        """A task's error: the project's failure, or (the machine's own fault) the run's."""
        if isinstance(error, StorageError) or not isinstance(error, Exception):
            raise error
        if isinstance(error, UpstreamError | UnsafePath):
            log.error("%s: %s", job.name, error)
            return ProjectResult(job.name, job.name, job.expected, failure=str(error))
        # a bug or an unforeseen upstream answer: one project
        log.error("%s: unexpected error", job.name, exc_info=error)
        return ProjectResult(job.name, job.name, job.expected, failure=repr(error))

    def _fetched(
        self, job: _Job, value: _Fetched, files: deque[tuple[_Job, ReleaseFile]]
    ) -> ProjectResult | None:
        """A project's metadata arrived: queue its files, or settle it at once."""
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
        return None

    def finish_task(self, job: _Job) -> ProjectResult:
        """Publish the pages of a project whose files are all settled, then delete the files
        its previous page listed that upstream (or, with prune-filtered, the filters) no
        longer keeps, within the deletion guard.

        On a worker thread, not the main one: a page costs a handful of system calls, and
        a thread that gives up the GIL for each waits to get it back from the workers. On
        the main thread those waits held back every worker's next task: in a first sync of
        2,000 x 64 KiB files the workers sat with an empty queue 13-16% of their time, 2%
        with pages published here. A page that cannot be written where it belongs
        (``UnsafePath``) fails its project in ``_failed``."""
        project = job.project
        assert project is not None
        stale = self.pruner.stale_files(project, job.upstream_paths)
        if not self.guard.take(len(stale)):
            reason = self.guard.refusal(f"deleting {len(stale)} files of {project.name}")
            log.error("%s: %s", project.name, reason)
            return ProjectResult(project.name, project.display_name, job.expected, failure=reason)
        listed = None  # release-files = false: pages link upstream's files and provenance
        if self.options.release_files:
            listed = tuple(
                PageFile(o.file, o.metadata_stored, o.provenance_stored)
                for o in job.outcomes
                if o.stored
            )
        page = SimplePage.of(project, listed, self.display_names.get(project.name))
        display = page.display_name
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
            project.name, project.serial, len(page.files), count, downloaded,
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
    def metadata_task(self, name: ProjectName, expected: int) -> _Fetched:
        try:
            project = self.metadata.fetch(self.sessions.get(), name, expected)
        except NotFound:
            return _Fetched(None, frozenset())
        paths = frozenset(f.path for f in project.files)
        return _Fetched(self.project_filter(project), paths)

    def _is_current(self, path: str, size: int, sha256: str) -> bool:
        if self.storage.size(path) != size:
            return False
        return (
            self.options.compare_method is CompareMethod.STAT or self.storage.sha256(path) == sha256
        )

    def file_task(self, rf: ReleaseFile, *, provenance_known: bool = False) -> FileOutcome:
        """Ensure one file, its ``.metadata`` and its ``.provenance``. ``provenance_known``:
        the project's metadata says which files have a provenance (a PEP 691 page of API
        1.3 or later), so a stored one upstream no longer offers is deleted."""
        target = package_file(rf.path)
        session = self.sessions.get()
        with self._stripes[hash(target) % len(self._stripes)]:
            body: bytes | None = None
            try:
                fetched = 0
                needed = not self._is_current(target, rf.size, rf.sha256)
                if needed:
                    urls = self.downloader.sources(rf.url, rf.path)
                    keep = KEEP_WHEEL if self._wants_metadata(rf) else 0
                    download = self.downloader.fetch(
                        session, self.storage, urls, target, rf.size, rf.sha256, keep=keep
                    )
                    fetched, body = download.size, download.body
            except UpstreamError as exc:
                return FileOutcome(rf, stored=False, metadata_stored=False, error=str(exc))
            except UnsafePath as exc:
                why = exc.reason if exc.path == target else f"{exc.path}: {exc.reason}"
                return FileOutcome(rf, stored=False, metadata_stored=False, refused=why)
            written: tuple[str, ...] = (target,) if needed else ()
            meta_ok, meta_wrote, meta_bytes, meta_error = self._ensure_metadata(
                rf, target, body, fresh=needed
            )
            prov_ok, prov_bytes, prov_error = self._ensure_provenance(
                rf, target, fresh=needed, known=provenance_known
            )
        if meta_wrote:
            written += (metadata_of(target),)
        if prov_bytes:
            written += (provenance_of(target),)
        return FileOutcome(
            rf,
            stored=True,
            metadata_stored=meta_ok,
            bytes_downloaded=fetched + meta_bytes + prov_bytes,
            files_downloaded=1 if needed else 0,
            written=written,
            error=meta_error,
            provenance_stored=prov_ok,
            provenance_error=prov_error,
        )

    def _ensure_provenance(
        self, rf: ReleaseFile, target: str, *, fresh: bool, known: bool
    ) -> tuple[bool, int, str | None]:
        """(stored, bytes downloaded, error) for the PEP 740 provenance of ``rf``.

        No digest says whether a stored copy is current, so it is fetched once and kept;
        fetched again when the file itself was (re)downloaded now (``fresh``) or the copy is
        missing. A provenance upstream no longer offers is deleted."""
        prov_target = provenance_of(target)
        if rf.provenance_url is None:
            if known or fresh:  # the JSON API says nothing of provenance: keep what is stored
                self.storage.delete(prov_target)
            return False, 0, None
        if not fresh and self.storage.exists(prov_target):
            return True, 0, None
        try:
            size = self.downloader.fetch_provenance(
                self.sessions.get(), self.storage, rf.provenance_url, prov_target
            )
        except UpstreamError as exc:
            if fresh:  # a copy from before the file was re-downloaded is not its provenance
                self.storage.delete(prov_target)
            return False, 0, str(exc)
        return True, size, None

    def _wants_metadata(self, rf: ReleaseFile) -> bool:
        return self.options.core_metadata and rf.core_metadata_sha256 is not None

    def _ensure_metadata(
        self, rf: ReleaseFile, target: str, body: bytes | None, *, fresh: bool
    ) -> tuple[bool, bool, int, str | None]:
        """(stored, written now, bytes downloaded, error) for the PEP 658 file of ``rf``.

        For a wheel stored just now (``fresh``) the ``.metadata`` is taken from the wheel
        (from ``body`` when the download kept it) without looking for an older copy."""
        expected = rf.core_metadata_sha256
        if not self.options.core_metadata or expected is None:
            return False, False, 0, None
        meta_target = metadata_of(target)
        if not fresh and self.storage.sha256(meta_target) == expected:
            return True, False, 0, None
        if rf.filename.endswith(".whl"):
            if body is not None:
                data = metadata_from_wheel(io.BytesIO(body), expected)
            else:
                with self.storage.open_read(target) as wheel:
                    data = metadata_from_wheel(wheel, expected)
            if data is not None:
                self.storage.write_bytes(meta_target, data)
                return True, True, 0, None
        urls = [metadata_of(u) for u in self.downloader.sources(rf.url, rf.path)]
        try:
            fetched = self.downloader.fetch(
                self.sessions.get(), self.storage, urls, meta_target, None, expected
            ).size
        except NotFound as exc:
            # upstream advertises a file it does not serve: not advertising it is all the
            # mirror can do (retrying cannot help); clients then read the wheel itself
            log.warning("%s: advertised .metadata is missing upstream: %s", rf.filename, exc)
            return False, False, 0, None
        except UpstreamError as exc:
            return False, False, 0, f"{rf.filename}.metadata: {exc}"
        return True, True, fetched, None
