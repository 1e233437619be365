"""The frozen records a config is read into, and the names of the filter plugins.

Defaults live in one place: the field defaults of the dataclasses below. The shipped
``default.conf`` documents every key and a test proves it parses to these defaults.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..models import ProjectName, SimpleFormat

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

logger = logging.getLogger("bandersnatch.config")  # the name the single-module config logged as

CompareMethod = Literal["hash", "stat"]
ChangeFeed = Literal["xmlrpc", "simple"]


@dataclass(frozen=True)
class MirrorConfig:
    directory: Path
    master: str = "https://pypi.org"
    json: bool = False
    release_files: bool = True
    core_metadata: bool = True
    timeout: float = 10.0
    global_timeout: float = 1800.0
    workers: int = 3
    verifiers: int = 3
    hash_index: bool = False
    simple_format: SimpleFormat = SimpleFormat.ALL
    stop_on_error: bool = False
    compare_method: CompareMethod = "hash"
    digest_name: str = "sha256"
    root_uri: str | None = None
    diff_file: Path | None = None
    diff_append_epoch: bool = False
    download_mirror: str | None = None
    download_mirror_no_fallback: bool = False
    allow_non_https: bool = False
    proxy: str | None = None
    log_config: Path | None = None
    storage_backend: str = "filesystem"
    cleanup: bool = False
    keep_index_versions: int = 0
    change_feed: ChangeFeed = "xmlrpc"
    cache_bust: bool = True
    max_deletions: int = 1000
    prune_filtered: bool = True
    retries: int = 3
    retry_backoff: float = 1.0
    file_hosts: tuple[tuple[str, int | None], ...] = (("files.pythonhosted.org", None),)
    manage_permissions: bool = True
    """Files 0644, directories 0755, state files 0600 whatever the umask (false: the umask
    decides), pypa/bandersnatch's ``storage-filesystem-manage-permissions``."""
    delete_missing_packages: bool = True
    """Projects upstream no longer has are removed (within ``max_deletions``)."""
    max_document_size: int = 256 * 1024 * 1024
    """The largest body read whole: a project document, an XML-RPC answer, the root index,
    a ``.metadata`` file (files are bounded by the size upstream advertises)."""
    """Hosts (and ports) file URLs may name, besides the master and download-mirror."""
    status_file: Path | None = Path("web/status.json")
    """The run report (``report.py``); relative to ``directory`` unless absolute; None: off."""
    metrics_file: Path | None = None
    """Prometheus text file for node_exporter (``metrics.py``); relative to ``directory``
    unless absolute; None: off."""

    @property
    def status_path(self) -> Path | None:
        return None if self.status_file is None else self.directory / self.status_file

    @property
    def metrics_path(self) -> Path | None:
        return None if self.metrics_file is None else self.directory / self.metrics_file


@dataclass(frozen=True)
class FilterConfig:
    """``[plugins]`` and the filter sections, validated but interpreted by ``filters/``."""

    enabled: tuple[str, ...] = ()
    allowlist_packages: tuple[str, ...] = ()
    """Raw allowlist lines (may carry PEP 508 specifiers)."""
    allowlist_names: frozenset[ProjectName] = frozenset()
    """Normalized project names from ``[allowlist] packages``."""
    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    """Every filter section's raw key/values, for the filter plugins to interpret."""
    enabled_all: bool = False
    """``[plugins] enabled`` says ``all``: an allowlist with nothing listed is then inert
    (enabled by name, it allows nothing)."""

    @property
    def allowlist_enabled(self) -> bool:
        return "allowlist_project" in self.enabled


@dataclass(frozen=True)
class Config:
    mirror: MirrorConfig
    filters: FilterConfig
    path: Path | None = None


KNOWN_PLUGINS: tuple[str, ...] = (
    "allowlist_project",
    "allowlist_release",
    "blocklist_project",
    "blocklist_release",
    "project_requirements",
    "project_requirements_pinned",
    "regex_project",
    "regex_release",
    "prerelease_release",
    "latest_release",
    "exclude_platform",
    "size_project_metadata",
    "versions_count_project_metadata",
    "regex_project_metadata",
    "regex_release_file_metadata",
    "version_range_release_file_metadata",
)
"""The built-in filter plugins; ``all`` expands to these plus the installed third-party ones."""

PLUGIN_GROUP = "bandersnatch.filters"
"""The entry-point group third-party filter plugins register in (see ``filters.plugins``)."""


def installed_plugins() -> dict[str, EntryPoint]:
    """Third-party filter plugins by name (a built-in name cannot be taken over)."""
    import importlib.metadata  # noqa: PLC0415 - only needed when plugins are asked for

    found: dict[str, EntryPoint] = {}
    for point in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        if point.name in KNOWN_PLUGINS:
            logger.warning("filter plugin %s from %s ignored: a built-in has that name",
                           point.name, point.value)  # fmt: skip
        elif point.name in found:
            logger.warning("filter plugin %s: %s ignored, using %s",
                           point.name, point.value, found[point.name].value)  # fmt: skip
        else:
            found[point.name] = point
    return found
