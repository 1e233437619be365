"""Pure planning: (status, saved todo, journal, upstream changes, filters) -> SyncPlan."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import compress, repeat

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
    saved: Iterable[tuple[Sequence[ProjectName], Sequence[int]]],
    finished: Mapping[ProjectName, int],
    accept: NameFilter | None,
) -> SyncPlan:
    """Everything still owed from a saved todo (chunks of names and serials) plus everything
    that changed upstream, in name order (the order projects are synced in).

    ``finished`` holds projects a previous, interrupted run already completed (with the
    serial it reached); they are skipped unless upstream has changed them again since.
    A project's serial is the highest any source promised. The target stays the serial
    the feed was read at, even if some project is newer: status must never skip a change.
    ``accept`` None keeps every name.
    """
    projects: dict[ProjectName, int] = {}
    for names, serials in saved:
        projects.update(_not_done(names, serials, finished))
    fresh = _not_done(list(changes), list(changes.values()), finished) if finished else changes
    chosen: Mapping[ProjectName, int] = projects
    if projects:
        for name, serial in changes.items():
            if name in projects or name in fresh:
                projects[name] = max(serial, projects.get(name, 0))
    else:
        chosen = fresh  # only read from here on: a copy would be 30 MiB more at 700k
    if accept is not None:
        chosen = {name: serial for name, serial in chosen.items() if accept(name)}
    names = sorted(chosen)
    return SyncPlan(target, dict(zip(names, map(chosen.__getitem__, names), strict=True)))


def _not_done(
    names: Sequence[ProjectName], serials: Sequence[int], finished: Mapping[ProjectName, int]
) -> dict[ProjectName, int]:
    """The projects not finished at their serial or newer, without a Python loop per
    project (a resumed first sync checks 700k of them)."""
    if not finished:
        return dict(zip(names, serials, strict=True))
    keep = list(map(int.__lt__, map(finished.get, names, repeat(-1)), serials))
    return dict(zip(compress(names, keep), compress(serials, keep), strict=True))


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
