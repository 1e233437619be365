"""Pure planning: (status, saved todo, journal, upstream changes, filters) -> SyncPlan."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from .models import ProjectName, SyncPlan

NameFilter = Callable[[ProjectName], bool]


def collect_changes(
    pages: Iterable[tuple[Sequence[ProjectName], Sequence[int]]], base: int
) -> tuple[dict[ProjectName, int], int]:
    """Changelog pages of (names, serials) -> ({project: newest serial}, newest serial seen
    or ``base``). A page in ascending order (as PyPI sends them) is taken in one C-level
    update: a million events are seconds of work otherwise."""
    changes: dict[ProjectName, int] = {}
    target = base
    for names, serials in pages:
        if list(serials) == sorted(serials) and (not serials or serials[0] >= target):
            changes.update(zip(names, serials, strict=True))
        else:
            for name, serial in zip(names, serials, strict=True):
                changes[name] = max(serial, changes.get(name, 0))
        target = max(target, *serials) if serials else target
    return changes, target


def make_plan(
    target: int,
    changes: Mapping[ProjectName, int],
    saved: Mapping[ProjectName, int],
    finished: Mapping[ProjectName, int],
    accept: NameFilter,
) -> SyncPlan:
    """Everything still owed from a saved todo plus everything that changed upstream, in
    name order (the order projects are synced in).

    ``finished`` holds projects a previous, interrupted run already completed (with the
    serial it reached); they are skipped unless upstream has changed them again since.
    A project's serial is the highest any source promised. The target stays the serial
    the feed was read at, even if some project is newer: status must never skip a change.
    """
    projects: dict[ProjectName, int] = {}
    for name, serial in saved.items():
        if finished.get(name, -1) >= serial:
            continue
        projects[name] = serial
    for name, serial in changes.items():
        if finished.get(name, -1) >= serial and name not in projects:
            continue
        projects[name] = max(serial, projects.get(name, 0))
    kept = sorted(name for name in projects if accept(name))
    return SyncPlan(target, dict(zip(kept, map(projects.__getitem__, kept), strict=True)))


def diff_snapshot(
    listed: Mapping[ProjectName, int], mirrored: Mapping[ProjectName, int]
) -> dict[ProjectName, int]:
    """Projects to sync from a full listing of upstream serials (the simple-index feed, or
    ``--force-check``): new or newer upstream, plus mirrored projects upstream no longer
    lists (serial 0: the sync then confirms the removal with upstream before deleting)."""
    changes = {name: serial for name, serial in listed.items() if serial > mirrored.get(name, -1)}
    for name in mirrored.keys() - listed.keys():
        changes[name] = 0
    return changes


def fingerprint(parts: Iterable[str]) -> str:
    """A stable digest of the filter config, to notice when an operator changes it."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()
