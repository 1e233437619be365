"""Small builders for the filter tests: a config from INI text, a Project from a dict."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from bandersnatch import config, filters
from bandersnatch.models import Project, ReleaseFile, normalize

_TYPES = (
    (".whl", "bdist_wheel"),
    (".tar.gz", "sdist"),
    (".zip", "sdist"),
    (".egg", "bdist_egg"),
    (".exe", "bdist_wininst"),
    (".msi", "bdist_msi"),
    (".dmg", "bdist_dmg"),
    (".rpm", "bdist_rpm"),
)


def load(tmp_path: Path, body: str) -> config.FilterConfig:
    """The FilterConfig of a config file made of a minimal [mirror] plus ``body``."""
    path = tmp_path / "bandersnatch.conf"
    path.write_text(f"[mirror]\ndirectory = {tmp_path / 'mirror'}\n{body}")
    return config.load(path).filters


def build(tmp_path: Path, body: str) -> filters.FilterSet:
    return filters.build(load(tmp_path, body))


def release_file(
    filename: str,
    version: str,
    *,
    size: int = 100,
    packagetype: str | None = None,
    python_version: str = "",
    requires_python: str | None = None,
    upload_time: str | None = None,
) -> ReleaseFile:
    if packagetype is None:
        packagetype = next((t for s, t in _TYPES if filename.endswith(s)), "bdist_dumb")
    return ReleaseFile(
        filename=filename,
        url=f"https://files.example/packages/ab/cd/{filename}",
        path=f"ab/cd/{filename}",
        version=version,
        size=size,
        sha256="0" * 64,
        packagetype=packagetype,
        python_version=python_version,
        requires_python=requires_python,
        upload_time=upload_time,
    )


def project(
    name: str,
    releases: Mapping[str, list[str] | list[ReleaseFile]],
    info: Mapping[str, object] | None = None,
    serial: int = 1,
) -> Project:
    """``{version: [filename or ReleaseFile]}`` -> Project (files in that order)."""
    files: list[ReleaseFile] = []
    for version, entries in releases.items():
        for entry in entries:
            files.append(entry if isinstance(entry, ReleaseFile) else release_file(entry, version))
    return Project(
        name=normalize(name),
        display_name=name,
        serial=serial,
        versions=tuple(releases),
        files=tuple(files),
        info=MappingProxyType(dict(info or {"name": name})),
    )


def simple(version: str, name: str = "foo") -> list[str]:
    """An sdist and a pure wheel for one release."""
    return [f"{name}-{version}.tar.gz", f"{name}-{version}-py3-none-any.whl"]


def kept(result: Project | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(versions, filenames) of a filtered project."""
    assert result is not None
    return result.versions, tuple(f.filename for f in result.files)
