"""``bandersnatch delete NAME...``: remove projects from the mirror. Wiring only.

Under the lock, each project's pages go first (so no page links a missing file), then its
JSON copies, files and ``.metadata`` files; the ledger and root index are rewritten once at
the end. If a ``mirror`` run was interrupted, its journal records the deletion, so resuming
that run does not bring the project back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import filters, steps
from ..config import Config
from ..errors import ConfigError, Interrupted, UnsafePath, UsageError
from ..filters.requirements import file_pins
from ..journal import Progress, Todo
from ..layout import SIMPLE, check_project_name, simple_dir
from ..ledger import Ledger
from ..models import IndexEntry, Outcome, ProjectName, normalize
from ..runtime import Runtime
from ..site.prune import has_trace, stored_bytes, stored_files
from ..state import mirror_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeleteReport:
    removed: tuple[ProjectName, ...]
    unknown: tuple[str, ...]
    files: int
    bytes: int
    dry_run: bool
    still_allowed: tuple[ProjectName, ...]

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        lines = [
            f"delete: {verb} {len(self.removed)} projects ({self.files} files, "
            f"{self.bytes} bytes): {', '.join(self.removed) or 'none'}"
        ]
        if self.unknown:
            lines.append(f"not in this mirror (nothing removed): {', '.join(self.unknown)}")
        if self.still_allowed:
            names = ", ".join(self.still_allowed)
            lines.append(
                f"still allowed by the config: {names}. A deleted project comes back on a later "
                "'bandersnatch mirror' only if upstream changes it or with --force-check; to "
                "keep it out for good, add it to [blocklist] packages (with blocklist_project "
                "in [plugins] enabled)"
            )
        return lines


def wanted_names(names: Iterable[str], requirements: Iterable[Path]) -> list[str]:
    """The names given on the command line plus those in the requirements files."""
    wanted = list(names)
    for path in requirements:
        try:
            wanted += [pin.name for pin in file_pins(path)]
        except ConfigError as exc:  # the same reader the requirements filters use
            raise UsageError(f"requirements file {path}", exc.reason) from exc
    return wanted


def run(
    config: Config,
    names: Iterable[str],
    *,
    requirements: Iterable[Path] = (),
    dry_run: bool = False,
    stop: threading.Event,
) -> DeleteReport:
    requested = wanted_names(names, requirements)
    runtime = Runtime.build(config)  # a bad filter config stops us before we start
    accept = runtime.filters.keep_name
    with mirror_lock(runtime.storage):
        return _Deletion(runtime, dry_run, stop).execute(requested, accept)


@dataclass
class _Deletion:
    rt: Runtime
    dry_run: bool
    stop: threading.Event

    def execute(self, requested: list[str], accept: filters.NameFilter) -> DeleteReport:
        rt = self.rt
        steps.check_existing(rt)
        hash_index = rt.config.mirror.hash_index
        ledger, _rebuilt = steps.load_ledger(rt, journal=False)
        todo = rt.state.read_todo()
        removed, unknown, files, size = [], [], 0, 0
        for raw, name in _normalized(requested):
            if self.stop.is_set():
                break
            own = rt.publisher.own_root_uri
            paths = stored_files(rt.storage, name, hash_index, own) if name else []
            if name is None or not (
                name in ledger or paths or has_trace(rt.storage, name, hash_index)
            ):
                log.error("%s: not in this mirror; nothing removed for it", raw)
                unknown.append(raw)
                continue
            count, total = stored_bytes(rt.storage, paths)
            files, size = files + count, size + total
            verb = "would remove" if self.dry_run else "removing"
            log.info(
                "%s: %s %d files (%d bytes), its pages and JSON copies", name, verb, count, total
            )
            if not self.dry_run:
                entry = ledger.get(name)
                ledger.remove(name)
                self._remove(name, paths, entry, todo)
            removed.append(name)
        if removed and not self.dry_run:
            self._publish_root(ledger)
        if self.stop.is_set():
            raise Interrupted("a stop signal")
        allowed = tuple(n for n in removed if accept(n))
        return DeleteReport(tuple(removed), tuple(unknown), files, size, self.dry_run, allowed)

    def _remove(
        self, name: ProjectName, paths: list[str], entry: IndexEntry | None, todo: Todo | None
    ) -> None:
        publisher, state = self.rt.publisher, self.rt.state
        publisher.remove_project(name)  # pages, JSON copies, then the files the page listed
        publisher.delete_files(paths)  # and those only the stored metadata knew
        base = simple_dir(name, self.rt.config.mirror.hash_index)
        self.rt.storage.discard_partials(base)  # what a killed page write left behind
        self.rt.storage.remove_empty_dirs(base, SIMPLE)
        if todo is not None:
            serial = max(todo.target_serial, entry.serial if entry else 0)
            display = entry.display_name if entry else name
            state.append_progress(Progress(name, serial, display, Outcome.REMOVED))

    def _publish_root(self, ledger: Ledger) -> None:
        steps.publish_root(self.rt, ledger, steps.root_serial(self.rt, ledger.serials().values()))


def _normalized(requested: Iterable[str]) -> list[tuple[str, ProjectName | None]]:
    """(as given, normalized name or None when it is not a valid name), without repeats."""
    seen: set[str] = set()
    out: list[tuple[str, ProjectName | None]] = []
    for raw in requested:
        name: ProjectName | None = normalize(raw)
        try:
            check_project_name(normalize(raw))
        except UnsafePath:
            name = None
        key = name or raw
        if key not in seen:
            seen.add(key)
            out.append((raw, name))
    return out
