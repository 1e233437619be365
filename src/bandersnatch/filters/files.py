"""Release-file filters on metadata: which files of the kept releases the mirror stores.

``regex_release_file_metadata`` and ``version_range_release_file_metadata`` (``exclude_platform``
lives in ``platforms``). Keys read ``info.*`` (the project), ``release`` (the version) and
``release_file.*``: the file as the JSON API describes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..config import FilterConfig
from ..models import Project, ReleaseFile
from .matching import RegexRule, VersionRule, regex_rules, version_rules
from .platforms import parse_platforms

FileHook = Callable[[Project, ReleaseFile], bool]
"""(project, file) -> keep the file?"""

FILE_FIELDS = frozenset(
    {
        "filename",
        "url",
        "packagetype",
        "python_version",
        "size",
        "digests",
        "md5_digest",
        "requires_python",
        "yanked",
        "yanked_reason",
        "upload_time",
        "upload_time_iso_8601",
    }
)
"""The ``release_file`` fields a key can read (JSON API names)."""
FILE_ROOTS: Mapping[str, frozenset[str] | None] = {
    "info": None,
    "release": None,
    "release_file": FILE_FIELDS,
}


def file_document(project: Project, release_file: ReleaseFile) -> Mapping[str, object]:
    """The file as pypa/bandersnatch's release-file filters see it."""
    uploaded = release_file.upload_time
    described: dict[str, object] = {
        "filename": release_file.filename,
        "url": release_file.url,
        "packagetype": release_file.packagetype,
        "python_version": release_file.python_version,
        "size": release_file.size,
        "digests": MappingProxyType(dict(release_file.digests)),
        "md5_digest": release_file.digests.get("md5"),
        "requires_python": release_file.requires_python,
        "yanked": release_file.yanked,
        "yanked_reason": release_file.yanked_reason,
        "upload_time": uploaded[:19] if uploaded else None,
        "upload_time_iso_8601": uploaded,
    }
    return {"info": project.info, "release": release_file.version, "release_file": described}


@dataclass(frozen=True)
class FileRules:
    rules: tuple[RegexRule | VersionRule, ...]

    def __call__(self, project: Project, release_file: ReleaseFile) -> bool:
        doc = file_document(project, release_file)
        return all(rule.passes(doc) for rule in self.rules)


def file_hooks(config: FilterConfig) -> tuple[FileHook, ...]:
    """The release-file filters the config enables and configures."""
    enabled, sections = set(config.enabled), config.sections
    hooks: list[FileHook] = []
    if "exclude_platform" in enabled:
        rule = parse_platforms(sections.get("blocklist", {}).get("platforms", ""))
        if rule:
            hooks.append(lambda _project, release_file: rule.keep(release_file))
    rules: list[RegexRule | VersionRule] = []
    if "regex_release_file_metadata" in enabled:
        section = sections.get("regex_release_file_metadata", {})
        rules += regex_rules("regex_release_file_metadata", section, FILE_ROOTS)
    if "version_range_release_file_metadata" in enabled:
        section = sections.get("version_range_release_file_metadata", {})
        rules += version_rules("version_range_release_file_metadata", section, FILE_ROOTS)
    if rules:
        hooks.append(FileRules(tuple(rules)))
    return tuple(hooks)
