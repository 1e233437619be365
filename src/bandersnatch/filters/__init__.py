"""Filter plugins: which projects, releases and files a partial mirror keeps.

The sixteen plugins of pypa/bandersnatch, with its config sections, one module per family:
``names`` (project filters by name), ``metadata`` (project filters on fetched metadata),
``releases`` and ``files`` (release filters and release-file filters); ``requirements``
reads requirements files, ``plugins`` loads third-party filters, ``pipeline`` composes them,
``fingerprint`` tells whether they changed. Every setting arrives parsed (``config``, with
the value grammars of ``rules``); nothing here parses config text. Every filter is pure: the
same config and project always give the same answer. See ``docs/filtering.md``.

``build`` makes the ``FilterSet`` the runtime holds (its ``keep_name`` decides from a
normalized name alone, before any request). Besides it:

- ``known_names``: every project the mirror may hold, when an allowlist fixes that up front
  (``None`` otherwise), so a run never needs upstream's list of every project;
- ``project_filter``: a fetched project as the mirror keeps it, or ``None`` when it is
  excluded entirely (by name or by a metadata filter);
- ``requirement_lines``: what the requirements files say, for telling whether filters changed;
- ``check_supported``: reads and checks every enabled filter's configuration (requirements
  files, patterns, sizes, platforms, third-party plugins); a ``ConfigError`` if anything is
  wrong, so a bad filter stops the run at start-up rather than mid-sync.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import PLUGIN_GROUP, FilterConfig
from ..models import Project, ProjectName
from .names import ALLOWLIST_FILES
from .pipeline import FilterSet, build
from .plugins import Plugin, PluginFactory
from .requirements import requirements_pins

__all__ = [
    "PLUGIN_GROUP",
    "FilterSet",
    "NameFilter",
    "Plugin",
    "PluginFactory",
    "ProjectFilter",
    "build",
    "check_supported",
    "known_names",
    "project_filter",
    "requirement_lines",
]

NameFilter = Callable[[ProjectName], bool]
"""normalized name -> may the mirror hold this project?"""
ProjectFilter = Callable[[Project], Project | None]
"""fetched project -> what the mirror keeps of it, or None: excluded entirely."""


def known_names(config: FilterConfig) -> frozenset[ProjectName] | None:
    """The complete set of projects the mirror may hold, when the config fixes it up front
    (an allowlist): then no run ever needs upstream's list of every project."""
    return build(config).known_names()


def project_filter(config: FilterConfig) -> ProjectFilter:
    return build(config).apply


def requirement_lines(config: FilterConfig) -> tuple[str, ...]:
    """What the requirements files say, normalized (``flask==2.0.1``), when a requirements
    plugin is enabled: a change here is a filter change even if the config file is the same.
    """
    if not set(config.enabled) & ALLOWLIST_FILES:
        return ()
    pins = requirements_pins(config.allowlist)
    return tuple(f"{pin.name}{pin.specifier}" for pin in pins)


def check_supported(config: FilterConfig) -> None:
    """Check every enabled filter's configuration; ``ConfigError`` names what is wrong."""
    build(config)
