"""Metadata filters: keep or drop a whole project once its metadata is fetched.

``size_project_metadata`` (total size of every file of every release at most
``max_package_size``), ``versions_count_project_metadata`` (``min_versions`` <= number of
releases <= ``max_versions``) and ``regex_project_metadata`` (rules on ``info.*`` and
``last_serial``). The two size/count limits do not apply to projects named in
``[allowlist] packages``: that is how an operator makes exceptions. They judge the project
as upstream publishes it, before any release or file filter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..config import FilterConfig
from ..config.values import byte_size
from ..errors import ConfigError
from ..models import Project, ProjectName
from .matching import RegexRule, regex_rules

ProjectHook = Callable[[Project], bool]
"""project -> keep the project?"""

PROJECT_ROOTS: Mapping[str, frozenset[str] | None] = {"info": None, "last_serial": None}
"""What ``regex_project_metadata`` keys can read."""


def parse_size(text: str) -> int:
    """A size in the config's one grammar (``config.values.byte_size``), in bytes."""
    return byte_size(text)


@dataclass(frozen=True)
class SizeLimit:
    max_bytes: int
    exempt: frozenset[ProjectName]

    def __call__(self, project: Project) -> bool:
        if project.name in self.exempt:
            return True
        return sum(f.size for f in project.files) <= self.max_bytes


@dataclass(frozen=True)
class VersionsCount:
    min_versions: int
    max_versions: int
    """0: no upper limit."""
    exempt: frozenset[ProjectName]

    def __call__(self, project: Project) -> bool:
        if project.name in self.exempt:
            return True
        count = len(project.versions)
        return count >= self.min_versions and (self.max_versions == 0 or count <= self.max_versions)


SIMPLE_PAGE_HOOKS = (SizeLimit, VersionsCount)
"""The metadata filters a PEP 691 page has the data for (sizes, versions)."""


@dataclass(frozen=True)
class ProjectRegex:
    rules: tuple[RegexRule, ...]

    def __call__(self, project: Project) -> bool:
        doc = {"info": project.info, "last_serial": project.serial}
        return all(rule.passes(doc) for rule in self.rules)


def project_hooks(config: FilterConfig) -> tuple[ProjectHook, ...]:
    """The metadata filters the config enables and configures."""
    enabled, sections = set(config.enabled), config.sections
    hooks: list[ProjectHook] = []
    if "size_project_metadata" in enabled:
        raw = sections.get("size_project_metadata", {}).get("max_package_size", "").strip()
        limit = parse_size(raw) if raw else 0
        if limit > 0:
            hooks.append(SizeLimit(limit, config.allowlist_names))
    if "versions_count_project_metadata" in enabled:
        count = _versions_count(config, sections.get("versions_count_project_metadata", {}))
        if count is not None:
            hooks.append(count)
    if "regex_project_metadata" in enabled:
        section = sections.get("regex_project_metadata", {})
        rules = regex_rules("regex_project_metadata", section, PROJECT_ROOTS)
        if rules:
            hooks.append(ProjectRegex(rules))
    return tuple(hooks)


def _versions_count(config: FilterConfig, section: Mapping[str, str]) -> VersionsCount | None:
    low = int(section.get("min_versions", "").strip() or "0")
    high = int(section.get("max_versions", "").strip() or "0")
    if high and low > high:
        reason = f"min_versions = {low} is greater than max_versions = {high}"
        raise ConfigError("versions_count_project_metadata", "min_versions", str(low), reason)
    if not low and not high:
        return None
    return VersionsCount(low, high, config.allowlist_names)
