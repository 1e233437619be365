"""Third-party filters, loaded from the ``bandersnatch.filters`` entry-point group.

An entry point's name is the plugin name operators list in ``[plugins] enabled``; it points
at a factory ``factory(section: Mapping[str, str]) -> Plugin`` that receives the raw
key/values of the config section of the same name (empty when there is none) and returns
the hooks it wants. Each hook answers "keep?"; a plugin sets only the ones it needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import KNOWN_PLUGINS, PLUGIN_GROUP, FilterConfig, installed_plugins
from ..errors import ConfigError
from ..models import Project, ProjectName, ReleaseFile

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plugin:
    """What a filter plugin contributes. Every hook returns True to keep, False to drop.

    ``keep_name`` runs before any request (a project it drops is never fetched);
    ``keep_project`` sees the fetched project as upstream publishes it (False drops it
    entirely); ``keep_release`` and ``keep_file`` trim it. Hooks must be pure: same input,
    same answer, no I/O.
    """

    keep_name: Callable[[ProjectName], bool] | None = None
    keep_project: Callable[[Project], bool] | None = None
    keep_release: Callable[[Project, str], bool] | None = None
    keep_file: Callable[[Project, ReleaseFile], bool] | None = None


PluginFactory = Callable[[Mapping[str, str]], Plugin]


def load_plugins(config: FilterConfig) -> tuple[Plugin, ...]:
    """The enabled third-party plugins, in ``[plugins] enabled`` order."""
    wanted = [name for name in config.enabled if name not in KNOWN_PLUGINS]
    if not wanted:
        return ()
    points = installed_plugins()
    plugins: list[Plugin] = []
    for name in wanted:
        point = points.get(name)
        if point is None:
            reason = f"no installed package provides it (entry-point group {PLUGIN_GROUP})"
            raise ConfigError("plugins", "enabled", name, reason)
        plugins.append(_instantiate(name, point, config.written.get(name, {})))
    return tuple(plugins)


def _instantiate(name: str, point: EntryPoint, section: Mapping[str, str]) -> Plugin:
    try:
        factory = point.load()
    except (ImportError, AttributeError) as exc:
        reason = f"cannot load {point.value}: {exc}"
        raise ConfigError("plugins", "enabled", name, reason) from exc
    if not callable(factory):
        raise ConfigError("plugins", "enabled", name, f"{point.value} is not callable")
    try:
        plugin = factory(dict(section))
    except ValueError as exc:
        raise ConfigError(name, None, None, str(exc)) from exc
    if not isinstance(plugin, Plugin):
        reason = f"{point.value} returned {type(plugin).__name__}, not a filters.Plugin"
        raise ConfigError("plugins", "enabled", name, reason)
    log.info("filter plugin %s loaded from %s", name, point.value)
    return plugin
