"""Metadata filters: keep or drop a whole project once its metadata is fetched.

``size_project_metadata`` (total size of every file of every release at most
``max_package_size``), ``versions_count_project_metadata`` (``min_versions`` <= number of
releases <= ``max_versions``) and ``regex_project_metadata`` (rules on ``info.*`` and
``last_serial``). The two size/count limits do not apply to projects named in
``[allowlist] packages``: that is how an operator makes exceptions. They judge the project
as upstream publishes it, before any release or file filter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..config import FilterConfig
from ..models import Project, ProjectName
from ..rules.matching import RegexRule

ProjectHook = Callable[[Project], bool]
"""project -> keep the project?"""


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
    enabled = set(config.enabled)
    hooks: list[ProjectHook] = []
    if "size_project_metadata" in enabled and config.max_package_size > 0:
        hooks.append(SizeLimit(config.max_package_size, config.allowlist_names))
    low, high = config.versions_count.min_versions, config.versions_count.max_versions
    if "versions_count_project_metadata" in enabled and (low or high):
        hooks.append(VersionsCount(low, high, config.allowlist_names))
    if "regex_project_metadata" in enabled and config.project_metadata:
        hooks.append(ProjectRegex(config.project_metadata))
    return tuple(hooks)
