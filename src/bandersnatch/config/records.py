"""The frozen records a config is read into, and the names of the filter plugins.

Defaults live in one place: the field defaults of the dataclasses below. The shipped
``default.conf`` documents every key and a test proves it parses to these defaults.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from ..models import CompareMethod, FeedKind, ProjectName, SimpleFormat
from ..rules.matching import RegexRule, VersionRule
from ..rules.pins import PinLines
from ..rules.platforms import PlatformRule

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

logger = logging.getLogger("bandersnatch.config")  # the name the single-module config logged as


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
    compare_method: CompareMethod = CompareMethod.HASH
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
    change_feed: FeedKind = FeedKind.XMLRPC
    metadata_source: str | None = None
    """``json`` (the JSON API) or ``simple`` (PEP 691 pages: provenance and status are
    mirrored); None: the one the change feed implies (``json`` for ``xmlrpc``)."""
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
class Allowlist:
    """``[allowlist]``."""

    packages: PinLines = field(default_factory=PinLines)
    requirements_path: Path = Path(".")
    """What relative ``requirements`` names are relative to (default: the current
    directory, as pypa/bandersnatch reads them)."""
    requirements: tuple[str, ...] = ()
    """The requirements files (or globs) named, comments dropped, in order."""


@dataclass(frozen=True)
class Blocklist:
    """``[blocklist]``; ``platforms`` is read only when ``exclude_platform`` is enabled."""

    packages: PinLines = field(default_factory=PinLines)
    platforms: PlatformRule = field(default_factory=PlatformRule)


@dataclass(frozen=True)
class RegexFilter:
    """``[filter_regex]``: patterns on project names and on versions."""

    packages: tuple[re.Pattern[str], ...] = ()
    releases: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class LatestRelease:
    """``[latest_release]``: keep the ``keep`` newest releases (0 keeps all)."""

    keep: int = 0
    sort_by: Literal["version", "time"] = "version"


@dataclass(frozen=True)
class VersionsCount:
    """``[versions_count_project_metadata]`` (0: no limit)."""

    min_versions: int = 0
    max_versions: int = 0


@dataclass(frozen=True)
class FilterConfig:
    """``[plugins]`` and every filter section, each key parsed once into its typed value.

    Which of them apply is up to ``enabled`` (``filters`` asks). Values that are checked
    whatever is enabled are always here; those read only by one plugin (``[blocklist]
    platforms``, ``[filter_prerelease] packages``, the metadata rules) are parsed only when
    it is enabled, so a plugin that is off never stops a run with its settings."""

    enabled: tuple[str, ...] = ()
    enabled_all: bool = False
    """``[plugins] enabled`` says ``all``: an allowlist with nothing listed is then inert
    (enabled by name, it allows nothing)."""
    allowlist: Allowlist = Allowlist()
    blocklist: Blocklist = Blocklist()
    prerelease: PinLines = field(default_factory=PinLines)
    """``[filter_prerelease] packages`` (none: every project)."""
    regex: RegexFilter = RegexFilter()
    latest: LatestRelease = LatestRelease()
    max_package_size: int = 0
    """``[size_project_metadata] max_package_size`` in bytes (0: no limit)."""
    versions_count: VersionsCount = VersionsCount()
    project_metadata: tuple[RegexRule, ...] = ()
    """``[regex_project_metadata]``."""
    file_metadata: tuple[RegexRule | VersionRule, ...] = ()
    """``[regex_release_file_metadata]`` then ``[version_range_release_file_metadata]``."""
    written: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    """Every filter section (and enabled third-party plugin's section) as written, read
    only: what the filter fingerprint is taken from, and what a third-party plugin's
    factory is given."""

    @property
    def allowlist_packages(self) -> tuple[str, ...]:
        """``[allowlist] packages`` lines as written (may carry PEP 508 specifiers)."""
        return self.allowlist.packages.lines

    @property
    def allowlist_names(self) -> frozenset[ProjectName]:
        """Normalized project names from ``[allowlist] packages``."""
        return self.allowlist.packages.names

    @property
    def allowlist_enabled(self) -> bool:
        return "allowlist_project" in self.enabled


def frozen_sections(sections: Mapping[str, Mapping[str, str]]) -> Mapping[str, Mapping[str, str]]:
    """Sections as read-only mappings (``FilterConfig.written``)."""
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in sections.items()})


@dataclass(frozen=True)
class S3Config:
    """``[s3]``: where the bucket is and how to reach it (``storage.s3``)."""

    region_name: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    signature_version: str | None = None
    config_params: tuple[tuple[str, object], ...] = ()
    """``config_param_<name> = value`` pairs, for botocore's ``Config``."""
    lock_lease: int = 600
    """Seconds a run's lock object stays valid without renewal (renewed every third)."""
    allow_unconditional_lock: bool = False
    """Run on a store that ignores conditional writes, with a best-effort lock."""


@dataclass(frozen=True)
class Config:
    mirror: MirrorConfig
    filters: FilterConfig
    path: Path | None = None
    s3: S3Config | None = None
    """Set when ``[mirror] storage-backend = s3``."""


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
