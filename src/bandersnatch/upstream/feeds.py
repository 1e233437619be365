"""The change feed behind one interface: PyPI's XML-RPC changelog, or the PEP 691 JSON root
index of any simple index (``[mirror] change-feed``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import BadUpstreamData, FeedUnavailable
from ..models import ProjectName
from ..planning import collect_changes, diff_snapshot
from .changelog import ChangelogClient
from .simple import SimpleFeed, Snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedResult:
    target: int
    """The serial the mirror reaches once every change is synced."""
    changes: dict[ProjectName, int]
    display_names: dict[ProjectName, str] = field(default_factory=dict)
    poll: bool = False
    """True when no feed told what changed: every listed project is asked for its serial,
    unchanged ones are skipped, and the target is the newest serial seen."""
    validator: str | None = None
    """For the mirror's state once this result is synced: what lets the next run ask the
    feed whether anything changed at all (the simple index's ``ETag``)."""


Mirrored = Callable[[], Mapping[ProjectName, int]]
"""The mirror's project serials, produced on demand (reading them costs O(mirror))."""


class ChangeFeed(Protocol):
    def listing(self, mirrored: Mirrored) -> FeedResult:
        """Every project upstream has (first sync, ``--force-check``), diffed against what
        the mirror holds."""

    def since(self, serial: int, mirrored: Mirrored, validator: str | None = None) -> FeedResult:
        """What changed upstream after ``serial``. ``mirrored`` is only called by a feed
        that needs the mirror's serials (the simple index); the changelog does not.
        ``validator``: a result's ``validator`` saved by the last complete run."""

    def last_serial(self) -> int:
        """The newest serial, without listing anything (the allowlist fast path)."""


class XmlRpcFeed:
    def __init__(self, client: ChangelogClient) -> None:
        self.client = client

    def last_serial(self) -> int:
        return self.client.last_serial()

    def listing(self, mirrored: Mirrored) -> FeedResult:
        target = self.client.last_serial()  # first: a change during listing is not missed
        listed = self.client.all_projects()
        changes = dict(zip(listed.names, listed.serials, strict=True))
        displays = {  # a display that is its normalized name shares that string (most are)
            name: name if display == name else display
            for name, display in zip(listed.names, listed.displays, strict=True)
        }
        del listed  # at PyPI's size every copy of the listing counts
        for name in mirrored().keys() - changes.keys():
            changes[name] = 0  # gone upstream: the sync confirms it before removing it
        return FeedResult(target, changes, displays)

    def since(self, serial: int, mirrored: Mirrored, validator: str | None = None) -> FeedResult:
        changes, target = collect_changes(self.client.changes_since(serial), serial)
        displays = self.client.display_names
        return FeedResult(target, changes, {n: displays[n] for n in changes if n in displays})


class SimpleIndexFeed:
    def __init__(self, feed: SimpleFeed) -> None:
        self.feed = feed

    def last_serial(self) -> int:
        return self.feed.snapshot().serial

    def listing(self, mirrored: Mirrored) -> FeedResult:
        return self._diff(self.feed.snapshot(), {n: -1 for n in mirrored()})

    def since(self, serial: int, mirrored: Mirrored, validator: str | None = None) -> FeedResult:
        snapshot = self.feed.snapshot(validator)
        if snapshot.unchanged:  # nothing changed since the last complete run
            return FeedResult(serial, {}, validator=validator)
        return self._diff(snapshot, mirrored())

    @staticmethod
    def _diff(snapshot: Snapshot, mirrored: Mapping[ProjectName, int]) -> FeedResult:
        serials = dict(zip(snapshot.names, snapshot.serials, strict=True))
        return FeedResult(
            snapshot.serial,
            diff_snapshot(serials, mirrored),
            dict(zip(snapshot.names, snapshot.displays, strict=True)),
            validator=snapshot.validator,
        )


class FallbackFeed:
    """The XML-RPC changelog, and for a run in which it is missing or answers something
    unusable (a fault, a document that does not parse, an entity bomb), the PEP 691 root
    index of the same upstream: PyPI serves both, with the same serials."""

    def __init__(self, primary: XmlRpcFeed, fallback: Callable[[], SimpleIndexFeed]) -> None:
        self.primary = primary
        self.fallback = fallback

    def last_serial(self) -> int:
        return self.primary.last_serial()

    def listing(self, mirrored: Mirrored) -> FeedResult:
        try:
            return self.primary.listing(mirrored)
        except (FeedUnavailable, BadUpstreamData) as exc:
            log.warning("%s; reading the PEP 691 root index instead for this run", exc)
            return self.fallback().listing(mirrored)

    def since(self, serial: int, mirrored: Mirrored, validator: str | None = None) -> FeedResult:
        try:
            return self.primary.since(serial, mirrored, validator)
        except (FeedUnavailable, BadUpstreamData) as exc:
            log.warning("%s; reading the PEP 691 root index instead for this run", exc)
            return self.fallback().since(serial, mirrored)


class AllowlistFeed:
    """The allowlist strategy: when the filters fix every project the mirror may hold,
    never download upstream's list of every project.

    With XML-RPC: its last serial (first sync) or changelog. Without it (``change-feed =
    simple``, whose root index *is* that list, or an upstream that serves no XML-RPC):
    poll each listed project."""

    def __init__(self, feed: ChangeFeed, names: frozenset[ProjectName], xmlrpc: bool) -> None:
        self.feed = feed
        self.names = names
        self.xmlrpc = xmlrpc

    def changes(self, mirrored: list[ProjectName], base: int | None, force: bool) -> FeedResult:
        """What to sync; ``mirrored``: the projects the mirror holds, ``base``: the serial
        it is at (None: never synced)."""
        names = self.names
        dropped = {n: 0 for n in mirrored if n not in names}
        if self.xmlrpc:
            try:
                if base is None or force:
                    return FeedResult(self.feed.last_serial(), dict.fromkeys(names, 0) | dropped)
                result = self.feed.since(base, dict)
            except (FeedUnavailable, BadUpstreamData) as exc:
                log.warning("%s; checking each allowlisted project instead", exc)
            else:
                held = set(mirrored)
                for name in names:
                    if name not in held:
                        result.changes.setdefault(name, 0)  # newly allowlisted: fetch it now
                return result
        return FeedResult(base or 0, dict.fromkeys(names, 0) | dropped, poll=not force)
