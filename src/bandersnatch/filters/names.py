"""Project filters that decide from a name alone, before any request.

``allowlist_project``, ``project_requirements``, ``blocklist_project`` and ``regex_project``.
The allowlist is one set: the union of ``[allowlist] packages`` (when ``allowlist_project``
or ``allowlist_release`` is enabled) and the requirements files (when
``project_requirements`` or ``project_requirements_pinned`` is enabled). A name must be in it
(when any of those is enabled; with ``enabled = all`` only a list with entries counts, as
pypa/bandersnatch does), must not be blocklisted, and must match no ``regex_project``
pattern. Names are normalized on both sides; patterns are tried on the normalized name and,
once the project is fetched, on its display name too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import FilterConfig
from ..models import ProjectName
from ..rules.pins import Pin

ALLOWLIST_PACKAGES = frozenset({"allowlist_project", "allowlist_release"})
"""Plugins that make ``[allowlist] packages`` an allowlist of projects."""
ALLOWLIST_FILES = frozenset({"project_requirements", "project_requirements_pinned"})
"""Plugins that make the requirements files an allowlist of projects."""


@dataclass(frozen=True)
class NameRules:
    allowed: frozenset[ProjectName] | None
    """Only these projects (None: no allowlist plugin is enabled)."""
    blocked: frozenset[ProjectName] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()

    def keep(self, name: ProjectName) -> bool:
        if self.allowed is not None and name not in self.allowed:
            return False
        return name not in self.blocked and not self.matches_pattern(name)

    def matches_pattern(self, text: str) -> bool:
        return any(pattern.match(text) for pattern in self.patterns)

    def known(self) -> frozenset[ProjectName] | None:
        """Every name that can pass, when an allowlist makes that a finite set."""
        if self.allowed is None:
            return None
        return frozenset(name for name in self.allowed if self.keep(name))


def name_rules(config: FilterConfig, packages: Iterable[Pin], files: Iterable[Pin]) -> NameRules:
    """The name rules of the enabled plugins; ``files``: the requirements files' pins."""
    enabled = set(config.enabled)
    packages, files = tuple(packages), tuple(files)
    by_packages = bool(enabled & ALLOWLIST_PACKAGES) and not (config.enabled_all and not packages)
    by_files = bool(enabled & ALLOWLIST_FILES) and not (config.enabled_all and not files)
    allowed: set[ProjectName] | None = None
    if by_packages or by_files:
        allowed = set()
        if by_packages:
            allowed.update(pin.name for pin in packages)
        if by_files:
            allowed.update(pin.name for pin in files)
    blocked: frozenset[ProjectName] = frozenset()
    if "blocklist_project" in enabled:
        blocked = frozenset(p.name for p in config.blocklist.packages.pins if not p.pinned)
    return NameRules(
        allowed=None if allowed is None else frozenset(allowed),
        blocked=blocked,
        patterns=config.regex.packages if "regex_project" in enabled else (),
    )
