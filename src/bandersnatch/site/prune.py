"""Removing from the mirror, safely: the deletion guard, files a project no longer lists,
whole projects upstream removed or the filters now exclude, and what deleting a project
must remove.

A project's files are the union of what its pages list and what its stored metadata
(``web/json/<name>``) lists, so a project whose page is damaged still leaves no file behind.

Nothing here runs on the strength of a stale or failed answer: callers only get here with
fresh, serial-checked metadata or a 404 that upstream's origin confirmed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from ..errors import BadUpstreamData
from ..layout import LEAVES, json_paths, metadata_of, package_file, provenance_of, simple_dir
from ..models import Project, ProjectName, ProjectResult
from ..storage import Storage
from .publish import Publisher
from .readback import ProjectPages, stored_project

log = logging.getLogger(__name__)


class DeletionGuard:
    """Caps how many files and projects one run may delete (``max-deletions``), so a broken
    upstream can never empty the mirror. ``None`` means no cap (``--allow-deletions``)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0
        self.refused = 0
        self._lock = threading.Lock()  # projects are finished on the sync worker threads

    def take(self, count: int) -> bool:
        if count == 0:
            return True
        with self._lock:
            if self.limit is not None and self.used + count > self.limit:
                self.refused += count
                return False
            self.used += count
            return True

    def refusal(self, what: str) -> str:
        return (
            f"deletion guard: {what} would exceed max-deletions = {self.limit} for this run; "
            "nothing was deleted for it. If upstream really deleted this much, run again "
            "with --allow-deletions"
        )


class Pruner:
    def __init__(
        self,
        publisher: Publisher,
        guard: DeletionGuard,
        prune_filtered: bool,
        delete_missing: bool = True,
    ) -> None:
        self.publisher = publisher
        self.guard = guard
        self.prune_filtered = prune_filtered
        self.delete_missing = delete_missing

    def stale_files(self, project: Project, upstream_paths: frozenset[str]) -> list[str]:
        """Files the project's current page lists that its new page will not. With
        prune-filtered off, files upstream still has (but filters now drop) are kept."""
        old = self.publisher.listing(project.name) or ()
        keep = {package_file(f.path) for f in project.files}
        if not self.prune_filtered:
            keep |= {package_file(p) for p in upstream_paths}
        return [f.path for f in old if f.path not in keep]

    def remove(self, name: ProjectName, expected: int, *, excluded: bool) -> ProjectResult:
        """Upstream confirmed it has no releases (or a filter now excludes the project):
        remove it from the mirror, within the guard."""
        if excluded and not self.prune_filtered:
            log.info("%s: excluded by filters; kept as is (prune-filtered = false)", name)
            return ProjectResult(name, name, expected)
        if not excluded and not self.delete_missing:
            log.info("%s: removed upstream; kept as is (delete_missing_packages = false)", name)
            return ProjectResult(name, name, expected)
        listed = self.publisher.listing(name)
        if listed is None:
            why = "excluded by filters" if excluded else "upstream has no releases"
            log.info("%s: %s; nothing to mirror", name, why)
            return ProjectResult(name, name, expected, removed=True)
        if not self.guard.take(len(listed) + 1):
            reason = self.guard.refusal(f"removing {name} and its {len(listed)} files")
            log.error("%s: %s", name, reason)
            return ProjectResult(name, name, expected, failure=reason)
        deleted = self.publisher.remove_project(name)
        why = "excluded by filters" if excluded else "removed upstream"
        log.info("%s: %s; removed from the mirror with %d files", name, why, deleted)
        return ProjectResult(name, name, expected, removed=True)


def stored_files(
    storage: Storage, name: ProjectName, hash_index: bool, root_uri: str | None = None
) -> list[str]:
    """``web/packages/...`` paths the project's pages or stored metadata list."""
    paths = ProjectPages.of(storage, name, hash_index, root_uri).every_file()
    raw = storage.read_bytes(json_paths(name)[0])
    if raw is not None:
        try:
            project = stored_project(name, raw)
        except (ValueError, BadUpstreamData):
            project = None
        if project is not None:
            paths.update(package_file(f.path) for f in project.files)
    return sorted(paths)


def has_trace(storage: Storage, name: ProjectName, hash_index: bool) -> bool:
    """True when the project has a page or a stored JSON document."""
    base = simple_dir(name, hash_index)
    pages = (f"{base}/{leaf}" for leaf in LEAVES)
    return any(storage.exists(p) for p in (*pages, *json_paths(name)))


def stored_bytes(storage: Storage, paths: Iterable[str]) -> tuple[int, int]:
    """(files, bytes) stored for these paths, ``.metadata`` and ``.provenance`` included."""
    count = total = 0
    for path in paths:
        for candidate in (path, metadata_of(path), provenance_of(path)):
            size = storage.size(candidate)
            if size is not None:
                count += 1
                total += size
    return count, total
