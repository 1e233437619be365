"""Filter plugins: which projects, releases and files a partial mirror keeps.

``name_filter`` decides from a project name alone (it runs before any metadata request);
``project_filter`` trims a fetched project's releases and files.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import FilterConfig
from ..errors import ConfigError
from ..models import Project, ProjectName

NameFilter = Callable[[ProjectName], bool]
ProjectFilter = Callable[[Project], Project]


def name_filter(config: FilterConfig) -> NameFilter:
    if config.allowlist_enabled:
        allowed = config.allowlist_names
        return lambda name: name in allowed
    return lambda name: True


def known_names(config: FilterConfig) -> frozenset[ProjectName] | None:
    """The complete set of projects the mirror may hold, when the config fixes it up front
    (an allowlist): then no run ever needs upstream's list of every project."""
    if config.allowlist_enabled:
        return config.allowlist_names
    return None


def project_filter(config: FilterConfig) -> ProjectFilter:
    return lambda project: project


SUPPORTED = frozenset({"allowlist_project"})


def check_supported(config: FilterConfig) -> None:
    """Refuse, loudly, a plugin this version cannot apply yet (never filter silently wrong)."""
    for plugin in config.enabled:
        if plugin not in SUPPORTED:
            raise ConfigError(
                "plugins", "enabled", plugin, "this filter plugin is not available yet"
            )
