"""Release filters: which versions of a project the mirror keeps.

``blocklist_release``, ``allowlist_release``, ``project_requirements_pinned``,
``prerelease_release``, ``regex_release`` and ``latest_release``, combined by
``ReleaseRules.select`` in this order:

1. ``blocklist_release`` (and third-party release filters) always apply.
2. When the requirements files pin the project (a line with a specifier) and
   ``project_requirements_pinned`` is enabled, exactly the pinned releases are kept: the
   operator named them, so no other release filter second-guesses it (as pypa/bandersnatch).
3. Otherwise every other filter applies; ``allowlist_release`` and
   ``project_requirements_pinned`` together form one release allowlist, the union of their
   lines for the project (a project neither names is not restricted by them).
4. ``latest_release`` ranks what is left and keeps ``keep`` releases, always including the
   project's current version (``info.version``) when it survived the other filters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

from packaging.version import InvalidVersion, Version

from ..config import FilterConfig
from ..models import Project, ProjectName
from ..rules.pins import Pin, group

ReleaseHook = Callable[[Project, str], bool]
"""(project, version) -> keep this release?"""

_LEGACY_PRERELEASE = tuple(
    re.compile(p) for p in (r".+rc\d+$", r".+a(lpha)?\d+$", r".+b(eta)?\d+$", r".+dev\d+$")
)
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def is_prerelease(version: str) -> bool:
    """PEP 440's answer; for a version it cannot parse, pypa/bandersnatch's patterns."""
    try:
        return Version(version).is_prerelease
    except InvalidVersion:
        return any(pattern.match(version) for pattern in _LEGACY_PRERELEASE)


def version_key(version: str) -> tuple[int, Version, str]:
    """PEP 440 order; versions it cannot parse rank below every valid one, by text."""
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, Version("0"), version)


def release_times(project: Project) -> dict[str, datetime]:
    """When each release was published: its earliest file upload (absent: unknown)."""
    times: dict[str, datetime] = {}
    for release_file in project.files:
        uploaded = _parse_time(release_file.upload_time)
        if uploaded is not None:
            earlier = times.get(release_file.version)
            times[release_file.version] = uploaded if earlier is None else min(earlier, uploaded)
    return times


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Latest:
    """``latest_release``: the ``keep`` newest releases (0 keeps all)."""

    keep: int
    sort_by: Literal["version", "time"] = "version"

    def select(self, project: Project, versions: Sequence[str]) -> list[str]:
        if self.keep <= 0 or len(versions) <= self.keep:
            return list(versions)
        if self.sort_by == "time":
            times = release_times(project)
            ranked = sorted(
                versions, key=lambda v: (times.get(v, _OLDEST), version_key(v)), reverse=True
            )
        else:
            ranked = sorted(versions, key=version_key, reverse=True)
        chosen = ranked[: self.keep]
        current = project.info.get("version")
        if isinstance(current, str) and current in versions and current not in chosen:
            chosen[-1] = current
        return [v for v in versions if v in chosen]


@dataclass(frozen=True)
class ReleaseRules:
    block: Mapping[ProjectName, tuple[Pin, ...]] = field(default_factory=dict)
    allow: Mapping[ProjectName, tuple[Pin, ...]] = field(default_factory=dict)
    pinned: Mapping[ProjectName, tuple[Pin, ...]] = field(default_factory=dict)
    prerelease: frozenset[ProjectName] | None = None
    """``prerelease_release`` enabled: the projects it covers (empty: every project)."""
    patterns: tuple[re.Pattern[str], ...] = ()
    latest: Latest | None = None
    hooks: tuple[ReleaseHook, ...] = ()

    @property
    def active(self) -> bool:
        return bool(
            self.block
            or self.allow
            or self.pinned
            or self.prerelease is not None
            or self.patterns
            or self.latest
            or self.hooks
        )

    def select(self, project: Project, versions: Sequence[str]) -> list[str]:
        """The releases kept, out of ``versions`` (in their order)."""
        blocked = self.block.get(project.name, ())
        kept = [
            v
            for v in versions
            if not any(pin.matches(v) for pin in blocked)
            and all(hook(project, v) for hook in self.hooks)
        ]
        pins = self.pinned.get(project.name)
        if pins:
            return [v for v in kept if any(pin.matches(v) for pin in pins)]
        kept = [v for v in kept if self._passes(project.name, v)]
        return self.latest.select(project, kept) if self.latest else kept

    def _passes(self, name: ProjectName, version: str) -> bool:
        allowed = self.allow.get(name)
        if allowed is not None and not any(pin.matches(version) for pin in allowed):
            return False
        if self._prerelease_applies(name) and is_prerelease(version):
            return False
        return not any(pattern.match(version) for pattern in self.patterns)

    def _prerelease_applies(self, name: ProjectName) -> bool:
        return self.prerelease is not None and (not self.prerelease or name in self.prerelease)


def release_rules(
    config: FilterConfig,
    packages: tuple[Pin, ...],
    files: tuple[Pin, ...],
    blocklist: tuple[Pin, ...],
    hooks: tuple[ReleaseHook, ...] = (),
) -> ReleaseRules:
    """The release rules of the enabled plugins (pins: allowlist, requirements, blocklist)."""
    enabled = set(config.enabled)
    allow_lines: tuple[Pin, ...] = ()
    if "allowlist_release" in enabled:
        allow_lines += packages
    pinned: dict[ProjectName, tuple[Pin, ...]] = {}
    if "project_requirements_pinned" in enabled:
        allow_lines += files
        by_name = group(files)
        pinned = {n: pins for n, pins in by_name.items() if any(p.pinned for p in pins)}
    prerelease = config.prerelease.names if "prerelease_release" in enabled else None
    latest = config.latest if "latest_release" in enabled else None
    return ReleaseRules(
        block=group(blocklist) if "blocklist_release" in enabled else {},
        allow=group(allow_lines),
        pinned=pinned,
        prerelease=prerelease,
        patterns=config.regex.releases if "regex_release" in enabled else (),
        latest=Latest(latest.keep, latest.sort_by) if latest and latest.keep > 0 else None,
        hooks=hooks,
    )
