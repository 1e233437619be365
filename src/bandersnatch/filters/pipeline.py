"""The enabled filters as one pure function of a project, built once from the config.

Order, for a fetched project:

1. name rules (the same ones ``FilterSet.keep_name`` applies before fetching, plus the
   ``regex_project`` patterns tried on the display name) and metadata filters: a project
   that fails one is excluded entirely (``None``);
2. release-file filters drop files;
3. a release left without files is dropped, then the release filters choose among the rest
   (so ``latest_release`` keeps the newest releases that still have a file here);
4. the result lists exactly the files of the kept releases, and ``versions`` exactly the
   kept releases, in upstream order.

With no release or file filter enabled a project passes unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..config import FilterConfig
from ..models import Project, ProjectName
from ..rules.pins import Pin
from .files import FileHook, file_hooks
from .metadata import SIMPLE_PAGE_HOOKS, ProjectHook, project_hooks
from .names import ALLOWLIST_FILES, NameRules, name_rules
from .plugins import load_plugins
from .releases import ReleaseRules, release_rules
from .requirements import requirements_pins

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FilterSet:
    names: NameRules
    name_hooks: tuple[Callable[[ProjectName], bool], ...] = ()
    projects: tuple[ProjectHook, ...] = ()
    releases: ReleaseRules = field(default_factory=ReleaseRules)
    files: tuple[FileHook, ...] = ()
    needs_json_api: bool = False
    """A filter reads what only the JSON API carries (``info``, a file's ``packagetype``,
    ``python_version`` or release version; a PEP 691 page only has versions parsed from
    filenames): project metadata must then come from the JSON API, not the PEP 691 page."""

    def keep_name(self, name: ProjectName) -> bool:
        return self.names.keep(name) and all(hook(name) for hook in self.name_hooks)

    @property
    def keeps_every_name(self) -> bool:
        """No name filter is active: planning need not ask ``keep_name`` 700k times."""
        n = self.names
        return n.allowed is None and not n.blocked and not n.patterns and not self.name_hooks

    def known_names(self) -> frozenset[ProjectName] | None:
        known = self.names.known()
        return None if known is None else frozenset(n for n in known if self.keep_name(n))

    def apply(self, project: Project) -> Project | None:
        """The project as the mirror keeps it; None when a filter excludes it entirely."""
        if not self.keep_name(project.name) or self.names.matches_pattern(project.display_name):
            log.debug("%s: excluded by name", project.name)
            return None
        if not all(hook(project) for hook in self.projects):
            log.info("%s: excluded by a metadata filter", project.name)
            return None
        if not self.files and not self.releases.active:
            return project
        files = [f for f in project.files if all(hook(project, f) for hook in self.files)]
        with_files = {f.version for f in files}
        candidates = [v for v in project.versions if v in with_files]
        kept = set(self.releases.select(project, candidates))
        versions = tuple(v for v in project.versions if v in kept)
        kept_files = tuple(f for f in files if f.version in kept)
        log.debug(
            "%s: filters keep %d of %d releases, %d of %d files",
            project.name, len(versions), len(project.versions),
            len(kept_files), len(project.files),
        )  # fmt: skip
        return replace(project, versions=versions, files=kept_files)


def build(config: FilterConfig) -> FilterSet:
    """Read and check every enabled filter's configuration (``ConfigError`` if bad).

    Reads the requirements files, and loads third-party plugins from their entry points.
    """
    enabled = set(config.enabled)
    packages = config.allowlist.packages.pins
    blocklist = config.blocklist.packages.pins
    files: tuple[Pin, ...] = ()
    if enabled & ALLOWLIST_FILES:
        files = requirements_pins(config.allowlist)
    plugins = load_plugins(config)
    projects = (*project_hooks(config), *(p.keep_project for p in plugins if p.keep_project))
    file_filters = (*file_hooks(config), *(p.keep_file for p in plugins if p.keep_file))
    releases = release_rules(
        config,
        packages,
        files,
        blocklist,
        hooks=tuple(p.keep_release for p in plugins if p.keep_release),
    )
    return FilterSet(
        names=name_rules(config, packages, files),
        name_hooks=tuple(p.keep_name for p in plugins if p.keep_name),
        projects=projects,
        releases=releases,
        files=file_filters,
        needs_json_api=bool(
            file_filters
            or releases.active  # a release's version must be upstream's, not the filename's
            or any(not isinstance(hook, SIMPLE_PAGE_HOOKS) for hook in projects)
        ),
    )
