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
from ..rules.matching import RegexRule, VersionRule

FileHook = Callable[[Project, ReleaseFile], bool]
"""(project, file) -> keep the file?"""


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
    hooks: list[FileHook] = []
    rule = config.blocklist.platforms
    if "exclude_platform" in config.enabled and rule:
        hooks.append(lambda _project, release_file: rule.keep(release_file))
    if config.file_metadata:
        hooks.append(FileRules(config.file_metadata))
    return tuple(hooks)
